"""MariaDB access of the portal: an autocommit aiomysql pool and small query helpers.

Also the tables only the web application uses (API call counters and background-job
progress), created at start-up from their column specs when missing.
"""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

import aiomysql
import pymysql

from solas.schema.columns import Column as C, TableSpec, mariadb_create
from solas.settings import Settings

WEB_TABLES = (
    TableSpec("web_rate_limits", (
        C("subject", "varchar(80)", "user:<id> or ip:<address>", nullable=False),
        C("hour", "bigint", "hours since 1970-01-01 UTC", nullable=False),
        C("calls", "int", "API calls made in that hour", default="0")),
        ("subject", "hour"), "Hourly API call counters (web)"),
    TableSpec("web_jobs", (
        C("kind", "varchar(16)", "watchlist or watchmap", nullable=False),
        C("ref_id", "int", "wl_id or ar_id", nullable=False),
        C("state", "varchar(16)", "loading, crossmatching, ready or failed"),
        C("done", "bigint", "items processed in the current state"),
        C("total", "bigint", "items of the current state, when known"),
        C("cones", "bigint", "cones stored (watchlists)"),
        C("hits", "bigint", "hits found against stored objects"),
        C("message", "text", "what went wrong, for failed jobs"),
        C("errors", "json", "rejected upload lines [[line, reason], ...]"),
        C("updated", "datetime", default="CURRENT_TIMESTAMP(6)")),
        ("kind", "ref_id"), "Progress of watchlist/watchmap uploads and crossmatches (web)"),
)


async def open_pool(settings: Settings, minsize: int = 1, maxsize: int = 10) -> aiomysql.Pool:
    """An autocommit pool on the Solas database (a pooled connection never keeps a
    stale snapshot)."""
    db = settings.mariadb
    return await aiomysql.create_pool(host=db["host"], port=db["port"], user=db["user"],
                                      password=db["password"], db=db["db"],
                                      autocommit=True, charset="utf8mb4",
                                      minsize=minsize, maxsize=maxsize, pool_recycle=3600)


async def ensure_web_tables(pool: aiomysql.Pool) -> None:
    """Create the web-owned tables if they are missing."""
    with warnings.catch_warnings():  # "table exists" notes of CREATE ... IF NOT EXISTS
        warnings.simplefilter("ignore", pymysql.Warning)
        for spec in WEB_TABLES:
            await execute(pool, mariadb_create(spec))


async def fetch_all(pool: aiomysql.Pool, sql: str, args: Sequence | dict = ()) -> list[dict]:
    """Every row of a query as dicts."""
    async with pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cur:
        await cur.execute(sql, args or None)
        return list(await cur.fetchall())


async def fetch_one(pool: aiomysql.Pool, sql: str, args: Sequence | dict = ()) -> dict | None:
    """The first row of a query, or None."""
    rows = await fetch_all(pool, sql, args)
    return rows[0] if rows else None


async def fetch_value(pool: aiomysql.Pool, sql: str, args: Sequence | dict = ()) -> Any:
    """The first column of the first row, or None."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, args or None)
        row = await cur.fetchone()
        return row[0] if row else None


async def execute(pool: aiomysql.Pool, sql: str, args: Sequence | dict = ()) -> tuple[int, int]:
    """Run one statement; returns (affected rows, last insert id)."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, args or None)
        return cur.rowcount, cur.lastrowid


async def execute_many(pool: aiomysql.Pool, sql: str, rows: Iterable[Sequence]) -> int:
    """One multi-row statement (``executemany`` batches INSERT ... VALUES)."""
    rows = list(rows)
    if not rows:
        return 0
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.executemany(sql, rows)
        return cur.rowcount
