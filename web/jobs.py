"""Background jobs (watchlist loading, crossmatches) and their progress in ``web_jobs``.

A job runs as an asyncio task of the web process; its state, counts and per-line errors
are upserted into ``web_jobs`` so any page or API call (from any web process) can show
progress.  The blocking parts (CSV parsing, index building) run in the default executor.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable

import orjson
from aiohttp import web

from web import db
from web.config import JOBS

log = logging.getLogger("solas.web")
MAX_STORED_ERRORS = 1000


async def set_progress(pool, kind: str, ref_id: int, state: str, *, done: int = 0,
                       total: int | None = None, cones: int | None = None,
                       hits: int | None = None, message: str | None = None,
                       errors: list | None = None) -> None:
    """Upsert a job's progress (None keeps the stored value)."""
    await db.execute(
        pool, "INSERT INTO web_jobs (kind, ref_id, state, done, total, cones, hits, message, "
              "errors, updated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6)) "
              "ON DUPLICATE KEY UPDATE state=VALUES(state), done=VALUES(done), "
              "total=VALUES(total), cones=COALESCE(VALUES(cones), cones), "
              "hits=COALESCE(VALUES(hits), hits), message=VALUES(message), "
              "errors=COALESCE(VALUES(errors), errors), updated=VALUES(updated)",
        (kind, ref_id, state, done, total, cones, hits, message,
         None if errors is None else orjson.dumps(errors[:MAX_STORED_ERRORS + 1]).decode()))


async def progress(pool, kind: str, ref_id: int) -> dict:
    """The job's progress, ``{"state": "ready"}`` if none was recorded."""
    row = await db.fetch_one(pool, "SELECT state, done, total, cones, hits, message, errors, "
                                   "updated FROM web_jobs WHERE kind=%s AND ref_id=%s",
                             (kind, ref_id))
    if row is None:
        return {"state": "ready", "done": 0, "total": None, "errors": []}
    row["errors"] = orjson.loads(row["errors"]) if row["errors"] else []
    return row


async def forget(pool, kind: str, ref_id: int) -> None:
    """Delete a job's progress (its watchlist or watchmap is gone)."""
    await db.execute(pool, "DELETE FROM web_jobs WHERE kind=%s AND ref_id=%s", (kind, ref_id))


def start(app: web.Application, work: Awaitable[Any], name: str) -> asyncio.Task:
    """Run ``work`` in the background; the app cancels it on shutdown."""
    task = asyncio.get_running_loop().create_task(work, name=name)
    app[JOBS].add(task)

    def done(t: asyncio.Task) -> None:
        app[JOBS].discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("job %s failed", name, exc_info=t.exception())

    task.add_done_callback(done)
    return task


async def cancel(app: web.Application, name: str) -> None:
    """Cancel the running job called ``name`` (its watchlist or watchmap is deleted)."""
    tasks = [t for t in app[JOBS] if t.get_name() == name]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def cancel_all(app: web.Application) -> None:
    """Cancel the running jobs (shutdown)."""
    tasks = list(app[JOBS])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
