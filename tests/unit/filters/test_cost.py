"""The vetter bounds what an expression can cost before MariaDB sees it (issue 32 item 1):
literals, string-growing functions, their nesting and the constant work of a filter."""
import pytest

from solas.filters import FilterError, build_query, compile_filter
from solas.filters.cost import (
    MAX_CONSTANT_WORK_BYTES,
    MAX_LITERAL_BYTES,
    MAX_VALUE_BYTES,
    Expr,
    call_size,
    literal_text,
)

SEL, TABLES = "objects.diaObjectId", "objects"
TEN_A = "'aaaaaaaaaa'"


def issue_query(length: int) -> str:
    """The query of issue 32: three nested REPLACEs growing a literal of ``length`` a."""
    return (f"REPLACE(REPLACE(REPLACE('{'a' * length}','a',{TEN_A}),'a',{TEN_A}),'a',"
            f"{TEN_A}) IS NULL")


def refusal(conditions: str, selected: str = SEL, tables: str = TABLES) -> FilterError:
    with pytest.raises(FilterError) as caught:
        build_query(selected, tables, conditions, "lsst", limit=10)
    return caught.value


def test_the_issue_query_is_refused_for_its_literal():
    error = refusal(issue_query(60_000))
    assert error.field == "conditions" and error.position == 24
    assert "60,000 bytes long" in str(error) and "MAX_LITERAL_BYTES" in str(error)
    assert f"{MAX_LITERAL_BYTES:,} bytes" in str(error)


def test_the_issue_query_with_a_short_literal_is_refused_for_its_growth():
    error = refusal(issue_query(4_000))
    assert "MAX_VALUE_BYTES" in str(error) and "4,000,000 bytes" in str(error)
    assert error.position == 0  # the outer REPLACE: the one that goes over


def test_the_issue_result_query_is_refused():
    """Item 2's reproduction: a 60,000-byte replacement of 500 a's (30 MB a row)."""
    error = refusal("", selected=f"REPLACE('{'a' * 500}','a','{'b' * 60_000}') AS big")
    assert "MAX_LITERAL_BYTES" in str(error) and error.field == "selected"


def test_a_literal_of_the_limit_is_accepted_and_one_byte_more_refused():
    build_query(SEL, TABLES, f"objects.tns_name = '{'x' * MAX_LITERAL_BYTES}'", "lsst",
                limit=1)
    error = refusal(f"objects.tns_name = '{'x' * (MAX_LITERAL_BYTES + 1)}'")
    assert "MAX_LITERAL_BYTES" in str(error)
    multibyte = "é" * (MAX_LITERAL_BYTES // 2 + 1)  # 2 bytes each in UTF-8
    assert "MAX_LITERAL_BYTES" in str(refusal(f"objects.tns_name = '{multibyte}'"))
    assert "MAX_LITERAL_BYTES" in str(refusal("objects.ra > 1" + "0" * MAX_LITERAL_BYTES))


def test_growing_functions_nest_at_most_three_deep():
    build_query(SEL, TABLES, "CONCAT(CONCAT(CONCAT('a', 'b'), 'c'), 'd') = 'abcd'", "lsst",
                limit=1)
    error = refusal("CONCAT(CONCAT(CONCAT(CONCAT('a', 'b'), 'c'), 'd'), 'e') = 'x'")
    assert "MAX_GROWING_NESTING = 3" in str(error) and "CONCAT" in str(error)
    assert error.position == 0


def test_replace_bound_follows_the_length_of_the_searched_literal():
    # 4,000 bytes * ceil(300 / 1) = 1.2 MB: too much; * ceil(300 / 100) = 12 kB: fine
    assert "MAX_VALUE_BYTES" in str(refusal(
        f"REPLACE('{'a' * 4000}', 'a', '{'b' * 300}') IS NULL"))
    build_query(SEL, TABLES, f"REPLACE('{'a' * 4000}', '{'a' * 100}', '{'b' * 300}') IS NULL",
                "lsst", limit=1)


def test_constant_string_work_of_a_filter_part_is_bounded():
    one = f"REPLACE('{'a' * 1000}', 'a', '{'b' * 600}') IS NULL"  # 600,000 bytes each
    count = MAX_CONSTANT_WORK_BYTES // 600_000
    build_query(SEL, TABLES, " OR ".join([one] * count), "lsst", limit=1)
    error = refusal(" OR ".join([one] * (count + 1)))
    assert "MAX_CONSTANT_WORK_BYTES" in str(error)


def test_growth_of_column_values_is_bounded_but_not_counted_as_constant_work():
    # a TEXT column counts as 64 KiB: 20x would be 1.3 MB
    assert "MAX_VALUE_BYTES" in str(refusal(
        "REPLACE(sherlock_classifications.description, 'a', '" + "b" * 20 + "') IS NULL",
        tables="objects, sherlock_classifications"))
    # 12 x 655 kB on columns: evaluated per row, under the time limit
    one = "REPLACE(sherlock_classifications.description, 'a', 'bbbbbbbbbb') IS NULL"
    build_query(SEL, "objects, sherlock_classifications", " OR ".join([one] * 12), "lsst",
                limit=1)


@pytest.mark.parametrize("selected, conditions, tables", [
    ("REPLACE(objects.tns_name, ' ', '') AS tns", "", "objects"),
    (("CONCAT(objects.tns_name, ' ', sherlock_classifications.classification, ' ', "
      "sherlock_classifications.description) AS label"), "",
     "objects, sherlock_classifications"),
    ("JSON_EXTRACT(fastfinder.classdict, '$.score') AS score",
     "JSON_VALUE(fastfinder.classdict, '$.kind') = 'SN'", "objects, annotator:fastfinder"),
    (("REGEXP_REPLACE(sherlock_classifications.catalogue_object_id, '^(\\\\w+) .*$', "
      "'\\\\1') AS catalogue"), "", "objects, sherlock_classifications"),
    ("DATE_FORMAT(objects.timestamp, '%Y-%m-%d %H:%i') AS day, FORMAT(objects.ra, 3) AS ra",
     "objects.ra BETWEEN 10 AND 20 AND CAST(objects.nDiaSources AS CHAR) LIKE '1%'",
     "objects"),
    (SEL, ("CASE WHEN objects.ra > 180 THEN CONCAT('east ', objects.tns_name) ELSE 'west' "
           "END = 'west'"), "objects"),
])
def test_ordinary_string_filters_pass(owner_access, selected, conditions, tables):
    compile_filter(selected, tables, conditions, "lsst", access=owner_access)


def test_regexp_replace_bound_covers_back_references():
    # (2 * 3 + 2) * 2 + 3: 'aaa' with '\\0' per empty and non-empty match
    expr = call_size("REGEXP_REPLACE", [Expr("'aaa'", 3), Expr("''", 0, literal=""),
                                        Expr("'\\\\0'", 2)])
    assert expr >= len("aaa") * 2 + 1
    assert "MAX_VALUE_BYTES" in str(refusal(
        "REGEXP_REPLACE(sherlock_classifications.description, 'x', '\\\\0\\\\0\\\\0\\\\0') "
        "IS NULL", tables="objects, sherlock_classifications"))


def test_json_gathering_bounds_wildcards_per_level():
    doc = Expr("'{}'", 1000, literal="{}")
    assert call_size("JSON_EXTRACT", [doc, Expr("'$.a'", 3, literal="$.a")]) == 1002
    assert call_size("JSON_EXTRACT", [doc, Expr("'$**.a'", 5, literal="$**.a")]) == 32_002


def test_literal_text_counts_escapes_as_one_character():
    assert literal_text("'it''s'") == "it's"
    assert literal_text("'a\\nb'") == "anb"
    assert len(literal_text("'\\a'")) == 1


def test_limits_are_documented_in_the_readme():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    for name, value in (("MAX_LITERAL_BYTES", MAX_LITERAL_BYTES),
                        ("MAX_VALUE_BYTES", MAX_VALUE_BYTES),
                        ("MAX_CONSTANT_WORK_BYTES", MAX_CONSTANT_WORK_BYTES)):
        assert name in readme and f"{value:,}" in readme
