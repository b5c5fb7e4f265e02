"""Each agent module registers its own agent only: a worker started with ``--agents X``
consumes X's input topic and nothing else (each stage scales and fails on its own)."""
import json
import os
import subprocess
import sys

import pytest

from agents import AGENTS


@pytest.mark.parametrize("name", AGENTS)
def test_importing_an_agent_registers_only_that_agent(name):
    code = (f"import agents.{name}\nfrom agents.app import app\n"
            "import json; print(json.dumps(sorted(app.agents)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    registered = json.loads(out.strip().splitlines()[-1])
    assert registered and all(a.startswith(f"agents.{name}.") for a in registered), registered


def test_a_worker_freezes_its_start_up_objects_and_collects_the_young_less_often():
    import gc

    from agents.worker import tune_garbage_collector

    before = gc.get_threshold()
    try:
        tune_garbage_collector(12_345)
        assert gc.get_threshold() == (12_345, *before[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_apps_worker_consumers_get_the_fetch_sizing_of_the_settings():
    code = """
import asyncio, json
from agents.app import app

async def main():
    async def ignore(*args):
        pass
    consumer = app.transport.create_consumer(callback=ignore, on_partitions_revoked=ignore,
                                             on_partitions_assigned=ignore)
    kafka = consumer._new_consumer_thread()._create_worker_consumer(app.transport)
    print(json.dumps([kafka._fetch_min_bytes, kafka._fetch_max_wait_ms, kafka._fetch_max_bytes]))
    await kafka.stop()

asyncio.run(main())
"""
    env = {**os.environ, "SOLAS_CONSUMER_FETCH_MIN_BYTES": "123456",
           "SOLAS_CONSUMER_FETCH_MAX_WAIT_MS": "77", "SOLAS_CONSUMER_FETCH_MAX_BYTES": "654321"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, env=env).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [123456, 77, 654321]


COMMIT_SCENARIOS = """
import asyncio, json
from faust.types import TP, Message
from agents.app import app

TP0 = TP("raw", 0)


def message(offset):
    return Message("raw", 0, offset, 0.0, 0, None, None, b"", None)


async def main():
    async def ignore(*args):
        pass
    consumer = app.transport.create_consumer(callback=ignore, on_partitions_revoked=ignore,
                                             on_partitions_assigned=ignore)
    answers = []

    def scenario(committed, offsets, acked):
        messages = [message(o) for o in offsets]
        consumer._committed_offset[TP0] = committed
        consumer._unacked_messages.clear()
        consumer._unacked_messages.update(messages)
        mark_acked(m for m in messages if m.offset in acked)
        commit()
        mark_acked(m for m in messages if not m.acked)
        commit()

    def commit():  # what Consumer.commit does with the answer
        offset = consumer._new_offset(TP0)
        answers.append(offset)
        if offset is not None:
            consumer._committed_offset[TP0] = offset

    def mark_acked(messages):  # what Consumer.ack records for a subscribed topic
        for m in messages:
            m.acked = True
            consumer._acked[TP0].append(m.offset)
            consumer._acked_index[TP0].add(m.offset)

    scenario(None, range(0, 10), range(5, 10))   # a fresh group, first batch still busy
    scenario(100, range(100, 110), range(101, 110))  # busy message right at the commit
    scenario(100, range(100, 110), [100, 101, 103])  # an ordinary gap in the acks
    print(json.dumps(answers))

asyncio.run(main())
"""


def test_the_apps_consumers_never_commit_past_a_message_still_in_flight():
    out = subprocess.run([sys.executable, "-c", COMMIT_SCENARIOS], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [None, 10, None, 110, 102, 110]


ASSIGNMENT = """
import asyncio, json
from faust.types import TP
from prometheus_client import REGISTRY
from agents.lag import count_assigned, count_revoked


def owned():
    return {s.labels["topic"]: s.value for m in REGISTRY.collect()
            if m.name == "solas_kafka_assigned_partitions" for s in m.samples}


async def main():
    await count_assigned(None, {TP("raw", 0), TP("raw", 2), TP("ingested", 1),
                                TP("app-table-changelog", 0), TP("app-__assignor-__leader", 0)})
    first = owned()
    await count_assigned(None, {TP("raw", 1)})
    second = owned()
    await count_revoked(None, {TP("raw", 1)})
    print(json.dumps([first, second, owned()]))

asyncio.run(main())
"""


def test_a_worker_reports_the_input_partitions_it_owns_per_topic():
    out = subprocess.run([sys.executable, "-c", ASSIGNMENT], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [{"raw": 2, "ingested": 1},
                                                        {"raw": 1}, {}]
