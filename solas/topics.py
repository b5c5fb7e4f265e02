"""Kafka topic names and their creation with alert-sized limits."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from solas.settings import Settings

INGESTED = "ingested"
DEADLETTER = "alerts-deadletter"
SHERLOCKED = "sherlocked"
LIVE = "live"
"""Compact summary of every filter match, for the WebSocket feed."""
WATCHLIST_CHANGES = "watchlist-changes"
"""Key str(wl_id); value JSON {"wl_id": int, "action": "upsert" | "delete"}: MariaDB
(watchlists, watchlist_cones) is the source of truth, the filter stage reloads it."""
WATCHMAP_CHANGES = "watchmap-changes"
"""Key str(ar_id); value JSON {"ar_id": int, "action": "upsert" | "delete"}: the filter
stage reloads the watchmap and, for one made from a GW sky map, its map (mma_areas)."""
ANNOTATIONS = "annotations"
"""Key = object id (text); value JSON annotation: object id under the survey's id
column name, topic, version, classification, explanation, classdict (object), url,
timestamp (ISO 8601 UTC).  The annotation agent writes MariaDB."""


def stage_topic(settings: Settings, base: str) -> str:
    """The Kafka name of pipeline topic ``base`` (one of the names above) in this
    deployment: ``settings.topic_namespace`` + ``base``."""
    return settings.topic_namespace + base


def filter_topic(settings: Settings, filter_id: int) -> str:
    """The Kafka topic of an active filter: fixed by its id, unchanged by renaming."""
    return f"{settings.topic_prefix}{int(filter_id)}"


def pipeline_topics(settings: Settings) -> list[str]:
    """Topics of the pipeline stages for the configured survey."""
    return [settings.raw_topic, *(stage_topic(settings, t) for t in (
        INGESTED, DEADLETTER, SHERLOCKED, LIVE, WATCHLIST_CHANGES, WATCHMAP_CHANGES,
        ANNOTATIONS))]


async def ensure_topics(settings: Settings, names: list[str] | None = None,
                        partitions: int | None = None) -> list[str]:
    """Create missing topics with ``partitions`` each (default: the settings' topic
    partitions) and room for alert-sized messages.

    Returns the names created; existing topics are left alone."""
    names = names or pipeline_topics(settings)
    partitions = partitions or settings.topic_partitions
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name, partitions, settings.kafka_replication,
                           topic_configs={"max.message.bytes": str(settings.max_message_bytes)})
                  for name in names if name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
            await _until_listed(admin, {t.name for t in wanted})
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def delete_topics(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (not empty: never the whole
    cluster); returns the names deleted."""
    if not prefix:
        raise ValueError("delete_topics needs a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=60000)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        for start in range(0, len(names), 100):  # bounded requests
            await admin.delete_topics(names[start:start + 100], timeout_ms=60000)
        return names
    finally:
        await admin.close()


async def _until_listed(admin: AIOKafkaAdminClient, names: set[str],
                        timeout_s: float = 30.0) -> None:
    """Wait until the broker's metadata lists ``names``: a consumer started right after
    creation must see them, or it waits for its next metadata refresh."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not names <= set(await admin.list_topics()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics {sorted(names)} not listed after {timeout_s} s")
        await asyncio.sleep(0.2)


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a group-less consumer.  aiokafka 0.14 may re-raise the cancellation of its
    own never-started offset-reset task here; only a cancellation of ours propagates."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if asyncio.current_task().cancelling():
            raise


def _consumer(settings: Settings, isolation: str = "read_committed") -> AIOKafkaConsumer:
    return AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False,
                            isolation_level=isolation, fetch_max_bytes=64 * 2**20,
                            max_partition_fetch_bytes=settings.max_message_bytes)


async def partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    """Partitions of ``topic`` (empty if it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for d in described if d["error_code"] == 0
            for p in d["partitions"]]


async def end_offsets(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    """The next offset of every partition of ``topic`` (empty if it does not exist)."""
    return await _offsets(settings, topic, "end_offsets")


async def beginning_offsets(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    """The first offset still held of every partition of ``topic`` (empty if it does not
    exist): retention may have deleted what came before."""
    return await _offsets(settings, topic, "beginning_offsets")


async def _offsets(settings: Settings, topic: str, which: str,
                   isolation: str = "read_committed") -> dict[TopicPartition, int]:
    """The consumer's ``which`` ("end_offsets" or "beginning_offsets") of ``topic``, as
    seen at ``isolation`` ("read_uncommitted": end offsets past open transactions)."""
    parts = await partitions(settings, topic)
    if not parts:
        return {}
    consumer = _consumer(settings, isolation)
    await consumer.start()
    try:
        return await getattr(consumer, which)(parts)
    finally:
        await _stop(consumer)


async def read_topic(settings: Settings, topic: str,
                     start: dict[TopicPartition, int] | None = None,
                     keep: Callable[[ConsumerRecord], Any] = lambda record: record,
                     settle_s: float = 0.0) -> list:
    """``keep(record)`` for every committed record of ``topic`` from ``start`` offsets
    (default: the beginning) up to its end offsets at call time.  With ``settle_s``,
    first wait up to that long (s) for transactions still open on the topic to end (a
    producer that died mid-transaction holds back every later record of its partitions
    until the broker aborts it), so records committed after that one are read too."""
    end = await settled_end_offsets(settings, topic, settle_s)
    start = start or {tp: 0 for tp in end}
    consumer = _consumer(settings)
    await consumer.start()
    records: list = []
    try:
        consumer.assign(list(end))
        for tp in end:
            consumer.seek(tp, start.get(tp, 0))
        remaining = {tp for tp in end if end[tp] > start.get(tp, 0)}
        while remaining:
            for tp, batch in (await consumer.getmany(timeout_ms=2000)).items():
                records += [keep(r) for r in batch if r.offset < end[tp]]
            for tp in list(remaining):  # transaction markers take offsets: ask the position
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await _stop(consumer)
    return records


async def settled_end_offsets(settings: Settings, topic: str, timeout_s: float
                              ) -> dict[TopicPartition, int]:
    """The committed end offsets of ``topic`` once no transaction is open on it (its
    last stable offsets equal its high watermarks), or after ``timeout_s`` (s) as they
    are then."""
    deadline = time.monotonic() + timeout_s
    while True:
        stable = await end_offsets(settings, topic)
        if time.monotonic() >= deadline:
            return stable
        written = await _offsets(settings, topic, "end_offsets", "read_uncommitted")
        if stable == written:
            return stable
        await asyncio.sleep(1.0)


async def group_lag(settings: Settings, group: str, partitions: list[TopicPartition]
                    ) -> dict[TopicPartition, int]:
    """Messages of each partition not yet committed by consumer group ``group``."""
    if not partitions:
        return {}
    committed = await committed_offsets(settings, group, partitions)
    consumer = _consumer(settings)
    await consumer.start()
    try:
        end = await consumer.end_offsets(partitions)
    finally:
        await _stop(consumer)
    return {tp: max(0, end[tp] - committed.get(tp, 0)) for tp in partitions}


async def committed_offsets(settings: Settings, group: str, partitions: list[TopicPartition]
                            ) -> dict[TopicPartition, int]:
    """The offsets consumer group ``group`` committed on ``partitions`` (none: left out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=10000)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
