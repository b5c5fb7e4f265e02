"""Watchmap MOCs: reading and validation, and the merged index against mocpy."""
import gzip
import io

import numpy as np
import pytest
import astropy.units as u
from astropy.io import fits
from cdshealpix import nested
from mocpy import MOC

from solas.skymatch import (MocError, MocIndex, SkymapError, moc_area_deg2, moc_to_fits_bytes,
                            read_moc_fits, read_skymap, read_watchmap_fits)

from .sky_samples import random_sky


def read(path):
    return read_moc_fits(path.read_bytes(), source=path.name)


def mocpy_hits(moc, ra, dec):
    return np.flatnonzero(moc.contains_lonlat(ra * u.deg, dec * u.deg))


def points_near(moc, rng, n, spread_deg=1.0):
    """Random points within about ``spread_deg`` of random cells of a MOC."""
    ranges = moc.to_depth29_ranges
    lon, lat = nested.healpix_to_lonlat(ranges[rng.integers(0, len(ranges), n), 0], 29)
    ra = (lon.deg + rng.normal(0, spread_deg, n) / np.cos(np.radians(lat.deg))) % 360
    dec = np.clip(lat.deg + rng.normal(0, spread_deg, n), -90, 90)
    return ra, dec


@pytest.fixture(scope="module")
def s200129m_90(skymaps_dir):
    return read_skymap(skymaps_dir / "S200129m.bayestar.multiorder.fits").credible_region_moc(0.9)


@pytest.mark.parametrize("which", ["S200129m 90%", "V_147_sdss12.moc.fits",
                                   "P-GALEXGR6-AIS-FUV.fits"])
def test_single_map_agrees_with_mocpy_contains(skymaps_dir, s200129m_90, which):
    moc = s200129m_90 if which.startswith("S2") else read(skymaps_dir / which)
    rng = np.random.default_rng(len(which))
    ra_u, dec_u = random_sky(rng, 60_000)
    ra_n, dec_n = points_near(moc, rng, 60_000, spread_deg=0.3)
    ra, dec = np.concatenate([ra_u, ra_n]), np.concatenate([dec_u, dec_n])
    index = MocIndex()
    index.add_moc(42, moc)
    hits = index.match_to_mocs(ra, dec)
    expected = mocpy_hits(moc, ra, dec)
    assert 1000 < expected.size < ra.size - 1000  # points on both sides of the border
    np.testing.assert_array_equal(hits.alert_index, expected)
    assert set(hits.ar_id.tolist()) == {42}


@pytest.fixture(scope="module")
def hundred_maps(skymaps_dir, s200129m_90):
    rng = np.random.default_rng(11)
    maps = {1: read(skymaps_dir / "V_147_sdss12.moc.fits"),
            2: read(skymaps_dir / "P-GALEXGR6-AIS-FUV.fits"),
            3: s200129m_90, 4: read(skymaps_dir / "MS181101ab.mock.90pct.moc.fits")}
    ra, dec = random_sky(rng, 96)
    for i in range(96):
        radius = 10 ** rng.uniform(-1, 1.5)
        order = int(rng.integers(6, 16))
        maps[100 + i] = MOC.from_cone(lon=ra[i] * u.deg, lat=dec[i] * u.deg,
                                      radius=radius * u.deg, max_depth=order)
    return maps


def test_hundred_merged_maps_answer_like_a_loop_over_maps(hundred_maps):
    rng = np.random.default_rng(12)
    ra, dec = random_sky(rng, 50_000)
    index = MocIndex()
    for ar_id, moc in hundred_maps.items():
        index.add_moc(ar_id, moc)
    hits = index.match_to_mocs(ra, dec)
    expected = sorted((a, ar_id) for ar_id, moc in hundred_maps.items()
                      for a in mocpy_hits(moc, ra, dec).tolist())
    assert len(expected) > 50_000 * 0.5
    assert list(zip(hits.alert_index.tolist(), hits.ar_id.tolist())) == expected
    assert len(index) == 100


def test_adding_and_removing_maps(hundred_maps):
    rng = np.random.default_rng(13)
    ra, dec = random_sky(rng, 20_000)
    index = MocIndex()
    for ar_id in (1, 2, 4):
        index.add_moc(ar_id, hundred_maps[ar_id])
    assert index.remove_moc(2) and not index.remove_moc(2) and 2 not in index
    index.add_moc(4, hundred_maps[3])  # replaces map 4
    hits = index.match_to_mocs(ra, dec)
    expected = sorted([(a, 1) for a in mocpy_hits(hundred_maps[1], ra, dec).tolist()]
                      + [(a, 4) for a in mocpy_hits(hundred_maps[3], ra, dec).tolist()])
    assert list(zip(hits.alert_index.tolist(), hits.ar_id.tolist())) == expected
    assert index.ar_ids == {1, 4}


def test_empty_index_matches_nothing():
    hits = MocIndex().match_to_mocs([10.0, 20.0], [0.0, 5.0])
    assert hits.alert_index.size == 0 and hits.ar_id.size == 0


def test_fits_bytes_round_trip(skymaps_dir):
    for name in ("V_147_sdss12.moc.fits", "MS181101ab.mock.90pct.moc.fits"):
        moc = read(skymaps_dir / name)
        assert read_moc_fits(moc_to_fits_bytes(moc)) == moc
    assert moc_area_deg2(read(skymaps_dir / "MS181101ab.mock.90pct.moc.fits")) == \
        pytest.approx(31.0, abs=0.05)


def test_watchmap_uploads_take_mocs_or_sky_maps(skymaps_dir):
    shipped = read(skymaps_dir / "MS181101ab.mock.90pct.moc.fits")
    from_map = read_watchmap_fits((skymaps_dir / "MS181101ab.mock.bayestar.fits").read_bytes())
    assert from_map == shipped
    gzipped = gzip.compress((skymaps_dir / "MS181101ab.mock.90pct.moc.fits").read_bytes())
    assert read_watchmap_fits(gzipped) == shipped
    with pytest.raises(MocError, match="neither a MOC .* nor a sky map"):
        read_watchmap_fits(b"junk", source="x.fits")


def nuniq_fits(values, fmt="K", ordering="NUNIQ", extra_columns=()):
    columns = [fits.Column(name="UNIQ", format=fmt, array=np.array(values)), *extra_columns]
    table = fits.BinTableHDU.from_columns(columns)
    table.header["PIXTYPE"] = "HEALPIX"
    table.header["ORDERING"] = ordering
    table.header["MOCORDER"] = 29
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    return buf.getvalue()


def test_a_small_handmade_moc_is_read():
    moc = read_moc_fits(nuniq_fits([4 * 4 ** 3 + 5, 4 + 11]))
    np.testing.assert_array_equal(moc.to_depth29_ranges,
                                  MOC.from_str("0/11 3/5").to_depth29_ranges)


@pytest.mark.parametrize("data, reason", [
    (b"", "not a readable FITS file"),
    (b"SIMPLE  = T" + b" " * 5000, "not a readable FITS file"),
    (nuniq_fits([4, 5])[:3000], "(?s)no binary table.*corrupted"),
    (nuniq_fits([0, 1, 2]), "invalid NUNIQ"),
    (nuniq_fits([-5]), "invalid NUNIQ"),
    (nuniq_fits([4 ** 31]), "invalid NUNIQ"),
    (nuniq_fits([], fmt="K"), "no cells"),
    (nuniq_fits([4.5], fmt="D"), "one integer column"),
    (nuniq_fits([4], ordering="NESTED"), "ORDERING"),
    (nuniq_fits([6, 4], ordering="RANGE"), "RANGE values"),
])
def test_malformed_mocs_give_clear_errors(data, reason):
    with pytest.raises(MocError, match=reason) as err:
        read_moc_fits(data, source="bad.fits")
    assert "bad.fits" in str(err.value)


def test_a_sky_map_or_truncated_file_is_not_taken_for_a_moc(skymaps_dir):
    with pytest.raises(MocError, match="one integer column"):
        read(skymaps_dir / "S200129m.bayestar.multiorder.fits")
    data = (skymaps_dir / "P-GALEXGR6-AIS-FUV.fits").read_bytes()
    with pytest.raises(MocError, match="truncated|not a readable"):
        read_moc_fits(data[: len(data) // 2])
    with pytest.raises(MocError, match="bytes"):
        read_moc_fits(str(skymaps_dir / "P-GALEXGR6-AIS-FUV.fits"))


@pytest.mark.parametrize("data", [b"", b"SIMPLE  = T" + b" " * 5000, b"\x1f\x8bbroken",
                                  b"x" * 2880, nuniq_fits([4, 5])[:3000]])
def test_fits_errors_are_plain_words_without_library_internals(data):
    """Issue 32 item 6: the errors quoted astropy's own messages and warnings."""
    with pytest.raises(MocError) as err:
        read_moc_fits(data, source="bad.fits")
    text = str(err.value)
    for internal in ("astropy", "Header", "card", "HDU", "Errno", "VerifyError", "offset",
                     "NoneType", "padding", "numpy"):
        assert internal not in text, text


def test_a_gzip_bomb_is_refused_without_inflating_it():
    """Issue 32 item 3: 1 MB of .fits.gz holding 1 GiB of zeros grew the portal by 3 GB."""
    import resource

    from solas.skymatch.gzipped import gunzip
    bomb = gzip.compress(nuniq_fits([4, 5]) + b"\0" * (64 * 2**20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(MocError, match="decompresses to more than 8,388,608 bytes"):
        read_moc_fits(bomb, source="bomb.fits.gz", max_bytes=8 * 2**20)
    with pytest.raises(SkymapError, match="decompresses to more than 8,388,608 bytes"):
        read_skymap(bomb, "bomb.fits.gz", max_bytes=8 * 2**20)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 40 * 1024  # well under the 64 MiB it holds
    two = gzip.compress(b"ab") + gzip.compress(b"cd")
    assert gunzip(two, 4) == b"abcd"
    with pytest.raises(EOFError):
        gunzip(gzip.compress(b"x" * 1000)[:-12])


def test_a_moc_larger_than_the_sky_is_refused():
    """Issue 32 item 3: overlapping cells gave a 110,008 deg2 watchmap."""
    sky = 12 * 4 ** 29  # cells of order 29
    for ranges in ([0, sky, 0, sky, 0, sky // 3 * 2], [0, sky, sky, 2 * sky]):
        with pytest.raises(MocError, match="110,008|82,506") as err:
            read_moc_fits(nuniq_fits(ranges, ordering="RANGE"), source="twice.fits")
        assert "exceeds the whole sky" in str(err.value)
    assert moc_area_deg2(read_moc_fits(nuniq_fits([4 + i for i in range(12)]))) == \
        pytest.approx(41_252.96, rel=1e-4)
