"""Ingest agent: raw alert topic -> Cassandra -> topic ``ingested``.

With ``SOLAS_UPSTREAM_KAFKA`` set, a worker task reads the survey's own Kafka instead
(:mod:`solas.processors.upstream`: SASL_SSL, its own consumer group) into the same
processor.

Thin wiring: batches of events from ``stream.take_events`` go to the
:class:`~solas.processors.ingest.IngestProcessor`; faust acks the events (and
so may commit their offsets) only after the processor returns, i.e. after the
batch is durable in Cassandra and on the output topics.
"""
from __future__ import annotations

import asyncio

from agents.app import app, settings
from agents.topics import deadletter, ingested, raw_alerts
from solas.processors.ingest import IngestProcessor, Packet
from solas.processors.upstream import UpstreamIngest, configured_upstream
from solas.stores import cassandra
from solas.topics import DEADLETTER, INGESTED
from solas.surveys.registry import confluent_registry

_TOPICS = {INGESTED: ingested, DEADLETTER: deadletter}  # the processor's names -> topics


async def _send(topic: str, key: bytes | None, value: bytes, headers: dict[str, bytes]):
    return await _TOPICS[topic].send(key=key, value=value, headers=headers)


_opened: asyncio.Future | None = None


async def _processor() -> IngestProcessor:
    """The worker's one processor, shared by its actors: one Cassandra session, one
    prepared-statement cache and one memory of stored points.  Opened again if the
    first attempt failed."""
    global _opened
    if _opened is None or _opened.cancelled() or (_opened.done() and _opened.exception()):
        _opened = asyncio.ensure_future(_open_processor())
    return await _opened


async def _open_processor() -> IngestProcessor:
    def open_store() -> cassandra.CassandraStore:
        _, session = cassandra.connect_with_retries(settings)
        return cassandra.CassandraStore(settings, session)

    store = await asyncio.get_running_loop().run_in_executor(None, open_store)
    registry = confluent_registry(settings.schema_registry) if settings.schema_registry else None
    return IngestProcessor(settings.survey, store, _send, registry)


def _packet(event) -> Packet:
    message = event.message
    return Packet(event.value, message.key, message.timestamp and int(message.timestamp * 1000),
                  f"{message.topic}/{message.partition}/{message.offset}")


async def ingest(stream):
    """Decode, store and forward raw alerts in batches."""
    processor = await _processor()
    async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
        await processor.process([_packet(e) for e in events])


async def ingest_upstream() -> None:
    """Decode, store and forward the survey's own stream (settings ``upstream_*``) in
    batches, committing its offsets in the upstream group once each batch is durable."""
    upstream = await configured_upstream(settings)
    await UpstreamIngest(upstream, await _processor(), batch_size=settings.batch_size,
                         batch_timeout_s=settings.batch_timeout_s,
                         max_message_bytes=settings.max_message_bytes).run()


if settings.upstream_kafka:
    app.task(ingest_upstream)
else:
    app.agent(raw_alerts, concurrency=settings.ingest_concurrency)(ingest)
