"""Output keys, column resolution and the error messages of the vetter."""
import pytest

from solas.filters import (ALLOWED_FUNCTIONS, FilterError, build_query, compile_filter,
                           select_aliases)


def refuse(selected="objects.diaObjectId", tables="objects", conditions="", survey="lsst"):
    with pytest.raises(FilterError) as caught:
        build_query(selected, tables, conditions, survey, limit=1)
    return caught.value


def test_select_aliases_are_the_message_keys():
    assert select_aliases("objects.diaObjectId, objects.r_psfFlux, watchlist_hits.name") == [
        "diaObjectId", "r_psfFlux", "name"]
    assert select_aliases("objects.ra AS `ra_deg`, flux2mag(objects.g_psfFlux) AS gmag, "
                          "CASE WHEN 1 THEN 2 END AS k, `objects`.`decl`") == [
        "ra_deg", "gmag", "k", "decl"]


def test_keys_match_the_compiled_filter_and_keep_the_written_case():
    compiled = compile_filter("objects.diaobjectid, objects.ra AS RA_deg", "objects", "",
                              "lsst")
    assert compiled.keys == select_aliases("objects.diaobjectid, objects.ra AS RA_deg") == [
        "diaobjectid", "RA_deg"]
    # the real column is selected, under the key as written
    assert [item.sql() for item in compiled.select] == [
        "objects.diaObjectId AS `diaobjectid`", "objects.ra AS `RA_deg`"]


@pytest.mark.parametrize("selected, message, position", [
    ("objects.ra + 1", "give this expression a name with AS", 0),
    ("objects.ra, objects.decl * 2", "give this expression a name with AS", 12),
    ("objects.ra, crossmatch_tns.ra", "'ra' appears twice", 12),
    ("objects.ra AS x, objects.decl AS X", "'X' appears twice", 17),
    ("objects.ra AS UTC", "reserved", 0),
    ("objects.ra AS alert", "reserved", 0),
    ("objects.ra AS 'x'", "an alias must be a name", 14),
    ("objects.ra AS `a b`", "an alias must be a name", 14),
    ("objects.ra objects.decl", "expected ',', AS or the end of the list", 11),
    ("", "the SELECT list is empty", 0),
    ("objects.ra,", "unexpected end", 11),
])
def test_select_list_errors(selected, message, position):
    with pytest.raises(FilterError, match=message) as caught:
        select_aliases(selected)
    assert caught.value.field == "selected"
    assert caught.value.position == position


def test_unknown_column_suggests_close_names():
    error = refuse(conditions="objects.nDiaSource > 3")
    assert str(error).startswith("conditions, character 9: unknown column "
                                 "objects.nDiaSource; did you mean objects.nDiaSources, ")
    bare = refuse(conditions="ndiasource > 3")
    assert "unknown column ndiasource; did you mean objects.nDiaSources" in str(bare)
    assert "unknown column objects.gmag" in str(refuse("objects.gmag"))


def test_column_errors_say_what_to_do():
    assert "ambiguous: write objects.diaObjectId or sherlock_classifications.diaObjectId" in \
        str(refuse(tables="objects, sherlock_classifications", conditions="diaObjectId > 1"))
    assert "which the conditions cannot use" in str(
        refuse("objects.ra AS x", conditions="x > 1"))
    assert "add watchlist:<id>" in str(refuse(conditions="watchlist_hits.name = 'a'"))
    assert "add watchmap:<id>" in str(refuse(conditions="area_hits.ar_id = 3"))
    assert "area_hits_3, area_hits_7" in str(
        refuse(tables="watchmap:3&7", conditions="area_hits.ar_id = 3"))
    assert "name its hits area_hits" in str(
        refuse(tables="watchmap:3", conditions="area_hits_3.ar_id = 3"))
    assert "add annotator:<topic>" in str(refuse(conditions="annotations.topic = 'a'"))
    assert "unknown table nosuch" in str(refuse(conditions="nosuch.col = 1"))


def test_function_errors():
    assert "ROUND takes 1 to 2 argument(s), not 3" in str(
        refuse(conditions="ROUND(objects.ra, 1, 2) > 0"))
    assert "FLUX2MAG takes 1 argument(s), not 0" in str(refuse(conditions="flux2mag() > 0"))
    assert "did you mean LOG10" in str(refuse(conditions="LOG1O(objects.ra) > 0"))
    assert "expected a type" in str(refuse(conditions="CAST(objects.ra AS JSON) > 0"))
    assert "expected a time unit" in str(
        refuse(conditions="objects.timestamp > NOW() - INTERVAL 1 FORTNIGHT"))
    assert "expected NULL, TRUE, FALSE or UNKNOWN" in str(refuse(conditions="objects.ra IS 1"))
    assert "expected WHEN" in str(refuse(conditions="CASE objects.ra END = 1"))
    assert "function names may not be quoted" in str(refuse(conditions="`ROUND`(1) = 1"))


@pytest.mark.parametrize("conditions, message", [
    ("objects.ra >", "unexpected end: expected a value"),
    ("AND objects.ra > 1", "expected a value, found 'AND'"),
    ("objects.ra IN ()", "expected a value, found ')'"),
    ("objects.ra BETWEEN 1 OR 2", "expected AND"),
    ("objects.ra > 1 ORDER objects.ra", "expected BY"),
    ("'a' 'b'", "found \"'b'\""),
    ("objects.ra NOT 1", "found 'NOT'"),
])
def test_structure_errors(conditions, message):
    assert message in str(refuse(conditions=conditions))


def test_allow_list_has_the_helpers_and_no_dangerous_functions():
    assert {"MJDNOW", "JDNOW", "FLUX2MAG", "JSON_EXTRACT", "LOG10"} <= set(ALLOWED_FUNCTIONS)
    assert not {"SLEEP", "BENCHMARK", "GET_LOCK", "LOAD_FILE", "USER", "VERSION",
                "DATABASE", "UNHEX", "EXTRACTVALUE", "COUNT"} & set(ALLOWED_FUNCTIONS)
