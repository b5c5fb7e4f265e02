"""Watchlist cones: one container per watchlist and one merged sky-cell index of them all.

A cone of radius r is filed under the NESTED HEALPix cell holding its centre, at the
deepest order whose mean cell size is at least 2r (:func:`cone_order`).  A HEALPix cell
and its 8 neighbours then contain every point within r of the centre (measured: the 3x3
block holds up to about 0.65 of the mean cell size around any point in its middle cell,
poles and the 7-cell corners included; the tests check the 0.5 used), so a position can
only lie in the cone if its own cell or one of its neighbours is the cone's cell.

:class:`ConeIndex` keeps one table per order, sorted by cell, holding the cones of every
watchlist.  Adding a watchlist merges its sorted rows into the tables (one ``np.insert``
per column); removing one masks its rows out: the other watchlists are never re-indexed.
A query takes each alert's cell and its 8 neighbours per order present, finds the
candidate cones with ``np.searchsorted`` and keeps those within each cone's own radius
by exact great-circle distance (chords of unit vectors).

:class:`WatchlistCones` serialises to compact bytes (``np.savez``, names as one UTF-8
block) for a Faust table / Kafka changelog.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Iterable, NamedTuple

import numpy as np
from cdshealpix import nested

from solas.skymatch.errors import PositionError, WatchlistError
from solas.skymatch.sky import (ARCSEC_PER_RAD, HEALPIX_THREADS, MAX_ORDER, cell_size_rad,
                                check_positions, expand_ranges, healpix_index,
                                separation_of_vectors_arcsec, unit_vectors)

DEFAULT_RADIUS_ARCSEC = 2.0
"""Cone radius of a watchlist that gives none (the ``watchlists.radius`` default)."""
MAX_RADIUS_ARCSEC = 36_000.0
"""Largest cone radius accepted, arcsec (10 degrees)."""
MAX_NAME_CHARS = 255
"""Longest cone name (``watchlist_cones.name`` is varchar(255))."""
NAME_SEPARATOR = "\x00"
SERIAL_FORMAT = 1
SERIAL_OVERHEAD = 4096
"""Upper bound of the npz container bytes around the arrays."""
BYTES_PER_CONE = 33
"""cone_id, ra, dec, radius (8 bytes each) and a name separator."""
STRINGS = np.dtypes.StringDType()


def cone_order(radius_arcsec: np.ndarray) -> np.ndarray:
    """Deepest HEALPix order (0..29) whose mean cell size is at least twice the radius."""
    radius_rad = np.asarray(radius_arcsec, dtype=np.float64) / ARCSEC_PER_RAD
    order = np.floor(np.log2(cell_size_rad(0) / (2.0 * radius_rad)))
    return np.clip(order, 0, MAX_ORDER).astype(np.int64)


def _as_names(name, n: int, wl_id: int | str) -> np.ndarray:
    """Cone names as a StringDType array (None or missing names become '')."""
    if name is None:
        return np.full(n, "", dtype=STRINGS)
    if isinstance(name, np.ndarray) and name.dtype != object:
        names = name.astype(STRINGS).reshape(-1)
    else:
        items = list(name)
        if None in items:
            items = ["" if x is None else x for x in items]
        names = np.array(items, dtype=STRINGS)
    if names.shape != (n,):
        raise WatchlistError(f"watchlist {wl_id}: {names.shape[0] if names.ndim else 0} names "
                             f"for {n} cones")
    if NAME_SEPARATOR in "".join(names.tolist()):
        raise WatchlistError(f"watchlist {wl_id}: a cone name contains a NUL character")
    if n and np.strings.str_len(names).max() > MAX_NAME_CHARS:
        raise WatchlistError(f"watchlist {wl_id}: a cone name is longer than "
                             f"{MAX_NAME_CHARS} characters")
    return names


def _as_radius(radius_arcsec, n: int, wl_id: int | str, default: float) -> np.ndarray:
    """Per-cone radii in arcsec, NaN (or None) replaced by the watchlist default."""
    if radius_arcsec is None:
        radius = np.full(n, default, dtype=np.float64)
    else:
        radius = np.array(radius_arcsec, dtype=np.float64).reshape(-1)
        if radius.shape != (n,):
            raise WatchlistError(f"watchlist {wl_id}: {radius.size} radii for {n} cones")
        radius[np.isnan(radius)] = default
    bad = ~((radius > 0) & (radius <= MAX_RADIUS_ARCSEC))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WatchlistError(f"watchlist {wl_id}: cone {i} radius {radius[i]!r} arcsec is not "
                             f"in (0, {MAX_RADIUS_ARCSEC:g}]")
    return radius


@dataclass(frozen=True, eq=False)
class WatchlistCones:
    """The cones of one watchlist (build with :meth:`from_arrays` or :meth:`from_bytes`).

    ``ra``/``dec`` in degrees (RA wrapped to [0, 360)), ``radius_arcsec`` per cone (the
    watchlist default already applied), ``name`` a numpy StringDType array.
    """

    wl_id: int
    cone_id: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    radius_arcsec: np.ndarray
    name: np.ndarray

    @classmethod
    def from_arrays(cls, wl_id: int, cone_id, ra, dec, radius_arcsec=None, name=None, *,
                    default_radius_arcsec: float = DEFAULT_RADIUS_ARCSEC) -> WatchlistCones:
        """Validate and build; NaN/None radii take ``default_radius_arcsec`` (arcsec)."""
        wl_id = int(wl_id)
        try:
            ra, dec = check_positions(ra, dec, what=f"watchlist {wl_id} cone")
        except PositionError as err:
            raise WatchlistError(str(err)) from None
        n = ra.size
        ids = np.asarray(cone_id).reshape(-1)
        if ids.shape != (n,) or (n and not np.issubdtype(ids.dtype, np.integer)):
            raise WatchlistError(f"watchlist {wl_id}: cone_id must be {n} integers, "
                                 f"got {ids.size} of type {ids.dtype}")
        ids = ids.astype(np.int64)
        if n and (np.diff(np.sort(ids)) == 0).any():
            raise WatchlistError(f"watchlist {wl_id}: cone ids are not unique")
        return cls(wl_id, ids, np.mod(ra, 360.0), dec,
                   _as_radius(radius_arcsec, n, wl_id, default_radius_arcsec),
                   _as_names(name, n, wl_id))

    def __len__(self) -> int:
        return int(self.cone_id.size)

    def to_bytes(self) -> bytes:
        """Compact serialised form (numpy ``.npz``; no pickles)."""
        buf = io.BytesIO()
        names = NAME_SEPARATOR.join(self.name.tolist()).encode("utf-8")
        np.savez(buf, format=np.int64(SERIAL_FORMAT), wl_id=np.int64(self.wl_id),
                 cone_id=self.cone_id, ra=self.ra, dec=self.dec,
                 radius_arcsec=self.radius_arcsec, names=np.frombuffer(names, np.uint8))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> WatchlistCones:
        """Inverse of :meth:`to_bytes`; raises WatchlistError on anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise WatchlistError(f"not a serialised watchlist: {err}") from None
        expected = {"format", "wl_id", "cone_id", "ra", "dec", "radius_arcsec", "names"}
        try:
            if set(arrays) != expected or int(arrays["format"]) != SERIAL_FORMAT:
                raise ValueError(f"members {sorted(arrays)}")
            wl_id = int(arrays["wl_id"])
            text = arrays["names"].astype(np.uint8).tobytes().decode("utf-8")
        except (TypeError, ValueError) as err:  # UnicodeDecodeError is a ValueError
            raise WatchlistError(f"not a serialised watchlist (format {SERIAL_FORMAT}): "
                                 f"{err}") from None
        names = text.split(NAME_SEPARATOR) if arrays["cone_id"].size else []
        return cls.from_arrays(wl_id, arrays["cone_id"], arrays["ra"], arrays["dec"],
                               arrays["radius_arcsec"], names)

    def split(self, max_bytes: int = 900_000) -> list[WatchlistCones]:
        """Consecutive parts whose :meth:`to_bytes` each stay under ``max_bytes``.

        A large watchlist does not fit one Kafka message (1 MB by default): store its
        parts under separate keys and join them with :meth:`concatenate`.
        """
        budget = max_bytes - SERIAL_OVERHEAD - BYTES_PER_CONE - 4 * MAX_NAME_CHARS
        if budget <= 0:
            raise WatchlistError(f"max_bytes {max_bytes} is too small for one cone")
        if not len(self):
            return [self]
        size = BYTES_PER_CONE + 4 * np.strings.str_len(self.name).astype(np.int64)
        part = (np.cumsum(size) - 1) // budget
        bounds = np.flatnonzero(np.diff(part)) + 1
        return [self._take(rows) for rows in np.split(np.arange(len(self)), bounds)]

    def _take(self, rows: np.ndarray) -> WatchlistCones:
        """The cones at the given positions (already validated)."""
        return WatchlistCones(self.wl_id, self.cone_id[rows], self.ra[rows], self.dec[rows],
                              self.radius_arcsec[rows], self.name[rows])

    @classmethod
    def concatenate(cls, parts: Iterable[WatchlistCones]) -> WatchlistCones:
        """One watchlist from the parts made by :meth:`split` (same ``wl_id``)."""
        parts = list(parts)
        ids = {p.wl_id for p in parts}
        if len(ids) != 1:
            raise WatchlistError(f"parts of watchlists {sorted(ids)} cannot be joined")
        joined = [np.concatenate([getattr(p, f) for p in parts])
                  for f in ("cone_id", "ra", "dec", "radius_arcsec", "name")]
        return cls.from_arrays(ids.pop(), *joined)


class ConeMatches(NamedTuple):
    """Alerts inside watchlist cones, sorted by alert then watchlist then cone."""

    alert_index: np.ndarray
    """int64 index of the alert in the queried arrays."""
    cone_id: np.ndarray
    wl_id: np.ndarray
    arcsec: np.ndarray
    """Great-circle separation of the alert from the cone centre, arcsec."""
    name: np.ndarray
    """Cone name (numpy StringDType)."""


_COLUMNS = ("cell", "wl_id", "cone_id", "xyz", "chord2", "name")


class _OrderTable(NamedTuple):
    """The cones filed at one HEALPix order, sorted by cell."""

    order: int
    columns: dict

    @classmethod
    def from_rows(cls, order: int, rows: dict) -> _OrderTable:
        by_cell = np.argsort(rows["cell"], kind="stable")
        return cls(order, {key: rows[key][by_cell] for key in _COLUMNS})

    def merged(self, other: _OrderTable) -> _OrderTable:
        """This table with the (sorted) rows of ``other`` inserted in cell order."""
        at = np.searchsorted(self.columns["cell"], other.columns["cell"], side="right")
        return _OrderTable(self.order, {key: np.insert(self.columns[key], at,
                                                       other.columns[key], axis=0)
                                        for key in _COLUMNS})

    def without(self, wl_ids: np.ndarray) -> _OrderTable:
        """This table less the rows of the given watchlists."""
        keep = ~np.isin(self.columns["wl_id"], wl_ids)
        return _OrderTable(self.order, {key: self.columns[key][keep] for key in _COLUMNS})

    def __len__(self) -> int:
        return int(self.columns["cell"].size)


def _rows_of(watchlists: list[WatchlistCones]) -> dict:
    """Index rows (all orders mixed) of the cones of some watchlists."""
    ra = np.concatenate([w.ra for w in watchlists])
    dec = np.concatenate([w.dec for w in watchlists])
    radius_arcsec = np.concatenate([w.radius_arcsec for w in watchlists])
    order = cone_order(radius_arcsec)
    radius_rad = radius_arcsec / ARCSEC_PER_RAD
    ipix = healpix_index(ra, dec) if ra.size else np.zeros(0, np.int64)
    return {"order": order,
            "cell": ipix >> (2 * (MAX_ORDER - order)),
            "wl_id": np.concatenate([np.full(len(w), w.wl_id, np.int64) for w in watchlists]),
            "cone_id": np.concatenate([w.cone_id for w in watchlists]),
            "xyz": unit_vectors(ra, dec),
            "chord2": (2.0 * np.sin(radius_rad / 2.0)) ** 2,
            "name": np.concatenate([w.name for w in watchlists]).astype(STRINGS)}


class ConeIndex:
    """All cones of any number of watchlists, matched to alert positions in one pass."""

    def __init__(self) -> None:
        self._tables: dict[int, _OrderTable] = {}
        self._sizes: dict[int, int] = {}

    @classmethod
    def from_watchlists(cls, watchlists: Iterable[WatchlistCones]) -> ConeIndex:
        index = cls()
        index.add_watchlists(watchlists)
        return index

    @classmethod
    def from_arrays(cls, cone_id, wl_id, ra, dec, radius_arcsec, name, *,
                    default_radius_arcsec: float = DEFAULT_RADIUS_ARCSEC) -> ConeIndex:
        """Index cones of several watchlists given as flat arrays (one row per cone)."""
        wl_id = np.asarray(wl_id).reshape(-1)
        lists, where = np.unique(wl_id, return_inverse=True)
        by_list = np.argsort(where, kind="stable")
        bounds = np.searchsorted(where[by_list], np.arange(lists.size + 1))
        radius = None if radius_arcsec is None else np.asarray(radius_arcsec, np.float64)
        names = None if name is None else _as_names(name, wl_id.size, "(all)")
        cols = [np.asarray(cone_id), np.asarray(ra, np.float64), np.asarray(dec, np.float64)]
        if any(c.shape != wl_id.shape for c in cols):
            raise WatchlistError("cone_id, wl_id, ra and dec must have the same length")
        watchlists = []
        for i, wl in enumerate(lists.tolist()):
            rows = by_list[bounds[i]:bounds[i + 1]]
            watchlists.append(WatchlistCones.from_arrays(
                wl, cols[0][rows], cols[1][rows], cols[2][rows],
                None if radius is None else radius[rows], None if names is None else names[rows],
                default_radius_arcsec=default_radius_arcsec))
        return cls.from_watchlists(watchlists)

    @property
    def wl_ids(self) -> frozenset[int]:
        """Ids of the watchlists in the index."""
        return frozenset(self._sizes)

    def __len__(self) -> int:
        """Number of cones in the index."""
        return sum(self._sizes.values())

    def __contains__(self, wl_id: int) -> bool:
        return int(wl_id) in self._sizes

    def add_watchlist(self, cones: WatchlistCones) -> None:
        """Add one watchlist, replacing any watchlist of the same id."""
        self.add_watchlists([cones])

    def add_watchlists(self, watchlists: Iterable[WatchlistCones]) -> None:
        """Add watchlists, replacing those already present with the same ids."""
        watchlists = list(watchlists)
        ids = [w.wl_id for w in watchlists]
        if len(set(ids)) != len(ids):
            raise WatchlistError(f"watchlist ids given twice: {sorted(ids)}")
        self.remove_watchlists(ids)
        if not watchlists:
            return
        rows = _rows_of(watchlists)
        for order in np.unique(rows["order"]).tolist():
            here = rows["order"] == order
            new = _OrderTable.from_rows(order, {key: rows[key][here] for key in _COLUMNS})
            old = self._tables.get(order)
            self._tables[order] = new if old is None else old.merged(new)
        self._sizes.update({w.wl_id: len(w) for w in watchlists})

    def remove_watchlist(self, wl_id: int) -> bool:
        """Remove one watchlist; False if it was not in the index."""
        return bool(self.remove_watchlists([wl_id]))

    def remove_watchlists(self, wl_ids: Iterable[int]) -> int:
        """Remove watchlists; returns how many were in the index."""
        present = [int(w) for w in wl_ids if int(w) in self._sizes]
        if not present:
            return 0
        for order, table in list(self._tables.items()):
            table = table.without(np.asarray(present, np.int64))
            if len(table):
                self._tables[order] = table
            else:
                del self._tables[order]
        for wl_id in present:
            del self._sizes[wl_id]
        return len(present)

    def match_to_cones(self, ra, dec) -> ConeMatches:
        """Every (alert, cone) pair whose separation is within the cone's radius.

        ``ra``, ``dec``: alert positions, degrees.  Separations are exact great-circle
        angles; the per-cone radius applies.
        """
        ra, dec = check_positions(ra, dec, what="alert")
        parts = []
        if ra.size and self._tables:
            ipix = healpix_index(ra, dec)
            xyz = unit_vectors(ra, dec)
            parts = [_match_table(table, ipix, xyz) for table in self._tables.values()]
        return _sorted_matches(parts)


def _match_table(table: _OrderTable, ipix29: np.ndarray, xyz: np.ndarray) -> ConeMatches:
    """Matches of alerts (order-29 cells, unit vectors) against one order's cones."""
    cols = table.columns
    cell = ipix29 >> (2 * (MAX_ORDER - table.order))
    by_cell = np.argsort(cell)  # neighbouring keys close together: cache-friendly searches
    keys = nested.neighbours(cell[by_cell].astype(np.uint64), table.order,
                             num_threads=HEALPIX_THREADS).ravel()
    lo = np.searchsorted(cols["cell"], keys, side="left")
    hi = np.searchsorted(cols["cell"], keys, side="right")
    owner, row = expand_ranges(lo, hi)
    alert = by_cell[owner // 9]
    diff = xyz[alert] - cols["xyz"][row]
    inside = np.einsum("ij,ij->i", diff, diff) <= cols["chord2"][row]
    alert, row = alert[inside], row[inside]
    return ConeMatches(alert, cols["cone_id"][row], cols["wl_id"][row],
                       separation_of_vectors_arcsec(xyz[alert], cols["xyz"][row]),
                       cols["name"][row])


def _sorted_matches(parts: list[ConeMatches]) -> ConeMatches:
    """Concatenate matches of several tables, sorted by alert, watchlist, cone."""
    if not parts:
        ints = np.zeros(0, np.int64)
        return ConeMatches(ints, ints, ints, np.zeros(0), np.zeros(0, dtype=STRINGS))
    joined = ConeMatches(*(np.concatenate(col) for col in zip(*parts)))
    order = np.lexsort((joined.cone_id, joined.wl_id, joined.alert_index))
    return ConeMatches(*(col[order] for col in joined))
