"""The live feed: filter matches read from the ``live`` topic, fanned out to WebSockets.

One consumer per web process reads every partition of ``live`` from its end (no
consumer group: every process sees every match) with a short fetch wait, so a match
reaches the browsers well within a second.  Each WebSocket client has a bounded queue
and its own writer task: a slow client is dropped, never slows the others.

Who sees what (:func:`wanted`): ``/ws/live`` gets the matches of public filters and of
the user's own filters; ``/ws/filter/<id>`` the matches of that one filter, which the
user must own unless it is public.  Messages are forwarded as received (orjson keeps
64-bit ids exact) plus ``object_key``, the object id as a string for JavaScript.
"""
from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

import orjson
from aiohttp import WSMsgType, web
from aiokafka import AIOKafkaConsumer

from solas.settings import Settings
from solas import metrics
from solas.topics import LIVE, partitions, stage_topic

log = logging.getLogger("solas.web")
RETRY_S = 2.0


class Subscriber(NamedTuple):
    """A WebSocket client: its user (None: anonymous) and filter (None: all it may see)."""

    user_id: int | None
    filter_id: int | None
    queue: asyncio.Queue
    ws: web.WebSocketResponse | None = None


def wanted(match: dict, user_id: int | None, filter_id: int | None) -> bool:
    """Whether a subscriber may and wants to see a match."""
    owner = match.get("user")
    own = user_id is not None and owner == user_id
    if filter_id is not None:
        return match.get("filter_id") == filter_id and (own or bool(match.get("public")))
    return own or bool(match.get("public"))


def outgoing(match: dict) -> bytes:
    """The text frame sent for a match."""
    return orjson.dumps({**match, "object_key": str(match.get("object_id"))})


class LiveHub:
    """Consumes ``live`` and dispatches to subscribers."""

    def __init__(self, settings: Settings, queue_size: int = 1000, poll_ms: int = 100):
        self.settings = settings
        self.queue_size = queue_size
        self.poll_ms = poll_ms
        self.subscribers: set[Subscriber] = set()
        self.delivered = 0
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        """Start consuming in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="live-feed")

    async def stop(self) -> None:
        """Stop consuming and close every subscriber queue."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for sub in list(self.subscribers):
            if sub.ws is not None:
                await sub.ws.close(code=1001, message=b"server shutdown")

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live feed consumer failed; retrying", exc_info=True)
                await asyncio.sleep(RETRY_S)

    async def _consume(self) -> None:
        parts = await partitions(self.settings, stage_topic(self.settings, LIVE))
        if not parts:
            await asyncio.sleep(RETRY_S)
            return
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka,
                                    isolation_level="read_committed",  # transactional output
                                    enable_auto_commit=False, fetch_max_wait_ms=self.poll_ms,
                                    max_partition_fetch_bytes=self.settings.max_message_bytes)
        await consumer.start()
        try:
            consumer.assign(parts)
            await consumer.seek_to_end(*parts)
            for tp in parts:  # resolve the end offsets now: matches from here on
                await consumer.position(tp)
            self.ready.set()
            while True:
                batches = await consumer.getmany(timeout_ms=self.poll_ms * 10)
                for records in batches.values():
                    for record in records:
                        self.dispatch(record.value)
        finally:
            self.ready.clear()
            try:
                await consumer.stop()
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():
                    raise

    def dispatch(self, raw: bytes) -> int:
        """Queue one ``live`` message for every subscriber that wants it."""
        try:
            match = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("undecodable live message dropped")
            return 0
        if not isinstance(match, dict):
            return 0
        frame = None
        sent = 0
        for sub in list(self.subscribers):
            if wanted(match, sub.user_id, sub.filter_id):
                frame = frame or outgoing(match)
                try:
                    sub.queue.put_nowait(frame)
                    sent += 1
                except asyncio.QueueFull:  # too slow: drop the client
                    self.subscribers.discard(sub)
                    if sub.ws is not None:
                        asyncio.get_running_loop().create_task(
                            sub.ws.close(code=1013, message=b"too slow"))
        self.delivered += sent
        return sent

    async def serve(self, request: web.Request, user_id: int | None,
                    filter_id: int | None) -> web.WebSocketResponse:
        """Run one WebSocket connection until the client leaves."""
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        sub = Subscriber(user_id, filter_id, asyncio.Queue(self.queue_size), ws)
        self.subscribers.add(sub)
        metrics.WEBSOCKET_CLIENTS.inc()
        writer = asyncio.get_running_loop().create_task(self._write(ws, sub.queue))
        try:
            await ws.send_str(orjson.dumps({"hello": True, "filter_id": filter_id}).decode())
            async for message in ws:  # the client speaks only to close
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.subscribers.discard(sub)
            metrics.WEBSOCKET_CLIENTS.dec()
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await ws.close()
        return ws

    @staticmethod
    async def _write(ws: web.WebSocketResponse, queue: asyncio.Queue) -> None:
        while (frame := await queue.get()) is not None:
            await ws.send_str(frame.decode())
        await ws.close()
