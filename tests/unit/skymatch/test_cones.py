"""Watchlist cone matching against astropy and brute force, add/remove, serialisation."""
import io

import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import SkyCoord

from solas.skymatch import (ConeIndex, PositionError, WatchlistCones, WatchlistError,
                            read_watchlist_csv, separation_arcsec)

from .sky_samples import offset_by, random_sky


def load_watchlist(path, wl_id, rng, first_cone_id=1):
    """A real watchlist CSV as cones with random per-cone radii (1-30 arcsec)."""
    with open(path, "rb") as lines:
        rows = list(read_watchlist_csv(lines, source=path.name))
    name = np.concatenate([b.name for b in rows])
    ra = np.concatenate([b.ra for b in rows])
    dec = np.concatenate([b.dec for b in rows])
    cone_id = np.arange(first_cone_id, first_cone_id + ra.size)
    return WatchlistCones.from_arrays(wl_id, cone_id, ra, dec,
                                      rng.uniform(1.0, 30.0, ra.size), name)


def alerts_around(cones: WatchlistCones, rng, per_cone=3):
    """Alerts at the cone centres and at random distances up to 2 radii from them."""
    n = len(cones)
    ra0, dec0 = np.repeat(cones.ra, per_cone), np.repeat(cones.dec, per_cone)
    sep = rng.uniform(0.0, 2.0, n * per_cone) * np.repeat(cones.radius_arcsec, per_cone)
    ra, dec = offset_by(ra0, dec0, rng.uniform(0, 360, n * per_cone), sep)
    return np.concatenate([cones.ra, ra]), np.concatenate([cones.dec, dec])


def astropy_pairs(ra, dec, cones_list):
    """(alert, cone_id) -> arcsec inside each cone's radius, by search_around_sky."""
    pairs = {}
    alerts = SkyCoord(ra * u.deg, dec * u.deg)
    for cones in cones_list:
        targets = SkyCoord(cones.ra * u.deg, cones.dec * u.deg)
        j, i, sep, _ = alerts.search_around_sky(targets, cones.radius_arcsec.max() * u.arcsec)
        ok = sep.arcsec <= cones.radius_arcsec[j]
        pairs.update({(a, c): s for a, c, s in
                      zip(i[ok].tolist(), cones.cone_id[j[ok]].tolist(), sep.arcsec[ok])})
    return pairs


def as_pairs(matches):
    return {(a, c): s for a, c, s in zip(matches.alert_index.tolist(),
                                         matches.cone_id.tolist(), matches.arcsec)}


@pytest.fixture(scope="module")
def real_lists(watchlists_dir):
    rng = np.random.default_rng(4)
    lac = load_watchlist(watchlists_dir / "watchlist_4LAC_DR3_bllac.csv", 1, rng)
    hsp = load_watchlist(watchlists_dir / "watchlist_3HSP.csv", 2, rng, first_cone_id=10_000)
    return lac, hsp


def test_4lac_matches_agree_with_astropy_search_around_sky(real_lists):
    lac, _ = real_lists
    rng = np.random.default_rng(5)
    ra, dec = alerts_around(lac, rng)
    matches = ConeIndex.from_watchlists([lac]).match_to_cones(ra, dec)
    expected = astropy_pairs(ra, dec, [lac])
    got = as_pairs(matches)
    assert len(expected) > len(lac)  # every centre plus about half the offset alerts
    assert got.keys() == expected.keys()
    np.testing.assert_allclose([got[k] for k in expected], list(expected.values()),
                               atol=1e-6)
    assert set(matches.wl_id.tolist()) == {1}
    names = dict(zip(lac.cone_id.tolist(), lac.name.tolist()))
    assert [names[c] for c in matches.cone_id.tolist()] == matches.name.tolist()


def test_two_real_lists_share_sources_and_both_hit(real_lists):
    lac, hsp = real_lists
    rng = np.random.default_rng(6)
    ra, dec = alerts_around(lac, rng, per_cone=1)
    index = ConeIndex.from_watchlists([lac, hsp])
    matches = index.match_to_cones(ra, dec)
    assert as_pairs(matches).keys() == astropy_pairs(ra, dec, [lac, hsp]).keys()
    assert {1, 2} <= set(matches.wl_id.tolist())
    order = np.lexsort((matches.cone_id, matches.wl_id, matches.alert_index))
    assert (order == np.arange(order.size)).all()


def test_removing_a_watchlist_removes_only_its_hits(real_lists):
    lac, hsp = real_lists
    rng = np.random.default_rng(7)
    ra, dec = alerts_around(hsp, rng, per_cone=1)
    index = ConeIndex.from_watchlists([lac, hsp])
    before = index.match_to_cones(ra, dec)
    assert index.remove_watchlist(2) and not index.remove_watchlist(2)
    after = index.match_to_cones(ra, dec)
    assert 2 not in after.wl_id.tolist() and index.wl_ids == {1} and len(index) == len(lac)
    kept = before.wl_id == 1
    assert as_pairs(after) == as_pairs(type(before)(*(c[kept] for c in before)))


def test_replacing_a_watchlist_drops_its_old_cones():
    index = ConeIndex()
    index.add_watchlist(WatchlistCones.from_arrays(7, [1], [10.0], [20.0], [5.0], ["old"]))
    index.add_watchlist(WatchlistCones.from_arrays(8, [2], [10.0], [20.0], [5.0], ["other"]))
    index.add_watchlist(WatchlistCones.from_arrays(7, [3], [50.0], [-20.0], [5.0], ["new"]))
    hits = index.match_to_cones([10.0, 50.0], [20.0, -20.0])
    assert hits.name.tolist() == ["other", "new"] and hits.alert_index.tolist() == [0, 1]
    assert len(index) == 2


@pytest.fixture(scope="module")
def million_cones():
    rng = np.random.default_rng(8)
    n = 1_000_000
    ra, dec = random_sky(rng, n)
    radius = 10 ** rng.uniform(np.log10(0.5), np.log10(60.0), n)
    names = np.char.add("c", np.arange(n).astype(str))
    return WatchlistCones.from_arrays(3, np.arange(n), ra, dec, radius, names)


def brute_force(ra, dec, cones):
    """All cones containing each alert: exact separations to every cone of the alert's
    declination band (two maximum radii wide, all right ascensions)."""
    by_dec = np.argsort(cones.dec)
    dec_sorted = cones.dec[by_dec]
    band = 2 * cones.radius_arcsec.max() / 3600.0
    pairs = {}
    for i in range(ra.size):
        near = by_dec[np.searchsorted(dec_sorted, dec[i] - band):
                      np.searchsorted(dec_sorted, dec[i] + band)]
        sep = separation_arcsec(ra[i], dec[i], cones.ra[near], cones.dec[near])
        inside = sep <= cones.radius_arcsec[near]
        pairs.update({(i, c): s for c, s in zip(cones.cone_id[near][inside].tolist(),
                                               sep[inside])})
    return pairs


def test_million_cones_sample_agrees_with_brute_force(million_cones):
    rng = np.random.default_rng(9)
    pick = rng.integers(0, len(million_cones), 150)
    ra_near, dec_near = offset_by(million_cones.ra[pick], million_cones.dec[pick],
                                  rng.uniform(0, 360, 150),
                                  rng.uniform(0, 1.5, 150) * million_cones.radius_arcsec[pick])
    ra_far, dec_far = random_sky(rng, 50)
    ra, dec = np.concatenate([ra_near, ra_far]), np.concatenate([dec_near, dec_far])
    index = ConeIndex.from_watchlists([million_cones])
    got = as_pairs(index.match_to_cones(ra, dec))
    expected = brute_force(ra, dec, million_cones)
    assert len(expected) >= 90
    assert got.keys() == expected.keys()
    np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), atol=1e-6)


def test_poles_and_ra_wrap():
    cones = WatchlistCones.from_arrays(
        5, [1, 2, 3, 4], ra=[359.9995, 0.0, 123.0, 0.0005], dec=[0.0, 90.0, -90.0, 45.0],
        radius_arcsec=[5.0, 10.0, 10.0, 2.0], name=["wrap", "north", "south", "wrap45"])
    index = ConeIndex.from_watchlists([cones])
    ra = np.array([0.0005, 359.9999, 17.0, 200.0, 300.0, 200.0, 359.9998, 0.0])
    dec = np.array([0.0, 0.0, 89.999, 89.999, -89.998, 89.997, 45.0, 45.0])
    hits = index.match_to_cones(ra, dec)
    found = {(a, n) for a, n in zip(hits.alert_index.tolist(), hits.name.tolist())}
    assert found == {(0, "wrap"), (1, "wrap"), (2, "north"), (3, "north"), (4, "south"),
                     (6, "wrap45"), (7, "wrap45")}
    np.testing.assert_allclose(hits.arcsec[hits.alert_index == 0], 3.6, rtol=1e-6)
    np.testing.assert_allclose(hits.arcsec[hits.alert_index == 2], 3.6, rtol=1e-6)


def test_per_cone_radius_is_used():
    cones = WatchlistCones.from_arrays(1, [1, 2], [10.0, 10.0], [0.0, 0.0], [1.0, 100.0],
                                       ["small", "big"])
    ra_alert = 10.0 + np.array([0.5, 2.0, 99.0, 101.0]) / 3600.0
    hits = ConeIndex.from_watchlists([cones]).match_to_cones(ra_alert, np.zeros(4))
    assert list(zip(hits.alert_index.tolist(), hits.name.tolist())) == [
        (0, "small"), (0, "big"), (1, "big"), (2, "big")]


def test_default_radius_and_from_arrays_of_several_lists():
    index = ConeIndex.from_arrays(cone_id=[1, 2, 3], wl_id=[9, 4, 9], ra=[10.0, 10.0, 80.0],
                                  dec=[5.0, 5.0, 5.0], radius_arcsec=[np.nan, 30.0, np.nan],
                                  name=["a", "b", "c"], default_radius_arcsec=3.0)
    assert index.wl_ids == {4, 9} and len(index) == 3
    hits = index.match_to_cones([10.0 + 10 / 3600, 80.0], [5.0, 5.0 + 2.9 / 3600])
    assert list(zip(hits.alert_index.tolist(), hits.wl_id.tolist(), hits.cone_id.tolist())) \
        == [(0, 4, 2), (1, 9, 3)]


def test_serialised_watchlist_round_trips(real_lists):
    lac, _ = real_lists
    named = WatchlistCones.from_arrays(6, [4, 5], [1.0, 2.0], [3.0, 4.0], [2.0, 3.0],
                                       ["Ωmega Cen, \"quoted\"", ""])
    for cones in (lac, named, WatchlistCones.from_arrays(7, [], [], [], [], [])):
        back = WatchlistCones.from_bytes(cones.to_bytes())
        assert back.wl_id == cones.wl_id
        for field in ("cone_id", "ra", "dec", "radius_arcsec"):
            np.testing.assert_array_equal(getattr(back, field), getattr(cones, field))
        assert back.name.tolist() == cones.name.tolist()
    assert len(lac.to_bytes()) < 60 * len(lac)


def test_a_large_watchlist_splits_into_messages_under_the_size_limit(million_cones):
    parts = million_cones.split(max_bytes=1_000_000)
    blobs = [part.to_bytes() for part in parts]
    assert len(parts) > 30 and max(len(b) for b in blobs) <= 1_000_000
    joined = WatchlistCones.concatenate(WatchlistCones.from_bytes(b) for b in blobs)
    np.testing.assert_array_equal(joined.cone_id, million_cones.cone_id)
    assert joined.name.tolist()[-3:] == million_cones.name.tolist()[-3:]
    with pytest.raises(WatchlistError, match="cannot be joined"):
        WatchlistCones.concatenate([parts[0], WatchlistCones.from_arrays(9, [1], [1.0], [1.0])])


@pytest.mark.parametrize("data", [b"", b"not a numpy archive", b"PK\x03\x04 broken zip"])
def test_bad_serialised_watchlist_is_refused(data):
    with pytest.raises(WatchlistError, match="not a serialised watchlist"):
        WatchlistCones.from_bytes(data)


def test_serialised_watchlist_of_another_format_is_refused():
    buf = io.BytesIO()
    np.savez(buf, format=np.int64(99), wl_id=np.int64(1), cone_id=np.arange(1), ra=[1.0],
             dec=[1.0], radius_arcsec=[2.0], names=np.frombuffer(b"x", np.uint8))
    with pytest.raises(WatchlistError, match="not a serialised watchlist"):
        WatchlistCones.from_bytes(buf.getvalue())


@pytest.mark.parametrize("kwargs, reason", [
    (dict(cone_id=[1, 1], ra=[1.0, 2.0], dec=[0.0, 0.0]), "not unique"),
    (dict(cone_id=[1, 2], ra=[1.0, 2.0], dec=[0.0, 95.0]), "not a valid sky position"),
    (dict(cone_id=[1], ra=[1.0], dec=[0.0], radius_arcsec=[-1.0]), "radius"),
    (dict(cone_id=[1], ra=[1.0], dec=[0.0], radius_arcsec=[1e6]), "radius"),
    (dict(cone_id=[1, 2], ra=[1.0, 2.0], dec=[0.0, 0.0], name=["a"]), "1 names for 2"),
    (dict(cone_id=[1], ra=[1.0], dec=[0.0], name=["a\x00b"]), "NUL"),
    (dict(cone_id=[1], ra=[1.0], dec=[0.0], name=["x" * 256]), "longer than 255"),
    (dict(cone_id=[1.5], ra=[1.0], dec=[0.0]), "integers"),
])
def test_bad_cones_are_refused(kwargs, reason):
    with pytest.raises(WatchlistError, match=reason):
        WatchlistCones.from_arrays(1, **kwargs)


def test_empty_index_and_empty_batches():
    empty = ConeIndex().match_to_cones([1.0], [2.0])
    assert all(len(col) == 0 for col in empty)
    index = ConeIndex.from_arrays([1], [1], [1.0], [2.0], [5.0], ["x"])
    assert all(len(col) == 0 for col in index.match_to_cones([], []))
    with pytest.raises(PositionError):
        index.match_to_cones([1.0], [np.nan])
