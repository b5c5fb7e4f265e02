"""Good filters are accepted and give the expected MariaDB SQL, on demand and streaming."""
import numpy as np
import pytest

from solas.filters import (FilterError, ObjectIdList, TablesSpec, build_query,
                           compile_filter, object_id_list, parse_tables, render_query)

DESIGN_SQL = (
    "SET STATEMENT max_statement_time=10 FOR SELECT objects.diaObjectId, "
    "objects.r_psfFlux, watchlist_hits.name FROM objects "
    "JOIN sherlock_classifications ON sherlock_classifications.diaObjectId = "
    "objects.diaObjectId "
    "JOIN watchlist_hits ON watchlist_hits.diaObjectId = objects.diaObjectId "
    "AND watchlist_hits.wl_id = 12 "
    "WHERE (objects.nDiaSources >= 3 AND sherlock_classifications.classification IN "
    "('SN', 'NT')) LIMIT 100 OFFSET 0")


def design_filter(**kwargs):
    return build_query("objects.diaObjectId, objects.r_psfFlux, watchlist_hits.name",
                       "objects, sherlock_classifications, watchlist:12",
                       "objects.nDiaSources >= 3 AND "
                       "sherlock_classifications.classification IN ('SN','NT')",
                       "lsst", **kwargs)


def test_design_example_gives_the_expected_sql(owner_access):
    assert design_filter(limit=100, access=owner_access) == DESIGN_SQL


def test_design_example_is_refused_to_another_user(stranger_access):
    with pytest.raises(FilterError, match="watchlist 12 is private"):
        design_filter(limit=100, access=stranger_access)


def test_annotator_is_joined_under_its_topic():
    sql = build_query("objects.diaObjectId, fastfinder.classification",
                      "objects, annotator:fastfinder",
                      "fastfinder.classification = 'kilonova' AND "
                      "JSON_EXTRACT(fastfinder.classdict, '$.score') > 0.9", "lsst", limit=5)
    assert sql == (
        "SET STATEMENT max_statement_time=10 FOR SELECT objects.diaObjectId, "
        "`fastfinder`.classification FROM objects JOIN annotations AS `fastfinder` ON "
        "`fastfinder`.diaObjectId = objects.diaObjectId AND `fastfinder`.topic = "
        "'fastfinder' WHERE (`fastfinder`.classification = 'kilonova' AND "
        "JSON_EXTRACT(`fastfinder`.classdict, '$.score') > 0.9) LIMIT 5 OFFSET 0")


def test_several_watchmaps_are_each_joined_so_objects_are_in_all():
    sql = build_query("objects.objectId, area_hits_3.ar_id AS first_map",
                      "objects, watchmap:3&7", "", "ztf", limit=5)
    assert (" FROM objects JOIN area_hits AS area_hits_3 ON area_hits_3.objectId = "
            "objects.objectId AND area_hits_3.ar_id = 3 JOIN area_hits AS area_hits_7 ON "
            "area_hits_7.objectId = objects.objectId AND area_hits_7.ar_id = 7 LIMIT") in sql
    assert "area_hits_3.ar_id AS `first_map`" in sql


def test_one_watchmap_is_named_area_hits():
    sql = build_query("objects.objectId, area_hits.ar_id", "watchmap:3", "", "ztf", limit=1)
    assert ("JOIN area_hits ON area_hits.objectId = objects.objectId AND "
            "area_hits.ar_id = 3") in sql


def test_crossmatch_tns_joins_on_the_tns_name():
    sql = build_query("objects.diaObjectId, crossmatch_tns.type", "crossmatch_tns",
                      "crossmatch_tns.z < 0.05", "lsst", limit=1)
    assert "JOIN crossmatch_tns ON crossmatch_tns.tns_name = objects.tns_name" in sql


def test_order_by_with_aliases_and_directions():
    sql = build_query("objects.diaObjectId, flux2mag(objects.r_psfFlux) AS rmag",
                      "objects", "objects.nDiaSources > 2 ORDER BY rmag DESC, "
                      "objects.lastDiaSourceMjdTai asc", "lsst", limit=20, offset=40)
    assert sql.endswith(
        "SELECT objects.diaObjectId, (31.4 - 2.5 * LOG10(objects.r_psfFlux)) AS `rmag` "
        "FROM objects WHERE (objects.nDiaSources > 2) ORDER BY `rmag` DESC, "
        "objects.lastDiaSourceMjdTai ASC LIMIT 20 OFFSET 40")


def test_conditions_may_be_only_an_order_by_or_empty():
    only_order = build_query("objects.ra", "objects", "ORDER BY objects.ra", "lsst", limit=1)
    assert " FROM objects ORDER BY objects.ra LIMIT 1" in only_order
    assert "WHERE" not in build_query("objects.ra", "objects", "  ", "lsst", limit=1)
    assert "WHERE" not in build_query("objects.ra", "objects", None, "lsst", limit=1)


@pytest.mark.parametrize("conditions, rendered", [
    ("mjdnow() - objects.lastDiaSourceMjdTai < 10",
     "(UNIX_TIMESTAMP() / 86400.0 + 40587.0) - objects.lastDiaSourceMjdTai < 10"),
    ("JDNOW() > 2460000.5", "(UNIX_TIMESTAMP() / 86400.0 + 2440587.5) > 2460000.5"),
    ("flux2mag(objects.g_psfFlux) - flux2mag(objects.r_psfFlux) < 0.5",
     "(31.4 - 2.5 * LOG10(objects.g_psfFlux)) - (31.4 - 2.5 * LOG10(objects.r_psfFlux)) "
     "< 0.5"),
    ("objects.nDiaSources BETWEEN 3 AND 10 AND objects.tns_name IS NOT NULL",
     "objects.nDiaSources BETWEEN 3 AND 10 AND objects.tns_name IS NOT NULL"),
    ("objects.tns_name NOT IN ('a', \"b\") OR NOT objects.tns_name LIKE '2024%' ESCAPE '!'",
     "objects.tns_name NOT IN ('a', \"b\") OR NOT objects.tns_name LIKE '2024%' ESCAPE '!'"),
    ("objects.tns_name REGEXP '^20[0-9]{2}' XOR objects.ra <=> NULL",
     "objects.tns_name REGEXP '^20[0-9]{2}' XOR objects.ra <=> NULL"),
    ("CASE WHEN objects.ra > 180 THEN objects.ra - 360 ELSE objects.ra END < 10",
     "CASE WHEN objects.ra > 180 THEN objects.ra - 360 ELSE objects.ra END < 10"),
    ("objects.timestamp > DATE_SUB(now(), INTERVAL 1 DAY)",
     "objects.timestamp > DATE_SUB(NOW(), INTERVAL 1 DAY)"),
    ("TIMESTAMPDIFF(hour, objects.timestamp, UTC_TIMESTAMP()) < 24",
     "TIMESTAMPDIFF(HOUR, objects.timestamp, UTC_TIMESTAMP()) < 24"),
    ("CAST(objects.ra AS decimal(10,2)) > 1.5e1 AND CONVERT(objects.decl, SIGNED INTEGER) < 0",
     "CAST(objects.ra AS DECIMAL(10, 2)) > 1.5e1 AND CONVERT(objects.decl, SIGNED INTEGER) "
     "< 0"),
    ("objects.nDiaSources MOD 2 = MOD(objects.nDiaSources, 2) AND objects.nDiaSources DIV 2 > .5",
     "objects.nDiaSources MOD 2 = MOD(objects.nDiaSources, 2) AND "
     "objects.nDiaSources DIV 2 > .5"),
    ("(objects.nDiaSources & 1) = 1 AND ~objects.nDiaSources != -1 AND !(objects.ra < 0)",
     "(objects.nDiaSources & 1) = 1 AND ~objects.nDiaSources != -1 AND !(objects.ra < 0)"),
    ("OBJECTS.NDIASOURCES >= 3 AND round(Objects.Ra, 2) > 0",
     "objects.nDiaSources >= 3 AND ROUND(objects.ra, 2) > 0"),
    ("nDiaSources >= 3 AND `objects`.`decl` < 0",
     "objects.nDiaSources >= 3 AND objects.decl < 0"),
    ("objects.tns_name = 'O''Brien' OR objects.tns_name LIKE 'a\\\\b\\%'",
     "objects.tns_name = 'O''Brien' OR objects.tns_name LIKE 'a\\\\b\\%'"),
    ("GREATEST(objects.g_psfFlux, objects.r_psfFlux, 0) > COALESCE(objects.i_psfFlux, 0)",
     "GREATEST(objects.g_psfFlux, objects.r_psfFlux, 0) > COALESCE(objects.i_psfFlux, 0)"),
])
def test_accepted_conditions_render_as_expected(conditions, rendered):
    sql = build_query("objects.diaObjectId", "objects", conditions, "lsst", limit=3)
    assert sql.endswith(f" WHERE ({rendered}) LIMIT 3 OFFSET 0"), sql


def test_rendering_is_a_fixed_point():
    compiled = compile_filter("objects.diaObjectId AS id, fastfinder.classification",
                              "objects, sherlock_classifications, annotator:fastfinder",
                              "sherlock_classifications.classification IN ('SN','NT') AND "
                              "JSON_EXTRACT(fastfinder.classdict,'$.x') > -(-1) "
                              "ORDER BY id DESC", "lsst")
    again = compile_filter(", ".join(item.sql() for item in compiled.select),
                           compiled.tables.text(),
                           f"{compiled.where} ORDER BY {', '.join(compiled.order)}", "lsst")
    assert again._replace(select=()) == compiled._replace(select=())
    assert ([item._replace(position=0) for item in again.select]
            == [item._replace(position=0) for item in compiled.select])


def test_ztf_filter_uses_ztf_columns():
    sql = build_query("objects.objectId, objects.gmag - objects.rmag AS colour", "objects",
                      "objects.ncand >= 2 AND jdnow() - objects.jdmax < 3", "ztf", limit=7)
    assert sql.startswith("SET STATEMENT max_statement_time=10 FOR SELECT objects.objectId, "
                          "objects.gmag - objects.rmag AS `colour` FROM objects WHERE")
    with pytest.raises(FilterError, match="unknown column objects.diaObjectId"):
        build_query("objects.diaObjectId", "objects", "", "ztf", limit=1)


# ---------------------------------------------------------------- streaming mode

def test_streaming_restricts_to_the_batch_in_time_order():
    compiled = compile_filter("objects.diaObjectId", "objects, sherlock_classifications",
                              "sherlock_classifications.classification = 'SN'", "lsst")
    on_demand = render_query(compiled, limit=50)
    batch = [9223372036854775807, 1, np.int64(170141183460469231)]
    streaming = render_query(compiled, limit=50, batch_objects=batch)
    head = on_demand.removesuffix(" LIMIT 50 OFFSET 0")
    assert streaming == (
        f"{head} AND objects.diaObjectId IN (9223372036854775807,1,170141183460469231) "
        "ORDER BY objects.lastDiaSourceMjdTai, objects.diaObjectId LIMIT 50 OFFSET 0")


def test_streaming_keeps_the_user_order_after_time():
    compiled = compile_filter("objects.objectId", "objects", "ORDER BY objects.gmag", "ztf")
    sql = render_query(compiled, limit=5, batch_objects=["ZTF21abiuvdk", "ZTF18aaaaaaa"])
    assert sql.endswith("FROM objects WHERE objects.objectId IN ('ZTF21abiuvdk',"
                        "'ZTF18aaaaaaa') ORDER BY objects.jdmax, objects.gmag, "
                        "objects.objectId LIMIT 5 OFFSET 0")


def test_time_order_on_demand_and_empty_batch():
    compiled = compile_filter("objects.ra", "objects", "objects.ra > 1", "lsst")
    assert render_query(compiled, limit=1, order_by_time=True).endswith(
        "ORDER BY objects.lastDiaSourceMjdTai, objects.diaObjectId LIMIT 1 OFFSET 0")
    assert "WHERE (objects.ra > 1) AND FALSE ORDER BY" in render_query(
        compiled, limit=1, batch_objects=[])


def test_batch_ids_rendered_once_can_be_reused():
    ids = object_id_list(np.array([2**62, 3], dtype=np.uint64), "lsst")
    assert ids == ObjectIdList("lsst", "4611686018427387904,3", 2)
    compiled = compile_filter("objects.ra", "objects", "", "lsst")
    assert "IN (4611686018427387904,3)" in render_query(compiled, limit=1, batch_objects=ids)
    ztf_ids = object_id_list(["ZTF21abiuvdk"], "ztf")
    with pytest.raises(FilterError, match="ztf ids"):
        render_query(compiled, limit=1, batch_objects=ztf_ids)


@pytest.mark.parametrize("ids, survey, message", [
    ([1.5, 2.0], "lsst", "a float cannot hold"),
    (np.array([2**64 - 1], dtype=np.uint64), "lsst", "64-bit"),
    ([2**63], "lsst", "64-bit"),
    (np.array([1.0, 2.0]), "lsst", "not float64"),
    ([True, 2], "lsst", "integers"),
    ("ZTF21abiuvdk", "ztf", "not one string"),
    (["ZTF21abiuvdk", "ZTF18abc'); DROP TABLE objects; --"], "ztf", "bad ZTF object id"),
    (["ZTF21abiuvdk,ZTF21abiuvdk"], "ztf", "bad ZTF object id"),
    (["ztf21abiuvdk"], "ztf", "bad ZTF object id"),
    ([12345], "ztf", "bad ZTF object id"),
    ([[1, 2]], "lsst", "one-dimensional"),
])
def test_bad_batch_ids_are_refused(ids, survey, message):
    with pytest.raises(FilterError, match=message) as caught:
        object_id_list(ids, survey)
    assert caught.value.field == "batch_objects"


# ------------------------------------------------------------- builder arguments

@pytest.mark.parametrize("kwargs, field", [
    ({"limit": -1}, "limit"), ({"limit": True}, "limit"), ({"limit": 1.5}, "limit"),
    ({"limit": 1, "offset": -5}, "offset"),
    ({"limit": 1, "max_statement_time_s": 0}, "max_statement_time_s"),
    ({"limit": 1, "max_statement_time_s": 1e-9}, "max_statement_time_s"),
    ({"limit": 1, "max_statement_time_s": float("nan")}, "max_statement_time_s"),
    ({"limit": 1, "max_statement_time_s": "10; SET"}, "max_statement_time_s"),
])
def test_bad_builder_arguments_are_refused(kwargs, field):
    with pytest.raises(FilterError) as caught:
        build_query("objects.ra", "objects", "", "lsst", **kwargs)
    assert caught.value.field == field


def test_statement_time_renders_exactly():
    sql = build_query("objects.ra", "objects", "", "lsst", limit=1, max_statement_time_s=0.5)
    assert sql.startswith("SET STATEMENT max_statement_time=0.5 FOR SELECT ")
    with pytest.raises(FilterError, match="unknown survey"):
        build_query("objects.ra", "objects", "", "hsc", limit=1)


def test_parsed_tables_are_accepted_and_access_still_checked(stranger_access):
    spec = parse_tables("objects, watchlist:12")
    assert "watchlist_hits.wl_id = 12" in build_query("objects.ra", spec, "", "lsst", limit=1)
    with pytest.raises(FilterError, match="watchlist 12 is private"):
        build_query("objects.ra", spec, "", "lsst", limit=1, access=stranger_access)


@pytest.mark.parametrize("spec", [
    TablesSpec(annotators=("x` ON 1 JOIN users AS `u",)),
    TablesSpec(watchlist="12 OR 1=1"),
    TablesSpec(watchmaps=(3, 3)),
    TablesSpec(watchlist=True),
])
def test_hand_made_tables_specs_are_validated(spec):
    with pytest.raises(FilterError) as caught:
        build_query("objects.ra", spec, "", "lsst", limit=1)
    assert caught.value.field == "tables"


def test_with_object_id_puts_the_id_before_the_users_columns():
    from solas.filters import compile_filter, render_query
    compiled = compile_filter("objects.ncand", "objects", "objects.ncand > 3", "ztf")
    sql = render_query(compiled, limit=10, batch_objects=["ZTF21abiuvdk"], with_object_id=True)
    assert "FOR SELECT objects.objectId, objects.ncand FROM" in sql
