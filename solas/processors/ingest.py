"""The ingest processor: owns one batch's loop, its stores and its metrics.

Packets are decoded and validated (pure code in :mod:`solas.ingest`), light
curves and cutouts are upserted into Cassandra, then alerts go on to topic
``ingested`` and failures to ``alerts-deadletter``.  :meth:`process` returns
only when every write and every produced message is acknowledged, so the
caller may then commit the batch's offsets.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, NamedTuple, Sequence, TypeVar

from solas import metrics
from solas.ingest import (DeadLetter, DecodedBatch, decode_batch, ingested_record,
                          position_headers)
from solas.processors.retry import PermanentFailure, until_done
from solas.stores.cassandra import CassandraStore, WriteStats
from solas.stores.faults import classify_fault
from solas.surveys import SchemaLookup
from solas.topics import DEADLETTER, INGESTED

log = logging.getLogger(__name__)
T = TypeVar("T")
STAGE = "ingest"
RAW_TIMESTAMP_HEADER = "solas-raw-timestamp-ms"

# send(topic, key, value, headers) -> awaitable resolved when the broker has the message
Send = Callable[[str, bytes | None, bytes, dict[str, bytes]], Awaitable[Awaitable]]


class Packet(NamedTuple):
    """One raw Kafka message of the alert topic."""

    value: bytes
    key: bytes | None
    timestamp_ms: int | None
    origin: str          # topic/partition/offset, for the dead-letter headers


class BatchResult(NamedTuple):
    """Counts for one processed batch."""

    received: int
    forwarded: int
    deadlettered: int
    seconds: float


def _timestamp_header(packet: Packet) -> dict[str, bytes]:
    """Carries the raw-topic timestamp (ms) for end-to-end latency."""
    if packet.timestamp_ms is None:
        return {}
    return {RAW_TIMESTAMP_HEADER: str(packet.timestamp_ms).encode()}


class IngestProcessor:
    """Decode, store and forward batches of raw alert packets."""

    def __init__(self, survey: str, store: CassandraStore, send: Send,
                 registry: SchemaLookup | None = None):
        self.survey = survey
        self.store = store
        self.send = send
        self.registry = registry
        metrics.declare_stage(STAGE, ("decode", "cassandra", "produce"),
                              ("decode", "validate", "store"))

    async def process(self, packets: Sequence[Packet]) -> BatchResult:
        """Ingest one batch; returns when everything is durable."""
        start = time.perf_counter()
        metrics.STAGE_IN.labels(STAGE).inc(len(packets))
        metrics.STAGE_BATCH_SIZE.labels(STAGE).observe(len(packets))
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "decode").time():
            batch = await _until_done("decode", self._decode, packets)
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "cassandra").time():
            batch = await self._store(packets, batch)
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "produce").time():
            await self._forward(packets, batch)
        metrics.STAGE_OUT.labels(STAGE).inc(len(batch.alerts))
        seconds = time.perf_counter() - start
        metrics.STAGE_BATCH_DURATION.labels(STAGE).observe(seconds)
        return BatchResult(len(packets), len(batch.alerts), len(batch.dead), seconds)

    async def _decode(self, packets: Sequence[Packet]) -> DecodedBatch:
        return decode_batch([p.value for p in packets], self.survey, self.registry)

    async def _store(self, packets: Sequence[Packet], batch: DecodedBatch) -> DecodedBatch:
        """Write the batch; if some alert's data cannot be stored, write alert by alert
        and dead-letter the ones that fail (stage ``store``)."""
        try:
            _count_writes(await _until_done("cassandra", self.store.write_alerts,
                                            batch.alerts))
            return batch
        except PermanentFailure as failure:
            log.error("batch not storable (%s): storing alert by alert", failure.fault.reason)
            metrics.STAGE_PERMANENT_FAILURES.labels(STAGE, "cassandra").inc()
        kept, positions, dead = [], [], list(batch.dead)
        for alert, i in zip(batch.alerts, batch.positions):
            try:
                _count_writes(await _until_done("cassandra", self.store.write_alerts, [alert]))
                kept.append(alert)
                positions.append(i)
            except PermanentFailure as failure:
                dead.append(DeadLetter(i, "store", "not storable in Cassandra: "
                                       + failure.fault.reason, packets[i].value))
        return DecodedBatch(kept, positions, dead)

    async def _forward(self, packets: Sequence[Packet], batch: DecodedBatch) -> None:
        """Alerts to ``ingested``, failures to ``alerts-deadletter``; waits for the acks."""
        pending = [await self.send(INGESTED, str(alert.object_id).encode(),
                                   ingested_record(alert, packets[i].timestamp_ms),
                                   {**_timestamp_header(packets[i]), **position_headers(alert)})
                   for alert, i in zip(batch.alerts, batch.positions)]
        for dead in batch.dead:
            packet = packets[dead.index]
            pending.append(await self.send(DEADLETTER, packet.key, dead.packet, {
                "solas-stage": dead.stage.encode(), "solas-reason": dead.reason.encode(),
                "solas-origin": packet.origin.encode()}))
            metrics.STAGE_DEADLETTER.labels(STAGE, dead.stage).inc()
            log.warning("dead-lettered %s: %s", packet.origin, dead.reason)
        await asyncio.gather(*pending)


async def _until_done(step: str, call: Callable[..., Awaitable[T]], *args) -> T:
    """:func:`~solas.processors.retry.until_done` for this stage; errors of the data
    itself or of the schema (:func:`~solas.stores.faults.classify_fault`) are raised at
    once as :class:`~solas.processors.retry.PermanentFailure`."""
    return await until_done(STAGE, step, call, *args, classify=classify_fault)


def _count_writes(stats: WriteStats) -> None:
    for table, rows in stats.rows.items():
        metrics.CASSANDRA_ROWS.labels(table).inc(rows)
    metrics.CASSANDRA_ROWS.labels("cutouts").inc(stats.cutouts)
    metrics.CASSANDRA_SKIPPED.inc(stats.skipped)
    metrics.CASSANDRA_WRITE_DURATION.labels("all").observe(stats.seconds)
    if stats.unkeyed:
        metrics.CASSANDRA_UNKEYED.inc(stats.unkeyed)
        log.warning("%d light-curve points lack a key column (time or id): not stored",
                    stats.unkeyed)
