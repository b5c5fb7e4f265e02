"""A corpus of hostile filter SQL: every case is refused with a FilterError naming the
problem and the part of the filter (and its position where there is one)."""
import pytest

from solas.filters import FilterError, build_query

SEL, TABLES = "objects.diaObjectId", "objects"


def where(conditions, fragment, position=None):
    """A hostile WHERE clause."""
    return (SEL, TABLES, conditions, "conditions", fragment, position)


def select(selected, fragment, position=None):
    """A hostile SELECT list."""
    return (selected, TABLES, "", "selected", fragment, position)


def tables(spec, fragment, position=None):
    """A hostile tables spec."""
    return (SEL, spec, "", "tables", fragment, position)


HOSTILE = {
    # stacked statements
    "stacked drop": where("objects.nDiaSources > 1; DROP TABLE objects", "';'", 23),
    "stacked select": where("1 = 1; SELECT * FROM users", "';'", 5),
    "trailing semicolon": where("objects.ra > 0;", "';'", 14),
    "stacked in select list": select("objects.ra; DELETE FROM filters", "';'", 10),
    "semicolon after a string with one": where(
        "objects.tns_name = 'a;b'; DROP TABLE objects", "';'", 24),
    # SET and SET STATEMENT
    "set statement zero": where("SET STATEMENT max_statement_time=0 FOR SELECT 1", "SET", 0),
    "set statement in select": select(
        "SET STATEMENT max_statement_time=0 FOR SELECT objects.ra", "SET", 0),
    "set statement nested": where(
        "objects.ra > 0 SET STATEMENT max_statement_time=0 FOR SET STATEMENT "
        "max_statement_time=0 FOR SELECT 1", "SET", 15),
    "set statement lower case": where(
        "set   statement max_statement_time=0 for select 1", "SET"),
    "set session": where("SET SESSION max_statement_time=0", "SET"),
    # INTO
    "into outfile": select("objects.ra INTO OUTFILE '/tmp/x'", "INTO", 11),
    "into dumpfile": where("objects.ra > 0 INTO DUMPFILE '/tmp/x'", "INTO"),
    "into variable": select("objects.ra AS x INTO @y", "variables"),
    "into without variable": select("objects.ra INTO x", "INTO"),
    # dangerous functions, in every spelling
    "sleep": where("SLEEP(10) = 0", "function SLEEP is not allowed", 0),
    "sleep lower case with spaces": where("objects.ra > 0 OR sleep   (10)", "SLEEP", 18),
    "sleep mixed case with tab": where("objects.ra > 0 AND SlEeP\t\n(10) = 0", "SLEEP"),
    "sleep backticked": where("`sleep`(10) = 0", "may not be quoted", 0),
    "sleep as a stored function": where("objects.ra > mysql.sleep(10)",
                                        "only built-in functions"),
    "benchmark": where("BENCHMARK(10000000, SHA1('x')) = 0", "function BENCHMARK"),
    "get_lock": where("GET_LOCK('x', 100) = 1", "function GET_LOCK"),
    "load_file": select("LOAD_FILE('/etc/passwd') AS p", "function LOAD_FILE"),
    "extractvalue error leak": where("EXTRACTVALUE(1, CONCAT('~', VERSION())) = 1",
                                     "function EXTRACTVALUE"),
    "version": select("VERSION() AS v", "function VERSION"),
    "user": where("USER() LIKE 'root%'", "function USER"),
    "aggregate": select("COUNT(*) AS n", "aggregate function COUNT"),
    "window function": select("ROW_NUMBER() OVER () AS r", "function ROW_NUMBER"),
    # comments of every kind
    "dash dash comment": where("objects.ra > 0 -- AND objects.decl < 0", "comments", 15),
    "dash dash at end": where("objects.ra > 0 --", "comments", 15),
    "dash dash without space": where("objects.ra--1 > 0", "comments", 10),
    "hash comment": where("objects.ra > 0 # x", "comments are not allowed ('#')", 15),
    "block comment": where("objects.ra > 0 /* x */", "comments", 15),
    "executable comment": where("objects.ra > 0 /*!50000 OR SLEEP(5) */", "'/*! */'", 15),
    "mariadb executable comment": where("objects.ra > 0 /*M!100000 OR SLEEP(5) */",
                                        "comments"),
    "comment in select list": select("objects.ra/**/", "comments", 10),
    # subqueries and UNION
    "subquery in select list": select("(SELECT password_hash FROM users LIMIT 1) AS p",
                                      "subqueries", 1),
    "subquery in where": where("objects.ra > (SELECT MAX(ra) FROM objects)", "subqueries"),
    "in subquery": where("objects.diaObjectId IN (SELECT diaObjectId FROM objects)",
                         "subqueries", 24),
    "exists": where("EXISTS (SELECT 1 FROM users)", "subqueries", 0),
    "any": where("objects.ra = ANY (SELECT 1)", "subqueries"),
    "subquery in order by": where("objects.ra > 0 ORDER BY (SELECT 1)", "subqueries"),
    "union": where("objects.ra > 0 UNION SELECT password_hash FROM users", "UNION", 15),
    "union all in select": select("objects.ra UNION ALL SELECT 1", "UNION"),
    "with": where("WITH x AS (SELECT 1) SELECT 1", "WITH"),
    # other schemas and tables
    "information_schema table": where("information_schema.tables IS NOT NULL",
                                      "system schema information_schema", 0),
    "information_schema three parts": where("information_schema.tables.table_name = 'x'",
                                            "three parts"),
    "mysql.user": select("mysql.user", "system schema mysql"),
    "users table": where("users.password_hash = 'x'", "cannot be used in filters"),
    "filters table": select("filters.real_sql", "cannot be used in filters"),
    "table not listed": where("sherlock_classifications.classification = 'SN'",
                              "add it to the tables"),
    # variables and assignment
    "user variable": where("@x := 1", "variables", 0),
    "system variable": where("@@version LIKE '10%'", "variables"),
    "global variable in select": select("@@global.max_statement_time AS t", "variables"),
    "assignment": where("objects.ra := 1", "':'"),
    # smuggling through encodings
    "hex number": where("objects.tns_name = 0x534C454550283529", "hexadecimal", 19),
    "hex string": where("objects.tns_name = X'534C454550283529'", "prefixed string"),
    "bit literal": where("objects.ra > 0b0101", "binary"),
    "charset introducer": where("objects.tns_name = _latin1'x'", "prefixed string"),
    "unhex": where("UNHEX('534C454550') = 'x'", "function UNHEX"),
    "char codes": where("CHAR(83, 76, 69, 69, 80) = 'x'", "function CHAR"),
    "fullwidth lookalike": where("ＳＬＥＥＰ(1) = 0", "U+FF33", 0),
    "cyrillic lookalike": where("objects.ra > 0 \u041eR 1 = 1", "U+041E", 15),
    "no-break space": where("objects.ra\u00a0> 0", "U+00A0", 10),
    "nul byte": where("objects.ra > 0\x00; DROP TABLE objects", "U+0000", 14),
    "backslash escaping the quote": where(
        "objects.tns_name = 'x\\' OR SLEEP(1) OR \\''", "backslash may not escape", 21),
    "unterminated string": where("objects.tns_name = 'abc", "not closed", 19),
    "odbc escape": where("{fn SLEEP(1)} = 0", "ODBC", 0),
    "double pipe": where("objects.ra > 0 || SLEEP(1)", "'||'"),
    # clauses the builder owns
    "limit": where("objects.ra > 0 LIMIT 1000000", "LIMIT", 15),
    "limit after order by": where("objects.ra > 0 ORDER BY objects.ra LIMIT 1", "LIMIT"),
    "limit in select": select("objects.ra LIMIT 1", "LIMIT"),
    "for update": where("objects.ra > 0 FOR UPDATE", "locking"),
    "lock in share mode": where("objects.ra > 0 LOCK IN SHARE MODE", "locking"),
    "procedure": where("objects.ra > 0 PROCEDURE ANALYSE()", "PROCEDURE"),
    "from in select": select("objects.ra FROM users", "FROM and JOIN"),
    "where keyword": where("WHERE objects.ra > 0", "WHERE is added"),
    "group by": where("objects.ra > 0 GROUP BY objects.ra", "GROUP BY"),
    "having": where("objects.ra > 0 HAVING 1", "GROUP BY"),
    "select modifier": select("SQL_CALC_FOUND_ROWS objects.ra", "modifiers", 0),
    "other statement": where("objects.ra > 0 AND (DELETE FROM users)", "only a SELECT"),
    # structure
    "unbalanced close": where("objects.ra > 0) OR (1 = 1", "found ')'", 14),
    "unbalanced open": where("((objects.ra > 0)", "expected ')'"),
    "select star": select("*", "SELECT *", 0),
    "table star": select("objects.*", "objects.* is not supported"),
    "nested too deeply": where("(" * 300 + "1" + ")" * 300, "nested too deeply"),
    "too long": where("objects.ra > 0 AND " * 5000 + "1", "too long"),
    # tables spec
    "private watchlist": tables("objects, watchlist:12", "watchlist 12 is private", 9),
    "unknown watchlist": tables("objects, watchlist:99", "no watchlist 99", 9),
    "private watchmap": tables("objects, watchmap:7&8", "watchmap 8 is private", 20),
    "private annotator": tables("annotator:secretbot", "annotator secretbot is private", 0),
    "tables stacked statement": tables("objects; DROP TABLE users", "unknown table"),
    "tables id injection": tables("watchlist:5 OR 1=1", "watchlist id must be"),
    "tables topic injection": tables("annotator:x' OR '1'='1", "annotator topic"),
    "tables other schema": tables("objects, mysql.user", "unknown table", 9),
    "tables set statement": tables("SET STATEMENT max_statement_time=0 FOR objects",
                                   "unknown table"),
}


@pytest.mark.parametrize("selected, tables_spec, conditions, field, fragment, position",
                         list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_filter_is_refused_naming_the_problem(selected, tables_spec, conditions,
                                                       field, fragment, position,
                                                       stranger_access):
    with pytest.raises(FilterError) as caught:
        build_query(selected, tables_spec, conditions, "lsst", limit=10,
                    access=stranger_access)
    error = caught.value
    assert isinstance(error, ValueError)
    assert fragment in str(error), str(error)
    assert error.field == field, str(error)
    if position is not None:
        assert error.position == position, str(error)
        assert str(error).startswith(f"{field}, character {position + 1}: ")


def test_corpus_is_large_enough():
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize("conditions", [
    "objects.tns_name = 'a;b'",
    "objects.tns_name = 'SLEEP(5)' OR objects.tns_name = \"SELECT * FROM users; --\"",
    "objects.tns_name IN ('#', '/* x */', '-- y', '/*!50000 z */', '@x', '{fn}')",
    "objects.tns_name = 'UNION SELECT password_hash FROM users INTO OUTFILE ''/tmp/x'''",
    "objects.tns_name = 'ＳＬＥＥＰ'",
    "CONCAT('SLE', 'EP(5)') = objects.tns_name",
])
def test_keywords_and_separators_inside_strings_are_data(conditions):
    sql = build_query(SEL, TABLES, conditions, "lsst", limit=10)
    # the literals pass through unchanged and nothing else follows them
    assert sql.endswith(f" WHERE ({conditions}) LIMIT 10 OFFSET 0")


def test_double_negation_is_rendered_without_a_comment_marker():
    sql = build_query(SEL, TABLES, "objects.ra - - 1 > - -objects.decl", "lsst", limit=1)
    assert "--" not in sql
    assert "WHERE (objects.ra - -1 > - -objects.decl)" in sql


@pytest.mark.parametrize("conditions", [
    "NOT " * 3000 + "objects.ra > 1", "objects.ra > " + "- " * 3000 + "1",
    "~" * 20_000 + "1 = 1", "objects.ra " + "+ 1 " * 200 + "> 0"])
def test_deep_operator_chains_are_refused_before_they_overrun_the_server_stack(conditions):
    """20,000 '~' passed the vetter and MariaDB answered 'Thread stack overrun'."""
    with pytest.raises(FilterError, match="MAX_TREE_DEPTH = 100"):
        build_query(SEL, TABLES, conditions, "lsst", limit=1)


def test_operator_chains_within_the_depth_limit_are_kept():
    sql = build_query(SEL, TABLES, "NOT " * 3 + "objects.ra > " + "- " * 3 + "1 AND "
                      + " OR ".join(["objects.ra > 1"] * 500), "lsst", limit=1)
    assert sql.count("NOT") == 3 and sql.count(" OR ") == 499
