"""Gravitational-wave sky maps: read them, take credible regions, match alerts.

Reads LIGO/Virgo/KAGRA HEALPix probability sky maps with astropy.io.fits, plain or
gzipped: multi-order maps (ORDERING NUNIQ; UNIQ and PROBDENSITY in sr^-1) and flat maps
(ORDERING NESTED or RING; PROB, the probability of each pixel).  Pixels sorted by
decreasing probability density give every pixel its credible level: the probability
enclosed by all pixels at least as dense, itself included (pixels of equal density
share a level).  The credible region at level L is the set of pixels whose level is at
most L: the smallest area holding probability L without splitting a pixel (the
ligo.skymap convention; it reproduces exactly the 90% MOC shipped with MS181101ab).
An alert's contour is the level of its pixel, in percent (:func:`evaluate_skymap`).

A map keeps the pixels of its ``max_level`` credible region (default 99.9%), as sorted
order-29 NESTED ranges: a flat nside-1024 map shrinks from 12.6 million pixels to the few
hundred thousand that matter.  :func:`skymap_to_bytes` packs the pixels of one credible
region compactly for storage (a GW watchmap keeps its map in ``mma_areas``) and
:func:`skymap_from_bytes` reads them back for the filter stage.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
from astropy.io import fits
from cdshealpix import nested, ring
from mocpy import MOC

from solas.skymatch.errors import SkymapError, fits_trouble
from solas.skymatch.gzipped import MAX_DECOMPRESSED_BYTES, TooLarge, gunzip
from solas.skymatch.sky import (DEG2_PER_SR, HEALPIX_THREADS, MAX_ORDER, check_positions,
                                healpix_index)

DEFAULT_MAX_LEVEL = 0.999
HEADER_KEYS = ("OBJECT", "DATE-OBS", "MJD-OBS", "DISTMEAN", "DISTSTD", "INSTRUME",
               "CREATOR", "ORIGIN", "REFERENC")


def pixel_area_sr(order: np.ndarray | int) -> np.ndarray:
    """Area of a HEALPix pixel at ``order``, steradians."""
    return np.pi / (3.0 * 4.0 ** np.asarray(order, dtype=np.float64))


def uniq_order_ipix(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order and NESTED index of NUNIQ pixel numbers (NUNIQ = 4 * 4**order + ipix)."""
    order = ((np.floor(np.log2(uniq.astype(np.float64))).astype(np.int64)) // 2) - 1
    # float log2 can round up just below a power of 4: correct with exact integers
    order -= (uniq < (4 << (2 * order))).astype(np.int64)
    order += (uniq >= (16 << (2 * order))).astype(np.int64)
    return order, uniq - (4 << (2 * order))


@dataclass(frozen=True, eq=False)
class SkyMap:
    """A probability sky map as sorted pixels (built by :func:`read_skymap`)."""

    order: np.ndarray
    """HEALPix order of each pixel."""
    ipix: np.ndarray
    """NESTED index of each pixel at its order."""
    probdensity: np.ndarray
    """Probability density, sr^-1 (normalised to a total probability of 1)."""
    level: np.ndarray
    """Credible level (0..1] of each pixel."""
    max_level: float
    """Pixels of credible level above this were dropped."""
    meta: dict
    """Header values (OBJECT, DATE-OBS, MJD-OBS, DISTMEAN, DISTSTD, ...) present."""

    @cached_property
    def start29(self) -> np.ndarray:
        """First order-29 index of each pixel."""
        return self.ipix << (2 * (MAX_ORDER - self.order))

    @cached_property
    def end29(self) -> np.ndarray:
        """Order-29 index just past each pixel."""
        return (self.ipix + 1) << (2 * (MAX_ORDER - self.order))

    def pixel_centres(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ra, dec) in degrees of the centres of the pixels at positions ``index``."""
        index = np.asarray(index)
        ra, dec = np.empty(index.size), np.empty(index.size)
        for order in np.unique(self.order[index]):
            sel = np.flatnonzero(self.order[index] == order)
            lon, lat = nested.healpix_to_lonlat(self.ipix[index[sel]].astype(np.uint64),
                                                int(order))
            ra[sel], dec[sel] = lon.deg, lat.deg
        return ra, dec

    def credible_region_moc(self, level: float = 0.9) -> MOC:
        """MOC of the smallest region holding probability ``level`` (0 < level <= 1)."""
        return credible_region_moc(self, level)

    def area_deg2(self, level: float = 0.9) -> float:
        """Area of the ``level`` credible region, square degrees."""
        inside = self._region(level)
        return float(pixel_area_sr(self.order[inside]).sum() * DEG2_PER_SR)

    def _region(self, level: float) -> np.ndarray:
        if not 0.0 < level <= self.max_level:
            raise SkymapError(f"credible level {level!r} is not in (0, {self.max_level}] "
                              f"(the levels kept when the map was read)")
        return self.level <= level


def credible_region_moc(skymap: SkyMap, level: float = 0.9) -> MOC:
    """MOC of the smallest region of ``skymap`` holding probability ``level``."""
    inside = skymap._region(level)
    order = skymap.order[inside]
    return MOC.from_healpix_cells(skymap.ipix[inside].astype(np.uint64),
                                  order.astype(np.uint8),
                                  max_depth=int(order.max()) if order.size else 0)


class SkymapValues(NamedTuple):
    """A sky map evaluated at positions."""

    contour: np.ndarray
    """Smallest credible region containing each position, percent; NaN where the map
    kept no pixel (beyond its ``max_level`` region)."""
    probdens: np.ndarray
    """Probability density at each position, deg^-2; NaN likewise."""


def evaluate_skymap(ra, dec, skymap: SkyMap) -> SkymapValues:
    """Credible contour (percent) and probability density (deg^-2) of ``skymap`` at
    positions ``ra``, ``dec`` (degrees, 1-D arrays of one length).

    The contour is the credible level of the pixel holding the position: the smallest
    credible region containing it.  Positions outside every pixel the map kept get NaN.
    """
    ra, dec = check_positions(ra, dec, what="position")
    contour, probdens = np.full(ra.size, np.nan), np.full(ra.size, np.nan)
    if ra.size == 0 or skymap.ipix.size == 0:
        return SkymapValues(contour, probdens)
    cell = healpix_index(ra, dec)
    start = skymap.start29
    pixel = np.maximum(np.searchsorted(start, cell, side="right") - 1, 0)
    inside = np.flatnonzero((cell >= start[pixel]) & (cell < skymap.end29[pixel]))
    pixel = pixel[inside]
    contour[inside] = skymap.level[pixel] * 100.0
    probdens[inside] = skymap.probdensity[pixel] / DEG2_PER_SR
    return SkymapValues(contour, probdens)


class SkymapMatches(NamedTuple):
    """Alerts inside a sky map's credible region."""

    alert_index: np.ndarray
    """int64 index of the alert in the queried arrays."""
    contour: np.ndarray
    """Smallest credible region containing the alert, percent."""
    probdens: np.ndarray
    """Probability density at the alert, deg^-2."""


def match_to_skymap(ra, dec, skymap: SkyMap, max_percent: float = 90.0) -> SkymapMatches:
    """Alerts (ra, dec in degrees) inside the ``max_percent`` credible region of a map."""
    values = evaluate_skymap(ra, dec, skymap)
    alert = np.flatnonzero(values.contour <= max_percent)  # NaN (outside) compares False
    return SkymapMatches(alert, values.contour[alert], values.probdens[alert])


def skymap_to_bytes(skymap: SkyMap, level: float | None = None) -> bytes:
    """The pixels of the ``level`` credible region of a map (default: every pixel kept)
    in a compact form read back by :func:`skymap_from_bytes`.

    The form is a compressed numpy archive (``numpy.load``, no pickles) of ``uniq``
    (int64 NUNIQ pixel numbers, sorted by position), ``probdensity`` (float64, sr^-1,
    normalised over the whole map, so the levels are recovered exactly from this
    prefix of the densest pixels), ``max_level`` and ``meta`` (the header values, JSON).
    """
    level = skymap.max_level if level is None else level
    inside = skymap._region(level)
    order = skymap.order[inside]
    buf = io.BytesIO()
    np.savez_compressed(buf, uniq=(4 << (2 * order)) + skymap.ipix[inside],
                        probdensity=skymap.probdensity[inside],
                        max_level=np.float64(level),
                        meta=np.str_(json.dumps(skymap.meta, default=str)))
    return buf.getvalue()


def skymap_from_bytes(data: bytes, source: str = "stored sky map") -> SkyMap:
    """A map stored by :func:`skymap_to_bytes`; SkymapError naming ``source`` if the bytes
    are not one."""
    try:
        with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as stored:
            uniq, density = stored["uniq"], stored["probdensity"]
            max_level, meta = float(stored["max_level"]), json.loads(str(stored["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, TypeError):
        raise SkymapError(f"{source}: not a stored sky map (damaged or of another "
                          "format)") from None
    if uniq.dtype != np.int64 or uniq.shape != density.shape or uniq.ndim != 1:
        raise SkymapError(f"{source}: uniq and probdensity must be 1-D int64 and float "
                          f"arrays of one length")
    if not 0.0 < max_level <= 1.0 or not isinstance(meta, dict):
        raise SkymapError(f"{source}: max_level {max_level!r} or meta is not valid")
    if uniq.size == 0:  # a region smaller than the densest pixel holds no pixel
        empty = np.zeros(0, np.int64)
        return SkyMap(empty, empty, np.zeros(0), np.zeros(0), max_level, meta)
    pixels = _multiorder_pixels({"UNIQ": uniq, "PROBDENSITY": density}, source)
    if not np.isfinite(pixels.density).all() or (pixels.density < 0).any():
        raise SkymapError(f"{source}: probabilities must be finite and non-negative")
    prob = pixels.density * pixel_area_sr(pixels.order)
    if prob.sum() > 1.0 + 1e-9:
        raise SkymapError(f"{source}: the pixels hold more than a probability of 1")
    kept, level = _credible_pixels(pixels.density, prob, 1.0)
    order, ipix = pixels.order[kept], pixels.ipix[kept]
    by_position = np.argsort(ipix << (2 * (MAX_ORDER - order)), kind="stable")
    return SkyMap(order[by_position], ipix[by_position], pixels.density[kept][by_position],
                  level[by_position], max_level, meta)


class _Pixels(NamedTuple):
    """Pixels as read: a flat map has one order and implicit indices (``ipix`` None),
    RING ones when ``ring_nside`` is set; otherwise ``ipix`` are NESTED."""

    order: np.ndarray | int
    ipix: np.ndarray | None
    density: np.ndarray
    ring_nside: int | None = None


def read_skymap(data: bytes | str | os.PathLike, source: str | None = None, *,
                max_level: float = DEFAULT_MAX_LEVEL,
                max_bytes: int = MAX_DECOMPRESSED_BYTES) -> SkyMap:
    """Read a multi-order or flat HEALPix sky map (FITS bytes or path, maybe gzipped).

    Keeps the pixels of credible level up to ``max_level``.  Raises SkymapError naming
    ``source`` (default: the path) for anything that is not a usable probability map.
    """
    source = source or (str(data) if isinstance(data, (str, os.PathLike)) else "sky map")
    if not 0.0 < max_level <= 1.0:
        raise SkymapError(f"{source}: max_level {max_level!r} is not in (0, 1]")
    header, columns = _read_table(data, source, max_bytes)
    ordering = str(header.get("ORDERING", "NUNIQ" if "UNIQ" in columns else "")).upper()
    frame = str(header.get("COORDSYS", "C")).strip().upper()
    if frame not in ("C", "CELESTIAL", "EQUATORIAL"):
        raise SkymapError(f"{source}: COORDSYS={frame}; only celestial (C) maps are read")
    if ordering == "NUNIQ":
        pixels = _multiorder_pixels(columns, source)
    elif ordering in ("NESTED", "RING"):
        pixels = _flat_pixels(header, columns, ordering, source)
    else:
        raise SkymapError(f"{source}: ORDERING={ordering or 'missing'}; expected NUNIQ, "
                          f"NESTED or RING")
    meta = {key: header[key] for key in HEADER_KEYS if key in header}
    return _skymap(pixels, max_level, meta, source)


def _skymap(pixels: _Pixels, max_level: float, meta: dict, source: str) -> SkyMap:
    """Credible levels, pruning to ``max_level``, NESTED indices, sorting by position."""
    order, ipix, density = pixels.order, pixels.ipix, pixels.density
    if not np.isfinite(density).all() or (density < 0).any():
        raise SkymapError(f"{source}: probabilities must be finite and non-negative")
    prob = density * pixel_area_sr(order)
    total = prob.sum()
    if not total > 0:
        raise SkymapError(f"{source}: the map holds no probability")
    kept, level = _credible_pixels(density, prob / total, max_level)
    ipix = kept if ipix is None else ipix[kept]
    order = np.broadcast_to(order, density.shape)[kept]
    density = density[kept] / total
    if pixels.ring_nside is not None:
        ipix = _ring_to_nested(ipix, pixels.ring_nside)
    by_position = np.argsort(ipix << (2 * (MAX_ORDER - order)), kind="stable")
    return SkyMap(order[by_position], ipix[by_position], density[by_position],
                  level[by_position], max_level, meta)


def _credible_pixels(density: np.ndarray, prob: np.ndarray, max_level: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and credible levels of the pixels of the ``max_level`` credible region.

    A pixel's level is the probability of all pixels at least as dense (ties share the
    level of the whole tie, so the result does not depend on the pixel ordering).
    """
    candidates = np.flatnonzero(density > 0) if max_level < 1.0 else slice(None)
    by_density = np.arange(density.size)[candidates]
    by_density = by_density[np.argsort(-density[by_density])]
    ranked = density[by_density]
    cumulative = np.minimum(np.cumsum(prob[by_density]), 1.0)
    run_end = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    level = np.repeat(cumulative[run_end], np.diff(run_end, prepend=-1))
    n = np.searchsorted(level, max_level, side="right")
    return by_density[:n], level[:n]


def _ring_to_nested(ipix: np.ndarray, nside: int) -> np.ndarray:
    """NESTED indices of RING pixels (through their centres)."""
    lon, lat = ring.healpix_to_lonlat(ipix.astype(np.uint64), nside,
                                      num_threads=HEALPIX_THREADS)
    return nested.lonlat_to_healpix(lon, lat, nside.bit_length() - 1,
                                    num_threads=HEALPIX_THREADS).astype(np.int64)


def _read_table(data, source: str, max_bytes: int = MAX_DECOMPRESSED_BYTES
                ) -> tuple[fits.Header, dict[str, np.ndarray]]:
    """Header and columns (upper-case names) of the first binary table of a FITS map."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if data[:2] == b"\x1f\x8b":
            try:
                data = gunzip(data, max_bytes)
            except TooLarge as err:
                raise SkymapError(f"{source}: {err}, the most a sky map file may "
                                  "hold") from None
            except (OSError, EOFError, zlib.error):
                raise SkymapError(f"{source}: corrupt gzip data (the file is not a complete "
                                  "gzip stream)") from None
        data = io.BytesIO(data)
    try:
        with fits.open(data, memmap=False) as hdus:
            table = next((h for h in hdus[1:] if isinstance(h, fits.BinTableHDU)), None)
            if table is None:
                raise SkymapError(f"{source}: no binary table; a HEALPix sky map is a FITS "
                                  f"binary table")
            columns = {name.upper(): np.asarray(table.data[name])
                       for name in table.columns.names
                       if name.upper() in ("UNIQ", "PROBDENSITY", "PROB")}
            return table.header.copy(), columns
    except SkymapError:
        raise
    except Exception as err:  # astropy raises OSError, TypeError, ValueError, ...
        raise SkymapError(f"{source}: not a readable FITS file: "
                          f"{fits_trouble([str(err)])}") from None


def _multiorder_pixels(columns: dict, source: str) -> _Pixels:
    """Pixels of a NUNIQ map (density in sr^-1)."""
    if "UNIQ" not in columns or "PROBDENSITY" not in columns:
        raise SkymapError(f"{source}: a multi-order map needs UNIQ and PROBDENSITY columns, "
                          f"found {sorted(columns)}")
    uniq = columns["UNIQ"].astype(np.int64).reshape(-1)
    if uniq.size == 0 or (uniq < 4).any() or (uniq >= 4 ** (MAX_ORDER + 2)).any():
        raise SkymapError(f"{source}: UNIQ values must be valid NUNIQ pixels (order <= 29)")
    order, ipix = uniq_order_ipix(uniq)
    shift = 2 * (MAX_ORDER - order)
    by_position = np.argsort(ipix << shift)
    if ((ipix << shift)[by_position][1:] < ((ipix + 1) << shift)[by_position][:-1]).any():
        raise SkymapError(f"{source}: pixels overlap (duplicate or nested UNIQ values)")
    return _Pixels(order, ipix, columns["PROBDENSITY"].astype(np.float64).reshape(-1))


def _flat_pixels(header: fits.Header, columns: dict, ordering: str, source: str) -> _Pixels:
    """Pixels of a NESTED or RING map (PROB per pixel turned into a density, sr^-1)."""
    if "PROB" not in columns:
        raise SkymapError(f"{source}: a flat HEALPix map needs a PROB column, found "
                          f"{sorted(columns)}")
    if str(header.get("INDXSCHM", "IMPLICIT")).strip().upper() != "IMPLICIT":
        raise SkymapError(f"{source}: partial-sky (EXPLICIT) HEALPix maps are not supported")
    prob = columns["PROB"].astype(np.float64).reshape(-1)
    nside = int(round(np.sqrt(prob.size / 12.0)))
    if prob.size == 0 or 12 * nside * nside != prob.size or nside & (nside - 1):
        raise SkymapError(f"{source}: {prob.size} pixels is not 12*nside^2 with nside a "
                          f"power of 2")
    if int(header.get("NSIDE", nside)) != nside:
        raise SkymapError(f"{source}: NSIDE={header['NSIDE']} but {prob.size} pixels")
    order = nside.bit_length() - 1
    return _Pixels(order, None, prob / pixel_area_sr(order),
                   nside if ordering == "RING" else None)
