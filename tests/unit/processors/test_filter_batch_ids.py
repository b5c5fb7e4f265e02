"""Which ids the filter stage gives each filter, and how a match finds its alert, when a
Rubin batch mixes diaObjects and solar-system objects."""
from __future__ import annotations

from solas.filters import compile_filter
from solas.processors.filter import Parsed, batch_ids, latest_alerts, match_sources
from solas.processors.filters import ActiveFilter, FilterRun
from solas.surveys import Alert


def alert(object_id: int, source_id: int, ss: int | None = None, dia: bool = True) -> Alert:
    obj = {"diaObjectId": object_id} if dia else {}
    trigger = {"diaSourceId": source_id, "diaObjectId": object_id if dia else 0}
    part = {"ssObjectId": ss} if ss is not None else {}
    return Alert("lsst", object_id, source_id, 1.0, 2.0, 60000.0, "lsst.v10_0", obj,
                 [trigger], [], [], {}, part)


BATCH = [alert(11, 1), alert(12, 2, ss=900), alert(901, 3, ss=901, dia=False),
         alert(11, 4)]


def parsed(alerts) -> Parsed:
    n = len(alerts)
    return Parsed(list(alerts), [{}] * n, [None] * n, [{}] * n, [None] * n,
                  [f"sherlocked/0/{i}" for i in range(n)])


def test_each_root_table_gets_its_own_ids():
    ids = batch_ids(BATCH, "lsst")
    assert ids["objects"].sql == "11,12" and ids["objects"].count == 2
    assert ids["ss_objects"].sql == "900,901" and ids["ss_objects"].count == 2


def test_ztf_batches_have_only_objects():
    ztf = [Alert("ztf", "ZTF21abcdefg", 1, 1.0, 2.0, 59000.0, "ztf 3.3", {}, [], [], [], {})]
    assert set(batch_ids(ztf, "ztf")) == {"objects"}


def test_a_match_by_either_id_finds_the_latest_alert_of_its_object():
    latest = latest_alerts(parsed(BATCH))
    assert latest[11] == 3 and latest[12] == latest[900] == 1 and latest[901] == 2


def test_solar_system_matches_get_ledger_sources():
    compiled = compile_filter("ss_objects.ssObjectId", "ss_objects", None, "lsst")
    active = ActiveFilter(5, 3, "rocks", False, 1, 2, "solas_filter_5", None, "", compiled)
    sources = match_sources([FilterRun(active, [(900,), (901,)], None, 0.0)], parsed(BATCH))
    assert sources == {(5, 2): "sherlocked/0/1", (5, 3): "sherlocked/0/2"}
