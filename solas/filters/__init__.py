"""The filter-SQL vetter and builder.

A filter is three strings written by a user: the SELECT list (``selected``), the tables
spec (``tables``) and the conditions (WHERE, optionally followed by ORDER BY).  They are
lexed and parsed by Solas' own small SQL parser, which accepts only a SELECT expression
list and a WHERE (+ ORDER BY) over the columns of the listed tables, with functions from
an allow-list, and re-renders them; the FROM/JOIN clause, the batch restriction, the
time limit (``SET STATEMENT max_statement_time=N FOR``) and LIMIT/OFFSET are generated.
Anything else raises :class:`FilterError` (a ``ValueError``) naming the problem and
where it is.

This is one layer of several: run the statement on a read-only account, with
multi-statements off, and with a watchdog ``KILL QUERY`` (DESIGN section 5).  The
connection must use MariaDB's default quoting (no ``ANSI_QUOTES``); with or without
``NO_BACKSLASH_ESCAPES`` a vetted statement cannot change shape (see
:mod:`solas.filters.lexer`).
"""
from solas.filters.build import (CompiledFilter, ObjectIdList, build_query, compile_filter,
                                 object_id_list, render_query, select_aliases)
from solas.filters.errors import FilterError
from solas.filters.functions import ALLOWED_FUNCTIONS, HELPERS
from solas.filters.scope import TIME_COLUMNS
from solas.filters.tables_spec import Access, AccessCheck, TablesSpec, check_access, parse_tables

__all__ = [
    "ALLOWED_FUNCTIONS", "Access", "AccessCheck", "CompiledFilter", "FilterError", "HELPERS",
    "ObjectIdList", "TIME_COLUMNS", "TablesSpec", "build_query", "check_access",
    "compile_filter", "object_id_list", "parse_tables", "render_query", "select_aliases",
]
