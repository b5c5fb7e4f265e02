"""Distances and absolute magnitudes (flat LCDM, H0 = 70 km/s/Mpc, Om0 = 0.3).

Absolute magnitude of an AB magnitude ``m`` (here ``31.4 - 2.5 log10(flux / nJy)`` of an
extinction-corrected flux) of a source at luminosity distance ``D_L`` and redshift ``z``::

    M = m - mu(D_L) - K(z),   mu = 5 log10(D_L / 10 pc),   K(z) = -2.5 log10(1 + z)

The one K-correction used everywhere (``absMag`` and ``BBBPeakAbsMag``) is that of a
source whose spectrum is flat in f_nu: observed and emitted bands then differ only by
the ``(1 + z)`` compression of the bandwidth.  When only a distance is known, ``z`` is
the redshift at that luminosity distance in the same cosmology; when only ``z`` is
known, ``D_L(z)``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

H0 = 70.0
"""Hubble constant, km/s/Mpc."""
OM0 = 0.3
"""Matter density (flat: Lambda = 1 - Om0)."""
MAG_ZERO_NJY = 31.4
"""AB magnitude of 1 nJy."""
DISTANCE_KEYS = ("direct_distance", "distance")
"""Context keys giving a luminosity distance (Mpc), in order of preference."""
REDSHIFT_KEYS = ("z", "photoZ")
"""Context keys giving a redshift, in order of preference."""
_Z_MAX = 20.0


@lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Redshift grid and its luminosity distances (Mpc), monotonic, computed once."""
    from astropy.cosmology import FlatLambdaCDM

    z = np.concatenate(([0.0], np.geomspace(1e-6, _Z_MAX, 4000)))
    return z, FlatLambdaCDM(H0=H0, Om0=OM0).luminosity_distance(z).value


def luminosity_distance(z: np.ndarray) -> np.ndarray:
    """Luminosity distance (Mpc) at redshift ``z`` (NaN outside 0 < z <= 20)."""
    zs, dl = _grid()
    z = np.asarray(z, float)
    with np.errstate(invalid="ignore"):
        ok = (z > 0) & (z <= _Z_MAX)
    return np.where(ok, np.interp(np.where(ok, z, 0.0), zs, dl), np.nan)


def redshift_at(distance_mpc: np.ndarray) -> np.ndarray:
    """Redshift at luminosity distance ``distance_mpc`` (NaN if not positive or beyond z=20)."""
    zs, dl = _grid()
    d = np.asarray(distance_mpc, float)
    with np.errstate(invalid="ignore"):
        ok = (d > 0) & (d <= dl[-1])
    return np.where(ok, np.interp(np.where(ok, d, 0.0), dl, zs), np.nan)


class Distances(NamedTuple):
    """Per-object distance (Mpc) and redshift (NaN where unknown)."""

    distance_mpc: np.ndarray
    z: np.ndarray


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return np.nan
    return float(value) if value > 0 else np.nan


def _first_number(entry: Mapping[str, Any], keys: tuple[str, ...]) -> float:
    for key in keys:
        value = _number(entry.get(key))
        if np.isfinite(value):
            return value
    return np.nan


def context_distances(object_ids: Sequence, context: Mapping | None) -> Distances:
    """Distance and redshift of each object from ``context``.

    ``context`` maps object id -> a mapping such as a ``sherlock_classifications`` row:
    distance from ``direct_distance`` or ``distance`` (Mpc), redshift from ``z`` or
    ``photoZ``; whichever is missing is derived from the other.  Objects absent from
    ``context`` (or ``context=None``) get NaN.
    """
    n = len(object_ids)
    dist, z = np.full(n, np.nan), np.full(n, np.nan)
    if context:
        for i, oid in enumerate(object_ids):
            entry = context.get(oid)
            if isinstance(entry, Mapping):
                dist[i] = _first_number(entry, DISTANCE_KEYS)
                z[i] = _first_number(entry, REDSHIFT_KEYS)
    dist = np.where(np.isfinite(dist), dist, luminosity_distance(z))
    z = np.where(np.isfinite(z), z, redshift_at(dist))
    return Distances(dist, z)


def absolute_magnitude(flux_njy: np.ndarray, distance_mpc: np.ndarray,
                       z: np.ndarray) -> np.ndarray:
    """Absolute AB magnitude of a flux (nJy) at ``distance_mpc`` and ``z`` (module
    docstring); NaN where the flux is not positive or distance/z unknown."""
    with np.errstate(invalid="ignore", divide="ignore"):
        m = MAG_ZERO_NJY - 2.5 * np.log10(np.where(flux_njy > 0, flux_njy, np.nan))
        mu = 5.0 * np.log10(distance_mpc) + 25.0
        return m - mu + 2.5 * np.log10(1.0 + z)
