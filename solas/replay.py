"""Replay real alerts (files or folders, Avro or JSON) into the raw Kafka topic.

Each alert becomes one Kafka message in the survey's own framing (a one-record
Avro container for ZTF, the Confluent wire format with the official schema id
for Rubin Avro, JSON for JSON input), keyed by object id.  ``clone`` makes N synthetic objects per
alert for load tests (for Rubin with a realistic history mix, see
:mod:`solas.surveys.history_mix`); ``rate`` caps alerts per second.  A file that cannot
be decoded is sent verbatim, so the worker dead-letters it with its reason.
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
from solas.surveys.history_mix import (HistoryPlan, check_mix, history_lengths,
                                       in_time_order, plan_histories, trim_history)

WINDOW = 500  # messages in flight before waiting for acknowledgements


class Message(NamedTuple):
    """One message for the raw topic."""

    key: bytes | None
    value: bytes
    dia_sources: int | None = None
    """Rubin clones: diaSources in the packet, counting the triggering one (else None)."""
    forced: int | None = None
    """Rubin clones: forced sources in the packet (else None)."""


class Pool(NamedTuple):
    """The real alerts under some paths, read once, to be cloned."""

    alerts: list[RawAlert]
    """Alerts as their survey streams them (:func:`as_streamed`), each once."""
    keys: list[bytes | None]
    """Kafka key (object id) of each alert; None if it has none (not normalisable)."""
    unreadable: list[bytes]
    """Bytes of each file that cannot be read."""


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


COUNTS = ("files", "alerts", "unreadable_files", "duplicate_alerts")
"""What :func:`messages_from_paths` counts as it reads (once, however many clones)."""
MIX_STREAM = 0x6D6978
"""Random stream of a history mix's plan, apart from the clones' own (jitter, shifts)."""


def messages_from_paths(paths: Iterable[str | Path], survey: str, clone: int = 0,
                        seed: int = 0, counts: dict | None = None,
                        mix: str | None = None) -> Iterator[Message]:
    """Messages for every alert found under ``paths``; ``counts`` is filled with
    files, alerts, unreadable_files and duplicate_alerts as they are read (:data:`COUNTS`).

    With ``clone`` N the alerts are sent in N rounds, clone k of every alert in round k,
    so any stretch of the replay mixes the sample as a whole (a folder of long light
    curves does not arrive as one block).  Clone k of every alert of one real object
    belongs to one synthetic object k (same new ids, jitter and time shift), so
    successive alerts of an object stay a growing light curve of its clones.  An alert
    found twice (same source id, e.g. in two files of a broker) is cloned once.  The
    files are read again in each round: memory does not grow with the sample.

    ``mix`` (Rubin, with ``clone``): ``wide`` or ``deep`` send N clones per alert on
    average with the history mix of :mod:`solas.surveys.history_mix` instead (the
    sample is read once and kept), ``asis`` or None the rounds above."""
    counts = counts if counts is not None else {}
    for name in COUNTS:
        counts.setdefault(name, 0)
    if clone and mix not in (None, "asis"):
        check_mix_survey(mix, survey)
        pool = read_pool(paths, survey, counts)
        for value in pool.unreadable:
            yield Message(None, value)
        if pool.alerts:
            yield from mixed_messages(pool, survey, clone * len(pool.alerts), mix, seed)
        return
    for k in range(max(clone, 1)):
        seen: set = set()
        for raw, unreadable in _read_alerts(paths, survey, counts if k == 0 else None):
            if raw is None:
                if k == 0:
                    yield Message(None, unreadable)
                continue
            key = _key(raw, survey)
            if not clone:
                yield Message(key, encode_packet(raw))
                continue
            if _seen_before(raw, seen):
                if k == 0:
                    counts["duplicate_alerts"] += 1
                continue
            rng = np.random.default_rng((seed, k, zlib.crc32(key or b"")))
            yield _message(clone_record(raw, survey, k, rng), survey)


def check_mix_survey(mix: str, survey: str) -> str:
    """``mix`` if it is a history mix (``history_mix.MIXES``) that applies to ``survey``:
    ``wide`` and ``deep`` shape Rubin histories only; else ``ValueError``."""
    check_mix(mix)
    if mix != "asis" and survey != "lsst":
        raise ValueError(f"the {mix} history mix shapes Rubin (lsst) alert histories; "
                         f"{survey} alerts are cloned as they are (mix asis)")
    return mix


def _source_id(raw: RawAlert):
    """The triggering source id of an alert (ZTF candid, Rubin diaSourceId), else None."""
    rec = raw.record
    for top, inner, name in (("candid", "candidate", "candid"),
                             ("diaSourceId", "diaSource", "diaSourceId")):
        value = rec.get(top)
        if value is None and isinstance(rec.get(inner), dict):
            value = rec[inner].get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _seen_before(raw: RawAlert, seen: set) -> bool:
    """Whether an alert with this one's source id is in ``seen`` (which it joins)."""
    source_id = _source_id(raw)
    if source_id is None:
        return False
    if source_id in seen:
        return True
    seen.add(source_id)
    return False


def _message(raw: RawAlert, survey: str) -> Message:
    """The message of one (cloned) alert; Rubin: with its history counts."""
    value = encode_packet(raw)
    if survey != "lsst" or not isinstance(raw.record, dict):
        return Message(_key(raw, survey), value)
    prior, forced = history_lengths(raw.record)
    return Message(_key(raw, survey), value, prior + 1, forced)


def read_pool(paths: Iterable[str | Path], survey: str, counts: dict | None = None,
              keyed_only: bool = False) -> Pool:
    """Every alert under ``paths`` read once (duplicates dropped; ``keyed_only``: also
    the alerts without a key, counted as ``unkeyed_alerts``); ``counts`` as in
    :func:`messages_from_paths`."""
    tally = counts if counts is not None else {}
    for name in COUNTS:
        tally.setdefault(name, 0)
    alerts, keys, unreadable, seen = [], [], [], set()
    for raw, value in _read_alerts(paths, survey, tally):
        if raw is None:
            unreadable.append(value)
            continue
        if _seen_before(raw, seen):
            tally["duplicate_alerts"] += 1
            continue
        key = _key(raw, survey)
        if key is None and keyed_only:
            tally["unkeyed_alerts"] = tally.get("unkeyed_alerts", 0) + 1
            continue
        alerts.append(raw)
        keys.append(key)
    return Pool(alerts, keys, unreadable)


class _Clones(NamedTuple):
    """Everything the clones of a history plan are made from."""

    alerts: list
    keys: list[bytes | None]
    plan: HistoryPlan
    trim: bool
    survey: str
    seed: int


def _prepare(pool: Pool, survey: str, n: int, mix: str, seed: int) -> _Clones:
    check_mix_survey(mix, survey)
    if not pool.alerts:
        raise ValueError("no alerts to clone")
    trim = mix != "asis"
    lengths = np.array([history_lengths(r.record) if survey == "lsst" else (0, 0)
                        for r in pool.alerts], dtype=np.int64).reshape(-1, 2)
    plan = plan_histories(mix, lengths[:, 0], lengths[:, 1], n,
                          np.random.default_rng((seed, MIX_STREAM)))
    alerts = _trimmed(pool.alerts, plan) if trim else pool.alerts
    return _Clones(alerts, pool.keys, plan, trim, survey, seed)


def _clone_message(c: _Clones, j: int) -> Message:
    """Message ``j`` of the plan: its sample alert, trimmed, cloned and encoded."""
    i, k = int(c.plan.source[j]), int(c.plan.clone[j])
    raw = c.alerts[i]
    if c.trim:
        raw = raw._replace(record=trim_history(raw.record, int(c.plan.prior[j]),
                                               int(c.plan.forced[j])))
    rng = np.random.default_rng((c.seed, k, zlib.crc32(c.keys[i] or b"")))
    return _message(clone_record(raw, c.survey, k, rng), c.survey)


def mixed_messages(pool: Pool, survey: str, n: int, mix: str = "asis",
                   seed: int = 0) -> Iterator[Message]:
    """``n`` messages of clones of the ``pool``'s alerts under the history ``mix``
    (:func:`solas.surveys.history_mix.plan_histories`): ``asis`` in rounds of the
    whole pool, ``wide``/``deep`` (Rubin) with drawn histories, each alert keeping the
    latest of its history.  Reproducible from ``seed``; clone k of every alert of one
    real object is one synthetic object."""
    clones = _prepare(pool, survey, n, mix, seed)
    pool = Pool([], [], [])  # only the trimmed sample is kept
    for j in range(n):
        yield _clone_message(clones, j)


def _trimmed(alerts: list[RawAlert], plan: HistoryPlan) -> list:
    """Each alert with its histories in time order, cut to the longest the plan keeps of
    it (None for alerts the plan does not use)."""
    most = np.full((len(alerts), 2), -1, dtype=np.int64)
    np.maximum.at(most[:, 0], plan.source, plan.prior)
    np.maximum.at(most[:, 1], plan.source, plan.forced)
    return [raw._replace(record=trim_history(in_time_order(raw.record), int(p), int(f)))
            if p >= 0 else None for raw, (p, f) in zip(alerts, most.tolist())]


def _read_alerts(paths: Iterable[str | Path], survey: str, counts: dict | None
                 ) -> Iterator[tuple[RawAlert | None, bytes]]:
    """(alert as streamed, b"") for every alert under ``paths``, and (None, the file's
    bytes) for a file that cannot be read; ``counts`` is updated if given."""
    tally = counts if counts is not None else {name: 0 for name in COUNTS}
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
