"""The filter processor of a worker, shared by the filter and annotation agents.

Kept apart from :mod:`agents.filter` so that importing it registers no agent: a
worker started with ``--agents annotation`` must not also consume ``sherlocked``.
"""
from __future__ import annotations

from pathlib import Path

from aiokafka import AIOKafkaProducer

from agents.app import app, settings
from solas.processors.filter import FilterProcessor, Record
from tables.sky import SkyState
from solas.stores import mariadb


async def filter_processor(role: str = "filter") -> FilterProcessor:
    """A started filter processor with its own pools and transactional producer (one
    transactional id per worker and role, so agents never fence each other); the caller
    closes its producer with :meth:`~FilterProcessor.close_producer`."""
    pool = await mariadb.open_pool(settings, maxsize=4)
    ro_pool = await mariadb.open_pool(settings, *mariadb.readonly_credentials(settings),
                                      maxsize=settings.filter_connections)
    sky = SkyState(settings, sky_cache_path(role))
    await sky.start()
    owner = f"{settings.app_id}-{role}-{settings.worker_id}"

    async def open_producer() -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka, enable_idempotence=True, transactional_id=owner,
            transaction_timeout_ms=int(settings.filter_transaction_timeout_s * 1000),
            max_request_size=settings.max_message_bytes, linger_ms=5)
        await producer.start()
        return producer

    processor = FilterProcessor(settings, pool, ro_pool, sky, open_producer, app.conf.id, owner)
    await processor.start()
    return processor


def sky_cache_path(role: str) -> Path:
    """The RocksDB sky cache of this worker's ``role`` processor, in the worker's own data
    dir next to faust's tables (each processor keeps its own: RocksDB locks its dir)."""
    return Path(app.conf.datadir) / f"sky-cache-{role}.db"


def filter_record(event) -> Record:
    """The processor's record of a faust event: key, value, headers and origin."""
    message = event.message
    return Record(message.key, event.value, dict(message.headers or ()), message.tp,
                  message.offset)
