"""The pure ingest step: decode, validate, dead-letter, and the forwarded JSON."""
import json
import math

from solas.ingest import (DEC_HEADER, RA_HEADER, alert_from_ingested, decode_batch,
                          ingested_record, position_headers)
from solas.surveys import encode_packet, read_alert_file


def sample_packets(data_dir, survey="ztf"):
    folder = data_dir / "alerts" / "ztf" / "pittgoogle-ZTF21abiuvdk"
    return [encode_packet(raw) for path in sorted(folder.iterdir())[:5]
            for raw in read_alert_file(path)]


def test_good_and_bad_packets_are_separated_with_reasons(settings_data_dir):
    good = sample_packets(settings_data_dir)
    bad = [b"", b"garbage", good[0][:1000]]
    batch = decode_batch([bad[0], good[0], bad[1], *good[1:], bad[2]], "ztf")
    assert len(batch.alerts) == len(good)
    assert batch.positions == [1, *range(3, 3 + len(good) - 1)]
    assert [d.index for d in batch.dead] == [0, 2, len(good) + 2]
    assert [d.packet for d in batch.dead] == bad
    assert all(d.stage == "decode" and d.reason for d in batch.dead)


def test_a_packet_of_the_other_survey_is_dead_lettered(settings_data_dir):
    batch = decode_batch(sample_packets(settings_data_dir)[:1], "lsst")
    assert not batch.alerts and "ztf" in batch.dead[0].reason


def test_forwarded_json_is_strict_keeps_ids_and_drops_cutouts(settings_data_dir):
    alert = decode_batch(sample_packets(settings_data_dir)[:1], "ztf").alerts[0]
    alert = alert._replace(source_id=2**63 - 1, object={"x": math.nan, "y": -math.inf})
    data = ingested_record(alert, 1234)
    body = json.loads(data, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert "cutouts" not in body and body["source_id"] == 2**63 - 1
    assert body["object"] == {"x": None, "y": None}
    back, stamp = alert_from_ingested(data)
    assert stamp == 1234 and back.source_id == 2**63 - 1 and back.cutouts == {}
    assert back.detections == json.loads(json.dumps(alert.detections))


def test_position_headers_give_the_exact_coordinates(settings_data_dir):
    alert = decode_batch(sample_packets(settings_data_dir)[:1], "ztf").alerts[0]
    alert = alert._replace(ra=0.1 + 0.2, dec=-89.99999999999997)
    headers = position_headers(alert)
    assert float(headers[RA_HEADER]) == alert.ra and float(headers[DEC_HEADER]) == alert.dec
