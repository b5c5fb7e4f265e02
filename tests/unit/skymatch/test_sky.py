"""Geometry helpers and the sky-cell filing rule of the cone index."""
import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import SkyCoord
from cdshealpix import nested

from solas.skymatch import PositionError, separation_arcsec
from solas.skymatch.cones import cone_order
from solas.skymatch.sky import (ARCSEC_PER_RAD, cell_size_rad, check_positions, expand_ranges,
                                healpix_index)

from .sky_samples import offset_by, random_sky


def test_separation_matches_astropy_at_all_scales():
    rng = np.random.default_rng(1)
    ra1, dec1 = random_sky(rng, 2000)
    ra2, dec2 = random_sky(rng, 2000)
    ra2[:1000], dec2[:1000] = offset_by(ra1[:1000], dec1[:1000], rng.uniform(0, 360, 1000),
                                        10 ** rng.uniform(-4, 3, 1000))
    expected = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(
        SkyCoord(ra2 * u.deg, dec2 * u.deg)).arcsec
    np.testing.assert_allclose(separation_arcsec(ra1, dec1, ra2, dec2), expected,
                               rtol=1e-9, atol=1e-9)


def test_check_positions_refuses_bad_values():
    ra, dec = check_positions([370.0, -10.0], [0.0, 90.0])
    assert ra.dtype == np.float64 and ra.shape == (2,)
    with pytest.raises(PositionError, match="alert 1"):
        check_positions([1.0, 2.0], [0.0, 91.0], what="alert")
    with pytest.raises(PositionError, match="not a valid"):
        check_positions([np.nan], [0.0])
    with pytest.raises(PositionError, match="same length"):
        check_positions([1.0, 2.0], [0.0])


def test_expand_ranges_lists_every_position():
    owner, position = expand_ranges(np.array([5, 2, 7]), np.array([7, 2, 10]))
    assert owner.tolist() == [0, 0, 2, 2, 2]
    assert position.tolist() == [5, 6, 7, 8, 9]


def test_cone_order_gives_cells_at_least_twice_the_radius():
    radius = np.array([0.01, 1.0, 2.0, 60.0, 3600.0, 36000.0])
    order = cone_order(radius)
    size = cell_size_rad(order) * ARCSEC_PER_RAD
    assert (size >= 2 * radius).all()
    assert ((order == 29) | (cell_size_rad(order + 1) * ARCSEC_PER_RAD < 2 * radius)).all()


@pytest.mark.parametrize("order", [0, 1, 3, 8, 15, 22])
def test_a_cone_lies_within_its_cell_and_the_neighbours(order):
    """The filing rule: points within the radius fall in the centre cell's 3x3 block,
    also at the poles and at the corners of the base cells where 7 cells meet."""
    rng = np.random.default_rng(order)
    ra, dec = random_sky(rng, 300)
    corners_dec = np.degrees(np.arcsin(2.0 / 3.0))
    special_ra = np.array([0.0, 45.0, 90.0, 0.0, 90.0, 135.0, 0.0, 10.0, 359.99999])
    special_dec = np.array([90.0, -90.0, 0.0, corners_dec, -corners_dec, corners_dec,
                            89.9999, -89.9999, 0.0])
    ra, dec = np.concatenate([ra, special_ra]), np.concatenate([dec, special_dec])
    radius = cell_size_rad(order) * ARCSEC_PER_RAD / 2 * 0.999
    n_dir = 72
    pa = np.tile(np.linspace(0, 360, n_dir, endpoint=False), ra.size)
    for frac in (1.0, 0.5):
        ra_edge, dec_edge = offset_by(np.repeat(ra, n_dir), np.repeat(dec, n_dir), pa,
                                      frac * radius)
        cells = healpix_index(ra_edge, dec_edge, order).reshape(ra.size, n_dir)
        block = nested.neighbours(healpix_index(ra, dec, order).astype(np.uint64), order)
        inside = (cells[:, :, None] == block[:, None, :]).any(axis=2)
        assert inside.all()
