"""Bazin and exponential light-curve models times a black body, fitted over time and
wavelength at once (the BBB features).

Models of the extinction-corrected flux (nJy) at time ``t`` (days) and wavelength
``lam`` (micron, one per band, :data:`~solas.features.colour.WAVELENGTH_UM`), with
``b(lam, T) = B_nu(lam, T) / B_nu(0.62 um, T)`` (a black body normalised in r)::

    Bazin:        f = A b(lam, T) exp(-kf (t - t0)) / (1 + exp(-kr (t - t0)))
    exponential:  f = A b(lam, T) exp(k (t - t_last))

fitted by bounded Levenberg-Marquardt (:mod:`solas.features.least_squares`: residuals
weighted by the flux errors, every light curve of a batch solved at once with numpy) within
the bounds ``0 <= kr <= 15``, ``0 <= kf <= 2``, ``0 <= k <= 2`` (1/day),
``1,000 K <= T <= 100,000 K``.  The model with the lower ``AIC = n ln(RSS / n) + 2 p`` is
kept, provided it explains the light curve (``RSS / TSS`` at most 0.25 for Bazin, 0.35 for
the exponential, TSS about the weighted mean).  The data are the detections with a finite
flux and error and up to four forced points before the first detection.  Cost is bounded:
no fit below 5 detections (the Bazin model needs 6 points), at most :data:`MAX_POINTS`
latest points, and at most :data:`MAX_NFEV` model evaluations per fit, with an analytic
Jacobian; a fit that has not converged by then is rejected.  A batch costs about 0.25 ms
per fitted light curve on one core (``scipy.optimize.least_squares``, which this replaced,
took about 8 ms: its per-iteration Python overhead dominated); on real Rubin light curves
the two agree on the model and its parameters (BENCHMARKS.md, Rubin features).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from solas.features.colour import HC_OVER_K_UM_K, WAVELENGTH_UM
from solas.features.least_squares import BatchSolution, Residuals, solve_least_squares

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
_BUCKET_MIN = 16
"""Curves up to twice the shortest of a group's length (at least this) share a group."""
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


def _dlog_ratio_dtemp(lam: np.ndarray, temp_kk: float | np.ndarray) -> np.ndarray:
    """``d ln black_body_ratio / dT`` (1/kK)."""
    x, x0 = _HCK / (lam * temp_kk), _HCK / (_LAM_NORM * temp_kk)
    derivative: np.ndarray = (x / -np.expm1(-x) - x0 / -np.expm1(-x0)) / temp_kk
    return derivative


def bazin_flux(t: np.ndarray, lam: np.ndarray, a: float, temp_kk: float, t0: float,
               kr: float, kf: float) -> np.ndarray:
    """Bazin x black-body model flux (see module docstring); overflow-safe."""
    tau = t - t0
    return a * black_body_ratio(lam, temp_kk) * np.exp(-kf * tau - np.logaddexp(0.0, -kr * tau))


def exp_flux(t: np.ndarray, lam: np.ndarray, a: float, temp_kk: float, k: float,
             t_ref: float) -> np.ndarray:
    """Exponential x black-body model flux, ``t_ref`` the latest detection time."""
    return a * black_body_ratio(lam, temp_kk) * np.exp(k * (t - t_ref))


def bazin_peak(t0: float, kr: float, kf: float) -> float:
    """Time of the Bazin maximum, ``t0 - ln(kf / (kr - kf)) / kr`` (NaN if none)."""
    if not (kf > 0 and kr > kf):
        return math.nan
    return t0 - math.log(kf / (kr - kf)) / kr


class _Curves(NamedTuple):
    """Light curves padded to one length: ``(m, n)`` arrays (padding has weight 0)."""

    t: np.ndarray
    lam: np.ndarray
    f: np.ndarray
    """Flux divided by the curve's largest absolute flux."""
    w: np.ndarray
    """Weights ``scale / err`` (0 for padding)."""
    size: np.ndarray
    """Real points of each curve."""
    scale: np.ndarray
    """Largest absolute flux of each curve, nJy."""


def _pad(curves: Sequence[LightCurve]) -> _Curves:
    m, n = len(curves), max(c.t.size for c in curves)
    t, lam = np.zeros((m, n)), np.full((m, n), _LAM_NORM)
    f, w = np.zeros((m, n)), np.zeros((m, n))
    size, scale = np.zeros(m, dtype=np.int64), np.ones(m)
    for i, c in enumerate(curves):
        k = c.t.size
        scale[i] = float(np.max(np.abs(c.flux))) or 1.0
        t[i, :k], t[i, k:] = c.t, c.t[-1]
        lam[i, :k], f[i, :k] = c.lam, c.flux / scale[i]
        w[i, :k], size[i] = scale[i] / c.err, k
    return _Curves(t, lam, f, w, size, scale)


def _bazin_residuals(c: _Curves) -> Residuals:
    def model(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t, lam, f, w = c.t[rows], c.lam[rows], c.f[rows], c.w[rows]
        a, temp, t0, kr, kf = (x[:, j:j + 1] for j in range(5))
        tau = t - t0
        with np.errstate(all="ignore"):
            shape = black_body_ratio(lam, temp) * np.exp(-kf * tau - np.logaddexp(0.0, -kr * tau))
            s = np.exp(-np.logaddexp(0.0, kr * tau))
            fm = a * shape
            jac = np.stack((shape, fm * _dlog_ratio_dtemp(lam, temp), fm * (kf - kr * s),
                            fm * tau * s, -fm * tau), axis=-1)
        return (fm - f) * w, jac * w[:, :, None]
    return model


def _exp_residuals(c: _Curves, t_ref: np.ndarray) -> Residuals:
    def model(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t, lam, f, w = c.t[rows], c.lam[rows], c.f[rows], c.w[rows]
        a, temp, k = (x[:, j:j + 1] for j in range(3))
        dt = t - t_ref[rows, None]
        with np.errstate(all="ignore"):
            shape = black_body_ratio(lam, temp) * np.exp(k * dt)
            fm = a * shape
            jac = np.stack((shape, fm * _dlog_ratio_dtemp(lam, temp), fm * dt), axis=-1)
        return (fm - f) * w, jac * w[:, :, None]
    return model


def _first_last_peak(c: _Curves) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.arange(c.t.shape[0])
    peak = c.t[rows, np.argmax(np.where(c.w > 0, c.f, -np.inf), axis=1)]
    return c.t[:, 0], c.t[rows, c.size - 1], peak


def _fit_bazin(c: _Curves) -> BatchSolution:
    """Bazin fits of every curve (those of 5 points or fewer are marked not converged)."""
    t_first, t_last, t_peak = _first_last_peak(c)
    m = t_first.size
    x0 = np.column_stack((np.full(m, 2.0), np.full(m, 10.0), t_peak - 5.0,
                          np.full(m, 0.5), np.full(m, 0.05)))
    lower = np.column_stack((np.zeros(m), np.full(m, _T_BOUNDS_KK[0]), t_first - 100.0,
                             np.zeros(m), np.zeros(m)))
    upper = np.column_stack((np.full(m, np.inf), np.full(m, _T_BOUNDS_KK[1]), t_last + 100.0,
                             np.full(m, 15.0), np.full(m, 2.0)))
    sol = solve_least_squares(_bazin_residuals(c), x0, lower, upper, MAX_NFEV)
    return sol._replace(converged=sol.converged & (c.size > 5))


def _fit_exp(c: _Curves) -> BatchSolution:
    """Exponential fits of every curve, relative to its latest point."""
    _, t_last, _ = _first_last_peak(c)
    m = t_last.size
    f_last = c.f[np.arange(m), c.size - 1]
    x0 = np.column_stack((np.maximum(f_last, 0.1), np.full(m, 10.0), np.full(m, 0.1)))
    lower = np.column_stack((np.zeros(m), np.full(m, _T_BOUNDS_KK[0]), np.zeros(m)))
    upper = np.column_stack((np.full(m, np.inf), np.full(m, _T_BOUNDS_KK[1]), np.full(m, 2.0)))
    return solve_least_squares(_exp_residuals(c, t_last), x0, lower, upper, MAX_NFEV)


def _aic(rss: float, n: int, p: int) -> float:
    return n * math.log(max(rss, 1e-300) / n) + 2 * p


def _weighted_tss(c: _Curves) -> np.ndarray:
    """Total sum of squares of each curve about its weighted mean (weights ``w^2``)."""
    w2 = c.w ** 2
    mean = np.sum(w2 * c.f, axis=1) / np.sum(w2, axis=1)
    tss: np.ndarray = np.sum(((c.f - mean[:, None]) * c.w) ** 2, axis=1)
    return tss


def _chosen(i: int, c: _Curves, tss: float, bz: BatchSolution, ex: BatchSolution
            ) -> BBBFit | None:
    """The better acceptable model of curve ``i`` (module docstring), or None."""
    n = int(c.size[i])
    candidates = [(_aic(float(sol.rss[i]), n, p), model, sol.x[i])
                  for model, sol, p in (("bazin", bz, 5), ("exp", ex, 3))
                  if sol.converged[i] and sol.rss[i] <= MAX_RSS_FRACTION[model] * tss]
    if not candidates:
        return None
    nfev = int(bz.nfev[i] + ex.nfev[i])
    aic, model, x = min(candidates, key=lambda cand: cand[0])
    if model == "exp":
        a, temp, k = (float(v) for v in x)
        return BBBFit("exp", k, math.nan, temp * 1000.0, math.nan, math.nan, aic, nfev)
    a, temp, t0, kr, kf = (float(v) for v in x)
    peak = bazin_peak(t0, kr, kf)
    peak_flux = math.nan
    if math.isfinite(peak):
        peak_flux = float(np.max(bazin_flux(np.full(6, peak), WAVELENGTH_UM,
                                            a * float(c.scale[i]), temp, t0, kr, kf)))
    return BBBFit("bazin", kr, kf, temp * 1000.0, peak_flux, peak, aic, nfev)


def _fit_padded(curves: Sequence[LightCurve]) -> list[BBBFit | None]:
    c = _pad(curves)
    bz, ex = _fit_bazin(c), _fit_exp(c)
    tss = _weighted_tss(c)
    return [_chosen(i, c, float(tss[i]), bz, ex) for i in range(len(curves))]


def fit_light_curves(curves: Sequence[LightCurve | None]) -> list[BBBFit | None]:
    """Fit both models to every light curve at once and keep the better of each
    (module docstring); None for a missing curve, one with too few points, or one
    neither model fits.  Curves are fitted in groups of similar length, so a long
    light curve does not pad every short one."""
    out: list[BBBFit | None] = [None] * len(curves)
    todo = [i for i, c in enumerate(curves) if c is not None and c.t.size >= MIN_DETECTIONS]
    todo.sort(key=lambda i: _size(curves[i]))
    start = 0
    while start < len(todo):
        limit = max(_BUCKET_MIN, 2 * _size(curves[todo[start]]))
        stop = start
        while stop < len(todo) and _size(curves[todo[stop]]) <= limit:
            stop += 1
        group = todo[start:stop]
        for i, fit in zip(group, _fit_padded([curves[i] for i in group])):  # type: ignore[misc]
            out[i] = fit
        start = stop
    return out


def _size(curve: LightCurve | None) -> int:
    return 0 if curve is None else int(curve.t.size)


def fit_light_curve(lc: LightCurve) -> BBBFit | None:
    """:func:`fit_light_curves` of one light curve."""
    return fit_light_curves([lc])[0]
