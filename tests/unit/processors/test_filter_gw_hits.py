"""GW sky-map hits of a batch: alerts the merged watchmap index puts inside a watchmap
made from a GW map get the map's contour and density; other watchmaps give none."""
import numpy as np
import pytest

from solas.processors.filter import gw_hit_rows
from tables.sky import GwMap
from solas.skymatch import (MocIndex, evaluate_skymap, read_moc_fits, read_skymap,
                            skymap_from_bytes, skymap_to_bytes)


@pytest.fixture(scope="module")
def maps(settings_data_dir):
    sky = settings_data_dir / "skymaps"
    whole = read_skymap(sky / "S200129m.bayestar.multiorder.fits")
    stored = skymap_from_bytes(skymap_to_bytes(whole, 0.9))
    other = read_moc_fits((sky / "MS181101ab.mock.90pct.moc.fits").read_bytes())
    return whole, stored, other


def positions(skymap, rng, n):
    """Centres of random pixels of the map's 99.9% region, degrees."""
    return skymap.pixel_centres(rng.choice(skymap.ipix.size, n))


def test_hits_of_a_gw_watchmap_carry_its_contour_and_density(maps):
    whole, stored, other = maps
    rng = np.random.default_rng(41)
    ra, dec = positions(whole, rng, 400)
    ra, dec = np.append(ra, [10.0, 200.0]), np.append(dec, [-20.0, 60.0])
    index = MocIndex()
    index.add_moc(3, whole.credible_region_moc(0.9))
    index.add_moc(5, other)
    index.add_moc(6, whole.credible_region_moc(0.5))  # the same sky, no GW map linked
    ids = [f"ZTF{i:09d}" for i in range(ra.size)]
    mocs = index.match_to_mocs(ra, dec)
    rows = gw_hit_rows("objectId", ids, ra, dec, mocs, {3: GwMap(17, stored)})
    truth = evaluate_skymap(ra, dec, whole)
    inside = np.flatnonzero(truth.contour <= 90.0)
    assert 50 < inside.size < 400
    assert [r["objectId"] for r in rows] == [ids[i] for i in inside]
    assert {r["mw_id"] for r in rows} == {17}
    np.testing.assert_allclose([r["contour"] for r in rows], truth.contour[inside],
                               rtol=1e-12)
    np.testing.assert_allclose([r["probdens"] for r in rows], truth.probdens[inside],
                               rtol=1e-12)


def test_no_gw_maps_or_no_hits_give_no_rows(maps):
    whole, stored, other = maps
    index = MocIndex()
    index.add_moc(5, other)
    ra, dec = np.array([10.0]), np.array([-20.0])
    mocs = index.match_to_mocs(ra, dec)
    assert gw_hit_rows("objectId", ["a"], ra, dec, mocs, {}) == []
    assert gw_hit_rows("objectId", ["a"], ra, dec, mocs, {3: GwMap(1, stored)}) == []
