"""What filter SQL may call and which words it may not use.

Functions are an allow-list of MariaDB 10.11 built-ins (maths, conditionals, strings,
dates, JSON) with their argument counts, plus three Solas helpers that MariaDB lacks and
that the builder expands into plain SQL (no stored functions to install):

- ``mjdnow()``  -> ``(UNIX_TIMESTAMP() / 86400.0 + 40587.0)``: the Modified Julian Date
  now, UTC, to the second (Rubin times are TAI, 37 s = 4.3e-4 d ahead).
- ``jdnow()``   -> ``(UNIX_TIMESTAMP() / 86400.0 + 2440587.5)``: the Julian Date now, UTC.
- ``flux2mag(f)`` -> ``(31.4 - 2.5 * LOG10(f))``: AB magnitude of a flux in nJy
  (NULL for a flux <= 0).

Anything else (SLEEP, BENCHMARK, GET_LOCK, LOAD_FILE, USER(), VERSION(), UNHEX, ...) is
refused, and so are aggregates (a filter returns rows per object, and the same text must
give the same answer on one batch as on the whole database).
"""
from __future__ import annotations

from typing import NamedTuple


class Arity(NamedTuple):
    """Allowed argument counts: ``most`` is None for any number from ``least``."""

    least: int
    most: int | None


def _arity(names: str, least: int, most: int | None) -> dict[str, Arity]:
    return {name: Arity(least, most) for name in names.split()}


ALLOWED_FUNCTIONS: dict[str, Arity] = {
    # maths
    **_arity("ABS ACOS ASIN COS COT DEGREES EXP LN LOG10 LOG2 RADIANS SIGN SIN SQRT TAN "
             "CEIL CEILING FLOOR", 1, 1),
    **_arity("ATAN LOG ROUND", 1, 2),
    **_arity("ATAN2 MOD POW POWER TRUNCATE", 2, 2),
    **_arity("PI", 0, 0),
    **_arity("GREATEST LEAST", 2, None),
    # conditionals
    **_arity("IF", 3, 3), **_arity("IFNULL NULLIF", 2, 2), **_arity("ISNULL", 1, 1),
    **_arity("COALESCE", 1, None),
    # strings
    **_arity("CHAR_LENGTH LENGTH LOWER UPPER LCASE UCASE TRIM LTRIM RTRIM REVERSE", 1, 1),
    **_arity("LEFT RIGHT INSTR STRCMP REGEXP_SUBSTR REGEXP_INSTR", 2, 2),
    **_arity("SUBSTRING SUBSTR LOCATE", 2, 3),
    **_arity("SUBSTRING_INDEX REPLACE REGEXP_REPLACE", 3, 3),
    **_arity("FORMAT", 2, 3),
    **_arity("CONCAT", 1, None), **_arity("CONCAT_WS", 2, None),
    # dates
    **_arity("NOW UTC_TIMESTAMP UNIX_TIMESTAMP", 0, 1),
    **_arity("CURDATE UTC_DATE", 0, 0),
    **_arity("DATE TO_DAYS YEAR MONTH DAY DAYOFYEAR HOUR MINUTE SECOND", 1, 1),
    **_arity("DATEDIFF DATE_ADD DATE_SUB ADDDATE SUBDATE DATE_FORMAT", 2, 2),
    **_arity("FROM_UNIXTIME", 1, 2),
    **_arity("TIMESTAMPDIFF TIMESTAMPADD", 3, 3),  # first argument is a unit
    # JSON (annotation classdict)
    **_arity("JSON_EXTRACT", 2, None), **_arity("JSON_UNQUOTE JSON_TYPE JSON_VALID", 1, 1),
    **_arity("JSON_VALUE JSON_QUERY JSON_EXISTS", 2, 2),
    **_arity("JSON_CONTAINS", 2, 3), **_arity("JSON_CONTAINS_PATH", 3, None),
    **_arity("JSON_KEYS JSON_LENGTH", 1, 2),
    # casts: CAST(x AS type), CONVERT(x, type)
    **_arity("CAST CONVERT", 1, 1),
    # Solas helpers, expanded by the builder
    **_arity("MJDNOW JDNOW", 0, 0), **_arity("FLUX2MAG", 1, 1),
}

HELPERS: dict[str, str] = {
    "MJDNOW": "(UNIX_TIMESTAMP() / 86400.0 + 40587.0)",
    "JDNOW": "(UNIX_TIMESTAMP() / 86400.0 + 2440587.5)",
    "FLUX2MAG": "(31.4 - 2.5 * LOG10({0}))",
}

AGGREGATES = frozenset(
    "AVG BIT_AND BIT_OR BIT_XOR COUNT GROUP_CONCAT JSON_ARRAYAGG JSON_OBJECTAGG MAX MEDIAN "
    "MIN STD STDDEV STDDEV_POP STDDEV_SAMP SUM VARIANCE VAR_POP VAR_SAMP".split())

# Interval units (INTERVAL n unit, TIMESTAMPDIFF/TIMESTAMPADD) and CAST/CONVERT types.
UNITS = frozenset("MICROSECOND SECOND MINUTE HOUR DAY WEEK MONTH QUARTER YEAR".split())
CAST_TYPES = frozenset("SIGNED UNSIGNED INTEGER DOUBLE FLOAT DECIMAL CHAR DATE DATETIME "
                       "TIME".split())
# Cast types that take an optional length (precision, scale): type -> most numbers.
CAST_LENGTHS = {"DECIMAL": 2, "CHAR": 1, "DATETIME": 1, "TIME": 1}

# Keywords with a place in the accepted grammar: never column names.
KEYWORDS = frozenset(
    "AND OR XOR NOT IS NULL TRUE FALSE UNKNOWN LIKE ESCAPE RLIKE REGEXP BETWEEN IN CASE "
    "WHEN THEN ELSE END DIV MOD AS ASC DESC INTERVAL ORDER BY".split())


def _refuse(words: str, why: str) -> dict[str, str]:
    return {word: why for word in words.split()}


# Words refused wherever they appear outside a string literal, with the reason.
FORBIDDEN_WORDS: dict[str, str] = {
    **_refuse("SELECT EXISTS ANY SOME ALL",
              "subqueries are not allowed (the filter adds its one SELECT itself)"),
    **_refuse("UNION INTERSECT EXCEPT", "UNION, INTERSECT and EXCEPT are not allowed"),
    **_refuse("INTO OUTFILE DUMPFILE", "INTO (OUTFILE, DUMPFILE, variables) is not allowed"),
    **_refuse("FOR LOCK SHARE NOWAIT SKIP",
              "locking clauses (FOR UPDATE, LOCK IN SHARE MODE) are not allowed"),
    **_refuse("SET STATEMENT", "SET (including SET STATEMENT) is not allowed"),
    **_refuse("LIMIT OFFSET ROWS FETCH",
              "LIMIT is not allowed: the row limit is added when the filter runs"),
    **_refuse("FROM JOIN STRAIGHT_JOIN USING ON NATURAL DUAL",
              "FROM and JOIN are generated from the tables list"),
    **_refuse("WHERE", "write only the conditions: WHERE is added by the filter"),
    **_refuse("GROUP HAVING WINDOW OVER PARTITION ROLLUP",
              "GROUP BY, HAVING and window functions are not allowed: a filter returns "
              "rows per object"),
    **_refuse("WITH RECURSIVE", "WITH (common table expressions) is not allowed"),
    **_refuse("DISTINCT DISTINCTROW HIGH_PRIORITY SQL_CALC_FOUND_ROWS SQL_NO_CACHE SQL_CACHE "
              "SQL_BUFFER_RESULT SQL_SMALL_RESULT SQL_BIG_RESULT MAX_STATEMENT_TIME",
              "SELECT modifiers are not allowed"),
    **_refuse("PROCEDURE", "PROCEDURE is not allowed"),
    **_refuse("INSERT UPDATE DELETE REPLACE DROP CREATE ALTER TRUNCATE RENAME GRANT REVOKE "
              "CALL EXECUTE PREPARE DEALLOCATE DO HANDLER LOAD KILL SHUTDOWN USE SHOW "
              "DESCRIBE EXPLAIN ANALYZE FLUSH RESET BEGIN COMMIT ROLLBACK START XA "
              "DECLARE BINLOG VALUES TABLE",
              "only a SELECT filter is allowed, not other statements"),
    **_refuse("COLLATE BINARY", "COLLATE and BINARY are not allowed"),
}
