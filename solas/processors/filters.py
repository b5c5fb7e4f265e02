"""Active user filters: loaded from MariaDB, vetted, and run on each batch.

Every active filter runs on the batch's objects only (the same SQL as on demand,
restricted with ``objects.<id> IN (...)``), concurrently on the read-only account,
each under ``SET STATEMENT max_statement_time`` and a watchdog ``KILL QUERY``: a slow
or broken filter cannot stall the others.  Its error is recorded in ``filters`` and
returned so the owner can be told.

The batch waits for a filter at most its time limit: at the limit the client stops
reading, closes that connection and leaves the ``KILL QUERY`` to a background task
(MariaDB does not always stop at once: a constant folded while planning runs on until
done).  A filter that ran out of time is switched off (:func:`switch_off`), with the
reason in ``filters.last_error`` for its owner, so it cannot slow the next batches.
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
#: MariaDB error codes of a statement stopped by max_statement_time or KILL QUERY.
INTERRUPTED_CODES = frozenset({1317, 1969, 3024})
#: Longest wait for the background ``KILL QUERY`` of a filter that ran out of time, s.
KILL_TIMEOUT_S = 10.0
_kills: set[asyncio.Task] = set()  # background KILL QUERYs (kept from the collector)


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
    timed_out: bool = False
    """The filter ran out of time (its run was stopped): switch it off."""


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
    """``KILL QUERY`` from ``admin_pool``; failures are logged, never raised (this runs
    in the background, after the batch moved on)."""
    try:
        async with asyncio.timeout(KILL_TIMEOUT_S):
            async with admin_pool.acquire() as conn, conn.cursor() as cursor:
                await cursor.execute("KILL QUERY %s", (thread_id,))
    except Exception as exc:  # the query may have ended meanwhile, or MariaDB is away
        log.warning("KILL QUERY %s failed: %s: %s", thread_id, type(exc).__name__, exc)


def kill_in_background(admin_pool, thread_id: int) -> None:
    """Send ``KILL QUERY thread_id`` without waiting for it."""
    task = asyncio.get_running_loop().create_task(_kill(admin_pool, thread_id))
    _kills.add(task)
    task.add_done_callback(_kills.discard)


def out_of_time(time_limit_s: float) -> str:
    """The message its owner reads when a filter is switched off for being slow."""
    return (f"switched off: it ran longer than its time limit of {time_limit_s:g} s on "
            "a batch of alerts (SOLAS_FILTER_TIME_LIMIT), and was stopped so that it "
            "cannot delay other users' filters. Make it cheaper (conditions on indexed "
            "columns, fewer string functions) and switch it on again.")


async def run_filter(pool, admin_pool, active: ActiveFilter, ids: ObjectIdList,
                     limit: int, time_limit_s: float) -> FilterRun:
    """One filter on one batch; waits for it at most ``time_limit_s`` (then kills it
    from ``admin_pool`` in the background and reports it ``timed_out``)."""
    sql = render_query(active.compiled, limit=limit, batch_objects=ids,
                       max_statement_time_s=time_limit_s, with_object_id=True)
    start = time.perf_counter()
    timed_out = False
    async with pool.acquire() as conn:
        thread_id = conn.thread_id()
        try:
            async with conn.cursor() as cursor:
                await asyncio.wait_for(cursor.execute(sql), time_limit_s)
                rows = list(await cursor.fetchall())
            error = None
        except asyncio.TimeoutError:
            conn.close()  # the connection is mid-statement: do not reuse it
            kill_in_background(admin_pool, thread_id)
            rows, error, timed_out = [], out_of_time(time_limit_s), True
        except Exception as exc:  # the filter's own errors: recorded, never fatal
            if is_connection_error(exc):
                raise  # MariaDB is away: the caller retries the batch
            if isinstance(exc, pymysql.MySQLError) and exc.args and \
                    exc.args[0] in INTERRUPTED_CODES:
                rows, error, timed_out = [], out_of_time(time_limit_s), True
            else:
                rows, error = [], f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    errors = metrics.FILTER_ERRORS.labels(str(active.id))  # the series exists at 0
    metrics.FILTER_RUN_DURATION.labels(str(active.id)).observe(seconds)
    metrics.FILTER_MATCHES.labels(str(active.id)).inc(len(rows))
    if error:
        errors.inc()
    return FilterRun(active, rows, error, seconds, timed_out)


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


async def switch_off(pool, runs: Sequence[FilterRun]) -> list[int]:
    """Switch off (``run=0``) every filter of ``runs`` that ran out of time, with the
    reason in ``last_error`` for its owner; returns their ids."""
    slow = {r.filter.id: r.error or "switched off: out of time" for r in runs if r.timed_out}
    if slow:
        async with pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.executemany(
                "UPDATE filters SET run=0, last_error=%s, last_error_at=NOW(6) WHERE id=%s",
                [(text[:4000], fid) for fid, text in slow.items()])
        for fid in slow:
            log.warning("filter %s ran out of time and was switched off", fid)
    return list(slow)


def row_values(row: Sequence[Any]) -> tuple[Any, tuple]:
    """(object id, the user's columns) of a streamed row."""
    return row[0], tuple(row[1:])
