"""Every catalogue loader reads its real file: row counts, and fields checked against an
independent read of the same file (sqlite3, astropy, numpy)."""
from __future__ import annotations

import csv
import gzip
import sqlite3

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.table import Table

from catalogs.loaders import gcvs_role, median_direct_distances, normalise_name, \
    with_direct_distances
from catalogs.model import ROW_FIELDS, Role, rows_from_columns
from catalogs.sources import CATALOGUES, catalogue_path, iter_catalogue, read_catalogue

# Rows per file. From data/SOURCES.md, except veron_cetty (the file holds 50 data rows:
# it is a VizieR query with -out.max=50; SOURCES.md says 55) and ned_d (14 data rows
# after the 13 header lines; SOURCES.md says 13).
EXPECTED_ROWS = {
    "openngc": 14_033, "hipparcos2": 117_955, "gcvs": 59_099, "spicy": 117_446,
    "fermi_4lac_dr3_h": 3_407, "fermi_4lac_dr3_l": 407, "3hsp": 2_013, "fermi_4fgl": 3_637,
    "yale_bsc5": 9_096, "milliquas": 1_000, "veron_cetty": 50, "ned_d": 14,
    "glade_plus": 101, "clu": 92,
}


def test_every_catalogue_is_declared_with_provenance():
    assert set(CATALOGUES) == set(EXPECTED_ROWS)
    for name, cat in CATALOGUES.items():
        assert cat.name == name and len(name) <= 64
        assert cat.provenance.source and cat.provenance.licence and cat.provenance.url
        assert isinstance(cat.role, Role)


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_row_counts(catalogues, name):
    rows = catalogues[name]
    assert len(rows) == EXPECTED_ROWS[name]
    for field in ROW_FIELDS:
        assert len(getattr(rows, field)) == EXPECTED_ROWS[name]
    located = np.isfinite(rows.ra)
    assert ((rows.ra[located] >= 0) & (rows.ra[located] < 360)).all()
    assert (np.abs(rows.dec[located]) <= 90).all()


@pytest.mark.parametrize("name,batch", [("gcvs", 20_000), ("hipparcos2", 50_000),
                                        ("openngc", 4_000), ("fermi_4lac_dr3_h", 1_000)])
def test_batches_are_bounded(data_dir, name, batch):
    sizes = [len(b) for b in iter_catalogue(name, catalogue_path(name, data_dir), batch)]
    assert max(sizes) == batch and sum(sizes) == EXPECTED_ROWS[name]


def test_openngc_matches_sqlite(catalogues, data_dir):
    rows = catalogues["openngc"]
    with sqlite3.connect(catalogue_path("openngc", data_dir)) as db:
        n_gal, n_z = db.execute("SELECT count(*), count(redshift) FROM objects "
                                "WHERE type = 'G'").fetchone()
        ra, dec, majax, z, bmag = db.execute(
            "SELECT ra, dec, majax, redshift, bmag FROM objects WHERE name = 'NGC1086'"
        ).fetchone()
    galaxy = rows.role == Role.GALAXY
    assert (n_gal, n_z) == (10_521, 9_980) == (galaxy.sum(), np.isfinite(rows.z[galaxy]).sum())
    i = list(rows.id).index("NGC1086")
    assert rows.ra[i] == pytest.approx(np.degrees(ra), abs=1e-12)
    assert rows.dec[i] == pytest.approx(np.degrees(dec), abs=1e-12)
    assert rows.major_axis[i] == pytest.approx(majax * 60)
    assert (rows.z[i], rows.mag[i], rows.mag_filter[i]) == (z, bmag, "B")


def test_hipparcos_positions_moved_by_proper_motion(catalogues, data_dir):
    """Barnard's star (HIP 87937) and HIP 1: the loader's position is the 1991.25 one
    moved by pm * 28.75 yr (astropy separation and position angle as the oracle)."""
    rows = catalogues["hipparcos2"]
    with open(catalogue_path("hipparcos2", data_dir)) as handle:
        lines = {int(line[:6]): line for line in handle if int(line[:6]) in (1, 87937)}
    for hip, line in lines.items():
        start = SkyCoord(float(line[15:28]) * u.rad, float(line[29:42]) * u.rad)
        pmra, pmde = float(line[51:59]), float(line[60:68])
        i = list(rows.id).index(f"HIP {hip}")
        end = SkyCoord(rows.ra[i] * u.deg, rows.dec[i] * u.deg)
        years = 2020.0 - 1991.25
        assert start.separation(end).to_value(u.mas) == pytest.approx(
            np.hypot(pmra, pmde) * years, rel=1e-4)
        assert start.position_angle(end).to_value(u.deg) % 360 == pytest.approx(
            np.degrees(np.arctan2(pmra, pmde)) % 360, abs=0.01)
        assert rows.mag[i] == float(line[129:136]) and rows.mag_filter[i] == "Hp"
    assert (rows.role == Role.BRIGHT_STAR).sum() == (rows.mag <= 13.0).sum()


def test_gcvs_roles_follow_variability_class(catalogues):
    for kind, role in [("UGSU", Role.CV), ("NL+E", Role.CV), ("EA/WD+NL", Role.CV),
                       ("E+AM:", Role.CV), ("NA", Role.CV), ("M+ZAND", Role.CV),
                       ("RRAB", Role.VARIABLE_STAR), ("UG:", Role.CV), ("", Role.VARIABLE_STAR),
                       ("BLLAC", Role.AGN), ("SNI", Role.NONE), ("INST(YY)", Role.VARIABLE_STAR)]:
        assert gcvs_role(kind) == role, kind
    rows = catalogues["gcvs"]
    assert (rows.type[0], rows.role[0]) == ("SNI", Role.NONE)  # S And, a supernova in M31
    assert (rows.role == Role.CV).sum() > 1000


def test_gcvs_and_spicy_match_csv(catalogues, data_dir):
    for name, cols in (("gcvs", ("ra", "dec", "VarType")),
                       ("spicy", ("RAdeg", "DEdeg", "class"))):
        with gzip.open(catalogue_path(name, data_dir), "rt") as handle:
            table = list(csv.DictReader(handle))
        rows = catalogues[name]
        assert np.array_equal(rows.ra, [float(r[cols[0]]) for r in table])
        assert np.array_equal(rows.dec, [float(r[cols[1]]) for r in table])
        assert list(rows.type) == [r[cols[2]].strip() for r in table]
    assert set(catalogues["spicy"].role) == {Role.YSO}


@pytest.mark.parametrize("name", ["fermi_4lac_dr3_h", "fermi_4lac_dr3_l"])
def test_4lac_matches_astropy_table(catalogues, data_dir, name):
    table = Table.read(catalogue_path(name, data_dir), hdu=1)
    rows = catalogues[name]
    assert np.allclose(rows.ra, table["RA_Counterpart"]) and np.allclose(rows.dec,
                                                                         table["DEC_Counterpart"])
    z = np.asarray(table["Redshift"], float)
    assert np.array_equal(np.isfinite(rows.z), np.isfinite(z) & (z > 0))
    assert list(rows.type) == [c.strip() for c in table["CLASS"]]
    assert set(rows.role) == {Role.AGN}
    assert rows.id[0] == ("B3 2358+474" if name.endswith("h") else "TXS 0008+704")


def test_sexagesimal_catalogues_match_astropy(catalogues, data_dir):
    rows = catalogues["3hsp"]
    with open(catalogue_path("3hsp", data_dir)) as handle:
        table = list(csv.reader(handle, skipinitialspace=True))[1:]
    step = 5  # astropy's parser is slow: every 5th row
    oracle = SkyCoord([t[3] for t in table[::step]], [t[4] for t in table[::step]],
                      unit=(u.hourangle, u.deg))
    assert np.allclose(rows.ra[::step], oracle.ra.deg, atol=1e-9)
    assert np.allclose(rows.dec[::step], oracle.dec.deg, atol=1e-9)
    assert rows.id[0] == "3HSPJ000116.4+293534"

    import json
    stars = json.loads(catalogue_path("yale_bsc5", data_dir).read_text())[::step]
    rows = catalogues["yale_bsc5"]
    assert np.allclose(rows.ra[::step], Angle([s["RA"] for s in stars]).deg, atol=1e-9)
    assert np.allclose(rows.dec[::step], Angle([s["Dec"] for s in stars]).deg, atol=1e-9)
    assert list(rows.id[:2]) == ["HR 1", "HR 2"]
    assert rows.mag[list(rows.id).index("HR 15")] == 2.06


def test_milliquas_fixed_width(catalogues, data_dir):
    rows = catalogues["milliquas"]
    ra, dec = np.loadtxt(catalogue_path("milliquas", data_dir), usecols=(0, 1), unpack=True)
    assert np.array_equal(rows.ra, ra) and np.array_equal(rows.dec, dec)
    assert (rows.id[0], rows.type[0], rows.mag[0], rows.mag_filter[0], rows.z[0]) == \
        ("UVQSJ000000.15-200427.7", "QX", 17.8, "R", 0.291)
    photometric = np.array(["q" in t for t in rows.type])
    assert np.isnan(rows.z[photometric]).all()
    assert rows.photo_z[1] == 1.0 and photometric.sum() > 500


def test_veron_vizier_tsv(catalogues):
    rows = catalogues["veron_cetty"]
    assert (rows.id[0], rows.ra[0], rows.dec[0], rows.type[0], rows.z[0], rows.mag[0]) == \
        ("FIRST J00000-0202", 0.0054, -2.0333, "Q", 1.356, 19.64)
    assert (rows.id[-1], rows.z[-1], rows.mag_filter[-1]) == ("2QZ J000036-3156", 2.463, "pg")


def test_gamma_ray_ellipses(catalogues, data_dir):
    rows = catalogues["fermi_4fgl"]
    with open(catalogue_path("fermi_4fgl", data_dir)) as handle:
        table = list(csv.DictReader(handle))
    assert np.allclose(rows.major_axis, [2 * 3600 * float(t["amaj"]) for t in table])
    assert np.allclose(rows.position_angle, [float(t["phi"]) for t in table])
    assert rows.id[0] == "4FGL J0000.3-7355" and set(rows.role) == {Role.GAMMA}


def test_galaxy_catalogues(catalogues):
    glade = catalogues["glade_plus"]
    assert (glade.id[0], glade.mag[0], glade.z[0], glade.distance[0], glade.direct[0]) == \
        ("NGC4736", 8.8, 0.00099057, 4.392418, False)
    photometric = np.isfinite(glade.photo_z)
    assert photometric.any() and np.isnan(glade.z[photometric]).all()
    clu = catalogues["clu"]
    i = list(clu.id).index("2dFGRS S509Z039")
    assert clu.major_axis[i] == pytest.approx(0.0291556 * 3600)
    assert clu.distance[i] == pytest.approx(146.98529052734375) and not clu.direct.any()


def test_ned_d_direct_distances(catalogues):
    rows = catalogues["ned_d"]
    assert rows.direct.all() and (rows.role == Role.NONE).all()
    medians = median_direct_distances(rows)
    assert medians["UGC12889"] == pytest.approx(np.median([68.0, 85.6, 86.1, 86.9]))
    assert medians["SDSS-IISN14480"] == pytest.approx(np.median([1090, 1640]))  # R rows out
    assert medians["SDSS-IISN13651"] == pytest.approx(1905.0)  # only flagged rows: kept
    assert normalise_name("NGC 0224") == "NGC224" == normalise_name("ngc224")
    galaxies = rows_from_columns({"id": ["UGC 12889", "NGC 1"], "role": [Role.GALAXY] * 2,
                                  "distance": [50.0, np.nan]}, 2)
    joined = with_direct_distances(galaxies, medians)
    assert list(joined.direct) == [True, False]
    assert joined.distance[0] == medians["UGC12889"] and np.isnan(joined.distance[1])


def test_unknown_catalogue_and_missing_file(tmp_path):
    with pytest.raises(KeyError, match="unknown catalogue"):
        read_catalogue("nope", tmp_path)
    with pytest.raises(FileNotFoundError):
        read_catalogue("gcvs", tmp_path / "gcvs.csv.gz")
