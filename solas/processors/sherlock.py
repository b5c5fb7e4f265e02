"""The sherlock processor: sky context for every ingested alert.

Owns the in-memory catalogue index (built at start-up from the MariaDB catalogue
tables and rebuilt when their version changes), a bounded per-object cache of
results, the TNS name look-up and the metrics.  Classification itself is pure
code in :mod:`catalogs.classifier`.  Each alert of topic ``ingested`` goes on to
``sherlocked`` with two more keys: ``sherlock`` (a ``sherlock_classifications``
row) and ``tns_name``.  The stage reads an alert's position from the message's
headers (set by ingest) and appends those keys to the JSON text, so it never parses
or re-encodes the light curve; a message without the headers is parsed.  An alert of a
solar-system object without a diaObject (header ``solas-solar-system``, or
:attr:`~solas.surveys.Alert.is_solar_system` of the parsed record) is not classified: it
moves, so a catalogue match means nothing; it goes on with ``sherlock`` and ``tns_name``
null.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Awaitable, Callable, NamedTuple, Sequence

import numpy as np
import orjson

from catalogs.classifier import SherlockIndex, SherlockResult, classify_positions
from catalogs.tns import TnsIndex, match_tns
from solas import metrics
from solas.ingest import DEC_HEADER, RA_HEADER, SOLAR_SYSTEM_HEADER, alert_from_body
from solas.topics import SHERLOCKED

log = logging.getLogger(__name__)
STAGE = "sherlock"

# send(topic, key, value, headers) -> awaitable resolved when the broker has the message
Send = Callable[[str, bytes | None, bytes, dict[str, bytes]], Awaitable[Awaitable]]


class Context(NamedTuple):
    """What the classifier needs, loaded together so a refresh swaps it atomically."""

    index: SherlockIndex
    tns: TnsIndex


class Record(NamedTuple):
    """One message of topic ``ingested``."""

    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class ContextSource(NamedTuple):
    """Blocking callables (run in an executor): the current catalogue version and a
    full load of the context."""

    version: Callable[[], str]
    load: Callable[[], Context]


class ResultCache:
    """Per-object results, valid while the catalogue version is unchanged (LRU)."""

    def __init__(self, max_objects: int):
        self.max_objects = max_objects
        self._items: OrderedDict[object, tuple[str, dict]] = OrderedDict()

    def get(self, object_id, version: str) -> dict | None:
        item = self._items.get(object_id)
        if item is None or item[0] != version:
            return None
        self._items.move_to_end(object_id)
        return item[1]

    def put(self, object_id, version: str, context: dict) -> None:
        self._items[object_id] = (version, context)
        self._items.move_to_end(object_id)
        while len(self._items) > self.max_objects:
            self._items.popitem(last=False)


#: The keys added to an alert of a solar-system object without a diaObject.
NO_CONTEXT: dict = {"sherlock": None, "tns_name": None}


def context_of(result: SherlockResult, tns_name: str | None) -> dict:
    """The keys added to an alert: its classification row and TNS name."""
    return {"sherlock": result._asdict(), "tns_name": tns_name}


def located(record: Record) -> dict:
    """``object_id`` (the message key), ``ra`` and ``dec`` (deg) of an ingested record,
    from its key and position headers; the parsed record if it lacks them.  Raises
    ValueError for a record that is neither (not a JSON object)."""
    if record.key is not None:
        try:
            return {"object_id": record.key, "ra": float(record.headers[RA_HEADER]),
                    "dec": float(record.headers[DEC_HEADER]),
                    "solar_system": record.headers.get(SOLAR_SYSTEM_HEADER) == b"1"}
        except (KeyError, ValueError):
            pass
    body = _json_object(record.value)
    missing = [k for k in ("object_id", "ra", "dec") if k not in body]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    return {**body, "solar_system": _is_solar_system(body)}


def _is_solar_system(body: dict) -> bool:
    """:attr:`Alert.is_solar_system` of a parsed ingested record (False if it is not
    one that :func:`alert_from_body` reads)."""
    if not body.get("solar_system"):
        return False
    try:
        return alert_from_body(body)[0].is_solar_system
    except (TypeError, AttributeError):
        return False


def with_context(value: bytes, context: dict) -> bytes:
    """The JSON object ``value`` with the keys of ``context`` appended (as text: the
    record is not parsed again).  Ingested records never hold those keys.  Raises
    ValueError if ``value`` does not end like a JSON object and does not parse as one."""
    body = value.rstrip()
    if not body.endswith(b"}") or body == b"{}":
        return orjson.dumps({**_json_object(value), **context})
    return body[:-1] + b"," + orjson.dumps(context)[1:]


def _json_object(value: bytes) -> dict:
    body = orjson.loads(value)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(body, dict):
        raise ValueError(f"a JSON {type(body).__name__}, not an object")
    return body


class SherlockProcessor:
    """Classify batches of ingested alerts and forward them to ``sherlocked``."""

    def __init__(self, source: ContextSource, send: Send, cache_objects: int = 100_000,
                 refresh_s: float = 60.0):
        self.source = source
        self.send = send
        self.cache = ResultCache(cache_objects)
        self.refresh_s = refresh_s
        self.context: Context | None = None
        self.version = ""
        self._checked = 0.0
        metrics.declare_stage(STAGE, (), ())

    async def start(self) -> None:
        """Load the catalogues and build the index (blocking work off the loop)."""
        await self._reload()

    async def _reload(self) -> None:
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        version = await loop.run_in_executor(None, self.source.version)
        context = await loop.run_in_executor(None, self.source.load)
        self.version, self.context = version, context  # together, or not at all
        seconds = time.perf_counter() - start
        metrics.SHERLOCK_INDEX_SOURCES.set(len(self.context.index.rows))
        metrics.SHERLOCK_INDEX_BUILD.set(seconds)
        self._checked = time.monotonic()
        log.info("sherlock index: %d catalogue sources, %d TNS objects, version %s, %.1f s",
                 len(self.context.index.rows), len(self.context.tns.names), self.version,
                 seconds)

    async def _refresh_if_changed(self) -> None:
        if time.monotonic() - self._checked < self.refresh_s:
            return
        self._checked = time.monotonic()
        try:
            version = await asyncio.get_running_loop().run_in_executor(None,
                                                                       self.source.version)
            if version != self.version:
                log.info("catalogues changed (%s -> %s): rebuilding the index",
                         self.version, version)
                await self._reload()
        except Exception as exc:  # MariaDB away: keep the index we have, ask again later
            log.warning("catalogue version not read (%s: %s); keeping the current index",
                        type(exc).__name__, exc)

    def classify(self, alerts: Sequence[dict]) -> list[dict]:
        """Context of each alert: cached per object, the misses classified at once."""
        contexts: list[dict | None] = [
            NO_CONTEXT if a.get("solar_system") else self.cache.get(a["object_id"], self.version)
            for a in alerts]
        misses = [i for i, c in enumerate(contexts) if c is None]
        metrics.SHERLOCK_CACHE_HITS.inc(len(alerts) - len(misses))
        if misses:
            ra = np.array([alerts[i]["ra"] for i in misses], dtype=np.float64)
            dec = np.array([alerts[i]["dec"] for i in misses], dtype=np.float64)
            batch = classify_positions(ra, dec, self.context.index)
            names = match_tns(ra, dec, self.context.tns).tns_name
            for i, result, name in zip(misses, batch.results, names):
                contexts[i] = context_of(result, name)
                self.cache.put(alerts[i]["object_id"], self.version, contexts[i])
        for c in contexts:
            if c["sherlock"] is not None:
                metrics.SHERLOCK_CLASSIFIED.labels(c["sherlock"]["classification"]).inc()
        return contexts

    async def process(self, records: Sequence[Record]) -> int:
        """Classify and forward one batch; returns when every message is acknowledged."""
        start = time.perf_counter()
        metrics.STAGE_IN.labels(STAGE).inc(len(records))
        metrics.STAGE_BATCH_SIZE.labels(STAGE).observe(len(records))
        await self._refresh_if_changed()
        records, positions = locate_all(records)
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "classify").time():
            contexts = self.classify(positions)
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "produce").time():
            pending = []
            for record, context in zip(records, contexts):
                try:
                    value = with_context(record.value, context)
                except ValueError as exc:
                    skip_malformed(record, exc)
                    continue
                pending.append(await self.send(SHERLOCKED, record.key, value, record.headers))
            await asyncio.gather(*pending)
        metrics.STAGE_OUT.labels(STAGE).inc(len(pending))
        metrics.STAGE_BATCH_DURATION.labels(STAGE).observe(time.perf_counter() - start)
        return len(pending)


def locate_all(records: Sequence[Record]) -> tuple[list[Record], list[dict]]:
    """The records whose position can be read, with their :func:`located` values; the
    others are skipped as malformed."""
    kept, positions = [], []
    for record in records:
        try:
            positions.append(located(record))
            kept.append(record)
        except ValueError as exc:
            skip_malformed(record, exc)
    return kept, positions


def skip_malformed(record: Record, exc: ValueError) -> None:
    """Log and count a record that is not an ingested alert: it is left out, and the
    rest of its batch goes on."""
    log.error("skipped record with key %r: not an ingested alert (%s)", record.key, exc)
    metrics.STAGE_DEADLETTER.labels(STAGE, "malformed").inc()
