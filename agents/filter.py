"""Filter agent: topic ``sherlocked`` -> features, hits, MariaDB, active filters ->
per-filter topics, ``live`` and e-mail digests.

Thin wiring: the processor owns the pools, the sky state and a transactional
producer; events are acknowledged after the batch's transaction has committed.
"""
from __future__ import annotations

import asyncio
import logging

from agents.app import app, settings
from agents.filter_processor import filter_processor, filter_record
from agents.topics import sherlocked
from solas.processors.digest import send_digests

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


@app.timer(settings.digest_interval_s)
async def digests():
    """Send the e-mail digests of filters with e-mail output."""
    try:
        sent = await asyncio.get_running_loop().run_in_executor(None, send_digests, settings)
        log.info("sent %d e-mail digests", sent)
    except OSError as exc:  # SMTP away: the queue keeps the matches for the next round
        log.error("e-mail digests not sent: %s", exc)
