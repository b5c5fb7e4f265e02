"""Every table of both surveys renders for both stores (DESIGN section 4 names)."""
import pytest

from solas.schema.columns import cql_create, mariadb_create
from solas.schema.tables import (LIGHTCURVE_TYPED, cutout_table, lightcurve_tables,
                                 mariadb_tables)
from solas.surveys import native_fields

DESIGN_TABLES = {"objects", "sherlock_classifications", "watchlists", "watchlist_cones",
                 "watchlist_hits", "watchmaps", "area_hits", "mma_areas", "mma_area_hits",
                 "annotators", "annotations", "filters", "crossmatch_tns", "users",
                 "api_tokens", "catalogues", "catalogue_sources", "email_queue",
                 "filter_emitted", "filter_quota", "housekeeping"}


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_every_mariadb_table_renders(survey):
    specs = {spec.name: spec for spec in mariadb_tables(survey)}
    solar_system = {"ss_objects", "ss_sources"} if survey == "lsst" else set()
    assert set(specs) == DESIGN_TABLES | solar_system
    for spec in specs.values():
        assert mariadb_create(spec).startswith(f"CREATE TABLE IF NOT EXISTS `{spec.name}`")


def test_rubin_objects_have_the_design_columns_and_the_remaining_diaobject_fields():
    objects = next(s for s in mariadb_tables("lsst") if s.name == "objects")
    names = set(objects.column_names)
    assert {"diaObjectId", "decl", "g_psfFlux", "y_psfFluxMeanErr", "nDiaSources",
            "latestPairColourTemp", "penultimatePairColourBands", "jump2", "ebv"} <= names
    assert {"u_psfFluxSigma", "validityStartMjdTai"} <= names  # from the diaObject schema
    assert objects.primary_key == ("diaObjectId",)


def test_ztf_objects_and_keys_of_object_tables():
    specs = {s.name: s for s in mariadb_tables("ztf")}
    assert {"ncand", "dmdt_g", "mag_r28", "g_minus_r", "sgscore1"} <= set(
        specs["objects"].column_names)
    assert specs["area_hits"].primary_key == ("objectId", "ar_id")  # several maps per object
    assert specs["watchlist_hits"].primary_key == ("objectId", "cone_id")


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_light_curve_tables_are_partitioned_by_object_and_clustered_by_time(survey):
    for spec in lightcurve_tables(survey).values():
        ddl = cql_create(spec, "ks")
        assert spec.primary_key[0] in ("objectId", "diaObjectId")
        assert spec.primary_key[1] in ("jd", "midpointMjdTai")
        assert "CLUSTERING ORDER BY" in ddl
    detections = lightcurve_tables(survey)["detections"]
    native = {n for n, _ in native_fields(survey)["detections"]}
    declared = {*detections.column_names, *detections.packed_names}
    assert len(native) > 50 and native <= declared  # every native column is kept
    assert "extra" in detections.column_names and len(detections.column_names) < 15
    assert "default_time_to_live" in cql_create(cutout_table(survey, 86400), "ks")


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_the_typed_light_curve_columns_are_native_columns_and_not_packed_as_well(survey):
    for kind, spec in lightcurve_tables(survey).items():
        native = {n for n, _ in native_fields(survey).get(kind, [])}
        assert set(LIGHTCURVE_TYPED[survey][kind]) <= native <= {
            *spec.column_names, *spec.packed_names}
        assert not set(spec.column_names) & set(spec.packed_names)
