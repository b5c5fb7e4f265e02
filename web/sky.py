"""Indexed sky searches of the ``objects`` table through its ``hpx16`` column.

``hpx16`` is the NESTED HEALPix index at order 16 of each object's position.  A cone
of radius r lies inside its centre's cell and the 8 neighbours at the deepest order
whose cells are at least 2r across (:func:`solas.skymatch.cones.cone_order`); those
cells are contiguous ``hpx16`` ranges, so a search reads only the index ranges near
the cone and then keeps the objects within r by exact great-circle separation.
A MOC turns into ``hpx16`` ranges the same way.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from cdshealpix import nested
from mocpy import MOC

from solas.skymatch import separation_arcsec
from solas.skymatch.cones import cone_order
from solas.skymatch.sky import HEALPIX_THREADS, MAX_ORDER, check_positions, healpix_index

HPX_ORDER = 16
MAX_RANGES_PER_QUERY = 2000
POSITION_COLUMNS = {"lsst": ("ra", "decl"), "ztf": ("ramean", "decmean")}
ID_COLUMNS = {"lsst": "diaObjectId", "ztf": "objectId"}


def merge_ranges(ranges: np.ndarray) -> np.ndarray:
    """Sorted disjoint half-open ranges covering the union of ``ranges`` (N, 2)."""
    ranges = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    if ranges.size == 0:
        return ranges
    ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
    ends = np.maximum.accumulate(ranges[:, 1])
    new = np.ones(len(ranges), bool)
    new[1:] = ranges[1:, 0] > ends[:-1]
    starts = ranges[new, 0]
    group = np.cumsum(new) - 1
    stops = np.zeros(len(starts), np.int64)
    np.maximum.at(stops, group, ends)
    return np.column_stack((starts, stops))


def cone_ranges(ra, dec, radius_arcsec) -> np.ndarray:
    """Merged half-open ``hpx16`` ranges containing cones (deg, deg, arcsec)."""
    ra, dec = check_positions(ra, dec, what="cone")
    radius = np.broadcast_to(np.asarray(radius_arcsec, np.float64), ra.shape)
    order = np.minimum(cone_order(radius), HPX_ORDER)
    ipix = healpix_index(ra, dec)
    parts = []
    for o in np.unique(order).tolist():
        here = order == o
        cells = ipix[here] >> (2 * (MAX_ORDER - o))
        near = nested.neighbours(cells.astype(np.uint64), o,
                                 num_threads=HEALPIX_THREADS).astype(np.int64).ravel()
        near = np.unique(near[near >= 0])
        shift = 2 * (HPX_ORDER - o)
        parts.append(np.column_stack((near << shift, (near + 1) << shift)))
    return merge_ranges(np.concatenate(parts)) if parts else np.zeros((0, 2), np.int64)


def moc_ranges16(moc: MOC) -> np.ndarray:
    """Merged half-open ``hpx16`` ranges covering a MOC."""
    r29 = np.asarray(moc.to_depth29_ranges, dtype=np.uint64).astype(np.int64).reshape(-1, 2)
    shift = 2 * (MAX_ORDER - HPX_ORDER)
    return merge_ranges(np.column_stack((r29[:, 0] >> shift,
                                         ((r29[:, 1] - 1) >> shift) + 1)))


def ranges_sql(ranges: np.ndarray, column: str = "objects.hpx16") -> list[str]:
    """SQL conditions (integers only), each covering at most MAX_RANGES_PER_QUERY ranges."""
    out = []
    for i in range(0, len(ranges), MAX_RANGES_PER_QUERY):
        chunk = ranges[i:i + MAX_RANGES_PER_QUERY]
        out.append("(" + " OR ".join(f"{column} BETWEEN {int(a)} AND {int(b) - 1}"
                                      for a, b in chunk) + ")")
    return out


class ConeHits(NamedTuple):
    """Objects found in a cone, nearest first."""

    object_id: list
    ra: np.ndarray
    dec: np.ndarray
    separation_arcsec: np.ndarray


def candidates_sql(survey: str, condition: str) -> str:
    """SELECT of (id, ra, dec) of objects satisfying an hpx16 condition."""
    ra, dec = POSITION_COLUMNS[survey]
    return (f"SELECT objects.{ID_COLUMNS[survey]}, objects.{ra}, objects.{dec} FROM objects "
            f"WHERE {condition}")


def nearest_first(rows: list[tuple], ra: float, dec: float, radius_arcsec: float
                  ) -> ConeHits:
    """The rows (id, ra, dec) within the cone, sorted by separation."""
    rows = [r for r in rows if r[1] is not None and r[2] is not None]
    if not rows:
        return ConeHits([], np.zeros(0), np.zeros(0), np.zeros(0))
    ids = [r[0] for r in rows]
    ras = np.array([r[1] for r in rows], np.float64)
    decs = np.array([r[2] for r in rows], np.float64)
    sep = separation_arcsec(ra, dec, ras, decs)
    keep = np.flatnonzero(sep <= radius_arcsec)
    keep = keep[np.argsort(sep[keep], kind="stable")]
    return ConeHits([ids[i] for i in keep], ras[keep], decs[keep], sep[keep])


async def cone_search(pool, survey: str, ra: float, dec: float, radius_arcsec: float
                      ) -> ConeHits:
    """Objects within ``radius_arcsec`` of (ra, dec), nearest first (indexed)."""
    rows: list[tuple] = []
    for condition in ranges_sql(cone_ranges([ra], [dec], [radius_arcsec])):
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(candidates_sql(survey, condition))
            rows += list(await cur.fetchall())
    return nearest_first(rows, ra, dec, radius_arcsec)
