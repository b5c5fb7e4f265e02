"""Hostile filters on the real MariaDB (issue 32 item 1): a query MariaDB cannot stop is
refused before it reaches the server, what the vetter lets through stays cheap, and a
filter that runs out of time is switched off without holding up the batch."""
from __future__ import annotations

import asyncio
import time

import pytest

from solas.filters import FilterError, build_query, compile_filter, object_id_list
from solas.filters.cost import MAX_CONSTANT_WORK_BYTES, MAX_TREE_DEPTH
from solas.processors.filters import (
    ActiveFilter,
    load_active_filters,
    run_filters,
    switch_off,
)
from solas.stores import mariadb
from web.queries import compile_for

TEN_A = "'aaaaaaaaaa'"
ISSUE_QUERY = (f"REPLACE(REPLACE(REPLACE('{'a' * 60_000}','a',{TEN_A}),'a',{TEN_A}),'a',"
               f"{TEN_A}) IS NULL")


async def _compile_on_the_portal_path(settings, conditions: str) -> None:
    pool = await mariadb.open_pool(settings)
    try:
        await compile_for(pool, settings.survey, "objects.objectId", "objects", conditions,
                          None)
    finally:
        pool.close()
        await pool.wait_closed()


def test_the_issue_query_is_refused_fast(ztf):
    start = time.perf_counter()
    with pytest.raises(FilterError, match="MAX_LITERAL_BYTES"):
        asyncio.run(_compile_on_the_portal_path(ztf, ISSUE_QUERY))
    assert time.perf_counter() - start < 2.0


def _timed(settings, sql: str) -> float:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(sql)
        cursor.fetchall()
        return time.perf_counter() - start


def test_what_the_vetter_allows_is_cheap_for_mariadb(ztf):
    """The most constant string work and the deepest expressions the limits allow run
    in well under a second (no server stack overrun)."""
    one = f"REPLACE('{'a' * 1000}', 'a', '{'b' * 600}') IS NULL"  # 600 kB each
    heavy = " OR ".join([one] * (MAX_CONSTANT_WORK_BYTES // 600_000))
    deep_unary = "~" * (MAX_TREE_DEPTH - 2) + "1 = 1"
    deep_sum = "objects.ncand" + " + 1" * (MAX_TREE_DEPTH - 2) + " > 0"
    for conditions in (heavy, deep_unary, deep_sum):
        sql = build_query("objects.objectId", "objects", conditions, "ztf", limit=10)
        assert _timed(ztf, sql) < 2.0, conditions[:60]


async def _run(settings, filters, ids, time_limit_s):
    pool = await mariadb.open_pool(settings)
    ro = await mariadb.open_pool(settings, *mariadb.readonly_credentials(settings), maxsize=4)
    try:
        start = time.perf_counter()
        runs = await run_filters(ro, pool, filters, {"objects": ids}, 100, time_limit_s)
        waited = time.perf_counter() - start
        switched = await switch_off(pool, runs)
        await asyncio.sleep(0.5)  # the background KILL QUERY
        return runs, waited, switched
    finally:
        pool.close(), ro.close()
        await pool.wait_closed(), await ro.wait_closed()


def test_a_filter_out_of_time_is_switched_off_and_the_batch_does_not_wait(ztf, db_helpers):
    user = db_helpers.make_user(ztf)
    good_id = db_helpers.make_filter(ztf, user, "objects", "objects.ncand >= 0",
                                     "objects.objectId")
    slow_id = db_helpers.make_filter(ztf, user, "objects", "objects.ncand >= 0",
                                     "objects.objectId")
    db_helpers.execute(ztf, "INSERT IGNORE INTO objects (objectId, ncand) VALUES "
                            "('ZTF21aaaaaaa', 1)")
    compiled = compile_filter("objects.objectId", "objects", "objects.ncand >= 0", "ztf")
    good = ActiveFilter(good_id, user, "good", False, 1, 2, None, None, None, compiled)
    # The vetter refuses SLEEP: a filter made behind its back stands for one that is slow.
    slow = good._replace(id=slow_id, name="slow",
                         compiled=compiled._replace(where="SLEEP(30) = 0"))
    ids = object_id_list(["ZTF21aaaaaaa"], "ztf")
    runs, waited, switched = asyncio.run(_run(ztf, [slow, good], ids, 2.0))
    by_name = {r.filter.name: r for r in runs}
    assert by_name["good"].rows and by_name["good"].error is None
    assert by_name["slow"].timed_out and by_name["slow"].rows == []
    assert waited < 2.0 + 0.8  # the time limit, plus the batch's own work
    assert switched == [slow_id]
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, run, last_error FROM filters WHERE id IN (%s, %s)",
                       (good_id, slow_id))
        rows = {fid: (run, error) for fid, run, error in cursor.fetchall()}
        active, _ = load_active_filters(cursor, "ztf")
    assert rows[good_id] == (1, None)
    assert rows[slow_id][0] == 0 and "switched off" in rows[slow_id][1]
    assert "2 s" in rows[slow_id][1]
    assert slow_id not in {f.id for f in active} and good_id in {f.id for f in active}
