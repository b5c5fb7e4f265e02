"""Rubin band constants, extinction, black-body colour temperatures and pair colours.

Black body: ``B(lambda, T) ∝ lambda**-3 / (exp(hc / (lambda k T)) - 1)``, the
per-unit-frequency Planck law in wavelength, which matches fluxes in nJy (f_nu).
Each band is represented by one wavelength (Lasair's effective wavelengths).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from solas.features import groups

LSST_BANDS = "ugrizy"
"""Rubin bands, blue to red; band index = position in this string."""
WAVELENGTH_UM = np.array([0.38, 0.50, 0.62, 0.74, 0.88, 1.00])
"""Wavelength representing each band, micron."""
EXTINCTION_R = np.array([4.145, 3.237, 2.273, 1.684, 1.323, 1.088])
"""A_band / E(B-V)_SFD for the Rubin bands (Schlafly & Finkbeiner 2011, R_V = 3.1)."""
HC_OVER_K_UM_K = 14387.7688
"""h c / k, micron kelvin."""
PAIR_MAX_DT_DAYS = 40.0 / 1440.0
"""Two detections closer than this (40 min) in different bands make a colour pair."""
_START_K = 12000.0
_MAX_ITER = 50


def deredden(flux: np.ndarray, band: np.ndarray, ebv: np.ndarray) -> np.ndarray:
    """Flux corrected for Galactic extinction: ``flux * 10**(0.4 R_band E(B-V))``.

    ``band`` are band indices (-1 unknown: left as it is); ``ebv`` per point, mag (NaN
    counts as no extinction)."""
    r = np.where(band >= 0, EXTINCTION_R[np.clip(band, 0, 5)], 0.0)
    return flux * 10.0 ** (0.4 * r * np.nan_to_num(ebv))


def _log_expm1(x: np.ndarray) -> np.ndarray:
    """``ln(exp(x) - 1)`` for x > 0 without overflow."""
    return x + np.log(-np.expm1(-x))


def temperature(ratio: np.ndarray, wl_blue: np.ndarray, wl_red: np.ndarray) -> np.ndarray:
    """Black-body temperature (K) whose flux ratio ``f_nu(blue) / f_nu(red)`` at the
    two wavelengths (micron, ``wl_blue < wl_red``) is ``ratio``.

    Newton iteration on ``u = hc/kT`` (micron) for the root of
    ``g(u) = ln B(wl_blue) - ln B(wl_red) - ln ratio``, all pairs at once, from
    12,000 K.  ``g`` is decreasing and concave in ``u``, so Newton's iterates stay
    positive and converge whenever a root exists, i.e. when the colour is redder than
    the Rayleigh-Jeans limit ``ratio < (wl_red / wl_blue)**2``; otherwise, or without
    convergence in 50 steps, NaN.
    """
    ratio, wl_b, wl_r = np.broadcast_arrays(np.asarray(ratio, float),
                                            np.asarray(wl_blue, float),
                                            np.asarray(wl_red, float))
    with np.errstate(all="ignore"):
        log_r = np.log(ratio)
        ok = np.isfinite(log_r) & (wl_b < wl_r) & (log_r < 2.0 * np.log(wl_r / wl_b))
        u = np.full(ratio.shape, HC_OVER_K_UM_K / _START_K)
        done = ~ok
        for _ in range(_MAX_ITER):
            g = (3.0 * np.log(wl_r / wl_b) - _log_expm1(u / wl_b) + _log_expm1(u / wl_r)
                 - log_r)
            dg = -1.0 / (wl_b * -np.expm1(-u / wl_b)) + 1.0 / (wl_r * -np.expm1(-u / wl_r))
            step = np.where(done, 0.0, g / dg)
            u = u - step
            done |= np.abs(step) <= 1e-12 * np.abs(u)
            if done.all():
                break
        good = ok & done & np.isfinite(u) & (u > 0)
        return np.where(good, HC_OVER_K_UM_K / u, np.nan)


class PairColours(NamedTuple):
    """Colour of one pair of detections per object (NaN / None where none)."""

    mjd: np.ndarray
    """Time of the later detection of the pair, MJD."""
    colour: np.ndarray
    """``m_blue - m_red`` of the extinction-corrected fluxes, mag."""
    bands: np.ndarray
    """``"<blue>-<red>"``, e.g. ``"g-r"`` (object array, None where no pair)."""
    temp: np.ndarray
    """Black-body temperature giving that colour, K."""


def _pair_colours(pair: np.ndarray, first: np.ndarray, second: np.ndarray,
                  t: np.ndarray, flux: np.ndarray, band: np.ndarray) -> PairColours:
    """Colours of the chosen pairs (index into ``first``/``second``; -1: none)."""
    has = pair >= 0
    if not has.any():
        none = np.full(pair.shape, np.nan)
        return PairColours(none, none.copy(), np.full(pair.shape, None, object), none.copy())
    a, b = first[np.clip(pair, 0, None)], second[np.clip(pair, 0, None)]
    swap = band[a] > band[b]  # the later detection is the bluer one
    blue, red = np.where(swap, b, a), np.where(swap, a, b)
    with np.errstate(all="ignore"):  # a ratio of subnormal fluxes may overflow: NaN
        ratio = flux[blue] / flux[red]
        colour = -2.5 * np.log10(ratio)
    bb, br = band[blue], band[red]
    temp = temperature(ratio, WAVELENGTH_UM[bb], WAVELENGTH_UM[br])
    names = np.array([f"{LSST_BANDS[i]}-{LSST_BANDS[j]}" for i in range(6) for j in range(6)],
                     dtype=object)
    bands = np.where(has, names[bb * 6 + br], None)
    return PairColours(np.where(has, t[b], np.nan), np.where(has, colour, np.nan), bands,
                       np.where(has, temp, np.nan))


def pair_colours(obj: np.ndarray, n: int, t: np.ndarray, flux: np.ndarray,
                 band: np.ndarray) -> tuple[PairColours, PairColours]:
    """Latest and penultimate colour pairs of each of ``n`` objects.

    Points are detections sorted by object then time, ``flux`` extinction-corrected
    (nJy), ``band`` band indices.  Only detections with a positive finite flux in a
    known band take part; a pair is two such detections, consecutive in time, less
    than 40 min apart and in different bands, in either order (the bluer band may come
    first or second).  The penultimate pair is the latest pair sharing no detection
    with the latest pair.
    """
    use = np.flatnonzero(np.isfinite(flux) & (flux > 0) & (band >= 0) & np.isfinite(t))
    first, second = use[:-1], use[1:]
    is_pair = ((obj[first] == obj[second]) & (t[second] - t[first] < PAIR_MAX_DT_DAYS)
               & (band[first] != band[second]))
    owner = obj[second]
    latest = groups.last_index(owner, n, is_pair)
    before = is_pair & (np.arange(owner.size) <= groups.take(latest, owner, -1) - 2)
    penultimate = groups.last_index(owner, n, before)
    return (_pair_colours(latest, first, second, t, flux, band),
            _pair_colours(penultimate, first, second, t, flux, band))
