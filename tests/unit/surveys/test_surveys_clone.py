"""clone_record: new consistent ids, bounded jitter, one time shift, still encodable."""
from __future__ import annotations

import io
import math
import re
from pathlib import Path

import fastavro
import numpy as np
import pytest

from solas.surveys import (Alert, RawAlert, avro, clone_record, decode_packet, encode_packet,
                           iter_alert_paths, normalise, read_alert_file)

JITTER_ARCMIN = 3.0
MAX_SHIFT_DAYS = 30.0


def separation_arcmin(ra1, dec1, ra2, dec2) -> float:
    """Great-circle separation (haversine), arcmin."""
    ra1, dec1, ra2, dec2 = map(math.radians, (ra1, dec1, ra2, dec2))
    h = math.sin((dec2 - dec1) / 2) ** 2 + \
        math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h)))) * 60


def round_trip(raw: RawAlert, survey: str) -> Alert:
    return normalise(decode_packet(encode_packet(raw), survey), survey)


def check_clone(orig: Alert, clone: Alert, source_id_field: str, time_field: str,
                time_unit: float) -> float:
    """Common checks; returns the time shift (days)."""
    assert clone.object_id != orig.object_id
    assert clone.source_id != orig.source_id
    assert len(clone.detections) == len(orig.detections)
    old_ids = {d[source_id_field] for d in orig.detections}
    new_ids = {d[source_id_field] for d in clone.detections}
    assert len(new_ids) == len(old_ids) and not new_ids & old_ids
    assert clone.detections[-1][source_id_field] == clone.source_id
    # one position offset for every point, within the jitter radius
    dra = np.array([(c["ra"] - o["ra"] + 180) % 360 - 180
                    for o, c in zip(orig.detections, clone.detections)])
    ddec = np.array([c["dec"] - o["dec"] for o, c in zip(orig.detections, clone.detections)])
    assert np.ptp(dra) < 1e-9 and np.ptp(ddec) < 1e-9
    assert 0 < separation_arcmin(orig.ra, orig.dec, clone.ra, clone.dec) <= JITTER_ARCMIN + 1e-6
    assert 0 <= clone.ra < 360 and -90 <= clone.dec <= 90
    # one time shift for every point
    shift = clone.mjd - orig.mjd
    assert 0 < abs(shift) <= MAX_SHIFT_DAYS
    for rows_o, rows_c in ((orig.detections, clone.detections), (orig.forced, clone.forced),
                           (orig.nondetections, clone.nondetections)):
        for o, c in zip(rows_o, rows_c):
            if o.get(time_field) is not None:
                assert (c[time_field] - o[time_field]) * time_unit == pytest.approx(shift, abs=1e-6)
    return shift


@pytest.fixture(scope="module")
def ztf4(alerts_dir: Path) -> RawAlert:
    """A ZTF 4.01 alert (has fp_hists and upper limits)."""
    for path in iter_alert_paths([alerts_dir / "ztf/kowalski/20231012"]):
        raw = read_alert_file(path)[0]
        if raw.record["fp_hists"] and any(p["candid"] is None for p in raw.record["prv_candidates"]):
            return raw
    raise AssertionError("no ZTF 4.x sample with forced photometry and upper limits")


def test_ztf_clone(ztf4: RawAlert) -> None:
    rng = np.random.default_rng(1)
    orig = normalise(ztf4, "ztf")
    ids = set()
    for index in range(20):
        clone_raw = clone_record(ztf4, "ztf", index, rng)
        assert (clone_raw.schema, clone_raw.framing, clone_raw.codec) == \
            (ztf4.schema, ztf4.framing, ztf4.codec)
        clone = round_trip(clone_raw, "ztf")
        assert re.fullmatch(r"ZTF(0\d|1[0-6])[a-z]{7}", clone.object_id)
        assert clone_raw.record["candid"] == clone.source_id
        shift = check_clone(orig, clone, "candid", "jd", 1.0)
        assert clone.forced[0]["jd"] - orig.forced[0]["jd"] == pytest.approx(shift)
        assert len(clone.nondetections) == len(orig.nondetections) > 0
        assert all(n["candid"] is None for n in clone.nondetections)
        assert clone.cutouts == orig.cutouts
        ids.add(clone.object_id)
    assert len(ids) == 20
    # the original is untouched
    assert normalise(ztf4, "ztf") == orig


def test_clone_ids_are_deterministic_per_index(ztf4: RawAlert) -> None:
    """Same index -> same clone ids (successive alerts of one object build one clone
    object); the rng only moves positions and times."""
    a = normalise(clone_record(ztf4, "ztf", 5, np.random.default_rng(1)), "ztf")
    b = normalise(clone_record(ztf4, "ztf", 5, np.random.default_rng(2)), "ztf")
    c = normalise(clone_record(ztf4, "ztf", 6, np.random.default_rng(1)), "ztf")
    assert (a.object_id, a.source_id) == (b.object_id, b.source_id)
    assert (a.ra, a.mjd) != (b.ra, b.mjd)
    assert c.object_id != a.object_id and c.source_id != a.source_id


def test_lsst_clone_real_v10(alerts_dir: Path) -> None:
    raws = read_alert_file(alerts_dir / "lsst/real-v10/part-2-918301.avro")
    raw = max((r for r in raws if r.record["diaObject"]["diaObjectId"]),
              key=lambda r: len(r.record["prvDiaForcedSources"]))
    orig = normalise(raw, "lsst")
    rng = np.random.default_rng(3)
    for index in range(3):
        clone_raw = clone_record(raw, "lsst", index, rng)
        clone = round_trip(clone_raw, "lsst")
        check_clone(orig, clone, "diaSourceId", "midpointMjdTai", 1.0)
        rec = clone_raw.record
        assert rec["diaSourceId"] == rec["diaSource"]["diaSourceId"] == clone.source_id
        # the clone is its own object: every nested diaObjectId is the new one
        assert rec["diaObject"]["diaObjectId"] == clone.object_id
        assert {d["diaObjectId"] for d in clone.detections} == {clone.object_id}
        assert {f["diaObjectId"] for f in clone.forced} == {clone.object_id}
        forced_ids = {f["diaForcedSourceId"] for f in clone.forced}
        assert len(forced_ids) == len(orig.forced)
        assert not forced_ids & {f["diaForcedSourceId"] for f in orig.forced}
        assert isinstance(clone.object_id, int) and 0 < clone.object_id < 2**63
        shift = clone.mjd - orig.mjd
        assert clone.object["validityStartMjdTai"] - orig.object["validityStartMjdTai"] == \
            pytest.approx(shift)
        assert clone.object["ra"] == pytest.approx((orig.object["ra"] + clone.ra - orig.ra) % 360)


def test_lsst_clone_confluent_and_json(alerts_dir: Path, lsst_sample_dirs) -> None:
    rng = np.random.default_rng(4)
    folder = lsst_sample_dirs[800]  # v8 has timestamp-micros fields
    record = read_alert_file(folder / "sample_data" / "fakeAlert.avro")[0].record
    frame = avro.confluent_frame(record, avro.writer_schema(avro.lsst_schema(800)).parsed, 800)
    raw = decode_packet(frame, "lsst")
    clone_raw = clone_record(raw, "lsst", 0, rng)
    assert encode_packet(clone_raw)[:5] == frame[:5]
    clone, orig = round_trip(clone_raw, "lsst"), normalise(raw, "lsst")
    shift_us = round((clone.mjd - orig.mjd) * 86_400_000_000)
    assert clone.detections[-1]["time_processed"] - orig.detections[-1]["time_processed"] == \
        pytest.approx(shift_us, abs=2)
    for path in iter_alert_paths([alerts_dir / "lsst/lasair-json"]):
        if path.suffix != ".json" or path.parent.name == "simple":
            continue
        raw = read_alert_file(path)[0]
        orig = normalise(raw, "lsst")
        clone = round_trip(clone_record(raw, "lsst", 1, rng), "lsst")
        assert clone.object_id != orig.object_id and clone.source_id != orig.source_id
        assert len(clone.forced) == len(orig.forced)
        assert separation_arcmin(orig.ra, orig.dec, clone.ra, clone.dec) <= JITTER_ARCMIN + 1e-6


def test_jitter_wraps_ra_and_clips_dec(ztf4: RawAlert) -> None:
    rng = np.random.default_rng(5)
    for ra, dec in ((359.999, 89.99), (0.0005, -89.995), (180.0, 0.0)):
        cand = dict(ztf4.record["candidate"], ra=ra, dec=dec)
        prv = [dict(p, ra=ra, dec=dec) if p["candid"] else p
               for p in ztf4.record["prv_candidates"]]
        raw = ztf4._replace(record=dict(ztf4.record, candidate=cand, prv_candidates=prv))
        for index in range(30):
            clone = round_trip(clone_record(raw, "ztf", index, rng, jitter_arcmin=60.0), "ztf")
            assert 0 <= clone.ra < 360 and -90 <= clone.dec <= 90
            assert all(0 <= d["ra"] < 360 and -90 <= d["dec"] <= 90 for d in clone.detections)
            assert separation_arcmin(ra, dec, clone.ra, clone.dec) <= 60.0 + 1e-6


def test_clone_container_keeps_codec(alerts_dir: Path) -> None:
    path = next(iter_alert_paths([alerts_dir / "ztf/alerce-snappy"]))
    raw = read_alert_file(path)[0]
    assert raw.codec == "snappy"
    data = encode_packet(clone_record(raw, "ztf", 0, np.random.default_rng(6)))
    with io.BytesIO(data) as fo:
        reader = fastavro.reader(fo)
        assert reader.codec == "snappy" and len(list(reader)) == 1
