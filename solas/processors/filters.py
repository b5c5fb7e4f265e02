"""Active user filters: loaded from MariaDB, vetted, and run on each batch.

Every active filter runs on the batch's objects only (the same SQL as on demand,
restricted with ``objects.<id> IN (...)``), concurrently on the read-only account,
each under ``SET STATEMENT max_statement_time`` and a watchdog ``KILL QUERY``: a slow
or broken filter cannot stall the others.  Its error is recorded in ``filters`` and
returned so the owner can be told.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping, NamedTuple, Sequence

import pymysql

from solas import metrics
from solas.filters import (Access, CompiledFilter, FilterError, ObjectIdList,
                           compile_filter, render_query)

log = logging.getLogger(__name__)
RUN_ON_ALERT, RUN_ON_ANNOTATION = 1, 2
#: MariaDB error codes that say the server or the connection went away (can't connect,
#: gone away, lost connection, server shutdown, connection killed at shutdown), not
#: that the filter is wrong.
CONNECTION_ERROR_CODES = frozenset({2002, 2003, 2006, 2013, 2055, 1053, 1927})


def is_connection_error(exc: BaseException) -> bool:
    """True if ``exc`` means MariaDB is unreachable: the batch must be retried, and the
    filter must not be blamed (nor its matches dropped)."""
    if isinstance(exc, (ConnectionError, pymysql.err.InterfaceError)):
        return True
    return isinstance(exc, pymysql.err.OperationalError) and bool(exc.args) and \
        exc.args[0] in CONNECTION_ERROR_CODES


class ActiveFilter(NamedTuple):
    """A filter that runs in the stream, vetted for its owner."""

    id: int
    user: int | None
    name: str
    public: bool
    run: int
    output: int
    topic: str | None
    byte_quota: int | None
    email: str | None
    compiled: CompiledFilter


class FilterRun(NamedTuple):
    """Rows (object id first) of one filter on one batch, or the error it gave."""

    filter: ActiveFilter
    rows: list[tuple]
    error: str | None
    seconds: float


ACTIVE_SQL = (
    "SELECT f.id, f.user, f.name, f.public, f.run, f.output, f.topic_name, f.byte_quota, "
    "u.email, f.selected, f.tables, f.conditions FROM filters f LEFT JOIN users u "
    "ON u.id = f.user WHERE f.run > 0 AND (f.expires IS NULL OR f.expires > NOW())")
OWNERS_SQL = {
    "watchlist": "SELECT wl_id, user, public FROM watchlists",
    "watchmap": "SELECT ar_id, user, public FROM watchmaps",
    "annotator": "SELECT topic, owner, public FROM annotators",
}


def owner_access(owners: dict[str, dict], user: int | None):
    """An access check answering for ``user`` from (kind -> key -> (owner, public))."""
    def access(kind: str, key) -> Access:
        entry = owners[kind].get(str(key))
        if entry is None:
            return Access.MISSING
        owner, public = entry
        return Access.VISIBLE if public or (user is not None and owner == user) else \
            Access.PRIVATE
    return access


def load_active_filters(cursor, survey: str) -> tuple[list[ActiveFilter], dict[int, str]]:
    """Active filters vetted for their owners, and the errors of those that fail."""
    owners = {}
    for kind, sql in OWNERS_SQL.items():
        cursor.execute(sql)
        owners[kind] = {str(k): (u, bool(p)) for k, u, p in cursor.fetchall()}
    cursor.execute(ACTIVE_SQL)
    active, errors = [], {}
    for (fid, user, name, public, run, output, topic, quota, email, selected, tables,
         conditions) in cursor.fetchall():
        try:
            compiled = compile_filter(selected, tables, conditions, survey,
                                      access=owner_access(owners, user))
        except FilterError as exc:
            errors[fid] = str(exc)
            continue
        active.append(ActiveFilter(fid, user, name, bool(public), run, output, topic,
                                   quota, email, compiled))
    return active, errors


async def _execute(pool, sql: str) -> list[tuple]:
    async with pool.acquire() as conn, conn.cursor() as cursor:
        await cursor.execute(sql)
        return list(await cursor.fetchall())


async def _kill(admin_pool, thread_id: int) -> None:
    async with admin_pool.acquire() as conn, conn.cursor() as cursor:
        await cursor.execute("KILL QUERY %s", (thread_id,))


async def run_filter(pool, admin_pool, active: ActiveFilter, ids: ObjectIdList,
                     limit: int, time_limit_s: float) -> FilterRun:
    """One filter on one batch, killed from ``admin_pool`` if it outlives its limit."""
    sql = render_query(active.compiled, limit=limit, batch_objects=ids,
                       max_statement_time_s=time_limit_s, with_object_id=True)
    start = time.perf_counter()
    async with pool.acquire() as conn:
        thread_id = conn.thread_id()
        try:
            async with conn.cursor() as cursor:
                await asyncio.wait_for(cursor.execute(sql), time_limit_s + 1.0)
                rows = list(await cursor.fetchall())
            error = None
        except asyncio.TimeoutError:
            await _kill(admin_pool, thread_id)
            rows, error = [], f"killed after {time_limit_s:g} s"
            conn.close()  # the connection is mid-statement: do not reuse it
        except Exception as exc:  # the filter's own errors: recorded, never fatal
            if is_connection_error(exc):
                raise  # MariaDB is away: the caller retries the batch
            rows, error = [], f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    errors = metrics.FILTER_ERRORS.labels(str(active.id))  # the series exists at 0
    metrics.FILTER_RUN_DURATION.labels(str(active.id)).observe(seconds)
    metrics.FILTER_MATCHES.labels(str(active.id)).inc(len(rows))
    if error:
        errors.inc()
    return FilterRun(active, rows, error, seconds)


async def run_filters(pool, admin_pool, filters: Sequence[ActiveFilter],
                      ids: Mapping[str, ObjectIdList], limit: int, time_limit_s: float
                      ) -> list[FilterRun]:
    """Every filter on the batch, at most the pool's size at once; ``ids`` gives the
    batch's ids for each root table a filter can select from (``objects``: diaObjectIds
    or ZTF objectIds, ``ss_objects``: ssObjectIds); a filter whose root has no id in
    the batch is not run.  Raises if MariaDB is unreachable (see :func:`is_connection_error`):
    retry the whole batch."""
    return list(await asyncio.gather(*(
        run_filter(pool, admin_pool, f, ids[f.compiled.root], limit, time_limit_s)
        for f in filters if f.compiled.root in ids and ids[f.compiled.root].count)))


async def record_errors(pool, errors: dict[int, str]) -> None:
    """Keep each filter's latest error in ``filters`` for its owner to see."""
    if not errors:
        return
    async with pool.acquire() as conn, conn.cursor() as cursor:
        await cursor.executemany(
            "UPDATE filters SET last_error=%s, last_error_at=NOW(6) WHERE id=%s",
            [(text[:4000], fid) for fid, text in errors.items()])


def row_values(row: Sequence[Any]) -> tuple[Any, tuple]:
    """(object id, the user's columns) of a streamed row."""
    return row[0], tuple(row[1:])
