"""Solar-system filters: tables spec items ss_objects / ss_sources, on demand and streaming."""
from __future__ import annotations

import pytest

from solas.filters import (
    FilterError,
    TablesSpec,
    build_query,
    compile_filter,
    parse_tables,
)


def test_ss_items_parse_and_round_trip():
    assert parse_tables("ss_objects") == TablesSpec(ss_objects=True)
    spec = parse_tables(" SS_Objects , ss_sources")
    assert spec == TablesSpec(ss_objects=True, ss_sources=True) and spec.solar_system
    assert parse_tables(spec.text()) == spec
    assert parse_tables("ss_sources").text() == "ss_sources"
    assert not parse_tables("objects, sherlock_classifications").solar_system


@pytest.mark.parametrize("tables, named", [
    ("objects, ss_objects", "objects"), ("ss_sources, sherlock_classifications",
                                         "sherlock_classifications"),
    ("ss_objects, watchlist:3", "watchlist:3"), ("ss_objects, annotator:fink", "annotator:fink"),
    ("ss_objects, watchmap:2&5", "watchmap:2, watchmap:5")])
def test_ss_items_do_not_combine_with_object_items(tables, named):
    with pytest.raises(FilterError, match=f"cannot be combined with {named}"):
        parse_tables(tables)


def test_on_demand_sql_selects_from_ss_objects_joined_to_ss_sources():
    sql = build_query("ss_objects.designation, ss_sources.phaseAngle",
                      "ss_objects, ss_sources", "ss_sources.band = 'r' AND q < 2", "lsst",
                      limit=5)
    assert ("SELECT ss_objects.designation, ss_sources.phaseAngle FROM ss_objects JOIN "
            "ss_sources ON ss_sources.ssObjectId = ss_objects.ssObjectId WHERE "
            "(ss_sources.band = 'r' AND ss_objects.q < 2) LIMIT 5") in sql


def test_streaming_sql_restricts_to_the_batch_ss_objects_in_time_order():
    ids = [21163641473676121, 2**62]
    sql = build_query("designation", "ss_objects", "nDiaSources >= 1", "lsst", limit=10,
                      batch_objects=ids)
    assert f"AND ss_objects.ssObjectId IN ({ids[0]},{ids[1]})" in sql
    assert sql.endswith("ORDER BY ss_objects.lastDiaSourceMjdTai, ss_objects.ssObjectId "
                        "LIMIT 10 OFFSET 0")
    compiled = compile_filter("designation", "ss_objects", "", "lsst")
    assert compiled.object_id == "ssObjectId" and compiled.root == "ss_objects"


@pytest.mark.parametrize("selected, tables, conditions, problem", [
    ("ssObjectId", "ss_objects", "objects.ra > 1", "cannot be used in a solar-system filter"),
    ("ss_objects.ssObjectId", "ss_objects", "ss_sources.band = 'g'", "add ss_sources"),
    ("diaObjectId", "objects", "ss_objects.q < 2", "list ss_objects"),
    ("ssObjectId", "ss_objects, ss_sources", "", "ambiguous"),
])
def test_misuse_gets_a_clear_error(selected, tables, conditions, problem):
    with pytest.raises(FilterError, match=problem):
        compile_filter(selected, tables, conditions, "lsst")


def test_ztf_has_no_solar_system_tables():
    with pytest.raises(FilterError, match="Rubin solar-system tables: this is a ztf"):
        compile_filter("ssObjectId", "ss_objects", "", "ztf")
