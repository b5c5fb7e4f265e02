"""Rubin solar-system alerts are normalised as alerts of their ssObjectId (real packets)."""
from __future__ import annotations

from pathlib import Path

import pytest
from lsst.alert import packet

from solas.ingest import (
    SOLAR_SYSTEM_HEADER,
    alert_from_ingested,
    decode_batch,
    ingested_record,
    position_headers,
)
from solas.settings import get_settings
from solas.surveys import (
    DecodeError,
    SolarSystemAlertError,
    encode_packet,
    normalise,
    read_alert_file,
)

LSST = get_settings().data_dir / "alerts" / "lsst"
AMPEL = LSST / "ampel-v9" / "2025-09-20.partition0.tar.gz"
SAMPLES = Path(packet.__file__).parent / "schema"


def test_ampel_v9_solar_system_alerts_are_alerts_of_their_ss_object():
    raws = read_alert_file(AMPEL)
    alerts = [normalise(r, "lsst") for r in raws]
    sso = [a for a in alerts if a.is_solar_system]
    assert len(alerts) == 10 and len(sso) == 9
    for raw, alert in zip(raws, alerts):
        if not alert.is_solar_system:
            assert alert.solar_system == {} and alert.ss_object_id is None
            continue
        rec = raw.record
        assert rec["diaSource"]["diaObjectId"] == 0 and rec["diaObject"] is None
        assert alert.object_id == alert.ss_object_id == rec["diaSource"]["ssObjectId"]
        assert alert.solar_system["ssSource"] == rec["ssSource"]
        assert alert.solar_system["MPCORB"] == rec["MPCORB"]
        assert alert.object == {} and alert.detections[-1]["diaSourceId"] == alert.source_id


def test_fink_v10_solar_system_alerts_carry_mpc_orbits():
    found = []
    for path in sorted((LSST / "fink-transfer-v10").glob("*.parquet")):
        for raw in read_alert_file(path):
            alert = normalise(raw, "lsst")
            if alert.solar_system:
                found.append(alert)
    assert len(found) >= 20
    assert all(a.is_solar_system and set(a.solar_system) == {"ssObjectId", "ssSource",
                                                              "mpc_orbits"} for a in found)
    assert all(a.solar_system["mpc_orbits"]["designation"] for a in found)


def test_an_alert_with_a_dia_object_and_an_ss_object_keeps_both():
    raw = read_alert_file(SAMPLES / "7" / "4" / "sample_data" / "fakeAlert.avro")[0]
    alert = normalise(raw, "lsst")
    assert not alert.is_solar_system
    assert alert.object_id == raw.record["diaObject"]["diaObjectId"]
    assert alert.ss_object_id == raw.record["ssObject"]["ssObjectId"]
    assert alert.solar_system["ssObject"] == raw.record["ssObject"]
    assert alert.object == raw.record["diaObject"]


def test_disagreeing_solar_system_ids_are_a_clear_error():
    raw = read_alert_file(AMPEL)[0]
    record = dict(raw.record, ssSource=dict(raw.record["ssSource"], ssObjectId=12345))
    with pytest.raises(SolarSystemAlertError, match="disagree: diaSource.ssObjectId"):
        normalise(raw._replace(record=record), "lsst")


def test_no_dia_object_and_no_ss_object_is_still_an_error():
    raw = read_alert_file(AMPEL)[0]
    record = dict(raw.record, ssSource=None, MPCORB=None,
                  diaSource=dict(raw.record["diaSource"], ssObjectId=None))
    with pytest.raises(DecodeError, match="diaObjectId is missing.*no ssObjectId"):
        normalise(raw._replace(record=record), "lsst")


def test_solar_system_alerts_are_forwarded_not_dead_lettered():
    packets = [encode_packet(r) for r in read_alert_file(AMPEL)]
    batch = decode_batch(packets, "lsst")
    assert batch.dead == [] and len(batch.alerts) == 10
    for alert in batch.alerts:
        back, ms = alert_from_ingested(ingested_record(alert, 7))
        assert ms == 7 and back.is_solar_system == alert.is_solar_system
        assert back.ss_object_id == alert.ss_object_id and back.object_id == alert.object_id
        assert (position_headers(alert).get(SOLAR_SYSTEM_HEADER) == b"1") == \
            alert.is_solar_system
