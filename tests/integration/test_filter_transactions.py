"""Exactly-once emission on the real stack.

After a rebalance, a match recorded in the ledger by another worker whose Kafka transaction
may still be open is waited for, and settled from MariaDB and from the consumer group's
offsets committed in Kafka, so neither worker sends it twice and neither loses it.  A
producer that can no longer commit (fenced, or timed out by the broker) is replaced."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import ProducerFenced

from solas.processors.filter import (MARK_SENT_PAIRS, FilterProcessor, KafkaMessage, Outgoing,
                                     QuotaBook)
from solas.processors.ledger import ABORT_CLEANUP_S
from solas.stores import mariadb
from solas.topics import SHERLOCKED, ensure_topics, read_topic, stage_topic

pytestmark = pytest.mark.integration
OFFSET = 500


class Workers:
    """Two filter processors of one group (ledger and offsets only), on real pools."""

    def __init__(self, settings):
        self.settings = settings
        self.tp = TopicPartition(stage_topic(settings, SHERLOCKED), 0)
        self.origin = f"{self.tp.topic}/{self.tp.partition}/{OFFSET}"

    async def __aenter__(self):
        await ensure_topics(self.settings)
        self.pool = await mariadb.open_pool(self.settings)
        self.a, self.b = (FilterProcessor(self.settings, self.pool, None, None, None,
                                          self.settings.app_id, owner) for owner in "AB")
        return self

    async def __aexit__(self, *exc):
        self.pool.close()
        await self.pool.wait_closed()

    async def commit_offset(self, offset: int) -> None:
        """Commit ``offset`` on the partition for the group, as a transaction would."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka,
                                    group_id=self.settings.app_id, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([self.tp])
            await consumer.commit({self.tp: offset})
        finally:
            await consumer.stop()

    async def age(self, pair, seconds: float) -> None:
        async with self.pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute("UPDATE filter_emitted SET emitted = UTC_TIMESTAMP(6) - "
                                 "INTERVAL %s SECOND WHERE filter_id=%s AND source_id=%s",
                                 (seconds, *pair))

    async def committed(self, pair) -> bool:
        async with self.pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute("SELECT committed FROM filter_emitted WHERE filter_id=%s "
                                 "AND source_id=%s", pair)
            return bool((await cursor.fetchone())[0])


def fresh_pair() -> tuple[int, int]:
    return 1, time.time_ns()


def test_a_match_another_worker_is_sending_is_waited_for_and_not_sent_again(ztf):
    async def scenario():
        async with Workers(ztf) as w:
            pair = fresh_pair()
            matches = {pair: w.origin}
            await w.a.record_emitted([pair], matches)  # A's transaction is open
            start = time.perf_counter()
            waiting = asyncio.create_task(w.b.already_emitted(matches))
            await asyncio.sleep(1.5)
            assert not waiting.done()
            await w.a.mark_committed([pair], QuotaBook(dt.date.today()))
            return await waiting, time.perf_counter() - start, pair
    sent, seconds, pair = asyncio.run(scenario())
    assert sent == {pair}
    assert 1.5 <= seconds < 5.0


def test_a_worker_that_died_after_its_transaction_committed_is_read_from_the_offsets(ztf):
    async def scenario():
        async with Workers(ztf) as w:
            pair = fresh_pair()
            matches = {pair: w.origin}
            await w.a.record_emitted([pair], matches)
            await w.commit_offset(OFFSET + 1)  # A's transaction committed, then A died
            await w.age(pair, 3600)
            sent = await w.b.already_emitted(matches)
            return sent, pair, await w.committed(pair), w.b.seen_committed.get(w.tp)
    sent, pair, marked, floor = asyncio.run(scenario())
    assert sent == {pair} and marked  # settled once for every worker
    assert floor == OFFSET + 1  # B's own commit will not move the group back


def test_an_aborted_transactions_match_is_sent_once_the_timeout_has_passed(ztf):
    quick = dataclasses.replace(ztf, filter_transaction_timeout_s=1.0)

    async def scenario():
        async with Workers(quick) as w:
            await w.commit_offset(OFFSET)  # the group has not passed the origin
            old, young = fresh_pair(), fresh_pair()
            await w.a.record_emitted([old, young], {old: w.origin, young: w.origin})
            await w.age(old, 3600)
            start = time.perf_counter()
            sent_old = await w.b.already_emitted({old: w.origin})
            quick_s = time.perf_counter() - start
            sent_young = await w.b.already_emitted({young: w.origin})
            return sent_old, quick_s, sent_young, time.perf_counter() - start
    sent_old, quick_s, sent_young, total_s = asyncio.run(scenario())
    assert sent_old == frozenset() and quick_s < 2.0  # aborted long ago: B sends it
    assert sent_young == frozenset()  # B sends it too, but only after the timeout
    assert total_s >= 1.0 + ABORT_CLEANUP_S - 0.5


def test_a_fenced_producer_is_replaced_and_the_batch_goes_out_once(ztf):
    owner = f"{ztf.app_id}-fenced"
    topic = stage_topic(ztf, "fenced")

    def producer() -> AIOKafkaProducer:
        return AIOKafkaProducer(bootstrap_servers=ztf.kafka, enable_idempotence=True,
                                transactional_id=owner)

    async def open_producer() -> AIOKafkaProducer:
        started = producer()
        await started.start()
        return started

    async def scenario():
        await ensure_topics(ztf, [topic])
        pool = await mariadb.open_pool(ztf)
        processor = FilterProcessor(ztf, pool, None, None, open_producer, ztf.app_id, owner)
        try:
            await processor.start()
            zombie_killer = producer()  # a newer producer with the same id fences it
            await zombie_killer.start()
            await zombie_killer.stop()
            out = Outgoing([KafkaMessage(topic, b"ZTF21a", b"match", [])], [], [])
            offsets = {TopicPartition(topic, 0): 1}
            with pytest.raises(ProducerFenced):
                await processor.emit(out, offsets)
            assert processor.producer is None  # dropped: it can never commit again
            await processor.emit(out, offsets)  # the retry opens a new one
        finally:
            await processor.close_producer()
            pool.close()
            await pool.wait_closed()
        return await read_topic(ztf, topic, keep=lambda r: r.value)
    assert asyncio.run(scenario()) == [b"match"]


def test_a_large_batch_of_sent_matches_is_marked_committed_and_nothing_else(ztf):
    """More pairs than one UPDATE takes (MARK_SENT_PAIRS) are all marked; another
    filter's pair with the same source id is left open."""
    async def scenario():
        async with Workers(ztf) as w:
            base = time.time_ns()
            pairs = [(2, base + i) for i in range(MARK_SENT_PAIRS * 2 + 7)]
            other = (3, pairs[0][1])
            await w.a.record_emitted([*pairs, other], {p: w.origin for p in [*pairs, other]})
            await w.a.mark_committed(pairs, QuotaBook(dt.date.today()))
            async with w.pool.acquire() as conn, conn.cursor() as cursor:
                await cursor.execute("SELECT COUNT(*), SUM(committed) FROM filter_emitted "
                                     "WHERE filter_id=2 AND source_id BETWEEN %s AND %s",
                                     (base, pairs[-1][1]))
                assert await cursor.fetchone() == (len(pairs), len(pairs))
            assert not await w.committed(other)

    asyncio.run(scenario())
