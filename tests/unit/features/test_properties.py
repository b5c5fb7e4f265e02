"""Property tests of the feature units (hypothesis): for any valid light curve the
``objects`` row holds no NaN or infinity (NULL instead), does not depend on the order of
the points, and is NULL exactly where the column's definition says.

A valid light curve here is what a survey sends: one detection per time (distinct
times; gaps from under a second to days), finite positions near one place anywhere on
the sky (ra across 0/360, dec up to the poles), and measurements that may be missing
(NaN magnitudes, fluxes, errors, scores).  Example counts are bounded so the module
runs in a few seconds.
"""
from __future__ import annotations

import math
import tempfile
from itertools import accumulate
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from solas.features import compute_features
from solas.features.colour import LSST_BANDS
from solas.surveys import Alert

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "solas-hypothesis")  # not in the tree
PROPERTY = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
JD0 = 2460000.5
MJD0 = 60000.0

maybe_nan = st.floats(allow_nan=False, allow_infinity=False)
gaps = st.one_of(st.floats(1e-5, 0.01), st.floats(0.01, 6.0))
"""Days between consecutive detections: from about a second to days."""
positions = st.tuples(st.one_of(st.sampled_from([0.0, 359.99999]), st.floats(0.0, 359.9999)),
                      st.one_of(st.sampled_from([-89.9, 89.9]), st.floats(-89.0, 89.0)))
intervals = st.sampled_from([0.0, 60.0, 300.0, 3600.0])


def _or_missing(values: st.SearchStrategy, missing) -> st.SearchStrategy:
    return st.one_of(values, values, values, st.just(missing))


@st.composite
def ztf_alerts(draw) -> Alert:
    """A ZTF alert with 1-10 detections (the last is the triggering candidate)."""
    n = draw(st.integers(1, 10))
    times = [JD0 + t for t in accumulate(draw(st.lists(gaps, min_size=n, max_size=n)))]
    ra, dec = draw(positions)
    rows = []
    for i, jd in enumerate(times):
        rows.append({
            "candid": 1000 + i, "jd": jd, "fid": draw(st.sampled_from([1, 2, 3])),
            "magpsf": draw(_or_missing(st.floats(12.0, 23.0), math.nan)),
            "sigmapsf": draw(_or_missing(st.floats(0.01, 0.5), math.nan)),
            "isdiffpos": draw(st.sampled_from(["t", "f", "1", "0"])),
            "rb": draw(_or_missing(st.floats(0.0, 1.0), None)),
            "drb": draw(_or_missing(st.floats(0.0, 1.0), None)),
            "ra": (ra + draw(st.floats(-3e-4, 3e-4))) % 360.0,
            "dec": max(-90.0, min(90.0, dec + draw(st.floats(-3e-4, 3e-4)))),
            "ssnamenr": draw(st.sampled_from(["null", "2021ab"])),
            "sgmag1": draw(st.one_of(st.just(-999.0), st.floats(10.0, 24.0))),
            "srmag1": draw(st.one_of(st.just(-999.0), st.floats(10.0, 24.0))),
            "sgscore1": draw(st.one_of(st.just(-999.0), st.floats(0.0, 1.0))),
            "distpsnr1": draw(st.one_of(st.just(-999.0), st.floats(0.0, 30.0)))})
    last = rows[-1]
    return Alert("ztf", "ZTF00propert", last["candid"], last["ra"], last["dec"],
                 last["jd"] - 2400000.5, "test", {}, rows, [], [], {})


@st.composite
def lsst_alerts(draw) -> Alert:
    """A Rubin alert with 1-12 diaSources (the last triggers it)."""
    n = draw(st.integers(1, 12))
    times = [MJD0 + t for t in accumulate(draw(st.lists(gaps, min_size=n, max_size=n)))]
    ra, dec = draw(positions)
    rows = [{"diaSourceId": 5000 + i, "midpointMjdTai": t,
             "band": draw(st.sampled_from(LSST_BANDS)),
             "psfFlux": draw(_or_missing(st.floats(-2e4, 2e5), math.nan)),
             "psfFluxErr": draw(_or_missing(st.floats(1.0, 2e3), math.nan)),
             "reliability": draw(_or_missing(st.floats(0.0, 1.0), math.nan))}
            for i, t in enumerate(times)]
    return Alert("lsst", 7, rows[-1]["diaSourceId"], ra, dec, times[-1], "test",
                 {"diaObjectId": 7, "ra": ra, "dec": dec}, rows, [], [], {})


def _reordered(alert: Alert, order: list[int]) -> Alert:
    return alert._replace(detections=[alert.detections[i] for i in order])


def _assert_no_nan(row: dict) -> None:
    for name, value in row.items():
        if isinstance(value, float):
            assert math.isfinite(value), (name, value)
        assert not (isinstance(value, int) and value < 0), (name, value)


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name, value in a.items():
        if isinstance(value, float) and isinstance(b[name], float):
            assert value == pytest.approx(b[name], rel=1e-9, abs=1e-9), name
        else:
            assert value == b[name], name


# ------------------------------------------------------------------------ ZTF


@PROPERTY
@given(ztf_alerts(), intervals)
def test_ztf_rows_have_no_nan_for_any_light_curve(alert, interval):
    _assert_no_nan(compute_features([alert], "ztf", min_rate_interval_s=interval)[0])


@PROPERTY
@given(ztf_alerts(), st.data())
def test_ztf_rows_do_not_depend_on_the_order_of_the_points(alert, data):
    order = data.draw(st.permutations(range(len(alert.detections))))
    _assert_same(compute_features([alert], "ztf")[0],
                 compute_features([_reordered(alert, order)], "ztf")[0])


def _positive(d: dict) -> bool:
    return d["isdiffpos"] in ("t", "1")


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


@PROPERTY
@given(ztf_alerts(), intervals)
def test_ztf_nulls_are_exactly_where_the_definitions_say(alert, interval):
    row = compute_features([alert], "ztf", min_rate_interval_s=interval)[0]
    dets = sorted(alert.detections, key=lambda d: d["jd"])
    assert (row["rastd"] is None) == (row["decstd"] is None) == (len(dets) < 2)
    for fid, b in ((1, "g"), (2, "r")):
        band = [d for d in dets if d["fid"] == fid and _finite(d["magpsf"])]
        for name in (f"mag{b}min", f"mag{b}max", f"mag{b}mean", f"{b}mag", f"mag_{b}02",
                     f"mag_{b}08", f"mag_{b}28"):
            assert (row[name] is None) == (not band), name
        pos = [d for d in band if _positive(d)]
        rate = len(pos) >= 2 and (pos[-1]["jd"] - pos[-2]["jd"]) * 86400.0 >= interval
        assert (row[f"dmdt_{b}"] is not None) == rate, (b, [d["jd"] for d in pos])
        err = rate and _finite(pos[-1]["sigmapsf"]) and _finite(pos[-2]["sigmapsf"])
        assert (row[f"dmdt_{b}_err"] is not None) == err
    positive = [d for d in dets if _positive(d)]
    scored = [d for d in positive if d["rb"] is not None or d["drb"] is not None]
    for name in ("ncandgp", "ncandgp_7", "ncandgp_14"):
        assert (row[name] is None) == (bool(positive) and not scored), name
    assert row["ncand"] == len(dets)
    for name in ("sgmag1", "srmag1", "sgscore1", "distpsnr1"):
        assert (row[name] is None) == (dets[-1][name] <= -99), name
    assert row["ssnamenr"] == (None if dets[-1]["ssnamenr"] == "null" else "2021ab")


@PROPERTY
@given(ztf_alerts())
def test_a_longer_shortest_interval_only_removes_rates(alert):
    short, long = (compute_features([alert], "ztf", min_rate_interval_s=s)[0]
                   for s in (0.0, 3600.0))
    for name, value in long.items():
        if name.startswith("dmdt_") and value is None:
            continue
        assert value == short[name], name


# ---------------------------------------------------------------------- Rubin


@PROPERTY
@given(lsst_alerts())
def test_lsst_rows_have_no_nan_for_any_light_curve(alert):
    _assert_no_nan(compute_features([alert], "lsst", {7: {"z": 0.05}})[0])


@PROPERTY
@given(lsst_alerts(), st.data())
def test_lsst_rows_do_not_depend_on_the_order_of_the_points(alert, data):
    order = data.draw(st.permutations(range(len(alert.detections))))
    _assert_same(compute_features([alert], "lsst", fits=False)[0],
                 compute_features([_reordered(alert, order)], "lsst", fits=False)[0])


@PROPERTY
@given(lsst_alerts())
def test_lsst_nulls_are_exactly_where_the_definitions_say(alert):
    row = compute_features([alert], "lsst", fits=False)[0]
    dets = alert.detections
    fluxes = [d for d in dets if math.isfinite(d["psfFlux"])]
    rels = [d for d in dets if math.isfinite(d["reliability"])]
    assert row["nDiaSources"] == len(dets)
    assert (row["nPosDiaSources"] is None) == (row["nPosDiaSourcesNights"] is None) \
        == (not fluxes)
    assert (row["nSourcesGood"] is None) == (row["medianR"] is None) \
        == (row["latestR"] is None) == (not rels)
    assert (row["latest_psfFlux"] is None) == (not fluxes)
    for b in LSST_BANDS:
        band = [d for d in fluxes if d["band"] == b]
        weighted = [d for d in band if math.isfinite(d["psfFluxErr"]) and d["psfFluxErr"] > 0]
        assert (row[f"{b}_psfFlux"] is None) == (row[f"{b}_latestMJD"] is None) == (not band)
        assert (row[f"{b}_psfFluxMean"] is None) == (row[f"{b}_psfFluxMeanErr"] is None) \
            == (not weighted)
        assert row[f"n{b}Sources"] == sum(d["band"] == b for d in dets)
    assert row["jump2"] is None or row["jump1"] is not None
    assert (row["absMag"] is None) == (row["absMagMJD"] is None)
