"""Sherlock-style classification: real cases from the shipped catalogues and alerts,
the precedence rules on small synthetic catalogues, the reported columns and their
conventions."""
from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from catalogs.classifier import (ANNOTATOR, InvalidPositionError, SherlockResult,
                                 build_index, catalogue_version, classify_positions)
from catalogs.cosmology import COSMOLOGY
from catalogs.loaders import normalise_name
from catalogs.model import Role, empty_rows, rows_from_columns
from catalogs.rules import bright_star_radius_arcsec, galaxy_radius_arcsec
from solas.schema.tables import mariadb_tables
from solas.surveys import normalise, read_alert_file

AGN_CATALOGUES = {"fermi_4lac_dr3_h", "fermi_4lac_dr3_l", "3hsp", "milliquas", "veron_cetty"}


def offset(ra: float, dec: float, north_arcsec: float, east_arcsec: float):
    """The position ``north``/``east`` arcsec from (ra, dec) (astropy as the oracle)."""
    start = SkyCoord(ra * u.deg, dec * u.deg)
    sep = np.hypot(north_arcsec, east_arcsec) * u.arcsec
    end = start.directional_offset_by(np.arctan2(east_arcsec, north_arcsec) * u.rad, sep)
    return end.ra.deg, end.dec.deg


def classify_one(index, ra, dec) -> SherlockResult:
    return classify_positions([ra], [dec], index).results[0]


def rows_of(index, name):
    part = index.catalogue == index.catalogue_names.index(name)
    return np.flatnonzero(part)


# ------------------------------------------------------------------ real cases

def test_result_fields_are_the_table_columns():
    spec = next(t for t in mariadb_tables("ztf") if t.name == "sherlock_classifications")
    assert list(SherlockResult._fields) == spec.column_names[1:]


def test_fermi_blazars_are_agn(sherlock_index):
    rows = sherlock_index.rows
    picked = rows_of(sherlock_index, "fermi_4lac_dr3_h")[::170]
    ra, dec = zip(*(offset(rows.ra[i], rows.dec[i], 0.3, 0.2) for i in picked))
    results = classify_positions(ra, dec, sherlock_index).results
    assert [r.classification for r in results] == ["AGN"] * len(picked)
    assert all(r.association_type == "SYNONYM" and r.classificationReliability == 1
               and r.catalogue_table_name in AGN_CATALOGUES for r in results)
    own = [r for r, i in zip(results, picked) if r.catalogue_table_name == "fermi_4lac_dr3_h"]
    assert len(own) >= len(picked) // 2
    assert all(r.catalogue_object_id in set(rows.id[picked]) for r in own)


def test_gcvs_variables_and_cvs(sherlock_index):
    rows = sherlock_index.rows
    gcvs = rows_of(sherlock_index, "gcvs")
    for role, expected in ((Role.VARIABLE_STAR, "VS"), (Role.CV, "CV")):
        picked = gcvs[rows.role[gcvs] == role][::97][:12]
        ra, dec = zip(*(offset(rows.ra[i], rows.dec[i], -0.4, 0.5) for i in picked))
        results = classify_positions(ra, dec, sherlock_index).results
        assert [r.classification for r in results] == [expected] * len(picked)
        assert [r.catalogue_object_id for r in results] == list(rows.id[picked])
        assert all(r.catalogue_table_name == "gcvs" for r in results)
        assert all(r.separationArcsec == pytest.approx(np.hypot(0.4, 0.5), abs=1e-6)
                   for r in results)
        assert all(f"gcvs #{r.catalogue_object_id}" in r.description for r in results)


def test_inside_big_galaxies_is_sn_and_core_is_nt(sherlock_index):
    rows = sherlock_index.rows
    ongc = rows_of(sherlock_index, "openngc")
    big = ongc[(rows.role[ongc] == Role.GALAXY) & (rows.major_axis[ongc] > 300)]
    assert len(big) > 50
    for i in big[::10]:
        size = rows.major_axis[i]
        inside = offset(rows.ra[i], rows.dec[i], 0.1 * size, 0.05 * size)
        sn = classify_one(sherlock_index, *inside)
        core = classify_one(sherlock_index, *offset(rows.ra[i], rows.dec[i], 0.3, -0.4))
        assert core.classification == "NT", rows.id[i]
        assert normalise_name(core.catalogue_object_id) == normalise_name(rows.id[i])
        if sn.classification != "BS":  # a bright star may sit in a big galaxy's disc
            assert sn.classification == "SN", rows.id[i]
            assert sn.association_type == "ASSOCIATION" and sn.classificationReliability == 2
            assert sn.major_axis_arcsec is not None and sn.separationArcsec < sn.major_axis_arcsec


def test_real_supernovae_in_their_hosts(sherlock_index, data_dir):
    """SN 2021rhu (ZTF21abiuvdk) in NGC 7814 and SN 2020oi (ZTF20aaelulu) in M100."""
    alerts = data_dir / "alerts" / "ztf"
    cases = {"ZTF21abiuvdk": "NGC7814", "ZTF20aaelulu": "NGC4321"}
    found = {}
    for path in sorted(alerts.rglob("*.avro")):
        for raw in read_alert_file(path):
            alert = normalise(raw, "ztf")
            if alert.object_id in cases:
                found[alert.object_id] = classify_one(sherlock_index, alert.ra, alert.dec)
    assert set(found) == set(cases)
    for object_id, host in cases.items():
        result = found[object_id]
        assert (result.classification, result.catalogue_object_id) == ("SN", host)
        d_a = COSMOLOGY.angular_diameter_distance(result.z).to_value(u.kpc)
        assert result.physical_separation_kpc == pytest.approx(
            d_a * np.radians(result.separationArcsec / 3600), rel=1e-6)
        assert "likely a supernova" in result.description


def test_next_to_a_bright_star_is_bs(sherlock_index):
    rows = sherlock_index.rows
    bsc = rows_of(sherlock_index, "yale_bsc5")
    i = bsc[list(rows.id[bsc]).index("HR 15")]  # Alpheratz, V = 2.06
    result = classify_one(sherlock_index, *offset(rows.ra[i], rows.dec[i], 60.0, 0.0))
    assert result.classification == "BS" and result.classificationReliability == 2
    assert result.catalogue_table_name in ("yale_bsc5", "hipparcos2")
    assert result.separationArcsec == pytest.approx(60.0, abs=2.0)
    assert result.Mag == pytest.approx(2.06, abs=0.1)
    on_star = classify_one(sherlock_index, *offset(rows.ra[i], rows.dec[i], 0.2, 0.0))
    assert on_star.classification == "VS"


def test_empty_sky_is_orphan(sherlock_index):
    result = classify_one(sherlock_index, 200.0, -60.5)
    assert result.classification == "ORPHAN" and result.catalogue_table_name is None
    assert result.annotator == ANNOTATOR and "orphan" in result.description


# ------------------------------------------------------- rules on synthetic skies

def catalogue(**columns):
    n = len(columns["ra"])
    return rows_from_columns({"id": [f"S{i}" for i in range(n)], **columns}, n)


def test_synonyms_outrank_associations_and_specific_roles_win():
    index = build_index({
        "galaxies": catalogue(ra=[150.0, 160.0], dec=[10.0, 10.0], role=[Role.GALAXY] * 2,
                              major_axis=[60.0, 60.0], mag=[14.0, 14.0], mag_filter=["B", "B"],
                              z=[0.02, 0.02]),
        "agn": catalogue(ra=[150.0], dec=[10.0], role=[Role.AGN], type=["Q"]),
        "stars": catalogue(ra=[160.0], dec=[10.0 + 10 / 3600], role=[Role.STAR], mag=[15.0]),
        "variables": catalogue(ra=[170.0, 170.0], dec=[0.0, 0.0 + 0.5 / 3600],
                               role=[Role.VARIABLE_STAR, Role.CV], type=["RRAB", "UGSU"]),
    })
    near_core = offset(150.0, 10.0, 0.5, 0.0)
    near_star = offset(160.0, 10.0 + 10 / 3600, 0.5, 0.0)
    results = classify_positions(*zip(near_core, near_star, (170.0, 0.0),
                                      offset(160.0, 10.0, 20.0, 0.0)), index).results
    assert [r.classification for r in results] == ["AGN", "VS", "CV", "SN"]
    assert [r.catalogue_table_name for r in results] == ["agn", "stars", "variables", "galaxies"]
    assert results[2].catalogue_object_type == "UGSU"


def test_association_closest_relative_to_radius_wins():
    index = build_index({
        "galaxy": catalogue(ra=[10.0], dec=[0.0], role=[Role.GALAXY], major_axis=[400.0]),
        "star": catalogue(ra=[10.0 + 100 / 3600], dec=[0.0], role=[Role.BRIGHT_STAR],
                          mag=[8.0], mag_filter=["V"]),
    })
    star_radius = bright_star_radius_arcsec(np.array([8.0]))[0]
    assert star_radius == pytest.approx(10 ** 1.7)
    by_star = classify_one(index, *offset(10.0 + 100 / 3600, 0.0, 0.0, 5.0))
    by_galaxy = classify_one(index, *offset(10.0, 0.0, 0.0, 40.0))
    assert (by_star.classification, by_galaxy.classification) == ("BS", "SN")


def test_gamma_ray_ellipse_is_a_weak_agn_association():
    # ellipse 600" x 200" (full axes), major axis along east-west (PA 90)
    index = build_index({"gamma": catalogue(ra=[30.0], dec=[0.0], role=[Role.GAMMA],
                                            major_axis=[600.0], minor_axis=[200.0],
                                            position_angle=[90.0])})
    east = classify_one(index, *offset(30.0, 0.0, 0.0, 250.0))
    north = classify_one(index, *offset(30.0, 0.0, 250.0, 0.0))
    assert (east.classification, east.classificationReliability) == ("AGN", 3)
    assert north.classification == "ORPHAN"


def test_separation_conventions_and_physical_scale():
    index = build_index({
        "near": catalogue(ra=[359.9999], dec=[0.0], role=[Role.GALAXY], distance=[10.0],
                          direct=[True], major_axis=[120.0]),
        "far": catalogue(ra=[100.0], dec=[-30.0], role=[Role.GALAXY], z=[0.05],
                         major_axis=[30.0]),
    })
    across = classify_one(index, 0.0001, 0.0001)
    assert across.eastSeparationArcsec == pytest.approx(0.72, rel=1e-6)
    assert across.northSeparationArcsec == pytest.approx(0.36, rel=1e-6)
    assert across.classification == "NT" and across.direct_distance == 10.0
    assert across.physical_separation_kpc == pytest.approx(
        10_000 * np.radians(across.separationArcsec / 3600), rel=1e-9)
    south_west = classify_one(index, *offset(100.0, -30.0, -6.0, -8.0))
    assert south_west.northSeparationArcsec == pytest.approx(-6.0, abs=1e-6)
    assert south_west.eastSeparationArcsec == pytest.approx(-8.0, abs=1e-6)
    assert south_west.separationArcsec == pytest.approx(10.0, abs=1e-6)
    d_a = COSMOLOGY.angular_diameter_distance(0.05).to_value(u.kpc)
    assert south_west.physical_separation_kpc == pytest.approx(d_a * np.radians(10 / 3600),
                                                               rel=1e-6)
    d_l = COSMOLOGY.luminosity_distance(0.05).to_value(u.Mpc)
    assert south_west.distance == pytest.approx(d_l) and south_west.direct_distance is None
    assert south_west.description == (
        f'Transient is 10.0" ({south_west.physical_separation_kpc:.2f} kpc) from the core of '
        f"S0 (z=0.050, {d_l:.1f} Mpc); likely a supernova.")


def test_galaxy_radius_terms():
    radius = galaxy_radius_arcsec(
        major_axis_arcsec=np.array([100.0, np.nan, np.nan, np.nan, 1e6]),
        mag=np.array([np.nan, np.nan, 13.5, np.nan, 10.0]),
        optical=np.array([False, False, True, False, True]),
        distance_mpc=np.array([np.nan, 100.0, np.nan, np.nan, 10.0]),
        kpc_per_arcsec=np.array([np.nan, 0.5, np.nan, np.nan, 0.05]))
    assert radius.tolist() == [75.0, 20.0, 60.0, 5.0, 7200.0]


def test_empty_catalogue_and_bad_positions():
    index = build_index({"gcvs": empty_rows()})
    batch = classify_positions([10.0, 20.0], [0.0, 89.0], index)
    assert [r.classification for r in batch.results] == ["ORPHAN", "ORPHAN"]
    assert classify_positions([], [], index).results == []
    with pytest.raises(InvalidPositionError, match="position 1"):
        classify_positions([10.0, np.nan], [0.0, 0.0], index)
    with pytest.raises(InvalidPositionError):
        classify_positions([10.0], [91.0], index)


def test_catalogue_version_tracks_names_and_counts(sherlock_index):
    counts = dict(sherlock_index.counts)
    assert sherlock_index.version == catalogue_version(counts)
    assert catalogue_version({**counts, "gcvs": counts["gcvs"] + 1}) != sherlock_index.version
    assert catalogue_version({"x": 1}) != catalogue_version({"y": 1})
    batch = classify_positions([1.0], [1.0], sherlock_index)
    assert batch.catalogue_version == sherlock_index.version


def test_every_result_of_the_shipped_alerts_is_complete(sherlock_index, alert_positions):
    ra, dec = alert_positions
    batch = classify_positions(ra, dec, sherlock_index)
    assert len(batch.results) == len(ra)
    classes = {r.classification for r in batch.results}
    assert {"SN", "VS", "AGN", "ORPHAN"} <= classes
    for r in batch.results:
        assert r.annotator == ANNOTATOR and r.description and r.summary
        assert all(type(v) in (str, float, int, type(None)) for v in r)  # plain, JSON-able
        if r.classification != "ORPHAN":
            assert r.catalogue_table_name in sherlock_index.catalogue_names
            assert r.separationArcsec == pytest.approx(
                np.hypot(r.northSeparationArcsec, r.eastSeparationArcsec), rel=1e-9)
            assert r.classificationReliability in (1, 2, 3)
            assert all(not isinstance(v, float) or np.isfinite(v) for v in r)
