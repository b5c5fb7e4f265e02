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
