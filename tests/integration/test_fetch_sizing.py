"""Worker consumers' fetch sizing on the real broker: a fetch waits for the configured
bytes, up to the configured wait, instead of returning with the first record."""
import asyncio
import dataclasses
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from agents.transport import with_fetch_sizing
from solas.topics import ensure_topics

pytestmark = pytest.mark.integration


async def _first_record_after(settings, topic: str, sized: bool) -> float:
    """Seconds from start until a consumer (sized with ``settings`` or not) gets the
    topic's one small record."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka,
                                auto_offset_reset="earliest", group_id=None)
    if sized:
        consumer = with_fetch_sizing(consumer, settings)
    start = time.perf_counter()
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
        assert record.value == b"one small alert"
        return time.perf_counter() - start
    finally:
        await consumer.stop()


def test_a_sized_fetch_waits_for_its_bytes_up_to_the_longest_wait(stack):
    settings = dataclasses.replace(stack, consumer_fetch_min_bytes=1024 * 1024,
                                   consumer_fetch_max_wait_ms=1500)
    topic = f"fetch-sizing-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[float, float]:
        await ensure_topics(settings, [topic], partitions=1)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"one small alert")
        finally:
            await producer.stop()
        return (await _first_record_after(settings, topic, sized=False),
                await _first_record_after(settings, topic, sized=True))

    unsized, sized = asyncio.run(scenario())
    assert unsized < 1.0 and 1.4 <= sized < 10.0


def test_a_message_larger_than_the_fetch_limit_still_comes_whole(stack):
    """The fetch limit bounds how much a response buffers, never which messages arrive:
    an alert above it (up to the largest message) is read whole, and the small ones
    around it too."""
    settings = dataclasses.replace(stack, consumer_fetch_max_bytes=64 * 1024)
    topic = f"fetch-limit-{uuid.uuid4().hex[:8]}"
    big = bytes(range(256)) * (1024 * 1024 // 256)  # 1 MiB, 16 x the limit

    async def scenario() -> list[bytes]:
        await ensure_topics(settings, [topic], partitions=1)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka,
                                    max_request_size=settings.max_message_bytes)
        await producer.start()
        try:
            for value in (b"before", big, b"after"):
                await producer.send_and_wait(topic, value)
        finally:
            await producer.stop()
        consumer = with_fetch_sizing(AIOKafkaConsumer(
            topic, bootstrap_servers=settings.kafka, auto_offset_reset="earliest",
            group_id=None, max_partition_fetch_bytes=settings.max_message_bytes), settings)
        await consumer.start()
        try:
            values: list[bytes] = []
            while len(values) < 3:
                batches = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
                values += [r.value for records in batches.values() for r in records]
            return values
        finally:
            await consumer.stop()

    assert asyncio.run(scenario()) == [b"before", big, b"after"]
