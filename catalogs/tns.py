"""Transient Name Server (TNS) public objects: streaming parser and positional match.

The TNS public-objects download (``tns_public_objects.csv``, also zipped) starts with a
line holding its date, then a CSV header: ``objid, name_prefix, name, ra, declination,
redshift, typeid, type, reporting_groupid, reporting_group, source_groupid,
source_group, discoverydate, discoverymag, discmagfilter, filter, reporters,
time_received, internal_names, ...``; copies without the date line are read too.
:func:`iter_tns` yields :class:`TnsRow` batches (the ``crossmatch_tns`` columns) and
:func:`match_tns` gives the TNS name of each position within
:data:`TNS_MATCH_RADIUS_ARCSEC`.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

from catalogs.index import SkyIndex
from catalogs.model import CatalogueFormatError
from catalogs.parsers import chunked, iter_csv, open_text, parse_float, parse_position

TNS_MATCH_RADIUS_ARCSEC = 1.5
"""A transient this close to a TNS object is that object."""
HPX_ORDER = 16
"""HEALPix order (NESTED) of the ``hpx16`` sky index column."""
_REQUIRED = ("name_prefix", "name", "ra", "declination", "redshift", "type",
             "discoverydate", "discoverymag", "filter", "reporting_group", "source_group",
             "internal_names")


class TnsRow(NamedTuple):
    """One ``crossmatch_tns`` row; ``None`` = NULL."""

    tns_name: str
    """Name without prefix, e.g. ``2022and``."""
    tns_prefix: str | None
    """``SN``, ``AT``, ``TDE``, ..."""
    ra: float
    """deg"""
    decl: float
    """deg"""
    type: str | None
    z: float | None
    discovery_date: datetime | None
    """UTC"""
    discovery_mag: float | None
    discovery_filter: str | None
    reporting_group: str | None
    source_group: str | None
    internal_names: str | None
    hpx16: int
    """HEALPix NESTED index at order 16 of (ra, decl)."""


def _header_offset(path: Path) -> int:
    """1 when the file starts with the TNS date line, 0 when it starts with the header."""
    with open_text(path) as handle:
        first = next(csv.reader([handle.readline()]), [])
    return 0 if "name" in [c.strip() for c in first] else 1


def _text(value: str) -> str | None:
    value = value.strip()
    return value or None


def _date(value: str, path: Path, line: int) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CatalogueFormatError(path, f"not a date: {value!r}", line,
                                   "discoverydate") from None


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def _row(path: Path, line: int, cells: dict[str, str]) -> TnsRow:
    name = cells["name"].strip()
    if not name:
        raise CatalogueFormatError(path, "TNS name is empty", line, "name")
    ra, dec = parse_position(cells["ra"], cells["declination"], path, line,
                             ("ra", "declination"))
    return TnsRow(name, _text(cells["name_prefix"]), ra, dec, _text(cells["type"]),
                  _optional(parse_float(cells["redshift"], path, line, "redshift")),
                  _date(cells["discoverydate"], path, line),
                  _optional(parse_float(cells["discoverymag"], path, line, "discoverymag")),
                  _text(cells["filter"]), _text(cells["reporting_group"]),
                  _text(cells["source_group"]), _text(cells["internal_names"]), -1)


def healpix_index(ra: np.ndarray, dec: np.ndarray, order: int = HPX_ORDER) -> np.ndarray:
    """NESTED HEALPix index at ``order`` of positions in degrees (int64)."""
    from astropy import units as u
    from astropy_healpix import lonlat_to_healpix

    if not len(ra):
        return np.zeros(0, np.int64)
    return np.asarray(lonlat_to_healpix(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg,
                                        2 ** order, order="nested"), dtype=np.int64)


def iter_tns(path: Path, batch_rows: int = 50_000) -> Iterator[list[TnsRow]]:
    """Stream a TNS public-objects CSV (plain, ``.gz`` or ``.zip``) in lists of at
    most ``batch_rows`` :class:`TnsRow`. Malformed rows raise
    :class:`~catalogs.model.CatalogueFormatError` with their line number."""
    path = Path(path)
    rows = (_row(path, line, cells)
            for line, cells in iter_csv(path, _REQUIRED, skip_lines=_header_offset(path)))
    for chunk in chunked(rows, batch_rows):
        pixels = healpix_index(np.array([r.ra for r in chunk]), np.array([r.decl for r in chunk]))
        yield [r._replace(hpx16=int(p)) for r, p in zip(chunk, pixels)]


class TnsIndex(NamedTuple):
    """TNS names and a sky index of their positions."""

    names: np.ndarray
    """The ``tns_name`` of each object (object array)."""
    sky: SkyIndex


class TnsMatches(NamedTuple):
    """Nearest TNS object of each position within the match radius."""

    tns_name: list[str | None]
    separation_arcsec: np.ndarray
    """arcsec; ``nan`` where there is no match."""


def build_tns_index(rows: Iterable[TnsRow],
                    radius_arcsec: float = TNS_MATCH_RADIUS_ARCSEC) -> TnsIndex:
    """Index TNS rows for :func:`match_tns`."""
    rows = list(rows)
    names = np.empty(len(rows), dtype=object)
    names[:] = [r.tns_name for r in rows]
    ra = np.array([r.ra for r in rows], dtype=np.float64)
    dec = np.array([r.decl for r in rows], dtype=np.float64)
    return TnsIndex(names, SkyIndex(ra, dec, np.full(len(rows), float(radius_arcsec))))


def match_tns(ra, dec, tns_index: TnsIndex) -> TnsMatches:
    """The TNS name (nearest, within the index radius, default 1.5") of each position
    (deg); ``None`` where no TNS object is that close."""
    ra, dec = np.atleast_1d(ra), np.atleast_1d(dec)
    pairs = tns_index.sky.match_positions(ra, dec)
    first = np.unique(pairs.position, return_index=True)[1]  # pairs sort nearest first
    names = np.full(len(ra), None, dtype=object)
    separation = np.full(len(ra), np.nan)
    names[pairs.position[first]] = tns_index.names[pairs.source[first]]
    separation[pairs.position[first]] = pairs.separation_arcsec[first]
    return TnsMatches(names.tolist(), separation)
