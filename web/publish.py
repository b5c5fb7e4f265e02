"""Messages the portal publishes to Kafka after committing to MariaDB (contracts in
:mod:`solas.topics`): watchlist and watchmap changes, and annotations, on the
deployment's pipeline topics (``settings.topic_namespace``)."""
from __future__ import annotations

import asyncio
from typing import Sequence

import orjson
from aiokafka import AIOKafkaProducer

from solas.settings import Settings
from solas.topics import ANNOTATIONS, WATCHLIST_CHANGES, WATCHMAP_CHANGES, stage_topic


class Publisher:
    """The portal's Kafka producer, bound to the deployment's topic names."""

    def __init__(self, producer: AIOKafkaProducer, settings: Settings):
        self.producer = producer
        self.settings = settings

    async def send(self, base: str, key: str, value: dict) -> None:
        """Send one JSON message to pipeline topic ``base``; waits for the broker."""
        await self.producer.send_and_wait(stage_topic(self.settings, base),
                                          value=orjson.dumps(value), key=key.encode())

    async def watchlist_changed(self, wl_id: int, action: str) -> None:
        """Tell the filter stage that a watchlist was upserted or deleted."""
        await self.send(WATCHLIST_CHANGES, str(wl_id), {"wl_id": int(wl_id),
                                                        "action": action})

    async def watchmap_changed(self, ar_id: int, action: str) -> None:
        """Tell the filter stage that a watchmap was upserted or deleted."""
        await self.send(WATCHMAP_CHANGES, str(ar_id), {"ar_id": int(ar_id),
                                                       "action": action})

    async def annotations(self, messages: Sequence[dict], key_column: str) -> None:
        """Publish annotations keyed by object id; returns after every ack."""
        topic = stage_topic(self.settings, ANNOTATIONS)
        sends = [await self.producer.send(topic, value=orjson.dumps(m),
                                          key=str(m[key_column]).encode()) for m in messages]
        await asyncio.gather(*sends)
