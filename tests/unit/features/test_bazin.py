"""The Bazin / exponential black-body fits recover known parameters from noiseless
synthetic light curves."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from solas.features import bazin
from solas.features.colour import WAVELENGTH_UM

TRUE = dict(a=5000.0, temp_kk=9.0, t0=60010.0, kr=0.6, kf=0.04)


def planck_ratio(lam, temp_k):
    """B_nu(lam) / B_nu(0.62 um), from the Planck law in SI units."""
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23

    def b(wl):
        nu = c / (wl * 1e-6)
        return nu ** 3 / np.expm1(h * nu / (k * temp_k))
    return b(lam) / b(0.62)


def bazin_curve(t, lam, a, temp_kk, t0, kr, kf):
    """The Bazin model written directly."""
    tau = t - t0
    return a * planck_ratio(lam, temp_kk * 1000) * np.exp(-kf * tau) / (1 + np.exp(-kr * tau))


def synthetic(times, model):
    bands = np.resize([1, 2, 3], times.size)
    lam = WAVELENGTH_UM[bands]
    flux = model(times, lam)
    return bazin.LightCurve(times, lam, flux, np.full(times.size, 0.01 * flux.max()))


def test_black_body_ratio_is_planck():
    np.testing.assert_allclose(bazin.black_body_ratio(WAVELENGTH_UM, 7.5),
                               planck_ratio(WAVELENGTH_UM, 7500.0), rtol=1e-4)


def test_bazin_fit_recovers_parameters():
    t = np.linspace(59995.0, 60080.0, 45)
    fit = bazin.fit_light_curve(synthetic(t, lambda t, lam: bazin_curve(t, lam, **TRUE)))
    assert fit is not None and fit.model == "bazin"
    assert fit.rise_rate == pytest.approx(TRUE["kr"], rel=1e-3)
    assert fit.fall_rate == pytest.approx(TRUE["kf"], rel=1e-3)
    assert fit.temp_k == pytest.approx(TRUE["temp_kk"] * 1000, rel=1e-3)
    # peak: numerical maximum of the true curve over time, in the brightest band
    grid = np.linspace(60000, 60040, 400001)
    peaks = [bazin_curve(grid, lam, **TRUE) for lam in WAVELENGTH_UM]
    brightest = max(peaks, key=np.max)
    assert fit.peak_mjd == pytest.approx(grid[np.argmax(brightest)], abs=2e-3)
    assert fit.peak_flux == pytest.approx(brightest.max(), rel=1e-3)
    assert fit.nfev <= 2 * bazin.MAX_NFEV


def test_exponential_rise_prefers_exp_model():
    t = np.linspace(60000.0, 60012.0, 24)
    fit = bazin.fit_light_curve(synthetic(
        t, lambda t, lam: 800.0 * planck_ratio(lam, 12000.0) * np.exp(0.3 * (t - 60012.0))))
    assert fit is not None and fit.model == "exp"
    assert fit.rise_rate == pytest.approx(0.3, rel=1e-3)
    assert fit.temp_k == pytest.approx(12000.0, rel=1e-3)
    assert np.isnan([fit.fall_rate, fit.peak_mjd, fit.peak_flux]).all()


def test_too_few_points_or_no_fit():
    t = np.linspace(60000, 60003, 4)
    assert bazin.fit_light_curve(synthetic(t, lambda t, lam: 100 + 0 * t)) is None
    rng = np.random.default_rng(5)
    t = np.linspace(60000, 60100, 40)  # pure noise around zero: neither model explains it
    noise = bazin.LightCurve(t, np.full(40, 0.62), rng.normal(0, 10, 40), np.full(40, 10.0))
    assert bazin.fit_light_curve(noise) is None


def test_peak_formula():
    assert bazin.bazin_peak(10.0, 0.5, 0.05) == pytest.approx(10.0 + np.log(9.0) / 0.5)
    assert np.isnan(bazin.bazin_peak(10.0, 0.5, 0.0))
    assert np.isnan(bazin.bazin_peak(10.0, 0.5, 0.6))


def scipy_fit(lc):
    """The BBB choice made with scipy's trust-region solver: an independent oracle."""
    scale = float(np.max(np.abs(lc.flux)))
    f, w = lc.flux / scale, scale / lc.err
    tss = float(np.sum(((f - np.average(f, weights=w ** 2)) * w) ** 2))
    t0, t1 = float(lc.t[0]), float(lc.t[-1])
    problems = {
        "exp": (lambda p: (bazin.exp_flux(lc.t, lc.lam, *p, t1) - f) * w,
                [max(float(f[-1]), 0.1), 10.0, 0.1], ([0, 1, 0], [np.inf, 100, 2])),
        "bazin": (lambda p: (bazin.bazin_flux(lc.t, lc.lam, *p) - f) * w,
                  [2.0, 10.0, float(lc.t[np.argmax(f)]) - 5.0, 0.5, 0.05],
                  ([0, 1, t0 - 100, 0, 0], [np.inf, 100, t1 + 100, 15, 2]))}
    best = None
    for model, (res, x0, bounds) in problems.items():
        if model == "bazin" and lc.t.size <= 5:
            continue
        with np.errstate(all="ignore"):
            sol = least_squares(res, np.clip(x0, *bounds), bounds=bounds, x_scale="jac",
                                max_nfev=bazin.MAX_NFEV)
        rss = float(np.sum(sol.fun ** 2))
        if sol.status > 0 and rss <= bazin.MAX_RSS_FRACTION[model] * tss:
            aic = lc.t.size * np.log(rss / lc.t.size) + 2 * len(x0)
            if best is None or aic < best[0]:
                best = (aic, model)
    return best


def real_curves(alerts):
    """Light curves of every prefix (10 points apart) of the real long Rubin histories:
    real shapes, from rising to long declines."""
    curves = []
    for alert in alerts:
        pts = sorted((r["midpointMjdTai"], r["band"], r["psfFlux"], r["psfFluxErr"])
                     for r in alert.detections if r.get("psfFlux") is not None
                     and r.get("psfFluxErr") and r["band"] in "ugrizy")
        for n in range(6, min(len(pts), 200), 10):
            t, band, flux, err = zip(*pts[:n])
            lam = WAVELENGTH_UM[["ugrizy".index(b) for b in band]]
            curves.append(bazin.LightCurve(np.array(t), lam, np.array(flux), np.array(err)))
    return curves


def test_batched_fits_agree_with_scipy_on_real_light_curves(lsst_real):
    curves = real_curves(lsst_real)
    assert len(curves) >= 50
    ours = bazin.fit_light_curves(curves)
    oracle = [scipy_fit(c) for c in curves]
    fitted_by_oracle = [i for i, o in enumerate(oracle) if o is not None]
    assert len(fitted_by_oracle) >= 20
    agree = [i for i in fitted_by_oracle if ours[i] is not None
             and ours[i].model == oracle[i][1] and ours[i].aic <= oracle[i][0] + 1.0]
    assert len(agree) >= 0.9 * len(fitted_by_oracle)


def test_batch_equals_one_by_one_and_keeps_order():
    t = np.linspace(59995.0, 60080.0, 45)
    curves = [synthetic(t[:k], lambda t, lam: bazin_curve(t, lam, **TRUE))
              for k in (45, 30, 8)] + [None]
    batch = bazin.fit_light_curves(curves)
    assert batch[3] is None
    for curve, fit in zip(curves[:3], batch[:3]):
        assert fit == bazin.fit_light_curve(curve)
