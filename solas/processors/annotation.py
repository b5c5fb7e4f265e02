"""The annotation processor: other people's classifications of our objects.

Messages of topic ``annotations`` (see :mod:`solas.topics`) from known, active
annotators are upserted into ``annotations`` (one row per object and annotator);
others are refused with a reason.  For annotators marked *fast*, the filters that
run on annotations and use that annotator are re-run at once for the annotated
objects, through the filter stage's own runner and transactional output.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Mapping, NamedTuple, Sequence

import orjson

from solas import metrics
from solas.filters import object_id_list
from solas.processors.filter import (OBJECT_ID, FilterProcessor, KafkaMessage, Parsed, Record,
                                     batch_offsets, origin_of, refused_letters, upsert)
from solas.processors.filters import RUN_ON_ANNOTATION, run_filters
from solas.processors.retry import (PermanentFailure, refused_positions, store_apart,
                                    until_done)
from solas.stores import mariadb
from solas.stores.faults import classify_fault
from solas.topics import DEADLETTER, stage_topic
from tables.annotations import StateUpdate

log = logging.getLogger(__name__)
STAGE = "annotation"
FIELDS = ("version", "classification", "explanation", "classdict", "url")


class Annotator(NamedTuple):
    topic: str
    active: bool
    fast: bool


class AnnotationError(ValueError):
    """An annotation message that cannot be stored, with why."""


def parse_annotation(value: bytes, survey: str, annotators: dict[str, Annotator]) -> dict:
    """The ``annotations`` row of a message; raises :class:`AnnotationError`."""
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise AnnotationError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AnnotationError("an annotation must be a JSON object")
    oid = OBJECT_ID[survey]
    object_id = body.get(oid, body.get("objectId"))
    if object_id is None:
        raise AnnotationError(f"no object id ({oid})")
    if survey == "lsst":
        try:
            object_id = int(object_id)
        except (TypeError, ValueError):
            raise AnnotationError(f"{oid} {object_id!r} is not an integer") from None
    annotator = annotators.get(str(body.get("topic")))
    if annotator is None or not annotator.active:
        raise AnnotationError(f"no active annotator {body.get('topic')!r}")
    row = {oid: object_id, "topic": annotator.topic}
    for name in FIELDS:
        value = body.get(name)
        row[name] = orjson.dumps(value).decode() if name == "classdict" and value is not None \
            else value
    row["timestamp"] = _timestamp(body.get("timestamp"))
    return row


def _timestamp(text: Any) -> dt.datetime:
    if isinstance(text, str):
        try:
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except ValueError:
            pass
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def load_annotators(cursor) -> dict[str, Annotator]:
    cursor.execute("SELECT topic, active, fast FROM annotators")
    return {t: Annotator(t, bool(a), bool(f)) for t, a, f in cursor.fetchall()}


class AnnotationProcessor:
    """Store annotations; re-run the filters of fast annotators for their objects."""

    def __init__(self, filters: FilterProcessor, known: Mapping[str, Any]):
        self.filters = filters
        self.known = known
        self.settings = filters.settings
        self.annotators: dict[str, Annotator] = {}
        self._loaded = 0.0

    async def _refresh_annotators(self) -> None:
        if time.monotonic() - self._loaded < self.settings.filter_refresh_s:
            return
        with mariadb.connect(self.settings) as conn, conn.cursor() as cursor:
            self.annotators = load_annotators(cursor)
        self._loaded = time.monotonic()

    def parse(self, records: Sequence[Record]) -> list[tuple[int, dict]]:
        """(index of the record, row) of every valid annotation of the batch."""
        rows = []
        for index, record in enumerate(records):
            try:
                rows.append((index, parse_annotation(record.value, self.settings.survey,
                                                     self.annotators)))
            except AnnotationError as exc:
                log.warning("annotation refused (%s/%d): %s", record.tp, record.offset, exc)
                metrics.STAGE_DEADLETTER.labels(STAGE, "invalid").inc()
        return rows

    def changed(self, rows: list[tuple[int, dict]]) -> tuple[list[dict], list[StateUpdate]]:
        """The rows whose (version, classification) differ from the last one seen for
        that object and annotator (``known``, the RocksDB table), and the table updates
        that record them: a replayed or repeated annotation does not re-run filters."""
        oid = OBJECT_ID[self.settings.survey]
        fresh, pending = [], {}
        for index, row in rows:
            key = str(row[oid])
            seen = dict(pending[key].value if key in pending else self.known.get(key) or {})
            state = [row["version"], row["classification"]]
            if seen.get(row["topic"]) != state:
                fresh.append(row)
                seen[row["topic"]] = state
                pending[key] = StateUpdate(index, key, seen)
        return fresh, list(pending.values())

    async def rerun(self, rows: list[dict]) -> list:
        """Runs of the on-annotation filters that use a fast annotator of ``rows``."""
        fast = {r["topic"] for r in rows if self.annotators[r["topic"]].fast}
        if not fast:
            return []
        await self.filters.refresh_filters()
        chosen = [f for f in self.filters.filters if f.run & RUN_ON_ANNOTATION
                  and fast & set(f.compiled.tables.annotators)]
        oid = OBJECT_ID[self.settings.survey]
        ids = object_id_list(list(dict.fromkeys(r[oid] for r in rows
                                                if r["topic"] in fast)), self.settings.survey)
        runs = await run_filters(self.filters.ro_pool, self.filters.pool, chosen,
                                 {"objects": ids}, self.settings.filter_row_limit,
                                 self.settings.filter_time_limit_s)
        await self.filters.record_runs(runs)
        return runs

    async def process(self, records: Sequence[Record]) -> list[StateUpdate]:
        """Store a batch of annotations and emit the matches it causes; returns the
        updates of ``known`` for the caller to write once the batch is committed.
        Annotations MariaDB refuses for good (a value too long, the schema) go to the
        dead-letter topic in the batch's transaction; a later step failing for good sends
        the whole batch there (:mod:`solas.processors.filter`)."""
        metrics.STAGE_IN.labels(STAGE).inc(len(records))
        await until_done(STAGE, "refresh", self._refresh_annotators)
        parsed = self.parse(records)
        pool = self.filters.pool
        refused = await store_apart(
            STAGE, "mariadb", lambda positions: upsert(pool, "annotations", [
                parsed[i][1] for i in positions]), len(parsed), classify_fault)
        letters = refused_letters(
            stage_topic(self.settings, DEADLETTER), records,
            [origin_of(records[index]) for index, _ in parsed], refused, STAGE)
        if refused:
            metrics.STAGE_PERMANENT_FAILURES.labels(STAGE, "mariadb").inc()
            metrics.STAGE_DEADLETTER.labels(STAGE, "mariadb").inc(len(letters))
            log.error("%d annotations not storable, sent to the dead-letter topic: %s",
                      len(letters), refused[0].failure.fault.reason)
            gone = refused_positions(refused)
            parsed = [item for i, item in enumerate(parsed) if i not in gone]
        try:
            updates = await self.send_matches(records, parsed, letters)
        except PermanentFailure as failure:
            await self.filters.dead_letter_batch(records, failure, letters)
            return []
        metrics.STAGE_OUT.labels(STAGE).inc(len(parsed))
        return updates

    async def send_matches(self, records: Sequence[Record], parsed: list[tuple[int, dict]],
                           letters: Sequence[KafkaMessage]) -> list[StateUpdate]:
        """Re-run the filters of the fast annotators of the stored annotations and send
        their matches, with ``letters`` and the batch's offsets, in one transaction."""
        fresh, updates = self.changed(parsed)
        runs = await until_done(STAGE, "filters", self.rerun, fresh, classify=classify_fault)
        no_alerts = Parsed([], [], [], [], [], [])
        quota = await until_done(STAGE, "produce", self.filters.quota_book, runs,
                                 classify=classify_fault)
        out = self.filters.outgoing(runs, no_alerts, quota)
        out = out._replace(kafka=[*letters, *out.kafka])
        await until_done(STAGE, "produce", self.filters.emit, out, batch_offsets(records),
                         classify=classify_fault)
        try:
            await until_done(STAGE, "produce", self.filters.record_usage, quota,
                             classify=classify_fault)
        except PermanentFailure as failure:  # sent already: only the quota count is short
            metrics.STAGE_PERMANENT_FAILURES.labels(STAGE, "produce").inc()
            log.error("filter quota usage not recorded: %s", failure.fault.reason)
        return updates
