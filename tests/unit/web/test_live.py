"""Who sees which live match, and the fan-out to subscriber queues (no Kafka needed)."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from solas.settings import Settings
from web.live import LiveHub, Subscriber, outgoing, wanted

BIG = 2**62 + 7


def match(filter_id=1, user=10, public=False):
    return {"filter_id": filter_id, "filter_name": "f", "user": user, "public": public,
            "object_id": BIG, "UTC": "2026-01-01T00:00:00", "row": {"x": BIG}}


@pytest.mark.parametrize("m, user, filter_id, seen", [
    (match(public=True), None, None, True),        # public: everyone
    (match(public=False), None, None, False),      # private: not anonymous
    (match(public=False), 10, None, True),         # the owner
    (match(public=False), 11, None, False),        # another user
    (match(1, public=True), 11, 1, True),          # the public filter's own feed
    (match(2, public=True), 11, 1, False),         # another filter's match
    (match(1, public=False), 11, 1, False),        # a private filter of someone else
    (match(1, public=False), 10, 1, True),
])
def test_wanted(m, user, filter_id, seen):
    assert wanted(m, user, filter_id) is seen


def test_outgoing_keeps_64_bit_ids_and_adds_a_string_key():
    frame = orjson.loads(outgoing(match()))
    assert frame["object_id"] == BIG and frame["row"]["x"] == BIG
    assert frame["object_key"] == str(BIG)


def test_dispatch_routes_and_drops_slow_clients():
    async def scenario():
        hub = LiveHub(Settings(), queue_size=2)
        anon = Subscriber(None, None, asyncio.Queue(2))
        owner = Subscriber(10, None, asyncio.Queue(2))
        hub.subscribers |= {anon, owner}
        assert hub.dispatch(orjson.dumps(match(public=False))) == 1
        assert hub.dispatch(orjson.dumps(match(public=True))) == 2
        assert hub.dispatch(b"not json") == 0 and hub.dispatch(b"[1, 2]") == 0
        assert owner.queue.qsize() == 2 and anon.queue.qsize() == 1
        hub.dispatch(orjson.dumps(match(public=True)))  # owner's queue is full: dropped
        return hub, anon, owner

    hub, anon, owner = asyncio.run(scenario())
    assert owner not in hub.subscribers and anon in hub.subscribers
    assert anon.queue.qsize() == 2
