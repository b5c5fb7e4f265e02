"""Sky geometry shared by the matchers: positions, unit vectors, separations, HEALPix.

Positions are ICRS right ascension and declination in degrees.  HEALPix indices are
NESTED, as in MOCs; order 29 is the deepest order (cells of about 0.4 milliarcsec).
"""
from __future__ import annotations

import numpy as np
import astropy.units as u
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested

from solas.skymatch.errors import PositionError

MAX_ORDER = 29
"""Deepest HEALPix order (MOC resolution)."""
ARCSEC_PER_RAD = 180.0 * 3600.0 / np.pi
DEG2_PER_SR = (180.0 / np.pi) ** 2
FULL_SKY_DEG2 = 4.0 * np.pi * DEG2_PER_SR
HEALPIX_THREADS = 1
"""Threads used by cdshealpix: workers are one process per core."""


def check_positions(ra, dec, what: str = "position") -> tuple[np.ndarray, np.ndarray]:
    """Return ``ra, dec`` as equal-length 1-D float64 arrays (deg), or raise PositionError.

    RA may take any finite value (it is wrapped); Dec must lie in [-90, 90].
    """
    ra = np.atleast_1d(np.asarray(ra, dtype=np.float64))
    dec = np.atleast_1d(np.asarray(dec, dtype=np.float64))
    if ra.ndim != 1 or ra.shape != dec.shape:
        raise PositionError(f"{what}: ra and dec must be 1-D arrays of the same length, "
                            f"got shapes {ra.shape} and {dec.shape}")
    bad = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PositionError(f"{what} {i}: ra={ra[i]!r}, dec={dec[i]!r} is not a valid sky "
                            f"position ({int(bad.sum())} bad of {ra.size})")
    return ra, dec


def unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors, shape (N, 3), of positions in degrees."""
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    cos_dec = np.cos(dec_r)
    return np.column_stack((cos_dec * np.cos(ra_r), cos_dec * np.sin(ra_r), np.sin(dec_r)))


def separation_of_vectors_arcsec(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle angle between rows of two (N, 3) unit-vector arrays, arcsec.

    Uses atan2(|a x b|, a.b), accurate from micro-arcseconds to 180 degrees.
    """
    cross = np.linalg.norm(np.cross(a, b), axis=1)
    dot = np.einsum("ij,ij->i", a, b)
    return np.arctan2(cross, dot) * ARCSEC_PER_RAD


def separation_arcsec(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Exact great-circle separation of positions in degrees (numpy broadcasting), arcsec.

    Vincenty's formula, accurate at every separation.
    """
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(x, dtype=np.float64))
                            for x in (ra1, dec1, ra2, dec2))
    d_ra = ra2 - ra1
    s1, c1, s2, c2 = np.sin(dec1), np.cos(dec1), np.sin(dec2), np.cos(dec2)
    num = np.hypot(c2 * np.sin(d_ra), c1 * s2 - s1 * c2 * np.cos(d_ra))
    return np.arctan2(num, s1 * s2 + c1 * c2 * np.cos(d_ra)) * ARCSEC_PER_RAD


def healpix_index(ra: np.ndarray, dec: np.ndarray, order: int = MAX_ORDER) -> np.ndarray:
    """NESTED HEALPix index (int64) at ``order`` of positions already checked, deg."""
    ipix = nested.lonlat_to_healpix(Longitude(ra, u.deg), Latitude(dec, u.deg), order,
                                    num_threads=HEALPIX_THREADS)
    return ipix.astype(np.int64)


def cell_size_rad(order: int | np.ndarray) -> np.ndarray:
    """Mean size (square root of the area) of a HEALPix cell at ``order``, radians."""
    return np.sqrt(np.pi / 3.0) / 2.0 ** np.asarray(order, dtype=np.float64)


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten half-open index ranges ``[lo[i], hi[i])``.

    Returns ``(owner, position)``: for every position of every range, the index ``i`` of
    its range and the position itself, in range order.
    """
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(total, dtype=np.int64) - np.repeat(starts - lo, counts)
    return owner, position
