"""Running user filter SQL: vetted by :mod:`solas.filters`, executed on the read-only
account with multi-statements switched off, a server-side time limit and a watchdog.

Layers (DESIGN section 5): the vetter accepts one SELECT only; the statement starts
with ``SET STATEMENT max_statement_time=N FOR``; the connection is opened without the
``CLIENT_MULTI_STATEMENTS`` capability (aiomysql always asks for it); the account
``solas_ro`` can only SELECT; and a watchdog sends ``KILL QUERY`` if the server has
not answered ``grace`` seconds after the limit.
"""
from __future__ import annotations

import asyncio
import datetime
import decimal
from typing import Any, NamedTuple

import aiomysql
import pymysql
from pymysql.constants import CLIENT

from solas.filters import Access, FilterError, compile_filter, parse_tables, render_query
from solas.filters.build import CompiledFilter
from solas.settings import Settings
from web import db

# MariaDB errors of a statement stopped by max_statement_time or KILL QUERY.
INTERRUPTED = {1317, 1969, 3024}


class QueryError(ValueError):
    """A query the server refused or stopped: the message is fit to show the user."""


class ResultTooLarge(QueryError):
    """A result over the byte cap (``Settings.result_max_bytes``)."""


def value_bytes(value: Any) -> int:
    """Roughly what a value read from MariaDB weighs in a result, bytes (its text for
    strings and bytes, 8 for anything else)."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    return 8


class QueryResult(NamedTuple):
    """Column names (SELECT keys) and rows (tuples) of a query."""

    columns: list[str]
    rows: list[tuple]


class _SingleStatementConnection(aiomysql.Connection):
    """An aiomysql connection that does not announce multi-statement support, so the
    server refuses ``a; b`` whatever text reaches it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_flag &= ~CLIENT.MULTI_STATEMENTS


class ReadOnlyRunner:
    """A small pool of single-statement connections on the read-only account."""

    def __init__(self, settings: Settings, user: str, password: str, *, size: int = 4,
                 timeout_s: float = 10.0, grace_s: float = 2.0,
                 max_bytes: int | None = None):
        params = settings.mariadb
        self._connect_args = dict(host=params["host"], port=params["port"], user=user,
                                  password=password, db=params["db"], autocommit=True,
                                  charset="utf8mb4", connect_timeout=10)
        self._idle: list[aiomysql.Connection] = []
        self._slots = asyncio.Semaphore(size)
        self.timeout_s, self.grace_s = timeout_s, grace_s
        self.max_bytes = settings.result_max_bytes if max_bytes is None else max_bytes

    async def _connection(self) -> aiomysql.Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        conn = _SingleStatementConnection(**self._connect_args)
        await conn._connect()
        return conn

    async def _kill(self, thread_id: int) -> None:
        """``KILL QUERY`` from a fresh connection of the same account."""
        conn = _SingleStatementConnection(**self._connect_args)
        await conn._connect()
        try:
            async with conn.cursor() as cur:
                await cur.execute(f"KILL QUERY {int(thread_id)}")
        except pymysql.MySQLError:
            pass  # the query ended meanwhile
        finally:
            conn.close()

    async def run(self, sql: str) -> QueryResult:
        """Execute one vetted statement; QueryError on a server error or a timeout."""
        async with self._slots:
            conn = await self._connection()
            reusable = False
            try:
                result = await asyncio.wait_for(self._execute(conn, sql, self.max_bytes),
                                                self.timeout_s + self.grace_s)
                reusable = True
                return result
            except ResultTooLarge:
                await self._kill(conn.thread_id())  # rows are left unread: drop the link
                raise
            except asyncio.TimeoutError:
                await self._kill(conn.thread_id())
                raise QueryError(f"the query was stopped after {self.timeout_s:g} s: "
                                 "add conditions on indexed columns or a smaller limit") \
                    from None
            except pymysql.MySQLError as err:
                code = err.args[0] if err.args else 0
                reusable = code not in (2006, 2013) and not isinstance(
                    err, pymysql.err.InterfaceError)
                if code in INTERRUPTED:
                    raise QueryError(f"the query took longer than {self.timeout_s:g} s and "
                                     "was stopped: add conditions on indexed columns or a "
                                     "smaller limit") from None
                message = err.args[1] if len(err.args) > 1 else str(err)
                raise QueryError(f"the database refused the query: {message}") from None
            finally:
                if reusable:
                    self._idle.append(conn)
                else:
                    conn.close()

    @staticmethod
    async def _execute(conn: aiomysql.Connection, sql: str, max_bytes: int) -> QueryResult:
        """Stream the rows (an unbuffered cursor), counting their bytes: ResultTooLarge
        past ``max_bytes``, before more is read."""
        cur = await conn.cursor(aiomysql.SSCursor)
        await cur.execute(sql)
        columns = [d[0] for d in cur.description or ()]
        rows, size = [], 0
        while (row := await cur.fetchone()) is not None:
            size += sum(value_bytes(v) for v in row)
            if size > max_bytes:
                raise ResultTooLarge(
                    f"the result is larger than {max_bytes:,} bytes, the most a query may "
                    "return (SOLAS_RESULT_MAX_BYTES): select fewer or shorter columns, or "
                    "fewer rows (limit, offset)")
            rows.append(row)
        await cur.close()
        return QueryResult(columns, rows)

    def close(self) -> None:
        """Close the idle connections."""
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def json_value(value: Any) -> Any:
    """A JSON-ready form of a value read from MariaDB (orjson ``default``)."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def rows_as_dicts(result: QueryResult) -> list[dict]:
    """Rows of a result as dicts keyed by the SELECT keys."""
    return [dict(zip(result.columns, row)) for row in result.rows]


# ------------------------------------------------------------------ privacy

async def access_for(pool: aiomysql.Pool, tables: str, user_id: int | None):
    """An access callback for a tables spec, answering for ``user_id`` (None: anonymous).

    Another user's private watchlist, watchmap or annotator is reported MISSING: it is
    invisible, not merely refused.  Raises FilterError for a malformed spec."""
    spec = parse_tables(tables)
    known: dict[tuple[str, object], Access] = {}
    queries = {"watchlist": "SELECT user, public FROM watchlists WHERE wl_id=%s",
               "watchmap": "SELECT user, public FROM watchmaps WHERE ar_id=%s",
               "annotator": "SELECT owner AS user, public FROM annotators WHERE topic=%s"}
    for kind, key in spec.references():
        row = await db.fetch_one(pool, queries[kind], (key,))
        known[(kind, key)] = visibility(row, user_id)

    def access(kind: str, key) -> Access:
        return known.get((kind, key), Access.MISSING)

    return access


def visibility(row: dict | None, user_id: int | None) -> Access:
    """VISIBLE if the row is public or the user's own, else MISSING (invisible)."""
    if row is None:
        return Access.MISSING
    if row.get("public") or (user_id is not None and row.get("user") == user_id):
        return Access.VISIBLE
    return Access.MISSING


async def compile_for(pool: aiomysql.Pool, survey: str, selected: str, tables: str,
                      conditions: str, user_id: int | None) -> CompiledFilter:
    """Vet a filter for a user (FilterError naming the problem)."""
    for name, value in (("selected", selected), ("tables", tables),
                        ("conditions", conditions)):
        if not isinstance(value, str):
            raise FilterError("is missing", field=name)
    if not selected.strip():
        raise FilterError("choose at least one column to select", field="selected")
    access = await access_for(pool, tables, user_id)
    return compile_filter(selected, tables, conditions, survey, access=access)


async def run_filter(runner: ReadOnlyRunner, compiled: CompiledFilter, *, limit: int,
                     offset: int = 0) -> QueryResult:
    """Run a vetted filter on the whole database."""
    sql = render_query(compiled, limit=limit, offset=offset,
                       max_statement_time_s=runner.timeout_s)
    return await runner.run(sql)
