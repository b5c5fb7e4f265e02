"""Regression tests of issue 28 on the shipped alerts: each case where Solas's objects
rows disagreed with the reference broker's (a rate over seconds, the spread of one
point, an undefined count, ZTF's -999 sentinels, on-sky rastd) now gives the value the
column's definition states, and undefined values arrive as NULL (None) in the rows the
filter stage writes to MariaDB."""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from solas.features import compute_features
from solas.processors.filter import Parsed, _clean, object_rows
from solas.surveys import Alert, normalise, read_alert_file

LASAIR_SENTINEL = -999.0


def _alert(alerts_dir: Path, survey: str, relative: str) -> Alert:
    (raw,) = list(read_alert_file(alerts_dir / survey / relative))
    return normalise(raw, survey)


def _row(alert: Alert, **kwargs) -> dict:
    return compute_features([alert], alert.survey, **kwargs)[0]


def _positive(alert: Alert, fid: int) -> list[dict]:
    return sorted((d for d in alert.detections
                   if d["fid"] == fid and d["isdiffpos"] in ("t", "1")),
                  key=lambda d: d["jd"])


@pytest.mark.parametrize("relative, band, fid, seconds", [
    ("kowalski/20231012/2475433850315015009.avro", "r", 2, 83),  # was dmdt_r = 286.8 mag/day
    ("pittgoogle-labelled/ZTF18abeoiol.1703210126115010063.ztf_20210831_programid1.avro",
     "r", 2, 41),                                         # was 1148 mag/day
    ("kowalski/20200202/1127561441415015002.avro", "g", 1, 79)])   # was 154.9 mag/day
def test_two_detections_seconds_apart_give_no_rate(alerts_dir, relative, band, fid,
                                                   seconds):
    alert = _alert(alerts_dir, "ztf", relative)
    last, prev = _positive(alert, fid)[-1], _positive(alert, fid)[-2]
    assert round((last["jd"] - prev["jd"]) * 86400) == seconds
    row = _row(alert)
    assert row[f"dmdt_{band}"] is None and row[f"dmdt_{band}_err"] is None
    # the shortest interval is a parameter: below the gap, the rate is the definition's
    rate = _row(alert, min_rate_interval_s=seconds - 5)
    expected = (prev["magpsf"] - last["magpsf"]) / (last["jd"] - prev["jd"])
    assert rate[f"dmdt_{band}"] == pytest.approx(expected, rel=1e-9)
    assert abs(rate[f"dmdt_{band}"]) > 10  # the meaningless rate the default removes


def test_rates_over_longer_intervals_are_kept(ztf_sequence):
    row = _row(ztf_sequence[-1])
    pos = _positive(ztf_sequence[-1], 2)
    assert (pos[-1]["jd"] - pos[-2]["jd"]) * 86400 > 300
    assert row["dmdt_r"] == pytest.approx(
        (pos[-2]["magpsf"] - pos[-1]["magpsf"]) / (pos[-1]["jd"] - pos[-2]["jd"]))


@pytest.mark.parametrize("relative", [
    "alerce-snappy/000010510092392116.avro",  # was rastd = 2.0e-10
    "kowalski/20200202/1127561442115015003.avro",      # was 4.8e-11
    "ztf-avro-alert/data/472263571115115000.avro",  # was 0.0
])
def test_a_single_detection_has_no_spread(alerts_dir, relative):
    alert = _alert(alerts_dir, "ztf", relative)
    assert len(alert.detections) == 1
    row = _row(alert)
    assert row["rastd"] is None and row["decstd"] is None
    assert row["ramean"] == pytest.approx(alert.detections[0]["ra"], abs=1e-9)


def test_rastd_is_on_sky_and_lasairs_value_follows_from_it(ztf_sequence):
    alert = ztf_sequence[-1]
    row = _row(alert)
    ra = np.array([d["ra"] for d in alert.detections])
    lasair_rastd = 3600.0 * np.std(ra)  # Lasair-ZTF: the coordinate scatter
    assert row["rastd"] / math.cos(math.radians(row["decmean"])) == pytest.approx(
        lasair_rastd, rel=1e-6)
    assert row["decstd"] == pytest.approx(
        3600.0 * np.std([d["dec"] for d in alert.detections]), rel=1e-6)


def test_good_positive_counts_are_null_only_when_no_score_can_judge(ztf_sequence,
                                                                     alerts_dir):
    alert = ztf_sequence[-1]
    assert _row(alert)["ncandgp"] > 0
    unscored = alert._replace(detections=[
        {k: v for k, v in d.items() if k not in ("rb", "drb")} for d in alert.detections])
    row = _row(unscored)
    assert row["ncandgp"] is None and row["ncandgp_7"] is None and row["ncandgp_14"] is None
    assert row["ncand"] == len(alert.detections)
    # negative detections only: no good positive detection, a count of 0 (Lasair: NULL,
    # its writer stores every 0 as NULL; NULLIF(ncandgp, 0) gives that)
    negative = _alert(alerts_dir, "ztf", "alerce-snappy/000010510007802576.avro")
    assert {d["isdiffpos"] for d in negative.detections} == {"f"}
    assert _row(negative)["ncandgp"] == 0


@pytest.mark.parametrize("relative, sentinels", [
    ("kowalski/20231012/2475433850315015003.avro", ("sgmag1", "srmag1", "sgscore1", "distpsnr1")),
    ("alerce-snappy/000010510548091186.avro", ("sgmag1", "srmag1")),
    ("kowalski/20200202/1127561443215015014.avro", ("srmag1",))])
def test_ztf_no_value_sentinels_are_null(alerts_dir, relative, sentinels):
    alert = _alert(alerts_dir, "ztf", relative)
    latest = max(alert.detections, key=lambda d: d["jd"])
    row = _row(alert)
    for name in ("sgmag1", "srmag1", "sgscore1", "distpsnr1"):
        if name in sentinels:
            assert latest[name] == LASAIR_SENTINEL and row[name] is None, name
        else:  # COALESCE(name, -999) gives Lasair's value either way
            assert row[name] == latest[name], name


def test_rubin_counts_without_their_inputs_are_null(alerts_dir):
    alert = _alert(alerts_dir, "lsst", "lasair-json/dp02/1998903343203755338.json")
    assert all(d.get("reliability") is None for d in alert.detections)
    row = _row(alert, fits=False)
    assert row["nSourcesGood"] is None and row["medianR"] is None
    assert row["nDiaSources"] == len(alert.detections)
    assert row["nPosDiaSources"] == sum(d["psFlux"] > 0 for d in alert.detections)  # DP0.2


def test_undefined_values_reach_mariadb_as_null(ztf_other, lsst_real, lsst_json):
    for survey, alerts in (("ztf", ztf_other), ("lsst", lsst_real + lsst_json)):
        n = len(alerts)
        parsed = Parsed(alerts, [{}] * n, [None] * n, [{}] * n, [None] * n, [""] * n)
        rows = object_rows(survey, parsed, dt.datetime(2026, 1, 1))
        nulls = 0
        for row in rows:
            for name, value in row.items():
                stored = _clean(value)  # what the upsert sends
                assert not (isinstance(stored, float) and not math.isfinite(stored)), name
                nulls += stored is None
        assert nulls > 0
    singles = [r for r, a in zip(object_rows("ztf", Parsed(
        ztf_other, [{}] * len(ztf_other), [None] * len(ztf_other), [{}] * len(ztf_other),
        [None] * len(ztf_other), [""] * len(ztf_other)), dt.datetime(2026, 1, 1)),
        ztf_other) if len(a.detections) == 1]
    assert singles and all(r["rastd"] is None and r["decstd"] is None for r in singles)
