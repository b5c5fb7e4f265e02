"""Watchmaps: MOC files and one merged index of any number of MOCs.

:class:`MocIndex` turns every MOC into its NESTED ranges at order 29 and merges them
with a boundary sweep: the sorted distinct range boundaries cut the sky into elementary
intervals, each with the (possibly empty) set of maps covering it, stored as one CSR
array.  An alert's order-29 HEALPix index then finds its interval with a single
``np.searchsorted``, whatever the number of maps; adding or removing a map only marks
the merged arrays stale (they are rebuilt from the kept ranges at the next query).

:func:`read_moc_fits` reads and validates MOC FITS bytes (MOC 1.x NUNIQ or 2.0 RANGE);
:func:`moc_to_fits_bytes` is its inverse (the serialised form stored with a watchmap).
:func:`read_watchmap_fits` also takes a GW sky map (its 90% credible region).
"""
from __future__ import annotations

import io
import warnings
import zlib
from typing import NamedTuple

import numpy as np
from astropy.io import fits
from mocpy import MOC

from solas.skymatch.errors import MocError, SkymapError, fits_trouble
from solas.skymatch.gzipped import MAX_DECOMPRESSED_BYTES, TooLarge, gunzip
from solas.skymatch.sky import (FULL_SKY_DEG2, MAX_ORDER, check_positions, expand_ranges,
                                healpix_index)
from solas.skymatch.skymaps import read_skymap

MAX_UNIQ = 4 ** (MAX_ORDER + 2)
"""First NUNIQ value beyond order 29 (NUNIQ = 4 * 4**order + ipix)."""


def _moc_table(data: bytes, source: str) -> fits.BinTableHDU:
    """The MOC binary table of a FITS file, checked with astropy before mocpy reads it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(io.BytesIO(data), lazy_load_hdus=False) as hdus:
                hdus.verify("exception")
                tables = [h.copy() for h in hdus[1:] if isinstance(h, fits.BinTableHDU)]
        except Exception as err:  # astropy raises OSError, VerifyError, TypeError, ...
            tables, problem, trouble = [], "not a readable FITS file", [str(err)]
        else:
            problem, trouble = "no binary table (a MOC is a FITS binary table of cells)", []
    if not tables:
        notes = fits_trouble(trouble + [str(w.message) for w in caught])
        raise MocError(f"{source}: {problem}: {notes}")
    return tables[0]


def _check_table(table: fits.BinTableHDU, source: str) -> None:
    """Check the ordering keyword, the single integer column and its values."""
    header = table.header
    ordering = str(header.get("ORDERING", "")).strip().upper()
    if ordering not in ("NUNIQ", "RANGE"):
        raise MocError(f"{source}: ORDERING={ordering or 'missing'}; a spatial MOC has "
                       f"ORDERING NUNIQ or RANGE (a sky map with PROB columns is not a MOC)")
    if str(header.get("MOCDIM", "SPACE")).strip().upper() != "SPACE":
        raise MocError(f"{source}: MOCDIM={header['MOCDIM']} is not a spatial MOC")
    if len(table.columns) != 1 or table.columns[0].format.recformat not in ("i2", "i4", "i8"):
        raise MocError(f"{source}: a MOC table has one integer column, found "
                       f"{[(c.name, c.format) for c in table.columns]}")
    values = np.asarray(table.data.field(0), dtype=np.int64) if table.data is not None \
        else np.zeros(0, np.int64)
    if values.size == 0:
        raise MocError(f"{source}: the MOC has no cells")
    if ordering == "NUNIQ":
        bad = (values < 4) | (values >= MAX_UNIQ)
        if bad.any():
            raise MocError(f"{source}: {int(bad.sum())} invalid NUNIQ values (e.g. "
                           f"{int(values[bad][0])}); NUNIQ = 4*4**order + ipix, order <= 29")
    elif values.size % 2 or (values < 0).any() or (values[1::2] <= values[::2]).any():
        raise MocError(f"{source}: RANGE values must be pairs of increasing non-negative "
                       f"indices")


def read_moc_fits(data: bytes, source: str = "MOC upload", *,
                  max_bytes: int = MAX_DECOMPRESSED_BYTES) -> MOC:
    """A spatial MOC from FITS bytes (maybe gzipped, then to at most ``max_bytes``);
    MocError naming ``source`` if not, or if its cells overlap (its area would exceed
    the sky's)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MocError(f"{source}: expected the bytes of a FITS file, got {type(data)}")
    data = bytes(data)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gunzip(data, max_bytes)
        except TooLarge as err:
            raise MocError(f"{source}: {err}, the most a watchmap file may hold") from None
        except (OSError, EOFError, zlib.error):
            raise MocError(f"{source}: corrupt gzip data (the file is not a complete "
                           "gzip stream)") from None
    _check_table(_moc_table(data, source), source)
    try:
        moc = MOC.from_fits(io.BytesIO(data))
    except Exception:  # the Rust reader raises OSError/ValueError variants
        raise MocError(f"{source}: not a valid MOC (its cells could not be read)") from None
    if moc.empty():
        raise MocError(f"{source}: the MOC covers no sky")
    if moc.sky_fraction > 1.0 + 1e-9:
        raise MocError(f"{source}: the MOC's cells overlap or lie beyond the sky (their area, "
                       f"{moc.sky_fraction * FULL_SKY_DEG2:,.0f} deg2, exceeds the whole "
                       f"sky's {FULL_SKY_DEG2:,.0f} deg2)")
    return moc


def read_watchmap_fits(data: bytes, source: str = "watchmap upload",
                       level: float = 0.9) -> MOC:
    """A watchmap region from a MOC FITS file or from a HEALPix probability sky map
    (its ``level`` credible region); MocError giving both reasons if it is neither."""
    try:
        return read_moc_fits(data, source)
    except MocError as not_moc:
        try:
            return read_skymap(data, source).credible_region_moc(level)
        except SkymapError as not_map:
            raise MocError(f"neither a MOC ({not_moc}) nor a sky map ({not_map})") from None


def moc_to_fits_bytes(moc: MOC) -> bytes:
    """The FITS bytes (MOC 2.0) of a spatial MOC, as read back by :func:`read_moc_fits`."""
    buf = io.BytesIO()
    moc.serialize(format="fits").writeto(buf)
    return buf.getvalue()


def moc_area_deg2(moc: MOC) -> float:
    """Sky area covered by a MOC, square degrees."""
    return float(moc.sky_fraction * FULL_SKY_DEG2)


def moc_ranges(moc: MOC) -> np.ndarray:
    """The MOC as sorted disjoint half-open NESTED ranges at order 29, shape (N, 2), int64."""
    return np.asarray(moc.to_depth29_ranges, dtype=np.uint64).astype(np.int64).reshape(-1, 2)


class MocMatches(NamedTuple):
    """Alerts inside watchmaps, sorted by alert then map id."""

    alert_index: np.ndarray
    """int64 index of the alert in the queried arrays."""
    ar_id: np.ndarray
    """int64 watchmap id."""


class _Merged(NamedTuple):
    """Elementary intervals [bounds[i], bounds[i+1]) and their covering map ids (CSR)."""

    bounds: np.ndarray
    offsets: np.ndarray
    ar_ids: np.ndarray


def _merge(ranges: dict[int, np.ndarray]) -> _Merged:
    """Boundary sweep of the ranges of every map into one CSR structure."""
    ids = np.fromiter(ranges, dtype=np.int64, count=len(ranges))
    parts = list(ranges.values())
    starts = np.concatenate([r[:, 0] for r in parts]) if parts else np.zeros(0, np.int64)
    ends = np.concatenate([r[:, 1] for r in parts]) if parts else np.zeros(0, np.int64)
    owner = np.repeat(ids, [len(r) for r in parts])
    bounds = np.unique(np.concatenate([starts, ends]))
    owner_of, interval = expand_ranges(np.searchsorted(bounds, starts),
                                       np.searchsorted(bounds, ends))
    by_interval = np.lexsort((owner[owner_of], interval))
    counts = np.bincount(interval, minlength=max(bounds.size - 1, 0))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return _Merged(bounds, offsets, owner[owner_of][by_interval])


class MocIndex:
    """Any number of watchmaps (MOCs) merged into one index queried in a single pass."""

    def __init__(self) -> None:
        self._ranges: dict[int, np.ndarray] = {}
        self._merged: _Merged | None = None

    @property
    def ar_ids(self) -> frozenset[int]:
        """Ids of the maps in the index."""
        return frozenset(self._ranges)

    def __len__(self) -> int:
        return len(self._ranges)

    def __contains__(self, ar_id: int) -> bool:
        return int(ar_id) in self._ranges

    def add_moc(self, ar_id: int, moc: MOC) -> None:
        """Add a map, replacing any map with the same id."""
        self._ranges[int(ar_id)] = moc_ranges(moc)
        self._merged = None

    def remove_moc(self, ar_id: int) -> bool:
        """Remove a map; False if it was not in the index."""
        found = self._ranges.pop(int(ar_id), None) is not None
        if found:
            self._merged = None
        return found

    def build(self) -> None:
        """Merge the maps now (otherwise done by the first query after a change)."""
        if self._merged is None:
            self._merged = _merge(self._ranges)

    def match_to_mocs(self, ra, dec) -> MocMatches:
        """Every (alert, map) pair with the alert position inside the map.

        ``ra``, ``dec``: alert positions, degrees.
        """
        ra, dec = check_positions(ra, dec, what="alert")
        self.build()
        merged = self._merged
        if ra.size == 0 or merged.bounds.size == 0:
            return MocMatches(np.zeros(0, np.int64), np.zeros(0, np.int64))
        interval = np.searchsorted(merged.bounds, healpix_index(ra, dec), side="right") - 1
        inside = (interval >= 0) & (interval < merged.bounds.size - 1)
        interval = np.where(inside, interval, 0)
        lo = np.where(inside, merged.offsets[interval], 0)
        hi = np.where(inside, merged.offsets[interval + 1], 0)
        alert, position = expand_ranges(lo, hi)
        return MocMatches(alert, merged.ar_ids[position])
