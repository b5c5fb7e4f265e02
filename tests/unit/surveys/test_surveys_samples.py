"""Every real sample alert decodes and normalises to what an independent fastavro/json
read of the same file says (ids, position, number of light-curve points)."""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import fastavro
import pytest

from solas.settings import get_settings
from solas.surveys import (Alert, DecodeError, iter_alert_paths, normalise, raw_survey,
                           read_alert_file)

ALERTS = get_settings().data_dir / "alerts"
FOLDERS = sorted({p.parent.relative_to(ALERTS).as_posix()  # renderings: test_renderings.py
                  for p in iter_alert_paths([ALERTS]) if p.suffix in (".avro", ".json")}
                 ) if ALERTS.is_dir() else []

# record counts per folder, from data/SOURCES.md
EXPECTED_COUNTS = {
    "ztf/pittgoogle-labelled": 50, "ztf/pittgoogle-ZTF21abiuvdk": 34,
    "ztf/kowalski/20200202": 12, "ztf/kowalski/20231012": 24, "ztf/alerce-snappy": 98,
    "ztf/ztf-avro-alert/data": 2, "lsst/real-v10": 7,
}


def independent_records(path: Path) -> list[dict]:
    """The file's records read without solas: fastavro's own container reader, or json."""
    if path.suffix == ".json":
        value = json.loads(path.read_text())
        return value if isinstance(value, list) else [value]
    with path.open("rb") as fo:
        return list(fastavro.reader(fo))


def check_ztf(alert: Alert, rec: dict) -> None:
    cand = rec["candidate"]
    prv = rec.get("prv_candidates") or []
    assert alert.object_id == rec["objectId"]
    assert alert.source_id == cand["candid"]
    assert (alert.ra, alert.dec) == (cand["ra"], cand["dec"])
    assert alert.mjd == pytest.approx(cand["jd"] - 2400000.5, abs=1e-9)
    assert len(alert.detections) == 1 + sum(p["candid"] is not None for p in prv)
    assert len(alert.nondetections) == sum(p["candid"] is None for p in prv)
    assert len(alert.detections) + len(alert.nondetections) == len(prv) + 1
    assert len(alert.forced) == len(rec.get("fp_hists") or [])
    assert alert.detections[-1]["candid"] == cand["candid"]
    stamps = {k: rec[f"cutout{k}"]["stampData"] for k in ("Science", "Template", "Difference")
              if rec.get(f"cutout{k}")}
    assert alert.cutouts == stamps
    assert alert.schema_version == f"ztf {rec['schemavsn']}"


def check_lsst(alert: Alert, rec: dict) -> None:
    src = rec["diaSource"]
    assert isinstance(alert.object_id, int) and isinstance(alert.source_id, int)
    assert alert.object_id == (rec.get("diaObject") or src)["diaObjectId"]
    assert alert.source_id == src["diaSourceId"]
    assert (alert.ra, alert.dec) == (src["ra"], src["dec"])
    assert alert.mjd == src["midpointMjdTai"]
    assert len(alert.detections) == len(rec.get("prvDiaSources") or []) + 1
    assert len(alert.forced) == len(rec.get("prvDiaForcedSources") or [])
    assert len(alert.nondetections) == len(rec.get("prvDiaNondetectionLimits") or [])
    assert alert.detections[-1]["diaSourceId"] == src["diaSourceId"]
    assert set(alert.cutouts) == {k for k in ("Science", "Template", "Difference")
                                  if rec.get(f"cutout{k}")}


def check_lsst_json(alert: Alert, rec: dict) -> None:
    if "diaSource" in rec:  # lasair renderings of schemas 7-10
        src = rec["diaSource"]
        n_det = len(rec.get("prvDiaSources") or []) + 1
        n_forced = len(rec.get("prvDiaForcedSources") or [])
        object_id = (rec.get("diaObject") or {}).get("diaObjectId", src.get("diaObjectId"))
        dec = src["dec"]
    else:  # DP0.2 rendering: DiaObject, DiaSourceList, ForcedSourceOnDiaObjectList
        src = max(rec["DiaSourceList"], key=lambda s: s["midPointTai"])
        n_det = len(rec["DiaSourceList"])
        n_forced = len(rec["ForcedSourceOnDiaObjectList"])
        object_id = rec["DiaObject"]["diaObjectId"]
        dec = src["decl"]
    assert alert.object_id == object_id
    assert alert.source_id == src["diaSourceId"]
    assert (alert.ra, alert.dec) == (src["ra"], dec)
    assert len(alert.detections) == n_det
    assert len(alert.forced) == n_forced
    assert alert.schema_version == "json"


@pytest.mark.parametrize("folder", FOLDERS)
def test_sample_folder_decodes(folder: str) -> None:
    paths = list(iter_alert_paths([ALERTS / folder]))
    assert paths
    n_records = 0
    for path in paths:
        if path.parent != ALERTS / folder:
            continue
        raws = read_alert_file(path)
        records = independent_records(path)
        assert len(raws) == len(records), path
        n_records += len(raws)
        for raw, rec in zip(raws, records):
            survey = raw_survey(raw)
            assert survey == folder.split("/")[0]
            assert raw.framing == ("json" if path.suffix == ".json" else "container")
            if raw.framing == "container":
                with path.open("rb") as fo:
                    assert raw.codec == fastavro.reader(fo).codec
            if survey == "lsst" and raw.framing == "container" \
                    and not (rec["diaObject"] or {}).get("diaObjectId") \
                    and not rec["diaSource"]["diaObjectId"]:
                # a solar-system object without a diaObject: an alert of its ssObjectId
                alert = normalise(raw, survey)
                assert alert.is_solar_system
                assert alert.object_id == alert.ss_object_id == rec["diaSource"]["ssObjectId"]
                assert alert.solar_system["ssSource"] == rec["ssSource"]
                assert alert.source_id == rec["diaSource"]["diaSourceId"]
                continue
            if survey == "lsst" and raw.framing == "json" and path.parent.name == "simple":
                # a bare light curve: no diaObjectId anywhere, so not storable
                with pytest.raises(DecodeError, match="diaObjectId is missing"):
                    normalise(raw, survey)
                continue
            alert = normalise(raw, survey)
            assert alert.survey == survey
            if survey == "ztf":
                check_ztf(alert, rec)
            elif raw.framing == "json":
                check_lsst_json(alert, rec)
            else:
                check_lsst(alert, rec)
    if folder in EXPECTED_COUNTS:
        assert n_records == EXPECTED_COUNTS[folder]


def test_all_folders_found() -> None:
    assert set(EXPECTED_COUNTS) <= set(FOLDERS)
    assert len([f for f in FOLDERS if f.startswith("lsst/lasair-json/")]) == 10


def test_real_rubin_alerts_have_long_histories() -> None:
    raws = read_alert_file(ALERTS / "lsst/real-v10/part-2-918301.avro")
    assert len(raws) == 7 and {r.schema_version for r in raws} == {"lsst.v10_0"}
    alerts = [a for a in map(partial(normalise, survey="lsst"), raws)
              if not a.is_solar_system]
    assert len(alerts) == 5
    assert sum(len(a.detections) - 1 for a in alerts) == 1734
    assert sum(len(a.forced) for a in alerts) == 2321
    assert all(set(a.cutouts) == {"Science", "Template", "Difference"} for a in alerts)
    # 64-bit ids stay exact ints
    assert all(isinstance(a.object_id, int) and a.object_id > 2**53 for a in alerts)


def test_iter_alert_paths_sorted_and_filtered(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/2.avro", "b/1.json", "a.avro", "notes.txt", ".hidden.avro", "c.AVRO"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_alert_paths([tmp_path])]
    assert found == ["a.avro", "b/1.json", "b/2.avro", "c.AVRO"]
    assert list(iter_alert_paths([tmp_path / "notes.txt"])) == [tmp_path / "notes.txt"]
    with pytest.raises(FileNotFoundError):
        list(iter_alert_paths([tmp_path / "missing"]))
