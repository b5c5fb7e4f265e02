"""ZTF features on the real 34-alert light curve of ZTF21abiuvdk and synthetic alerts,
against independent computations (plain Python, astropy, the ``light-curve`` package)."""
from __future__ import annotations

import math

import light_curve
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from solas.features import compute_features, object_columns


def close(a, b, rel=1e-9):
    if b is None:
        return a is None
    return a is not None and a == pytest.approx(b, rel=rel, abs=1e-12)


@pytest.fixture(scope="module")
def sequence_rows(ztf_sequence):
    return compute_features(ztf_sequence, "ztf")


def independent(alert) -> dict:
    """The features of one alert, written with loops over its detections."""
    dets = sorted(alert.detections, key=lambda d: d["jd"])
    out = {"ncand": len(dets)}
    ra = np.array([d["ra"] for d in dets])
    dec = np.array([d["dec"] for d in dets])
    out["ramean"], out["decmean"] = ra.mean(), dec.mean()  # far from ra = 0/360 wrap
    # on-sky spreads, undefined (NULL) for a single point
    out["rastd"] = np.std(ra) * math.cos(math.radians(dec.mean())) * 3600 if len(dets) > 1 \
        else None
    out["decstd"] = np.std(dec) * 3600 if len(dets) > 1 else None
    for fid, b in ((1, "g"), (2, "r")):
        band = [d for d in dets if d["fid"] == fid]
        t = np.array([d["jd"] for d in band])
        m = np.array([d["magpsf"] for d in band])
        if not band:
            for name in (f"mag{b}min", f"mag{b}max", f"mag{b}mean", f"{b}mag", f"jd{b}max",
                         f"dmdt_{b}", f"mag_{b}02", f"mag_{b}08", f"mag_{b}28"):
                out[name] = None
            continue
        out[f"mag{b}mean"] = m[0]
        if len(band) > 1:
            out[f"mag{b}mean"] = light_curve.Mean()(t, m)[0]
            amplitude = light_curve.Amplitude()(t, m)[0]
            assert m.max() - m.min() == pytest.approx(2 * amplitude)
        out[f"mag{b}min"], out[f"mag{b}max"] = m.min(), m.max()
        out[f"{b}mag"], out[f"jd{b}max"] = m[-1], t[-1]
        pos = [d for d in band if d["isdiffpos"] in ("t", "1")]
        out[f"dmdt_{b}"] = out[f"dmdt_{b}_err"] = None
        if len(pos) >= 2 and (pos[-1]["jd"] - pos[-2]["jd"]) * 86400 >= 300:
            d1, d2 = pos[-1], pos[-2]
            dt = d1["jd"] - d2["jd"]
            out[f"dmdt_{b}"] = (d2["magpsf"] - d1["magpsf"]) / dt
            out[f"dmdt_{b}_err"] = math.sqrt(d1["sigmapsf"] ** 2 + d2["sigmapsf"] ** 2) / dt
        for tau in (2, 8, 28):  # the recursive definition
            ema, last = None, None
            for d in band:
                if ema is None:
                    ema = d["magpsf"]
                else:
                    w = math.exp(-(d["jd"] - last) / tau)
                    ema = w * ema + (1 - w) * d["magpsf"]
                last = d["jd"]
            out[f"mag_{b}{tau:02d}"] = ema
    out["jdmax"], out["jdmin"] = dets[-1]["jd"], dets[0]["jd"]
    # g - r on the latest night (ZTF's own night id) with positive g and r
    nights = {}
    for d in dets:
        if d["isdiffpos"] in ("t", "1"):
            nights.setdefault(d["nid"], {})[d["fid"]] = d
    both = [n for n in nights if 1 in nights[n] and 2 in nights[n]]
    out["g_minus_r"] = out["jd_g_minus_r"] = None
    if both:
        g, r = nights[max(both)][1], nights[max(both)][2]
        out["g_minus_r"] = g["magpsf"] - r["magpsf"]
        out["jd_g_minus_r"] = max(g["jd"], r["jd"])
    good = [d for d in dets if d["isdiffpos"] in ("t", "1")
            and ((d.get("rb") or 0) > 0.75 or (d.get("drb") or 0) > 0.75)]
    out["ncandgp"] = len(good)
    out["ncandgp_7"] = sum(out["jdmax"] - d["jd"] < 7 for d in good)
    out["ncandgp_14"] = sum(out["jdmax"] - d["jd"] < 14 for d in good)
    gal = SkyCoord(out["ramean"], out["decmean"], unit="deg").galactic
    out["glatmean"], out["glonmean"] = gal.b.deg, gal.l.deg
    return out


def test_latest_alert_against_independent_computation(ztf_sequence, sequence_rows):
    row, expected = sequence_rows[-1], independent(ztf_sequence[-1])
    assert tuple(row) == object_columns("ztf")
    assert row["objectId"] == "ZTF21abiuvdk"
    for name, value in expected.items():
        rel = 1e-6 if name in ("rastd", "decstd") else 1e-9
        assert close(row[name], value, rel), name
    # the catalogue fields come from the triggering candidate
    cand = ztf_sequence[-1].detections[-1]
    for name in ("sgmag1", "srmag1", "sgscore1", "distpsnr1"):
        assert row[name] == cand[name]
    assert row["ssnamenr"] is None and cand["ssnamenr"] == "null"
    assert row["tns_name"] is None


def test_every_alert_of_the_sequence(ztf_sequence, sequence_rows):
    for alert, row in zip(ztf_sequence, sequence_rows):
        for name, value in independent(alert).items():
            rel = 1e-6 if name in ("rastd", "decstd") else 1e-9
            assert close(row[name], value, rel), (alert.source_id, name)


def test_monotone_along_the_sequence(sequence_rows):
    for before, after in zip(sequence_rows, sequence_rows[1:]):
        assert after["jdmax"] >= before["jdmax"]
        if after["jdmin"] == before["jdmin"]:  # same 30-day window start: history grows
            assert after["ncand"] >= before["ncand"]
            assert after["ncandgp"] >= before["ncandgp"]
    assert [r["ncand"] for r in sequence_rows[:15]] == list(range(1, 16))


def test_other_real_alerts(ztf_other):
    rows = compute_features(ztf_other, "ztf")
    assert len(rows) == len(ztf_other) > 50
    for alert, row in zip(ztf_other, rows):
        assert row["ncand"] == len(alert.detections)
        assert row["jdmax"] == max(d["jd"] for d in alert.detections)
        assert 0 <= row["hpx16"] < 12 * 4 ** 16
        assert compute_features([alert], "ztf")[0] == row  # no mixing across the batch


def test_ema_synthetic(make_ztf):
    pts = [(2460000.5, 1, 18.0), (2460001.5, 1, 17.0), (2460011.5, 1, 16.0),
           (2460011.5, 1, 15.0)]  # same time: no weight
    row = compute_features([make_ztf(pts)], "ztf")[0]
    w1 = math.exp(-1 / 8)
    ema = w1 * 18 + (1 - w1) * 17
    w2 = math.exp(-10 / 8)
    assert row["mag_g08"] == pytest.approx(w2 * ema + (1 - w2) * 16.0)
    assert row["mag_r08"] is None


def test_colour_on_latest_night_and_negative_detections(make_ztf):
    pts = [(2460000.70, 1, 18.0), (2460000.75, 2, 17.5),   # night 1: g - r = 0.5
           (2460003.70, 1, 18.4), (2460003.72, 2, 17.6, 0.05, "f"),  # r negative
           (2460005.70, 1, 18.6), (2460005.90, 1, 18.8)]
    row = compute_features([make_ztf(pts)], "ztf")[0]
    assert row["g_minus_r"] == pytest.approx(0.5)
    assert row["jd_g_minus_r"] == 2460000.75
    assert row["dmdt_g"] == pytest.approx((18.6 - 18.8) / 0.2)
    assert row["dmdt_r"] is None  # one positive r only
    assert row["ncandgp"] == 5 and row["ncandgp_7"] == 5
    assert row["rmag"] == 17.6  # latest r, positive or not


def test_missing_catalogue_values_and_nan(make_ztf):
    alert = make_ztf([(2460000.5, 2, 18.0), (2460001.5, 2, math.nan)], sgmag1=-999.0,
                     srmag1=19.1, sgscore1=-999.0, distpsnr1=2.0, ssnamenr="2021ab")
    row = compute_features([alert], "ztf")[0]
    assert row["sgmag1"] is None and row["sgscore1"] is None
    assert (row["srmag1"], row["distpsnr1"], row["ssnamenr"]) == (19.1, 2.0, "2021ab")
    assert row["ncand"] == 2
    assert (row["magrmean"], row["rmag"], row["mag_r28"]) == (18.0, 18.0, 18.0)


def test_empty_and_single_point(make_ztf):
    empty, single = compute_features([make_ztf([]), make_ztf([(2460000.5, 1, 19.0)])], "ztf")
    assert empty["ncand"] == 0 and empty["ncandgp"] == 0
    for name in ("ramean", "maggmean", "jdmax", "dmdt_g", "g_minus_r", "mag_g02", "hpx16",
                 "glatmean", "sgmag1"):
        assert empty[name] is None, name
    assert single["ncand"] == 1 and single["maggmin"] == single["gmag"] == 19.0
    assert single["rastd"] is None and single["decstd"] is None  # no spread of one point
    assert single["dmdt_g"] is None and single["magrmean"] is None
    assert single["mag_g02"] == 19.0
