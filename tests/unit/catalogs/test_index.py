"""The sky index returns exactly the (position, source) pairs that astropy's
``search_around_sky`` (cut at each source's own radius) returns: for every shipped
alert against every catalogue, for positions scattered around catalogued sources, at
the poles and across RA = 0/360."""
from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from catalogs.index import SkyIndex, chord_of_arcsec, separation_arcsec, unit_vectors


def oracle_pairs(ra, dec, src_ra, src_dec, radius) -> set[tuple[int, int]]:
    """Pairs within each source's radius, by astropy (sources with a usable radius)."""
    usable = np.flatnonzero(np.isfinite(src_ra) & np.isfinite(radius) & (radius > 0))
    if not len(usable) or not len(ra):
        return set()
    alerts = SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg)
    sources = SkyCoord(src_ra[usable] * u.deg, src_dec[usable] * u.deg)
    # SkyCoord.search_around_sky(around, limit) -> (index into around, index into self)
    i, j, sep, _ = sources.search_around_sky(alerts, radius[usable].max() * u.arcsec)
    keep = sep.to_value(u.arcsec) <= radius[usable][j]
    return set(zip(i[keep].tolist(), usable[j[keep]].tolist()))


def index_pairs(index: SkyIndex, ra, dec, sources: slice = slice(None)) -> set[tuple[int, int]]:
    pairs = index.match_positions(ra, dec)
    start, stop = sources.start or 0, sources.stop or index.n_sources
    inside = (pairs.source >= start) & (pairs.source < stop)
    return set(zip(pairs.position[inside].tolist(), (pairs.source[inside] - start).tolist()))


def scattered_near(ra, dec, n, max_arcsec, rng):
    """``n`` positions up to ``max_arcsec`` from randomly chosen (ra, dec)."""
    pick = rng.integers(0, len(ra), n)
    offset = rng.uniform(0, max_arcsec, n) / 3600.0
    angle = rng.uniform(0, 2 * np.pi, n)
    out_dec = np.clip(dec[pick] + offset * np.cos(angle), -90, 90)
    out_ra = (ra[pick] + offset * np.sin(angle) / np.maximum(np.cos(np.radians(out_dec)), 1e-3))
    return out_ra % 360, out_dec


def catalogue_slices(index) -> dict[str, slice]:
    starts = np.cumsum([0, *index.counts.values()])
    return {n: slice(int(a), int(b)) for n, a, b in zip(index.counts, starts[:-1], starts[1:])}


def test_shipped_alerts_against_every_catalogue(sherlock_index, alert_positions):
    ra, dec = alert_positions
    assert len(ra) > 200
    radius = sherlock_index.properties.search_radius_arcsec
    rows = sherlock_index.rows
    matched = 0
    for name, part in catalogue_slices(sherlock_index).items():
        expected = oracle_pairs(ra, dec, rows.ra[part], rows.dec[part], radius[part])
        assert index_pairs(sherlock_index.sky, ra, dec, part) == expected, name
        matched += len(expected)
    assert matched > 20


def test_scattered_positions_against_every_catalogue(sherlock_index):
    rng = np.random.default_rng(7)
    rows, radius = sherlock_index.rows, sherlock_index.properties.search_radius_arcsec
    for name, part in catalogue_slices(sherlock_index).items():
        usable = np.isfinite(rows.ra[part]) & np.isfinite(radius[part])
        if not usable.any():
            assert name == "ned_d"  # distances only, no positions
            continue
        cap = min(np.nanmax(radius[part]), 600.0)
        ra, dec = scattered_near(rows.ra[part][usable], rows.dec[part][usable], 300, cap, rng)
        expected = oracle_pairs(ra, dec, rows.ra[part], rows.dec[part], radius[part])
        assert index_pairs(sherlock_index.sky, ra, dec, part) == expected, name
        assert expected, name


def test_random_sky_with_mixed_radii():
    rng = np.random.default_rng(3)
    n = 20_000
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    radius = np.where(rng.random(n) < 0.5, 1.5, 10 ** rng.uniform(0, 3.5, n))
    index = SkyIndex(ra, dec, radius)
    q_ra, q_dec = scattered_near(ra, dec, 2_000, 60, rng)
    q_ra = np.concatenate([q_ra, rng.uniform(0, 360, 2_000)])
    q_dec = np.concatenate([q_dec, np.degrees(np.arcsin(rng.uniform(-1, 1, 2_000)))])
    expected = oracle_pairs(q_ra, q_dec, ra, dec, radius)
    assert index_pairs(index, q_ra, q_dec) == expected and len(expected) > 500
    pairs = index.match_positions(q_ra, q_dec)
    assert np.all(np.diff(pairs.position) >= 0)  # sorted by position, then separation
    oracle_sep = SkyCoord(q_ra[pairs.position] * u.deg, q_dec[pairs.position] * u.deg) \
        .separation(SkyCoord(ra[pairs.source] * u.deg, dec[pairs.source] * u.deg))
    assert np.allclose(pairs.separation_arcsec, oracle_sep.to_value(u.arcsec), atol=1e-6)


def test_ra_wraparound_and_poles():
    src_ra = np.array([359.9999, 0.0001, 10.0, 190.0, 45.0, 123.0, 300.0])
    src_dec = np.array([0.0, 0.0, 89.99, -89.99, 89.99, -89.9999, 10.0])
    radius = np.array([1.5, 1.5, 100.0, 100.0, 1.5, 1.5, 1.5])
    index = SkyIndex(src_ra, src_dec, radius)
    q_ra = np.array([0.0001, 359.9999, 190.0, 10.0, 225.0, 0.0, 300.0])
    q_dec = np.array([0.0, 0.0, 89.99, -89.99, 89.99, -90.0, -10.0])
    pairs = index_pairs(index, q_ra, q_dec)
    assert pairs == oracle_pairs(q_ra, q_dec, src_ra, src_dec, radius)
    # 0.72" across RA 0; 72" across each pole; the south pole is 36" from source 3 and
    # 0.36" from source 5; 225 deg at dec 89.99 is 69" from source 2 but 72" from source 4
    assert pairs == {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (3, 3), (4, 2), (5, 3), (5, 5)}


def test_empty_and_unusable_sources():
    empty = SkyIndex(np.zeros(0), np.zeros(0), np.zeros(0))
    assert empty.n_sources == 0 and len(empty.match_positions([10.0], [20.0]).position) == 0
    index = SkyIndex([10.0, np.nan, 10.0, 10.0], [20.0, 20.0, 20.0, 20.0],
                     [2.0, 2.0, np.nan, 0.0])
    pairs = index.match_positions([10.0, np.nan], [20.0, 5.0])
    assert pairs.source.tolist() == [0] and pairs.position.tolist() == [0]
    assert len(index.match_positions([], []).position) == 0
    with pytest.raises(ValueError):
        SkyIndex([1.0, 2.0], [1.0], [1.0, 1.0])


def test_geometry_helpers():
    xyz = unit_vectors([0.0, 90.0, 0.0], [0.0, 0.0, 90.0])
    assert np.allclose(xyz, np.eye(3), atol=1e-15)
    assert np.allclose(separation_arcsec(xyz, xyz[[1, 2, 0]]), 90 * 3600)
    tiny = unit_vectors([0.0, 1e-7], [0.0, 0.0])
    assert separation_arcsec(tiny[:1], tiny[1:])[0] == pytest.approx(3.6e-4, rel=1e-6)
    assert chord_of_arcsec(180 * 3600) == pytest.approx(2.0)
