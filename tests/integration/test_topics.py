"""Topic housekeeping on the real broker."""
import asyncio
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from solas.topics import delete_topics, ensure_topics

pytestmark = pytest.mark.integration


async def _listed(settings, prefix: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:
        return {t for t in await admin.list_topics() if t.startswith(prefix)}
    finally:
        await admin.close()


def test_delete_topics_removes_only_those_with_the_prefix(stack):
    tag = uuid.uuid4().hex[:8]
    doomed = [f"old-{tag}-a", f"old-{tag}-b"]
    kept = f"keep-{tag}-old-{tag}-c"  # has the prefix inside, not at the start
    asyncio.run(ensure_topics(stack, [*doomed, kept]))
    assert sorted(asyncio.run(delete_topics(stack, f"old-{tag}-"))) == doomed
    for _ in range(50):  # deletion is asynchronous in the broker
        if not asyncio.run(_listed(stack, f"old-{tag}-")):
            break
        time.sleep(0.2)
    assert asyncio.run(_listed(stack, f"old-{tag}-")) == set()
    assert asyncio.run(_listed(stack, f"keep-{tag}-")) == {kept}



def test_filter_topics_have_their_own_partition_count(stack):
    from solas.topics import partitions

    tag = uuid.uuid4().hex[:8]
    filter_topic, stage_topic = f"parts-{tag}-filter", f"parts-{tag}-stage"
    asyncio.run(ensure_topics(stack, [filter_topic], stack.filter_topic_partitions))
    asyncio.run(ensure_topics(stack, [stage_topic]))
    try:
        assert len(asyncio.run(partitions(stack, filter_topic))) == 1
        assert len(asyncio.run(partitions(stack, stage_topic))) == stack.topic_partitions > 1
    finally:
        asyncio.run(delete_topics(stack, f"parts-{tag}-"))
