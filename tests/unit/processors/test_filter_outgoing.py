"""What the filter stage sends for each match: output modes, live summaries, quota."""
import orjson

from solas.filters import compile_filter
from solas.processors.filter import Parsed, QuotaBook, outgoing
from solas.processors.filters import ActiveFilter, FilterRun

COMPILED = compile_filter("objects.objectId, objects.ncand", "objects", "objects.ncand > 1",
                          "ztf")


def run(output: int, rows, quota=None, fid=7) -> FilterRun:
    active = ActiveFilter(fid, 3, "bright", False, 1, output, f"solas_filter_{fid}", quota,
                          "a@example.org", COMPILED)
    return FilterRun(active, rows, None, 0.01)


def body(object_id):
    return {"survey": "ztf", "object_id": object_id,
            "detections": [{"candid": 1, "jd": 2459000.5, "fid": 1, "magpsf": 18.0,
                            "sigmapsf": 0.1, "isdiffpos": "t", "ra": 1.0, "dec": 2.0,
                            "rb": 0.9}]}


def parsed_for(*ids) -> Parsed:
    from solas.surveys import Alert
    alerts = [Alert("ztf", i, n + 1, 1.0, 2.0, 59000.0, "ztf 3.3", {}, [], [], [], {})
              for n, i in enumerate(ids)]
    return Parsed(alerts, [{}] * len(ids), [None] * len(ids), [body(i) for i in ids],
                  [None] * len(ids), [f"sherlocked/0/{n}" for n in range(len(ids))])


def test_kafka_output_carries_the_select_aliases_utc_and_the_lite_light_curve():
    out = outgoing([run(3, [("ZTF21abc", "ZTF21abc", 4)])], parsed_for("ZTF21abc"),
                   QuotaBook(), "live")
    topics = [t for t, _, _, _ in out.kafka]
    assert topics == ["live", "solas_filter_7"]
    message = orjson.loads(out.kafka[1][2])
    assert message["objectId"] == "ZTF21abc" and message["ncand"] == 4 and message["UTC"]
    assert message["alert"]["lightcurve"][0]["magpsf"] == 18.0
    live = orjson.loads(out.kafka[0][2])
    assert live["filter_id"] == 7 and live["object_id"] == "ZTF21abc" and live["user"] == 3


def test_email_output_queues_rows_instead_of_kafka_messages():
    out = outgoing([run(1, [("ZTF21abc", "ZTF21abc", 4)])], parsed_for("ZTF21abc"),
                   QuotaBook(), "live")
    assert [t for t, _, _, _ in out.kafka] == ["live"]
    assert out.email[0][:2] == (7, "ZTF21abc")


def test_the_daily_byte_quota_stops_kafka_output_but_not_the_live_feed():
    rows = [(f"ZTF21a{i:05d}", f"ZTF21a{i:05d}", i) for i in range(10)]
    out = outgoing([run(2, rows, quota=300)], parsed_for(*(r[0] for r in rows)),
                   QuotaBook(), "live")
    sent = [v for t, _, v, _ in out.kafka if t == "solas_filter_7"]
    assert 0 < len(sent) < 10 and sum(map(len, sent)) <= 300
    assert sum(1 for t, _, _, _ in out.kafka if t == "live") == 10


def test_64_bit_rubin_ids_stay_exact_integers():
    big = 1998903343203755338
    active = ActiveFilter(1, None, "x", True, 1, 2, "t", None, None, compile_filter(
        "objects.diaObjectId", "objects", None, "lsst"))
    out = outgoing([FilterRun(active, [(big, big)], None, 0.0)],
                   Parsed([], [], [], [], [], []), QuotaBook(), "live")
    assert b"1998903343203755338" in out.kafka[1][2]
    assert orjson.loads(out.kafka[1][2])["diaObjectId"] == big


def test_a_replayed_alert_already_in_the_ledger_is_not_emitted_again():
    parsed = parsed_for("ZTF21abc", "ZTF21abd")
    runs = [run(2, [("ZTF21abc", "ZTF21abc", 4), ("ZTF21abd", "ZTF21abd", 5)])]
    first = outgoing(runs, parsed, QuotaBook(), "live")
    assert first.emitted == [(7, 1), (7, 2)]
    again = outgoing(runs, parsed, QuotaBook(), "live", frozenset({(7, 1)}))
    assert again.emitted == [(7, 2)]
    assert [orjson.loads(v)["objectId"] for t, _, v, _ in again.kafka
            if t == "solas_filter_7"] == ["ZTF21abd"]


def test_every_match_carries_its_alerts_raw_topic_timestamp():
    parsed = parsed_for("ZTF1", "ZTF2")._replace(raw_ms=[1700000000123, None])
    out = outgoing([run(2, [("ZTF1", 3), ("ZTF2", 4)])], parsed, QuotaBook())
    stamped = {(m.topic, m.key): dict(m.headers) for m in out.kafka}
    assert stamped[("solas_filter_7", b"ZTF1")]["solas-raw-timestamp-ms"] == b"1700000000123"
    assert stamped[("live", b"ZTF1")]["solas-raw-timestamp-ms"] == b"1700000000123"
    assert "solas-raw-timestamp-ms" not in stamped[("solas_filter_7", b"ZTF2")]


def test_every_match_names_the_alert_that_produced_it_in_a_header():
    big = 3372079806152048650  # a 64-bit Rubin diaSourceId stays exact
    parsed = parsed_for("ZTF1", "ZTF2", "ZTF1")
    parsed = parsed._replace(alerts=[a._replace(source_id=s) for a, s in
                                     zip(parsed.alerts, (11, big, 13))])
    out = outgoing([run(4, [("ZTF1", "ZTF1", 3), ("ZTF2", "ZTF2", 4)])], parsed, QuotaBook())
    ids = {(m.topic, m.key): dict(m.headers)["solas-alert-id"] for m in out.kafka}
    # ZTF1's match comes from its latest alert in the batch (the third), not the first
    assert ids[("solas_filter_7", b"ZTF1")] == b"13"
    assert ids[("solas_filter_7", b"ZTF2")] == str(big).encode()
    assert ids[("live", b"ZTF2")] == str(big).encode()
    body = orjson.loads(next(m.value for m in out.kafka if m.topic == "solas_filter_7"))
    assert set(body) == {"objectId", "ncand", "UTC", "alert"}  # the JSON body is as before


def test_a_match_no_alert_produced_carries_no_alert_id():
    out = outgoing([run(2, [("ZTF9", "ZTF9", 4)])], Parsed([], [], [], [], [], []),
                   QuotaBook(), "live")
    assert [m.headers for m in out.kafka] == [[], []]
