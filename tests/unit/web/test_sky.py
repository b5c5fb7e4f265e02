"""hpx16 index ranges of cones and MOCs."""
from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from mocpy import MOC

from solas.skymatch import read_moc_fits, separation_arcsec
from solas.skymatch.cones import cone_order
from solas.skymatch.sky import healpix_index
from web.sky import (cone_ranges, merge_ranges, moc_ranges16, nearest_first, ranges_sql)


def inside(ranges: np.ndarray, cells: np.ndarray) -> np.ndarray:
    at = np.searchsorted(ranges[:, 0], cells, side="right") - 1
    return (at >= 0) & (cells < ranges[np.maximum(at, 0), 1])


def test_merge_ranges():
    merged = merge_ranges([[5, 10], [1, 3], [2, 4], [9, 12], [20, 21], [12, 13]])
    assert merged.tolist() == [[1, 4], [5, 13], [20, 21]]
    assert merge_ranges(np.zeros((0, 2))).shape == (0, 2)


@pytest.mark.parametrize("ra, dec, radius", [(10.0, 20.0, 2.0), (359.9999, -0.5, 30.0),
                                             (180.0, 89.99, 1000.0), (45.0, -60.0, 0.5)])
def test_cone_ranges_hold_every_point_of_the_cone(ra, dec, radius):
    ranges = cone_ranges([ra], [dec], [radius])
    rng = np.random.default_rng(1)
    # random points in a box twice the cone's size, kept if inside the cone
    d_dec = rng.uniform(-2, 2, 20000) * radius / 3600
    d_ra = rng.uniform(-2, 2, 20000) * radius / 3600 / max(np.cos(np.radians(dec)), 1e-3)
    pts_ra, pts_dec = (ra + d_ra) % 360, np.clip(dec + d_dec, -90, 90)
    near = separation_arcsec(ra, dec, pts_ra, pts_dec) <= radius
    assert near.sum() > 100
    cells = healpix_index(pts_ra[near], pts_dec[near], order=16)
    assert inside(ranges, cells).all()
    # and the ranges stay local: at most 9 cells of the cone's order
    order = min(int(cone_order(np.array([radius]))[0]), 16)
    assert (ranges[:, 1] - ranges[:, 0]).sum() <= 9 * 4 ** (16 - order)


def test_moc_ranges_cover_the_moc(settings_data_dir):
    moc = read_moc_fits((settings_data_dir / "skymaps" / "MS181101ab.mock.90pct.moc.fits")
                        .read_bytes())
    ranges = moc_ranges16(moc)
    rng = np.random.default_rng(2)
    ra, dec = rng.uniform(0, 360, 200000), np.degrees(np.arcsin(rng.uniform(-1, 1, 200000)))
    hit = moc.contains_lonlat(ra * u.deg, dec * u.deg)
    assert hit.sum() > 20
    assert inside(ranges, healpix_index(ra[hit], dec[hit], order=16)).all()
    fraction = (ranges[:, 1] - ranges[:, 0]).sum() / (12 * 4 ** 16)
    assert fraction == pytest.approx(moc.sky_fraction, rel=0.01)


def test_ranges_sql_is_integers_in_chunks():
    ranges = np.array([[i * 10, i * 10 + 3] for i in range(4500)])
    parts = ranges_sql(ranges)
    assert len(parts) == 3
    assert parts[0].startswith("(objects.hpx16 BETWEEN 0 AND 2 OR ")
    assert sum(p.count("BETWEEN") for p in parts) == 4500


def test_nearest_first_filters_and_sorts():
    rows = [("a", 10.0, 10.0), ("b", 10.0, 10.0 + 4 / 3600), ("c", 10.0, 10.0 + 1 / 3600),
            ("d", None, 1.0)]
    hits = nearest_first(rows, 10.0, 10.0, 3.0)
    assert hits.object_id == ["a", "c"]
    assert hits.separation_arcsec == pytest.approx([0.0, 1.0])
    assert nearest_first([], 0, 0, 1).object_id == []


def test_moc_ranges_of_a_single_cell():
    moc = MOC.from_healpix_cells(np.array([5], np.uint64), np.array([3], np.uint8), 3)
    assert moc_ranges16(moc).tolist() == [[5 * 4 ** 13, 6 * 4 ** 13]]
