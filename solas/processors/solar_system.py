"""The filter stage's writes of the solar-system tables (rows built in
:mod:`solas.features.solar_system`).

Per batch, in this order: one multi-row upsert of ``ss_sources``, one of ``ss_objects``
(guarded: only a newer alert overwrites an object's latest state), then one
``INSERT ... SELECT`` recomputing the objects' aggregates from ``ss_sources``.  Every
statement is a keyed upsert: replaying a batch rewrites the same rows.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from solas import metrics
from solas.features.solar_system import (
    OBJECT_TIME,
    SolarSystemRows,
    aggregate_sql,
    solar_system_rows,
)
from solas.stores import mariadb
from solas.surveys import Alert


async def _upsert(cursor: Any, table: str, rows: list[dict[str, Any]],
                  newer: str | None = None) -> None:
    columns = list(rows[0])
    start = time.perf_counter()
    await cursor.executemany(mariadb.upsert_sql(table, columns, newer),
                             [tuple(r[c] for c in columns) for r in rows])
    metrics.MARIADB_WRITE_DURATION.labels(table).observe(time.perf_counter() - start)
    metrics.MARIADB_ROWS.labels(table).inc(len(rows))


async def write_solar_system(pool: Any, rows: SolarSystemRows) -> None:
    """Write a batch's :class:`SolarSystemRows` (nothing if it has none)."""
    if not rows.sources:
        return
    ids = sorted({r["ssObjectId"] for r in rows.objects})
    async with pool.acquire() as conn, conn.cursor() as cursor:
        await _upsert(cursor, "ss_sources", rows.sources)
        if rows.objects:
            await _upsert(cursor, "ss_objects", rows.objects, OBJECT_TIME)
            await cursor.execute(aggregate_sql(len(ids)), ids)


async def store_solar_system(pool: Any, survey: str, alerts: Sequence[Alert],
                             now: dt.datetime) -> int:
    """Build and write the solar-system rows of a batch (Rubin only); returns the number
    of detections written."""
    if survey != "lsst":
        return 0
    rows = solar_system_rows(alerts, now)
    await write_solar_system(pool, rows)
    return len(rows.sources)
