"""Gravitational-wave sky maps: reading, credible regions, matching alerts."""
import gzip
import io

import numpy as np
import pytest
import astropy.units as u
from astropy.io import fits
from cdshealpix import nested, ring
from mocpy import MOC

from solas.skymatch import (SkymapError, evaluate_skymap, match_to_skymap, moc_area_deg2,
                            read_moc_fits, read_skymap, skymap_from_bytes, skymap_to_bytes)
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


# ------------------------------------------------------- evaluate_skymap, stored form

def file_pixels(path):
    """UNIQ-derived order and index, normalised probability and density (sr^-1) of a
    multi-order map, straight from the FITS table (astropy only)."""
    table = fits.getdata(path, 1)
    uniq = np.asarray(table["UNIQ"], dtype=np.int64)
    order = np.zeros(uniq.size, np.int64)
    for o in range(30):
        order[(uniq >= 4 * 4 ** o) & (uniq < 16 * 4 ** o)] = o
    density = np.asarray(table["PROBDENSITY"], dtype=np.float64)
    prob = density * 4 * np.pi / (12 * 4.0 ** order)
    total = prob.sum()
    return order, uniq - 4 * 4 ** order, prob / total, density / total


def brute_force_values(path, ra, dec):
    """Contour (%) and density (deg^-2) at positions by exhaustive search, with
    astropy-healpix: the pixel holding each position at each order, and the summed
    probability of every pixel at least as dense as it."""
    from astropy_healpix import HEALPix
    order, ipix, prob, density = file_pixels(path)
    found = np.full(ra.size, -1)
    for o in np.unique(order):
        at_o = np.flatnonzero(order == o)
        where = HEALPix(nside=2 ** int(o), order="nested").lonlat_to_healpix(
            ra * u.deg, dec * u.deg)
        lookup = dict(zip(ipix[at_o].tolist(), at_o.tolist()))
        for i, p in enumerate(where.tolist()):
            if p in lookup:
                assert found[i] == -1  # multi-order pixels never overlap
                found[i] = lookup[p]
    assert (found >= 0).all()
    d = density[found]
    contour = 100.0 * ((density[None, :] >= d[:, None]) @ prob)
    return contour, d / DEG2_PER_SR


def random_points_in_pixels(path, n, rng):
    """Positions drawn from a map's own probability: a pixel by its probability, then a
    uniform spot inside it (astropy-healpix offsets dx, dy)."""
    from astropy_healpix import HEALPix
    order, ipix, prob, _ = file_pixels(path)
    pick = rng.choice(prob.size, size=n, p=prob)
    ra, dec = np.empty(n), np.empty(n)
    for o in np.unique(order[pick]):
        sel = np.flatnonzero(order[pick] == o)
        lon, lat = HEALPix(nside=2 ** int(o), order="nested").healpix_to_lonlat(
            ipix[pick[sel]], dx=rng.uniform(0.05, 0.95, sel.size),
            dy=rng.uniform(0.05, 0.95, sel.size))
        ra[sel], dec[sel] = lon.deg, lat.deg
    return ra, dec


@pytest.mark.parametrize("name", ["MS181101ab.mock.bayestar.fits",
                                  "S200129m.bayestar.multiorder.fits"])
def test_evaluate_skymap_agrees_with_a_brute_force_search(skymaps_dir, name):
    path = skymaps_dir / name
    rng = np.random.default_rng(31)
    inside_ra, inside_dec = random_points_in_pixels(path, 600, rng)
    sky_ra, sky_dec = random_sky(rng, 200)
    ra, dec = np.concatenate([inside_ra, sky_ra]), np.concatenate([inside_dec, sky_dec])
    values = evaluate_skymap(ra, dec, read_skymap(path, max_level=1.0))
    contour, probdens = brute_force_values(path, ra, dec)
    np.testing.assert_allclose(values.contour, contour, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(values.probdens, probdens, rtol=1e-12)
    assert (values.contour[:600] < 99.9).mean() > 0.99 and (values.contour > 0).all()
    pruned = evaluate_skymap(ra, dec, read_skymap(path))  # 99.9% kept: NaN beyond
    beyond = np.isnan(pruned.contour)
    np.testing.assert_array_equal(beyond, contour > 99.9)
    np.testing.assert_allclose(pruned.contour[~beyond], contour[~beyond], rtol=1e-9)


@pytest.mark.parametrize("name", ["MS181101ab.mock.bayestar.fits",
                                  "S200129m.bayestar.multiorder.fits"])
def test_the_90_percent_contour_holds_90_percent_of_the_probability(skymaps_dir, name):
    path = skymaps_dir / name
    order, ipix, prob, _ = file_pixels(path)
    centres = nested.healpix_to_lonlat  # pixel centres, order by order
    ra, dec = np.empty(prob.size), np.empty(prob.size)
    for o in np.unique(order):
        sel = np.flatnonzero(order == o)
        lon, lat = centres(ipix[sel].astype(np.uint64), int(o))
        ra[sel], dec[sel] = lon.deg, lat.deg
    contour = evaluate_skymap(ra, dec, read_skymap(path)).contour
    inside = contour <= 90.0
    assert 0.9 - prob.max() < prob[inside].sum() <= 0.9 + 1e-12
    area = (4 * np.pi / (12 * 4.0 ** order[inside])).sum() * DEG2_PER_SR
    theirs = MOC.from_multiordermap_fits_file(path, cumul_from=0.0, cumul_to=0.9)
    largest_pixel = 41252.96 / (12 * 4 ** order[inside].min())
    assert area == pytest.approx(moc_area_deg2(theirs), abs=largest_pixel)
    if name.startswith("MS181101ab"):  # the 90% MOC shipped with the map: 31.0 deg^2
        shipped = read_moc_fits((skymaps_dir / "MS181101ab.mock.90pct.moc.fits").read_bytes())
        assert area == pytest.approx(moc_area_deg2(shipped), rel=1e-9)
        assert area == pytest.approx(31.0, abs=0.05)


@pytest.mark.parametrize("name", ["MS181101ab.mock.bayestar.fits",
                                  "S200129m.bayestar.multiorder.fits"])
def test_a_stored_region_evaluates_like_the_whole_map(skymaps_dir, name):
    skymap = read_skymap(skymaps_dir / name)
    data = skymap_to_bytes(skymap, 0.9)
    assert len(data) < 200_000  # ~7,000-8,000 pixels
    stored = skymap_from_bytes(data)
    assert stored.max_level == 0.9 and stored.meta == skymap.meta
    rng = np.random.default_rng(32)
    ra, dec = random_points_in_pixels(skymaps_dir / name, 3000, rng)
    whole, region = evaluate_skymap(ra, dec, skymap), evaluate_skymap(ra, dec, stored)
    inside = whole.contour <= 90.0
    assert 1000 < inside.sum() < 3000
    np.testing.assert_allclose(region.contour[inside], whole.contour[inside], rtol=1e-12)
    np.testing.assert_array_equal(region.probdens[inside], whole.probdens[inside])
    assert np.isnan(region.contour[~inside]).all() and np.isnan(region.probdens[~inside]).all()
    assert stored.credible_region_moc(0.9) == skymap.credible_region_moc(0.9)


def stored_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


GOOD = dict(uniq=np.array([4, 5], np.int64), probdensity=np.array([0.5, 0.4]) * 3 / np.pi,
            max_level=np.float64(0.9), meta=np.str_("{}"))


@pytest.mark.parametrize("data, reason", [
    (b"junk", "not a stored sky map"),
    (stored_bytes(**GOOD)[:-30], "not a stored sky map"),
    (stored_bytes(**{**GOOD, "uniq": np.array([4, 5], object)}), "not a stored sky map"),
    (stored_bytes(**{k: v for k, v in GOOD.items() if k != "meta"}), "not a stored sky map"),
    (stored_bytes(**{**GOOD, "uniq": np.array([4.0, 5.0])}), "int64"),
    (stored_bytes(**{**GOOD, "uniq": np.array([4, 4], np.int64)}), "overlap"),
    (stored_bytes(**{**GOOD, "uniq": np.array([1, 5], np.int64)}), "UNIQ"),
    (stored_bytes(**{**GOOD, "probdensity": np.array([np.nan, 1.0])}), "finite"),
    (stored_bytes(**{**GOOD, "probdensity": np.array([3.0, 3.0])}), "more than"),
    (stored_bytes(**{**GOOD, "max_level": np.float64(2.0)}), "max_level"),
])
def test_bad_stored_maps_give_clear_errors(data, reason):
    with pytest.raises(SkymapError, match=reason) as err:
        skymap_from_bytes(data, "mma_areas 7")
    assert "mma_areas 7" in str(err.value)


def test_a_good_small_stored_map_reads():
    stored = skymap_from_bytes(stored_bytes(**GOOD))
    values = evaluate_skymap([45.0, 135.0, 225.0], [30.0, 30.0, 30.0], stored)
    np.testing.assert_allclose(values.contour, [50.0, 90.0, np.nan])


def test_pixel_centres_fall_in_their_own_pixels(settings_data_dir):
    from solas.skymatch import read_skymap
    from solas.skymatch.sky import healpix_index

    skymap = read_skymap(settings_data_dir / "skymaps" / "S200129m.bayestar.multiorder.fits")
    index = np.random.default_rng(5).choice(skymap.ipix.size, 500, replace=False)
    ra, dec = skymap.pixel_centres(index)
    inside = healpix_index(ra, dec, 29)
    assert np.all((skymap.start29[index] <= inside) & (inside < skymap.end29[index]))
