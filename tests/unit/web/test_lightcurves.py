"""Light-curve points for the plot and the API, from real alerts."""
from __future__ import annotations

import math

import pytest

from web.lightcurves import (flux_to_mag, latest_source, mag_to_flux, photometry)


def rows_of(alert) -> dict:
    return {"detections": alert.detections, "forced": alert.forced,
            "nondetections": alert.nondetections}


def test_flux_mag_round_trip():
    flux, err = mag_to_flux(20.0, 0.1)
    assert flux == pytest.approx(10 ** (11.4 / 2.5))
    mag, magerr = flux_to_mag(flux, err)
    assert mag == pytest.approx(20.0) and magerr == pytest.approx(0.1)
    assert flux_to_mag(-5.0) == (None, None) and flux_to_mag(None) == (None, None)
    assert flux_to_mag(float("nan"), 1.0) == (None, None)


def test_ztf_points(ztf_alert):
    points = photometry("ztf", rows_of(ztf_alert))
    detections = [p for p in points if p["kind"] == "detection"]
    limits = [p for p in points if p["kind"] == "nondetection"]
    assert len(detections) == len(ztf_alert.detections) and len(limits) == 1
    assert [p["mjd"] for p in points] == sorted(p["mjd"] for p in points)
    last = max(detections, key=lambda p: p["mjd"])
    native = ztf_alert.detections[-1]
    assert last["mag"] == native["magpsf"] and last["band"] in "gr"
    assert last["mjd"] == pytest.approx(native["jd"] - 2400000.5)
    assert flux_to_mag(abs(last["flux"]), last["fluxerr"])[1] == pytest.approx(last["magerr"])
    assert limits[0]["limit_mag"] == ztf_alert.nondetections[0]["diffmaglim"]
    assert latest_source("ztf", rows_of(ztf_alert)) == ztf_alert.source_id


def test_ztf_negative_difference_and_forced_flux():
    rows = {"detections": [{"jd": 2459000.5, "fid": 2, "magpsf": 19.0, "sigmapsf": 0.1,
                            "isdiffpos": "f", "candid": 1}],
            "forced": [{"jd": 2459001.5, "fid": 1, "forcediffimflux": 1000.0,
                        "forcediffimfluxunc": 100.0, "magzpsci": 26.0},
                       {"jd": 2459002.5, "fid": 1, "forcediffimflux": -99999.0,
                        "forcediffimfluxunc": -99999.0, "magzpsci": 26.0}]}
    det, forced = photometry("ztf", rows)
    assert det["flux"] < 0 and det["band"] == "r" and det["mjd"] == 59000.0
    assert forced["kind"] == "forced" and forced["band"] == "g"
    assert forced["mag"] == pytest.approx(26.0 - 2.5 * math.log10(1000.0))
    assert forced["flux"] == pytest.approx(1000.0 * 10 ** ((31.4 - 26.0) / 2.5))


def test_rubin_points(lsst_alert):
    points = photometry("lsst", rows_of(lsst_alert))
    kinds = {k: [p for p in points if p["kind"] == k] for k in ("detection", "forced")}
    assert len(kinds["detection"]) == len(lsst_alert.detections)
    assert len(kinds["forced"]) == sum(1 for f in lsst_alert.forced
                                       if f.get("psfFlux") is not None)
    negative = [p for p in kinds["detection"] if p["flux"] < 0]
    assert negative and all(p["mag"] is None for p in negative)
    positive = next(p for p in kinds["detection"] if p["flux"] > 0)
    assert positive["mag"] == pytest.approx(31.4 - 2.5 * math.log10(positive["flux"]))
    assert latest_source("lsst", rows_of(lsst_alert)) is not None


def test_rubin_nondetection_limit():
    (p,) = photometry("lsst", {"nondetections": [{"midpointMjdTai": 60000.0, "band": "g",
                                                  "diaNoise": 100.0}]})
    assert p["flux"] == 500.0 and p["limit_mag"] == pytest.approx(31.4 - 2.5 * math.log10(500))
