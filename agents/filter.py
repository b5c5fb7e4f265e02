"""Filter agent: topic ``sherlocked`` -> features, hits, MariaDB, active filters ->
per-filter topics, ``live`` and e-mail digests (periodic tasks: digests, ledger pruning).

Thin wiring: the processor owns the pools, the sky state and a transactional
producer; events are acknowledged after the batch's transaction has committed.
"""
from __future__ import annotations

import asyncio
import logging
import socket

from agents.app import app, settings
from agents.filter_processor import filter_processor, filter_record
from agents.topics import sherlocked
from solas.processors.housekeeping import run_due_tasks

log = logging.getLogger(__name__)


@app.agent(sherlocked)
async def filter_stage(stream):
    """Run every active filter on each batch of classified alerts."""
    processor = await filter_processor()
    try:
        async for events in stream.take_events(settings.batch_size,
                                               within=settings.batch_timeout_s):
            await processor.process([filter_record(e) for e in events])
    finally:
        await processor.close_producer()


@app.timer(settings.housekeeping_poll_s)
async def housekeeping():
    """Run the periodic tasks (e-mail digests, ledger pruning) this worker holds the
    lease of, when due (:mod:`solas.processors.housekeeping`)."""
    owner = f"{settings.app_id}-filter-{settings.worker_id}@{socket.gethostname()}"
    try:
        await asyncio.get_running_loop().run_in_executor(None, run_due_tasks, settings, owner)
    except Exception as exc:  # noqa: BLE001 (MariaDB away: the schedule waits for the next poll)
        log.error("periodic tasks not checked (%s: %s)", type(exc).__name__, exc)
