"""Replay real alerts (files or folders, Avro or JSON) into the raw Kafka topic.

Each alert becomes one Kafka message in the survey's own framing (a one-record
Avro container for ZTF, the Confluent wire format with the official schema id
for Rubin Avro, JSON for JSON input), keyed by object id.  ``clone`` makes N synthetic objects per
alert for load tests; ``rate`` caps alerts per second.  A file that cannot be
decoded is sent verbatim, so the worker dead-letters it with its reason.
"""
from __future__ import annotations

import asyncio
import time
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np
from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from solas.settings import Settings
from solas.topics import ensure_topics
from solas.surveys import (DecodeError, RawAlert, clone_record, encode_packet,
                           iter_alert_paths, normalise, read_alert_file, to_confluent)

WINDOW = 500  # messages in flight before waiting for acknowledgements


class Message(NamedTuple):
    """One message for the raw topic."""

    key: bytes | None
    value: bytes


class ReplayStats(NamedTuple):
    """What a replay produced."""

    files: int
    alerts: int
    unreadable_files: int
    messages: int
    seconds: float


def _key(raw: RawAlert, survey: str) -> bytes | None:
    try:
        return str(normalise(raw, survey).object_id).encode()
    except DecodeError:
        return None


def as_streamed(raw: RawAlert, survey: str) -> RawAlert:
    """The alert framed as its survey streams it: Rubin Avro goes out in the Confluent
    wire format with its official schema id (container files are re-framed)."""
    if survey == "lsst" and raw.framing == "container":
        try:
            return to_confluent(raw)
        except DecodeError:
            return raw
    return raw


def messages_from_paths(paths: Iterable[str | Path], survey: str, clone: int = 0,
                        seed: int = 0, counts: dict | None = None) -> Iterator[Message]:
    """Messages for every alert found under ``paths``; ``counts`` is filled with
    files, alerts and unreadable_files as they are read (once, however many clones).

    With ``clone`` N the alerts are sent in N rounds, clone k of every alert in round k,
    so any stretch of the replay mixes the sample as a whole (a folder of long light
    curves does not arrive as one block).  Clone k of every alert of one real object
    belongs to one synthetic object k (same new ids, jitter and time shift), so
    successive alerts of an object stay a growing light curve of its clones.  The files
    are read again in each round: memory does not grow with the sample."""
    counts = counts if counts is not None else {}
    for name in ("files", "alerts", "unreadable_files"):
        counts.setdefault(name, 0)
    for k in range(max(clone, 1)):
        for raw, unreadable in _read_alerts(paths, survey, counts if k == 0 else None):
            if raw is None:
                if k == 0:
                    yield Message(None, unreadable)
                continue
            key = _key(raw, survey)
            if not clone:
                yield Message(key, encode_packet(raw))
                continue
            rng = np.random.default_rng((seed, k, zlib.crc32(key or b"")))
            copy = clone_record(raw, survey, k, rng)
            yield Message(_key(copy, survey), encode_packet(copy))


def _read_alerts(paths: Iterable[str | Path], survey: str, counts: dict | None
                 ) -> Iterator[tuple[RawAlert | None, bytes]]:
    """(alert as streamed, b"") for every alert under ``paths``, and (None, the file's
    bytes) for a file that cannot be read; ``counts`` is updated if given."""
    tally = counts if counts is not None else {"files": 0, "alerts": 0, "unreadable_files": 0}
    for path in iter_alert_paths(paths):
        tally["files"] += 1
        try:
            raws = read_alert_file(path, survey)
        except DecodeError:
            tally["unreadable_files"] += 1
            yield None, Path(path).read_bytes()
            continue
        for raw in raws:
            tally["alerts"] += 1
            yield as_streamed(raw, survey), b""


def producer(settings: Settings) -> AIOKafkaProducer:
    """A producer sized for alert packets."""
    return AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all", linger_ms=10,
                            max_request_size=settings.max_message_bytes,
                            max_batch_size=1024 * 1024, request_timeout_ms=60000)


async def produce(settings: Settings, messages: Iterable[Message], topic: str,
                  rate: float | None = None, total: int | None = None,
                  progress: bool = True, on_acked: Callable[[int], None] | None = None
                  ) -> tuple[int, float]:
    """Send ``messages`` to ``topic`` at most ``rate`` per second; returns
    (messages sent, seconds).  Returns when the broker has acknowledged all.
    ``on_acked(k)`` is told each time k more messages are acknowledged."""
    kafka = producer(settings)
    await kafka.start()
    start = time.monotonic()
    sent = 0
    window = max(1, min(WINDOW, int(rate / 10))) if rate else WINDOW  # paced: ack often
    bar = tqdm(total=total, unit="alert", desc=f"replay -> {topic}", disable=not progress,
               mininterval=0.5)
    try:
        pending = []
        for message in messages:
            pending.append(await kafka.send(topic, message.value, key=message.key))
            sent += 1
            if len(pending) >= window:
                await _acknowledged(pending, bar, on_acked)
                pending = []
            if rate:
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await _acknowledged(pending, bar, on_acked)
    finally:
        bar.close()
        await kafka.stop()
    return sent, time.monotonic() - start


async def _acknowledged(pending: list, bar: tqdm, on_acked: Callable[[int], None] | None
                        ) -> None:
    """Wait for the broker's acknowledgement of ``pending``; count them."""
    await asyncio.gather(*pending)
    bar.update(len(pending))
    if on_acked:
        on_acked(len(pending))


async def replay(settings: Settings, paths: list[str], rate: float | None = None,
                 clone: int = 0, topic: str | None = None, progress: bool = True
                 ) -> ReplayStats:
    """Replay the alerts under ``paths`` into ``topic`` (default the raw topic)."""
    counts: dict = {}
    topic = topic or settings.raw_topic
    await ensure_topics(settings, [topic])
    messages = messages_from_paths(paths, settings.survey, clone, counts=counts)
    sent, seconds = await produce(settings, messages, topic, rate, progress=progress)
    return ReplayStats(counts["files"], counts["alerts"], counts["unreadable_files"], sent,
                       seconds)
