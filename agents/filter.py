"""Filter agent: topic ``sherlocked`` -> features, hits, MariaDB, active filters ->
per-filter topics, ``live`` and e-mail digests.

Thin wiring: the processor owns the pools, the sky state and a transactional
producer; events are acknowledged after the batch's transaction has committed.
"""
from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer

from agents.app import app, settings
from agents.topics import sherlocked
from solas.processors.digest import send_digests
from solas.processors.filter import FilterProcessor, Record
from solas.processors.sky import SkyState
from solas.stack.mariadb import READONLY_PASSWORD, READONLY_USER
from solas.stores import mariadb

log = logging.getLogger(__name__)


async def _processor(role: str = "filter") -> FilterProcessor:
    """A filter processor with its own pools and transactional producer (one
    transactional id per worker and role, so agents never fence each other)."""
    pool = await mariadb.open_pool(settings, maxsize=4)
    ro_pool = await mariadb.open_pool(settings, READONLY_USER, READONLY_PASSWORD,
                                      maxsize=settings.filter_connections)
    sky = SkyState(settings)
    await sky.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka, enable_idempotence=True,
        transactional_id=f"{settings.app_id}-{role}-{settings.worker_id}",
        max_request_size=settings.max_message_bytes, linger_ms=5)
    await producer.start()
    processor = FilterProcessor(settings, pool, ro_pool, sky, producer, app.conf.id)
    await processor.refresh_filters(force=True)
    return processor


def _record(event) -> Record:
    message = event.message
    return Record(message.key, event.value, dict(message.headers or ()), message.tp,
                  message.offset)


@app.agent(sherlocked)
async def filter_stage(stream):
    """Run every active filter on each batch of classified alerts."""
    processor = await _processor()
    async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
        await processor.process([_record(e) for e in events])


@app.timer(settings.digest_interval_s)
async def digests():
    """Send the e-mail digests of filters with e-mail output."""
    try:
        sent = await asyncio.get_running_loop().run_in_executor(None, send_digests, settings)
        log.info("sent %d e-mail digests", sent)
    except OSError as exc:  # SMTP away: the queue keeps the matches for the next round
        log.error("e-mail digests not sent: %s", exc)
