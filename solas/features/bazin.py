"""Bazin and exponential light-curve models times a black body, fitted over time and
wavelength at once (the BBB features).

Models of the extinction-corrected flux (nJy) at time ``t`` (days) and wavelength
``lam`` (micron, one per band, :data:`~solas.features.colour.WAVELENGTH_UM`), with
``b(lam, T) = B_nu(lam, T) / B_nu(0.62 um, T)`` (a black body normalised in r)::

    Bazin:        f = A b(lam, T) exp(-kf (t - t0)) / (1 + exp(-kr (t - t0)))
    exponential:  f = A b(lam, T) exp(k (t - t_last))

fitted by ``scipy.optimize.least_squares`` (trust-region reflective, residuals
weighted by the flux errors) within the bounds ``0 <= kr <= 15``, ``0 <= kf <= 2``,
``0 <= k <= 2`` (1/day), ``1,000 K <= T <= 100,000 K``.  The model with the lower
``AIC = n ln(RSS / n) + 2 p`` is kept, provided it explains the light curve
(``RSS / TSS`` at most 0.25 for Bazin, 0.35 for the exponential, TSS about the weighted
mean).  The data are the detections with a finite flux and error and up to four forced
points before the first detection.  Cost is bounded: no fit below 5 detections (the
Bazin model needs 6 points), at most :data:`MAX_POINTS` latest points, and at most
:data:`MAX_NFEV` model evaluations per fit, with an analytic Jacobian; a fit that has
not converged by then is rejected.  Each fitted object costs a few to a few tens of
milliseconds (both models; see :attr:`BBBFit.nfev`).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import least_squares

from solas.features.colour import HC_OVER_K_UM_K, WAVELENGTH_UM

MIN_DETECTIONS = 5
"""No fit for fewer detections."""
N_FORCED_BEFORE = 4
"""Forced points taken from just before the first detection."""
MAX_POINTS = 200
"""At most this many (latest) points are fitted."""
MAX_NFEV = 60
"""Cap on model evaluations of each least-squares fit."""
MAX_RSS_FRACTION = {"bazin": 0.25, "exp": 0.35}
"""Largest RSS / TSS accepted for each model."""
_LAM_NORM = 0.62
_T_BOUNDS_KK = (1.0, 100.0)
_HCK = HC_OVER_K_UM_K / 1000.0  # micron kK: temperatures are fitted in kK


class LightCurve(NamedTuple):
    """One object's points for the fit."""

    t: np.ndarray
    """Time, MJD."""
    lam: np.ndarray
    """Wavelength of each point's band, micron."""
    flux: np.ndarray
    """Extinction-corrected flux, nJy."""
    err: np.ndarray
    """Flux error, nJy (> 0)."""


class BBBFit(NamedTuple):
    """The chosen fit of one object."""

    model: str
    """``"bazin"`` or ``"exp"``."""
    rise_rate: float
    """``kr`` (Bazin) or ``k`` (exponential), 1/day."""
    fall_rate: float
    """``kf`` (Bazin), NaN for the exponential."""
    temp_k: float
    """Black-body temperature, K."""
    peak_flux: float
    """Bazin peak flux in the band where the fitted black body is brightest, nJy (NaN
    without a peak: exponential, or ``kf = 0``, or ``kf >= kr``)."""
    peak_mjd: float
    """Bazin peak time, MJD (NaN without a peak)."""
    aic: float
    """AIC of the chosen model."""
    nfev: int
    """Model evaluations spent on both fits."""


def black_body_ratio(lam: np.ndarray, temp_kk: float | np.ndarray) -> np.ndarray:
    """``B_nu(lam, T) / B_nu(0.62 um, T)`` for ``T`` in kK."""
    x, x0 = _HCK / (lam * temp_kk), _HCK / (_LAM_NORM * temp_kk)
    return (_LAM_NORM / lam) ** 3 * np.expm1(x0) / np.expm1(x)


def _dlog_ratio_dtemp(lam: np.ndarray, temp_kk: float) -> np.ndarray:
    """``d ln black_body_ratio / dT`` (1/kK)."""
    x, x0 = _HCK / (lam * temp_kk), _HCK / (_LAM_NORM * temp_kk)
    return (x / -np.expm1(-x) - x0 / -np.expm1(-x0)) / temp_kk


def bazin_flux(t: np.ndarray, lam: np.ndarray, a: float, temp_kk: float, t0: float,
               kr: float, kf: float) -> np.ndarray:
    """Bazin x black-body model flux (see module docstring); overflow-safe."""
    tau = t - t0
    return a * black_body_ratio(lam, temp_kk) * np.exp(-kf * tau - np.logaddexp(0.0, -kr * tau))


def _bazin_jacobian(t: np.ndarray, lam: np.ndarray, a: float, temp_kk: float, t0: float,
                    kr: float, kf: float) -> np.ndarray:
    """Derivatives of :func:`bazin_flux` by (A, T, t0, kr, kf), one row per point."""
    tau = t - t0
    shape = black_body_ratio(lam, temp_kk) * np.exp(-kf * tau - np.logaddexp(0.0, -kr * tau))
    s = np.exp(-np.logaddexp(0.0, kr * tau))  # 1 / (1 + exp(kr tau))
    f = a * shape
    return np.column_stack((shape, f * _dlog_ratio_dtemp(lam, temp_kk), f * (kf - kr * s),
                            f * tau * s, -f * tau))


def exp_flux(t: np.ndarray, lam: np.ndarray, a: float, temp_kk: float, k: float,
             t_ref: float) -> np.ndarray:
    """Exponential x black-body model flux, ``t_ref`` the latest detection time."""
    return a * black_body_ratio(lam, temp_kk) * np.exp(k * (t - t_ref))


def _exp_jacobian(t: np.ndarray, lam: np.ndarray, a: float, temp_kk: float, k: float,
                  t_ref: float) -> np.ndarray:
    """Derivatives of :func:`exp_flux` by (A, T, k), one row per point."""
    shape = black_body_ratio(lam, temp_kk) * np.exp(k * (t - t_ref))
    f = a * shape
    return np.column_stack((shape, f * _dlog_ratio_dtemp(lam, temp_kk), f * (t - t_ref)))


def bazin_peak(t0: float, kr: float, kf: float) -> float:
    """Time of the Bazin maximum, ``t0 - ln(kf / (kr - kf)) / kr`` (NaN if none)."""
    if not (kf > 0 and kr > kf):
        return math.nan
    return t0 - math.log(kf / (kr - kf)) / kr


class _Fit(NamedTuple):
    params: np.ndarray
    rss: float
    nfev: int


def _solve(residuals, jacobian, x0, lower, upper) -> _Fit | None:
    x0 = np.clip(x0, lower, upper)
    with np.errstate(all="ignore"):
        res = least_squares(residuals, x0, jac=jacobian, bounds=(lower, upper),
                            method="trf", x_scale="jac", max_nfev=MAX_NFEV)
        rss = float(np.sum(res.fun ** 2))
    if res.status <= 0 or not np.isfinite(rss):
        return None
    return _Fit(res.x, rss, int(res.nfev))


def _aic(rss: float, n: int, p: int) -> float:
    return n * math.log(max(rss, 1e-300) / n) + 2 * p


def _fit_bazin(lc: LightCurve, f: np.ndarray, w: np.ndarray) -> _Fit | None:
    """Bazin fit of the scaled fluxes ``f`` with weights ``w`` (needs 6 points)."""
    if lc.t.size <= 5:
        return None
    t_peak = float(lc.t[np.argmax(f)])
    return _solve(lambda p: (bazin_flux(lc.t, lc.lam, *p) - f) * w,
                  lambda p: _bazin_jacobian(lc.t, lc.lam, *p) * w[:, None],
                  np.array([2.0, 10.0, t_peak - 5.0, 0.5, 0.05]),
                  np.array([0.0, _T_BOUNDS_KK[0], float(lc.t[0]) - 100.0, 0.0, 0.0]),
                  np.array([np.inf, _T_BOUNDS_KK[1], float(lc.t[-1]) + 100.0, 15.0, 2.0]))


def _fit_exp(lc: LightCurve, f: np.ndarray, w: np.ndarray) -> _Fit | None:
    """Exponential fit of the scaled fluxes ``f`` with weights ``w``."""
    t_last = float(lc.t[-1])
    return _solve(lambda p: (exp_flux(lc.t, lc.lam, *p, t_last) - f) * w,
                  lambda p: _exp_jacobian(lc.t, lc.lam, *p, t_last) * w[:, None],
                  np.array([max(float(f[-1]), 0.1), 10.0, 0.1]),
                  np.array([0.0, _T_BOUNDS_KK[0], 0.0]),
                  np.array([np.inf, _T_BOUNDS_KK[1], 2.0]))


def fit_light_curve(lc: LightCurve) -> BBBFit | None:
    """Fit both models to one light curve and keep the better (module docstring);
    None when there are too few points or neither model fits."""
    n = lc.t.size
    if n < MIN_DETECTIONS:
        return None
    scale = float(np.max(np.abs(lc.flux))) or 1.0
    f, w = lc.flux / scale, scale / lc.err
    tss = float(np.sum(((f - np.average(f, weights=w ** 2)) * w) ** 2))
    fits = {"bazin": (_fit_bazin(lc, f, w), 5), "exp": (_fit_exp(lc, f, w), 3)}
    nfev = sum(fit.nfev for fit, _ in fits.values() if fit)
    candidates = [(_aic(fit.rss, n, p), model, fit) for model, (fit, p) in fits.items()
                  if fit and fit.rss <= MAX_RSS_FRACTION[model] * tss]
    if not candidates:
        return None
    aic, model, fit = min(candidates, key=lambda c: c[0])
    if model == "exp":
        a, temp, k = (float(v) for v in fit.params)
        return BBBFit("exp", k, math.nan, temp * 1000.0, math.nan, math.nan, aic, nfev)
    a, temp, t0, kr, kf = (float(v) for v in fit.params)
    peak = bazin_peak(t0, kr, kf)
    peak_flux = math.nan
    if math.isfinite(peak):
        peak_flux = float(np.max(bazin_flux(np.full(6, peak), WAVELENGTH_UM, a * scale,
                                            temp, t0, kr, kf)))
    return BBBFit("bazin", kr, kf, temp * 1000.0, peak_flux, peak, aic, nfev)
