"""Gravitational-wave sky maps: reading, credible regions, matching alerts."""
import gzip
import io

import numpy as np
import pytest
import astropy.units as u
from astropy.io import fits
from cdshealpix import nested, ring
from mocpy import MOC

from solas.skymatch import (SkymapError, match_to_skymap, moc_area_deg2, read_moc_fits,
                            read_skymap)
from solas.skymatch.sky import DEG2_PER_SR

from .sky_samples import random_sky

FLAT_ORDER = 8


def flat_map_bytes(prob, ordering, coordsys="C"):
    table = fits.BinTableHDU.from_columns([fits.Column(name="PROB", format="D", array=prob)])
    table.header.update(PIXTYPE="HEALPIX", ORDERING=ordering, COORDSYS=coordsys,
                        NSIDE=int(np.sqrt(prob.size / 12)), INDXSCHM="IMPLICIT")
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    return buf.getvalue()


def rasterised(skymap, order):
    """Probability per NESTED pixel at ``order`` of a multi-order map (all pixels kept)."""
    prob = np.zeros(12 * 4 ** order)
    pixel_prob = skymap.probdensity * np.pi / (3.0 * 4.0 ** skymap.order)
    fine = skymap.order >= order
    np.add.at(prob, skymap.ipix[fine] >> (2 * (skymap.order[fine] - order)), pixel_prob[fine])
    coarse = ~fine
    n_children = 4 ** (order - skymap.order[coarse])
    first = skymap.ipix[coarse] * n_children
    children = np.repeat(first, n_children) + np.arange(n_children.sum()) - np.repeat(
        np.cumsum(n_children) - n_children, n_children)
    prob[children] = np.repeat(pixel_prob[coarse] / n_children, n_children)
    return prob


def nested_to_ring(order):
    """RING index of each NESTED pixel (through the pixel centres)."""
    lon, lat = nested.healpix_to_lonlat(np.arange(12 * 4 ** order, dtype=np.uint64), order)
    return ring.lonlat_to_healpix(lon, lat, 2 ** order).astype(np.int64)


@pytest.fixture(scope="module")
def ms181101ab(skymaps_dir):
    return read_skymap(skymaps_dir / "MS181101ab.mock.bayestar.fits")


@pytest.fixture(scope="module")
def s200129m(skymaps_dir):
    return read_skymap(skymaps_dir / "S200129m.bayestar.multiorder.fits")


@pytest.fixture(scope="module")
def flat_prob(skymaps_dir):
    full = read_skymap(skymaps_dir / "MS181101ab.mock.bayestar.fits", max_level=1.0)
    return rasterised(full, FLAT_ORDER)


def test_ms181101ab_gives_the_shipped_90_percent_region(skymaps_dir, ms181101ab):
    shipped = read_moc_fits((skymaps_dir / "MS181101ab.mock.90pct.moc.fits").read_bytes())
    mine = ms181101ab.credible_region_moc(0.9)
    assert moc_area_deg2(mine) == pytest.approx(31.0, abs=0.05)
    assert ms181101ab.area_deg2(0.9) == pytest.approx(moc_area_deg2(shipped), rel=1e-9)
    assert moc_area_deg2(mine.intersection(shipped)) == pytest.approx(moc_area_deg2(shipped),
                                                                     rel=1e-12)
    assert mine == shipped
    assert ms181101ab.meta["OBJECT"] == "MS181101ab"


@pytest.mark.parametrize("name", ["MS181101ab.mock.bayestar.fits",
                                  "S200129m.bayestar.multiorder.fits"])
def test_credible_regions_agree_with_mocpy_within_one_pixel(skymaps_dir, name):
    skymap = read_skymap(skymaps_dir / name)
    for level in (0.1, 0.5, 0.9):
        theirs = MOC.from_multiordermap_fits_file(skymaps_dir / name, cumul_from=0.0,
                                                  cumul_to=level)
        mine = skymap.credible_region_moc(level)
        largest_pixel = 41252.96 / (12 * 4 ** skymap.order[skymap.level <= level].min())
        assert moc_area_deg2(mine.symmetric_difference(theirs)) <= largest_pixel
    areas = [skymap.area_deg2(level) for level in (0.1, 0.5, 0.9)]
    assert areas == sorted(areas) and areas[0] > 0


def test_matching_follows_the_credible_regions(s200129m, skymaps_dir):
    rng = np.random.default_rng(21)
    ranges = s200129m.credible_region_moc(0.9).to_depth29_ranges
    lon, lat = nested.healpix_to_lonlat(ranges[rng.integers(0, len(ranges), 20_000), 0], 29)
    ra = np.concatenate([(lon.deg + rng.normal(0, 2, lon.size)) % 360, random_sky(rng, 5000)[0]])
    dec = np.concatenate([np.clip(lat.deg + rng.normal(0, 2, lat.size), -90, 90),
                          random_sky(rng, 5000)[1]])
    hits = match_to_skymap(ra, dec, s200129m, max_percent=100.0)
    assert (hits.contour > 0).all() and (hits.contour <= 100).all()
    for level in (0.1, 0.5, 0.9):
        inside = s200129m.credible_region_moc(level).contains_lonlat(ra * u.deg, dec * u.deg)
        in_region = np.zeros(ra.size, bool)
        in_region[hits.alert_index[hits.contour <= 100 * level]] = True
        np.testing.assert_array_equal(in_region, inside)
    default = match_to_skymap(ra, dec, s200129m)
    np.testing.assert_array_equal(default.alert_index, hits.alert_index[hits.contour <= 90])


def test_probability_density_at_pixel_centres_is_the_file_value(s200129m, skymaps_dir):
    table = fits.getdata(skymaps_dir / "S200129m.bayestar.multiorder.fits", 1)
    uniq, density = np.asarray(table["UNIQ"]), np.asarray(table["PROBDENSITY"])
    order = (np.log2(uniq).astype(int) // 2) - 1
    ipix = uniq - 4 * 4 ** order
    pick = np.argsort(-density)[:500:7]
    ra, dec = [], []
    for i in pick:
        lon, lat = nested.healpix_to_lonlat(np.array([ipix[i]], np.uint64), int(order[i]))
        ra.append(lon.deg[0])
        dec.append(lat.deg[0])
    hits = match_to_skymap(ra, dec, s200129m)
    assert hits.alert_index.tolist() == list(range(pick.size))
    np.testing.assert_allclose(hits.probdens, density[pick] / DEG2_PER_SR, rtol=1e-6)
    assert hits.contour[0] == pytest.approx(100 * density[pick[0]] * np.pi / 3 / 4.0 ** order[
        pick[0]], rel=1e-6)


def test_flat_nested_map_agrees_with_mocpy(flat_prob, ms181101ab):
    skymap = read_skymap(flat_map_bytes(flat_prob, "NESTED"))
    assert (skymap.order == FLAT_ORDER).all()
    uniq = (4 * 4 ** FLAT_ORDER + np.arange(flat_prob.size)).astype(np.uint64)
    theirs = MOC.from_valued_healpix_cells(uniq, flat_prob, FLAT_ORDER, cumul_from=0.0,
                                           cumul_to=0.9)
    pixel_deg2 = 41252.96 / flat_prob.size
    mine = skymap.credible_region_moc(0.9)
    assert moc_area_deg2(mine.symmetric_difference(theirs)) <= pixel_deg2 * 1.001
    assert skymap.area_deg2(0.9) == pytest.approx(ms181101ab.area_deg2(0.9), rel=0.05)


def test_ring_map_reads_like_the_nested_one(flat_prob):
    as_ring = np.empty_like(flat_prob)
    as_ring[nested_to_ring(FLAT_ORDER)] = flat_prob
    nested_map = read_skymap(flat_map_bytes(flat_prob, "NESTED"))
    ring_map = read_skymap(gzip.compress(flat_map_bytes(as_ring, "RING")))
    np.testing.assert_array_equal(ring_map.ipix, nested_map.ipix)
    np.testing.assert_array_equal(ring_map.level, nested_map.level)
    rng = np.random.default_rng(22)
    ra, dec = random_sky(rng, 20_000)
    a, b = match_to_skymap(ra, dec, ring_map, 99.0), match_to_skymap(ra, dec, nested_map, 99.0)
    assert a.alert_index.size > 20
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_ring_pixels_land_on_the_right_nested_pixels():
    """nside 2: RING pixel 0 is the northern pixel at RA 45 deg (NESTED 3); RING 47 the
    southern one at RA 315 deg (NESTED 44)."""
    prob = np.full(48, 0.25 / 46)
    prob[0], prob[47] = 0.5, 0.25
    skymap = read_skymap(flat_map_bytes(prob, "RING"))
    assert skymap.credible_region_moc(0.5) == MOC.from_str("1/3")
    assert skymap.credible_region_moc(0.76) == MOC.from_str("1/3 44")
    z = 1 - 1 / 12  # first ring of the northern cap at nside 2
    dec = np.degrees(np.arcsin(z))
    hits = match_to_skymap([45.0, 315.0, 135.0], [dec, -dec, dec], skymap, max_percent=76)
    assert hits.alert_index.tolist() == [0, 1]
    np.testing.assert_allclose(hits.contour, [50.0, 75.0])


def test_gw190814_flat_gzipped_map(skymaps_dir):
    skymap = read_skymap((skymaps_dir / "GW190814.LALInference.v1.fits.gz").read_bytes(),
                         source="GW190814")
    area90 = skymap.area_deg2(0.9)
    assert 15.0 < area90 < 35.0  # LALInference localised GW190814 to ~20 deg^2
    assert skymap.area_deg2(0.5) < area90 < skymap.area_deg2(0.99)
    prob = skymap.probdensity * np.pi / (3 * 4.0 ** skymap.order)
    assert prob[skymap.level <= 0.9].sum() == pytest.approx(0.9, abs=1e-3)
    assert skymap.meta["DATE-OBS"].startswith("2019-08-14")
    best = np.argmax(skymap.probdensity)
    lon, lat = nested.healpix_to_lonlat(skymap.ipix[best:best + 1].astype(np.uint64), 10)
    hits = match_to_skymap(lon.deg, lat.deg, skymap)
    assert hits.contour[0] < 0.1 and hits.probdens[0] == pytest.approx(
        skymap.probdensity.max() / DEG2_PER_SR)


@pytest.mark.parametrize("make, reason", [
    (lambda: b"definitely not FITS", "not a readable FITS"),
    (lambda: b"\x1f\x8b\x08\x00broken", "corrupt gzip"),
    (lambda: flat_map_bytes(np.ones(47), "NESTED"), "12\\*nside"),
    (lambda: flat_map_bytes(-np.ones(48), "NESTED"), "non-negative"),
    (lambda: flat_map_bytes(np.zeros(48), "NESTED"), "no probability"),
    (lambda: flat_map_bytes(np.ones(48), "NESTED", coordsys="G"), "COORDSYS"),
    (lambda: flat_map_bytes(np.ones(48), "XYZ"), "ORDERING"),
])
def test_malformed_sky_maps_give_clear_errors(make, reason):
    with pytest.raises(SkymapError, match=reason) as err:
        read_skymap(make(), source="upload.fits")
    assert "upload.fits" in str(err.value)


def test_overlapping_multiorder_pixels_are_refused():
    table = fits.BinTableHDU.from_columns([
        fits.Column(name="UNIQ", format="K", array=np.array([4, 16, 17])),
        fits.Column(name="PROBDENSITY", format="D", array=np.ones(3))])
    table.header.update(PIXTYPE="HEALPIX", ORDERING="NUNIQ", COORDSYS="C")
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    with pytest.raises(SkymapError, match="overlap"):
        read_skymap(buf.getvalue())


def test_a_moc_is_not_a_sky_map_and_levels_are_checked(skymaps_dir, ms181101ab):
    with pytest.raises(SkymapError, match="UNIQ and PROBDENSITY"):
        read_skymap(skymaps_dir / "MS181101ab.mock.90pct.moc.fits")
    for level in (0.0, 0.9995):
        with pytest.raises(SkymapError, match="credible level"):
            ms181101ab.credible_region_moc(level)
