"""The filter processor: features, sky matches, MariaDB, then every active filter.

Per batch of ``sherlocked`` alerts: light-curve features (:mod:`solas.features`),
watchlist, watchmap and GW sky-map matches (:class:`~tables.sky.SkyState`),
one bulk upsert per table (``objects`` only ever moves forward in time), then every active
filter on the batch's objects (:mod:`solas.processors.filters`).  Matches go to the
filter's topic (output 2-4), the ``live`` topic and the e-mail digest queue
(output 1).  Kafka output and the batch's consumer offsets are committed in one
Kafka transaction, so a crash at any point neither loses a match nor emits it twice
(to ``read_committed`` consumers).

A step that fails for good (a schema mismatch, a value that does not fit:
:mod:`solas.stores.faults`) never stalls the stage: the alerts MariaDB refuses (the whole
batch for a schema mismatch, else only the alerts at fault, found by splitting the batch)
go to the dead-letter topic with the error, the stage, the step and their origin, in the
batch's transaction, and the others go on; a later step failing for good sends the whole
batch there.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from typing import Any, Awaitable, Callable, Mapping, NamedTuple, Sequence

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from solas import metrics
from solas.features import MIN_RATE_INTERVAL_S, compute_features
from solas.features.solar_system import dia_object_indices, keep_positions
from solas.filters import TIME_COLUMNS, ObjectIdList, object_id_list
from solas.ingest import alert_from_body
from solas.processors import messages
from solas.processors.filters import (RUN_ON_ALERT, ActiveFilter, FilterRun,
                                      load_active_filters, record_errors, run_filters,
                                      switch_off)
from solas.processors.ingest import RAW_TIMESTAMP_HEADER
from solas.processors.ledger import (LedgerEntry, Pair, Settled, judge_entries, parse_origin,
                                     settle_doubts)
from solas.processors.retry import (PermanentFailure, Refused, refused_positions,
                                    store_apart, until_done)
from solas.processors.solar_system import store_solar_system
from tables.sky import GwMap, SkyState
from solas.settings import Settings
from solas.skymatch import MocMatches, evaluate_skymap
from solas.stores import mariadb
from solas.stores.faults import classify_fault
from solas.surveys import Alert
from solas.topics import DEADLETTER, LIVE, committed_offsets, ensure_topics, stage_topic

log = logging.getLogger(__name__)
STAGE = "filter"
DOUBT_POLL_S = 0.5
"""How often a worker re-reads ledger entries another worker's open transaction holds, s."""
OBJECT_ID = {"ztf": "objectId", "lsst": "diaObjectId"}
MARK_SENT_PAIRS = 1000
"""Ledger pairs marked committed per UPDATE statement."""


class Record(NamedTuple):
    """One message of topic ``sherlocked`` with where it came from."""

    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    tp: TopicPartition
    offset: int


class Parsed(NamedTuple):
    """A batch of ``sherlocked`` alerts, split into what each step needs."""

    alerts: list[Alert]
    sherlock: list[dict]
    tns_names: list[str | None]
    bodies: list[dict]          # the full alert, for output 4
    raw_ms: list[int | None]
    origins: list[str]          # "topic/partition/offset" of each alert's record


class KafkaMessage(NamedTuple):
    """One message to send; ``headers`` carry the id of the alert that produced it and
    the alert's raw-topic timestamp (ms), so a consumer can deduplicate per alert and
    measure how long the alert took to reach it."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Outgoing(NamedTuple):
    """Messages of one batch: Kafka messages, queued e-mail rows, and the
    (filter id, alert source id) pairs they emit, for the ledger."""

    kafka: list[KafkaMessage]
    email: list[tuple]
    emitted: list[tuple[int, int]]


def origin_of(record: Record) -> str:
    """``topic/partition/offset`` of a record."""
    return f"{record.tp.topic}/{record.tp.partition}/{record.offset}"


def dead_letter(topic: str, record: Record, stage: str, step: str, reason: str) -> KafkaMessage:
    """The dead-letter message of ``record``: its own key and value, with headers naming
    the stage and step that gave up on it, why, and where it came from."""
    return KafkaMessage(topic, record.key, record.value, [
        ("solas-stage", stage.encode()), ("solas-step", step.encode()),
        ("solas-reason", reason.encode()), ("solas-origin", origin_of(record).encode())])


def refused_letters(topic: str, records: Sequence[Record], origins: Sequence[str],
                    refused: Sequence[Refused], stage: str) -> list[KafkaMessage]:
    """Dead-letter messages of the alerts :func:`~solas.processors.retry.store_apart`
    refused (positions in ``origins``, the parsed batch's record origins)."""
    by_origin = {origin_of(r): r for r in records}
    return [dead_letter(topic, by_origin[origins[i]], stage, r.failure.step,
                        r.failure.fault.reason) for r in refused for i in r.positions]


def parse_records(records: Sequence[Record], survey: str) -> Parsed:
    """Decode the JSON of each record (see :mod:`solas.processors.sherlock`); records
    that are not alerts of ``survey`` are counted as dead letters and left out."""
    alerts, sherlock, tns, bodies, raw, origins = [], [], [], [], [], []
    for record in records:
        try:
            body = orjson.loads(record.value)
            context, name = body.pop("sherlock", None) or {}, body.pop("tns_name", None)
            alert, raw_ms = alert_from_body(body)
        except (ValueError, TypeError) as exc:
            log.error("skipped %s/%d: not an alert (%s)", record.tp, record.offset, exc)
            metrics.STAGE_DEADLETTER.labels(STAGE, "malformed").inc()
            continue
        if alert.survey != survey:
            metrics.STAGE_DEADLETTER.labels(STAGE, "other_survey").inc()
            continue
        sherlock.append(context)
        tns.append(name)
        origins.append(origin_of(record))
        alerts.append(alert)
        bodies.append(body)
        raw.append(raw_ms)
    return Parsed(alerts, sherlock, tns, bodies, raw, origins)


def object_rows(survey: str, parsed: Parsed, now: dt.datetime,
                min_rate_interval_s: float = MIN_RATE_INTERVAL_S) -> list[dict]:
    """One ``objects`` row per alert: features, TNS name and the update time.
    ``min_rate_interval_s``: see :func:`solas.features.compute_features`."""
    context = {a.object_id: s for a, s in zip(parsed.alerts, parsed.sherlock)}
    try:
        rows = compute_features(parsed.alerts, survey, context,
                                min_rate_interval_s=min_rate_interval_s)
    except ValueError as exc:  # one bad light curve: compute alert by alert
        log.error("features of the batch failed (%s): computing alert by alert", exc)
        rows = [_features_or_keys(survey, a, context, min_rate_interval_s)
                for a in parsed.alerts]
    for row, name in zip(rows, parsed.tns_names):
        row["tns_name"] = name
        row["timestamp"] = now
    return rows


def _features_or_keys(survey: str, alert: Alert, context: dict,
                      min_rate_interval_s: float) -> dict:
    """The features of one alert, or only its id and position if they fail."""
    try:
        return compute_features([alert], survey, context,
                                min_rate_interval_s=min_rate_interval_s)[0]
    except ValueError as exc:
        log.error("no features for %s: %s", alert.object_id, exc)
        ra, dec = ("ramean", "decmean") if survey == "ztf" else ("ra", "decl")
        return {OBJECT_ID[survey]: alert.object_id, ra: alert.ra, dec: alert.dec,
                TIME_COLUMNS[survey]: alert.mjd + (2400000.5 if survey == "ztf" else 0)}


class Hits(NamedTuple):
    """The hit rows of a batch, one list per table."""

    watchlist: list[dict]
    """``watchlist_hits``"""
    areas: list[dict]
    """``area_hits``"""
    gw: list[dict]
    """``mma_area_hits``"""


def hit_rows(survey: str, parsed: Parsed, sky: SkyState) -> Hits:
    """watchlist_hits, area_hits and mma_area_hits rows of the batch."""
    oid = OBJECT_ID[survey]
    ra = np.array([a.ra for a in parsed.alerts], dtype=float)
    dec = np.array([a.dec for a in parsed.alerts], dtype=float)
    ids = [a.object_id for a in parsed.alerts]
    cones = sky.cones.match_to_cones(ra, dec)
    watchlist = [{oid: ids[i], "wl_id": int(w), "cone_id": int(c), "arcsec": float(s),
                  "name": str(n)} for i, w, c, s, n in zip(
                      cones.alert_index.tolist(), cones.wl_id, cones.cone_id, cones.arcsec,
                      cones.name)]
    mocs = sky.mocs.match_to_mocs(ra, dec)
    areas = [{oid: ids[i], "ar_id": int(a)} for i, a in zip(mocs.alert_index.tolist(),
                                                            mocs.ar_id)]
    return Hits(watchlist, areas, gw_hit_rows(oid, ids, ra, dec, mocs, sky.gw_maps))


def gw_hit_rows(oid: str, ids: list, ra: np.ndarray, dec: np.ndarray, mocs: MocMatches,
                gw_maps: dict[int, GwMap]) -> list[dict]:
    """``mma_area_hits`` rows: the alerts that the merged watchmap index put inside a
    watchmap made from a GW sky map, with the map's contour (%) and probability density
    (deg^-2) at each.  Only the maps with hits are evaluated, each on its hits alone."""
    if not gw_maps or mocs.alert_index.size == 0:
        return []
    rows = []
    gw_ids = np.fromiter(gw_maps, dtype=np.int64, count=len(gw_maps))
    for ar_id in np.unique(mocs.ar_id[np.isin(mocs.ar_id, gw_ids)]).tolist():
        gw = gw_maps[ar_id]
        alert = mocs.alert_index[mocs.ar_id == ar_id]
        values = evaluate_skymap(ra[alert], dec[alert], gw.skymap)
        known = ~np.isnan(values.contour)  # the stored pixels are the watchmap's region
        rows += [{oid: ids[i], "mw_id": gw.mw_id, "contour": c, "probdens": p}
                 for i, c, p in zip(alert[known].tolist(), values.contour[known].tolist(),
                                    values.probdens[known].tolist())]
    return rows


def _clean(value: Any) -> Any:
    """A value MariaDB accepts: NaN/inf -> NULL, numpy scalars -> Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


async def upsert(pool, table: str, rows: list[dict], newer: str | None = None) -> None:
    """One multi-row upsert of ``rows`` (dicts with the same keys) into ``table``."""
    if not rows:
        return
    columns = list(rows[0])
    sql = mariadb.upsert_sql(table, columns, newer)
    values = [tuple(_clean(r.get(c)) for c in columns) for r in rows]
    start = time.perf_counter()
    async with pool.acquire() as conn, conn.cursor() as cursor:
        await cursor.executemany(sql, values)
    metrics.MARIADB_WRITE_DURATION.labels(table).observe(time.perf_counter() - start)
    metrics.MARIADB_ROWS.labels(table).inc(len(rows))


async def mark_sent(cursor, pairs: Sequence[tuple[int, int]]) -> None:
    """Mark the ledger's (filter id, source id) ``pairs`` committed, in one statement per
    :data:`MARK_SENT_PAIRS` (``executemany`` sends an UPDATE per pair: a round trip per
    match)."""
    for start in range(0, len(pairs), MARK_SENT_PAIRS):
        chunk = pairs[start:start + MARK_SENT_PAIRS]
        await cursor.execute(
            "UPDATE filter_emitted SET committed=1 WHERE (filter_id, source_id) IN ("
            + ", ".join(["(%s, %s)"] * len(chunk)) + ")",
            [value for pair in chunk for value in pair])


class QuotaBook:
    """A batch's view of the daily byte quotas: the bytes each filter had sent to its
    topic on ``day`` (UTC) before the batch, by every worker (``filter_quota``), and what
    the batch sends on top."""

    def __init__(self, day: dt.date | None = None, used: Mapping[int, int] | None = None):
        self.day = day or utc_today()
        self.used = dict(used or {})
        """Bytes sent before the batch, by filter id."""
        self.sent: dict[int, int] = defaultdict(int)
        """Bytes this batch sends, by filter id."""

    def allow(self, active: ActiveFilter, size: int) -> bool:
        """Whether ``active`` may send ``size`` more bytes today; if so they are counted."""
        spent = self.used.get(active.id, 0) + self.sent[active.id]
        if active.byte_quota and spent + size > active.byte_quota:
            return False
        self.sent[active.id] += size
        return True

    def usage_rows(self) -> list[tuple[int, dt.date, int]]:
        """(filter id, day, bytes) this batch adds to ``filter_quota``."""
        return [(f, self.day, n) for f, n in sorted(self.sent.items()) if n]


def utc_today() -> dt.date:
    """Today's date in UTC: the quota day."""
    return dt.datetime.now(dt.timezone.utc).date()


def quota_filters(runs: Sequence[FilterRun]) -> list[int]:
    """Ids of the filters of ``runs`` that matched and have a byte quota on their topic."""
    return sorted({r.filter.id for r in runs if r.rows and r.filter.byte_quota
                   and r.filter.output >= messages.OUTPUT_KAFKA and r.filter.topic})


def usage_sql(rows: int) -> str:
    """One multi-row statement adding ``rows`` (filter id, day, bytes) to ``filter_quota``."""
    return ("INSERT INTO filter_quota (filter_id, day, bytes) VALUES "
            + ", ".join(["(%s, %s, %s)"] * rows)
            + " ON DUPLICATE KEY UPDATE bytes = bytes + VALUES(bytes)")


def batch_ids(alerts: Sequence[Alert], survey: str) -> dict[str, ObjectIdList]:
    """The batch's ids for each root table filters select from: ``objects`` (every
    alert with a diaObject, or ZTF object) and ``ss_objects`` (the ssObjectId of every
    alert with a solar-system part, with or without a diaObject)."""
    objects = dict.fromkeys(a.object_id for a in alerts if not a.is_solar_system)
    ids = {"objects": object_id_list(list(objects), survey)}
    if survey == "lsst":
        ss = dict.fromkeys(a.ss_object_id for a in alerts if a.ss_object_id is not None)
        ids["ss_objects"] = object_id_list(list(ss), survey)
    return ids


def latest_alerts(parsed: Parsed) -> dict[Any, int]:
    """Batch position of the latest alert of each object id and ssObjectId (a filter
    row starts with one or the other; the batch is time-ordered)."""
    latest: dict[Any, int] = {}
    for i, alert in enumerate(parsed.alerts):
        latest[alert.object_id] = i
        if alert.ss_object_id is not None:
            latest[alert.ss_object_id] = i
    return latest


def match_sources(runs: Sequence[FilterRun], parsed: Parsed) -> dict[tuple[int, int], str]:
    """(filter id, source id of the object's latest alert in the batch) of every match,
    with the origin (topic/partition/offset) of that alert's record."""
    latest = latest_alerts(parsed)
    return {(run.filter.id, parsed.alerts[latest[row[0]]].source_id):
            parsed.origins[latest[row[0]]] for run in runs for row in run.rows
            if row[0] in latest}


def match_headers(parsed: Parsed, i: int | None) -> list[tuple[str, bytes]]:
    """Kafka headers of a match produced by alert ``i`` of the batch: the alert's id
    (:data:`~solas.processors.messages.ALERT_ID_HEADER`) and its raw-topic timestamp (ms)
    when known; none for a match no alert of the batch produced (an annotation re-run)."""
    if i is None:
        return []
    headers = [messages.alert_id_header(parsed.alerts[i].source_id)]
    raw_ms = parsed.raw_ms[i]
    if raw_ms:
        headers.append((RAW_TIMESTAMP_HEADER, str(raw_ms).encode()))
    return headers


def outgoing(runs: Sequence[FilterRun], parsed: Parsed, quota: QuotaBook,
             live_topic: str = LIVE, already: frozenset = frozenset()) -> Outgoing:
    """Kafka messages and e-mail rows for every match of every filter, leaving out the
    (filter, alert source id) pairs in ``already`` (emitted before: a replayed alert)."""
    latest = latest_alerts(parsed)
    kafka, email, emitted = [], [], []
    utc = messages.utc_now()
    for run in runs:
        active = run.filter
        for row in run.rows:
            object_id, values = row[0], row[1:]
            i = latest.get(object_id)
            if i is not None:
                pair = (active.id, parsed.alerts[i].source_id)
                if pair in already:
                    continue
                emitted.append(pair)
            payload = messages.match_payload(active.compiled.keys, values, utc)
            key = str(object_id).encode()
            headers = match_headers(parsed, i)
            kafka.append(KafkaMessage(live_topic, key, messages.live_message(
                active.id, active.name, active.user, active.public, object_id, payload),
                headers))
            if active.output == messages.OUTPUT_EMAIL:
                email.append((active.id, str(object_id), orjson.dumps(
                    payload, default=messages.jsonable).decode()))
            elif active.output >= messages.OUTPUT_KAFKA and active.topic:
                body = parsed.bodies[i] if i is not None else None
                value = messages.match_message(payload, active.output, body)
                if quota.allow(active, len(value)):
                    kafka.append(KafkaMessage(active.topic, key, value, headers))
                    metrics.FILTER_EMITTED_BYTES.labels(str(active.id)).inc(len(value))
    return Outgoing(kafka, email, emitted)


async def _rollback(conn) -> None:
    """Roll back an open transaction; a connection already broken has nothing to undo."""
    try:
        await conn.rollback()
    except Exception as exc:  # the driver's many connection errors: MariaDB rolls back
        log.warning("rollback failed (%s); the connection is closed, so the server drops "
                    "the transaction", exc)
        conn.close()  # never back into the pool with a transaction open


def batch_offsets(records: Sequence[Record],
                  floor: Mapping[TopicPartition, int] | None = None
                  ) -> dict[TopicPartition, int]:
    """The next offset to consume per partition after this batch, never below ``floor``
    (offsets another worker is known to have committed: the group must not move back)."""
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        offsets[r.tp] = max(offsets.get(r.tp, 0), r.offset + 1, (floor or {}).get(r.tp, 0))
    return offsets


class FilterProcessor:
    """Runs the filter stage on batches; owns the pools, the producer and the filter set."""

    def __init__(self, settings: Settings, pool, ro_pool, sky: SkyState,
                 open_producer: Callable[[], Awaitable[AIOKafkaProducer]], group_id: str,
                 owner: str):
        self.settings = settings
        self.pool, self.ro_pool = pool, ro_pool
        self.sky = sky
        self.open_producer = open_producer  # a started transactional producer
        self.producer: AIOKafkaProducer | None = None
        self.group_id = group_id
        self.owner = owner  # the producer's transactional id, recorded in the ledger
        self.seen_committed: dict[TopicPartition, int] = {}
        self.filters: list[ActiveFilter] = []
        self._loaded = 0.0
        self._topics: set[str] = set()
        metrics.declare_stage(STAGE, ("store", "refresh", "filters", "ledger", "produce"),
                              ("malformed", "other_survey", "store", "filters", "ledger",
                               "produce"))

    async def start(self) -> None:
        """Open the producer (its transactional id fences an earlier incarnation of this
        worker and aborts what it left open) and load the active filters."""
        self.producer = await self.open_producer()
        await self.refresh_filters(force=True)

    async def refresh_filters(self, force: bool = False) -> None:
        """Reload the active filters when they are older than the refresh interval."""
        if not force and time.monotonic() - self._loaded < self.settings.filter_refresh_s:
            return
        def load():
            with mariadb.connect(self.settings) as conn, conn.cursor() as cursor:
                return load_active_filters(cursor, self.settings.survey)
        self.filters, errors = await asyncio.get_running_loop().run_in_executor(None, load)
        self._loaded = time.monotonic()
        await record_errors(self.pool, errors)
        new = [f.topic for f in self.filters if f.topic and f.topic not in self._topics]
        if new:
            await ensure_topics(self.settings, new, self.settings.filter_topic_partitions)
            self._topics.update(new)

    async def record_runs(self, runs: Sequence[FilterRun]) -> None:
        """Keep the errors of ``runs`` for the filters' owners, and switch off the
        filters that ran out of time (at once: the next batch does not run them)."""
        await until_done(STAGE, "filters", record_errors, self.pool,
                         {r.filter.id: r.error for r in runs if r.error and not r.timed_out},
                         classify=classify_fault)
        slow = set(await until_done(STAGE, "filters", switch_off, self.pool, runs,
                                    classify=classify_fault))
        if slow:
            self.filters = [f for f in self.filters if f.id not in slow]

    async def store(self, parsed: Parsed) -> None:
        """Objects, classifications and hits of the batch, one upsert per table; the
        solar-system tables (:mod:`solas.processors.solar_system`).  Alerts of
        solar-system objects without a diaObject get no ``objects`` row, features,
        classification or sky match."""
        survey = self.settings.survey
        oid = OBJECT_ID[survey]
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        await store_solar_system(self.pool, survey, parsed.alerts, now)
        parsed = keep_positions(parsed, dia_object_indices(parsed.alerts))
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "features").time():
            # in a thread: the light-curve fits must not hold up the event loop
            objects = await asyncio.to_thread(object_rows, survey, parsed, now,
                                              self.settings.features_min_rate_interval_s)
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "sky").time():
            hits = hit_rows(survey, parsed, self.sky)
        sherlock = [{oid: a.object_id, **s} for a, s in zip(parsed.alerts, parsed.sherlock)
                    if s]
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "mariadb").time():
            await upsert(self.pool, "objects", objects, TIME_COLUMNS[survey])
            await asyncio.gather(upsert(self.pool, "sherlock_classifications", sherlock),
                                 upsert(self.pool, "watchlist_hits", hits.watchlist),
                                 upsert(self.pool, "area_hits", hits.areas),
                                 upsert(self.pool, "mma_area_hits", hits.gw))

    def outgoing(self, runs: Sequence[FilterRun], parsed: Parsed, quota: QuotaBook,
                 already: frozenset = frozenset()) -> Outgoing:
        """The messages of ``runs`` (see :func:`outgoing`) for this deployment."""
        return outgoing(runs, parsed, quota, stage_topic(self.settings, LIVE), already)

    async def quota_book(self, runs: Sequence[FilterRun]) -> QuotaBook:
        """Today's bytes sent by every worker for the filters of ``runs`` that matched and
        have a quota: one query."""
        day, ids = utc_today(), quota_filters(runs)
        if not ids:
            return QuotaBook(day)
        async with self.pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(
                "SELECT filter_id, bytes FROM filter_quota WHERE day=%s AND filter_id IN "
                f"({', '.join(['%s'] * len(ids))})", (day, *ids))
            return QuotaBook(day, {f: int(n) for f, n in await cursor.fetchall()})

    async def record_usage(self, quota: QuotaBook, cursor=None) -> None:
        """Add the bytes the batch sent to ``filter_quota``: one multi-row statement (on
        ``cursor`` if given, e.g. inside a transaction)."""
        rows = quota.usage_rows()
        if not rows:
            return
        values = [v for row in rows for v in row]
        if cursor is not None:
            await cursor.execute(usage_sql(len(rows)), values)
            return
        async with self.pool.acquire() as conn, conn.cursor() as own:
            await own.execute(usage_sql(len(rows)), values)

    async def ledger_entries(self, matches: Mapping[Pair, str]) -> list[LedgerEntry]:
        """The ledger rows of the alerts of ``matches``: one query."""
        if not matches:
            return []
        sources = sorted({s for _, s in matches})
        async with self.pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(
                "SELECT filter_id, source_id, origin, committed, owner, "
                "TIMESTAMPDIFF(MICROSECOND, emitted, UTC_TIMESTAMP(6)) FROM filter_emitted "
                f"WHERE source_id IN ({', '.join(['%s'] * len(sources))})", sources)
            rows = await cursor.fetchall()
        return [LedgerEntry((f, s), origin, bool(committed), owner or "", age_us / 1e6)
                for f, s, origin, committed, owner, age_us in rows]

    async def already_emitted(self, matches: Mapping[Pair, str]) -> frozenset:
        """The pairs of ``matches`` that were sent already (see :mod:`ledger`).  Pairs
        another worker's transaction may still send are waited for, re-read every
        :data:`DOUBT_POLL_S`, until the ledger or the group's offsets settle them."""
        sent: set[Pair] = set()
        while matches:
            verdict = judge_entries(await self.ledger_entries(matches), matches, self.owner)
            sent |= verdict.sent
            if not verdict.in_doubt:
                break
            settled = await self.settle(verdict.in_doubt)
            sent |= settled.sent
            if not settled.pending:
                break
            metrics.FILTER_LEDGER_WAITS.inc()
            await asyncio.sleep(DOUBT_POLL_S)
            matches = {e.pair: matches[e.pair] for e in settled.pending}
        return frozenset(sent)

    async def settle(self, entries: Sequence[LedgerEntry]) -> Settled:
        """Settle in-doubt entries from the group's committed offsets; the pairs found
        sent are marked committed, so no worker needs to ask again."""
        partitions = sorted({parse_origin(e.origin)[0] for e in entries})
        committed = await committed_offsets(self.settings, self.group_id, partitions)
        for tp, offset in committed.items():
            self.seen_committed[tp] = max(self.seen_committed.get(tp, 0), offset)
        settled = settle_doubts(entries, committed, self.settings.filter_transaction_timeout_s)
        if settled.sent:
            async with self.pool.acquire() as conn, conn.cursor() as cursor:
                await mark_sent(cursor, sorted(settled.sent))
        return settled

    async def record_emitted(self, pairs: list[Pair], matches: Mapping[Pair, str]) -> None:
        """Write the pairs about to be sent to the ledger, before their transaction, with
        this worker as owner and MariaDB's time."""
        if not pairs:
            return
        async with self.pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(
                "INSERT INTO filter_emitted (filter_id, source_id, origin, owner, committed, "
                "emitted) VALUES " + ", ".join(["(%s, %s, %s, %s, 0, UTC_TIMESTAMP(6))"]
                                               * len(pairs))
                + " ON DUPLICATE KEY UPDATE origin=VALUES(origin), owner=VALUES(owner), "
                "committed=0, emitted=VALUES(emitted)",
                [v for f, s in pairs for v in (f, s, matches[(f, s)], self.owner)])

    async def mark_committed(self, pairs: list[tuple[int, int]], quota: QuotaBook) -> None:
        """After the transaction: these pairs are sent for good, even if faust's own
        offset commit later moves the group back and the batch is read again.  The bytes
        the batch sent to filter topics are added to the daily usage in the same MariaDB
        transaction, so the usage counts what the ledger records as sent."""
        if not pairs and not quota.usage_rows():
            return
        async with self.pool.acquire() as conn:
            await conn.begin()
            try:
                async with conn.cursor() as cursor:
                    await mark_sent(cursor, pairs)
                    await self.record_usage(quota, cursor)
                await conn.commit()
            except BaseException:
                await _rollback(conn)
                raise

    async def emit(self, out: Outgoing, offsets: dict[TopicPartition, int]) -> None:
        """Queue e-mails, then send every Kafka message and commit the batch's offsets
        in one transaction."""
        if out.email:
            await upsert(self.pool, "email_queue", [
                {"filter_id": f, "object_key": o, "payload": p} for f, o, p in out.email])
        if self.producer is None:
            self.producer = await self.open_producer()
        try:
            async with self.producer.transaction():
                for message in out.kafka:
                    await self.producer.send(message.topic, message.value, key=message.key,
                                             headers=message.headers)
                await self.producer.send_offsets_to_transaction(offsets, self.group_id)
        except Exception:
            await self.close_producer()
            raise

    async def close_producer(self) -> None:
        """Stop the producer; the next batch opens a new one.  After a failed transaction
        the old one may be unusable (fenced, or timed out by the broker), and a new one
        with the same transactional id aborts whatever that transaction left open."""
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception as exc:  # already broken: nothing more to release
                log.warning("stopping the filter producer failed: %s", exc)

    async def store_apart(self, records: Sequence[Record], parsed: Parsed
                          ) -> tuple[Parsed, list[KafkaMessage]]:
        """Store the batch (:meth:`store`); returns the alerts stored and the dead
        letters of those MariaDB refused for good (see the module)."""
        refused = await store_apart(
            STAGE, "store", lambda positions: self.store(keep_positions(parsed, positions)),
            len(parsed.alerts), classify_fault)
        if not refused:
            return parsed, []
        for r in refused:
            log.error("%d alerts not storable, sent to the dead-letter topic: %s",
                      len(r.positions), r.failure.fault.reason)
        metrics.STAGE_PERMANENT_FAILURES.labels(STAGE, "store").inc()
        letters = refused_letters(stage_topic(self.settings, DEADLETTER), records,
                                  parsed.origins, refused, STAGE)
        metrics.STAGE_DEADLETTER.labels(STAGE, "store").inc(len(letters))
        gone = refused_positions(refused)
        return keep_positions(parsed, [i for i in range(len(parsed.alerts))
                                       if i not in gone]), letters

    async def refresh(self) -> None:
        """Reload the active filters if due; a permanent failure keeps the filters
        loaded before (the stage goes on with them) and is counted."""
        try:
            await until_done(STAGE, "refresh", self.refresh_filters, classify=classify_fault)
        except PermanentFailure as failure:
            metrics.STAGE_PERMANENT_FAILURES.labels(STAGE, "refresh").inc()
            log.error("active filters not reloaded (%s): keeping the %d loaded before",
                      failure.fault.reason, len(self.filters))
            self._loaded = time.monotonic()

    async def dead_letter_batch(self, records: Sequence[Record], failure: PermanentFailure,
                                letters: Sequence[KafkaMessage] = ()) -> None:
        """Send every record of the batch to the dead-letter topic (with ``letters``,
        those of the alerts refused before) and commit its offsets, in one transaction
        (for the filter stage, or the annotation stage that shares this processor)."""
        topic = stage_topic(self.settings, DEADLETTER)
        done = {dict(m.headers)["solas-origin"].decode() for m in letters}
        rest = [dead_letter(topic, r, failure.stage, failure.step, failure.fault.reason)
                for r in records if origin_of(r) not in done]
        log.error("%s/%s failed for good (%s): %d records sent to the dead-letter topic",
                  failure.stage, failure.step, failure.fault.reason, len(rest))
        metrics.STAGE_PERMANENT_FAILURES.labels(failure.stage, failure.step).inc()
        metrics.STAGE_DEADLETTER.labels(failure.stage, failure.step).inc(len(rest))
        await until_done(failure.stage, "produce", self.emit, Outgoing([*letters, *rest], [], []),
                         batch_offsets(records, self.seen_committed))

    async def process(self, records: Sequence[Record]) -> int:
        """Run the stage on one batch; returns the number of matches."""
        start = time.perf_counter()
        metrics.STAGE_IN.labels(STAGE).inc(len(records))
        metrics.STAGE_BATCH_SIZE.labels(STAGE).observe(len(records))
        parsed = parse_records(records, self.settings.survey)
        parsed, letters = await self.store_apart(records, parsed)
        await self.refresh()
        try:
            out, runs, quota = await self.send_matches(records, parsed, letters)
        except PermanentFailure as failure:
            await self.dead_letter_batch(records, failure, letters)
            return 0
        try:
            await until_done(STAGE, "ledger", self.mark_committed, out.emitted, quota,
                             classify=classify_fault)
        except PermanentFailure as failure:  # sent: the group's offsets settle the ledger
            metrics.STAGE_PERMANENT_FAILURES.labels(STAGE, "ledger").inc()
            log.error("ledger rows of a sent batch not marked committed: %s",
                      failure.fault.reason)
        metrics.STAGE_OUT.labels(STAGE).inc(len(parsed.alerts))
        metrics.STAGE_BATCH_DURATION.labels(STAGE).observe(time.perf_counter() - start)
        now_ms = time.time() * 1000
        for raw_ms in parsed.raw_ms:
            if raw_ms:
                metrics.PIPELINE_LATENCY.observe((now_ms - raw_ms) / 1000)
        return sum(len(r.rows) for r in runs)

    async def send_matches(self, records: Sequence[Record], parsed: Parsed,
                           letters: Sequence[KafkaMessage]
                           ) -> tuple[Outgoing, list[FilterRun], QuotaBook]:
        """Run the active filters on the stored alerts, record their matches in the
        ledger and send them, with ``letters`` and the batch's offsets, in one Kafka
        transaction.  Raises :class:`PermanentFailure` if a step fails for good."""
        ids = batch_ids(parsed.alerts, self.settings.survey)
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "filters").time():
            runs = await until_done(
                STAGE, "filters", run_filters, self.ro_pool, self.pool,
                [f for f in self.filters if f.run & RUN_ON_ALERT], ids,
                self.settings.filter_row_limit, self.settings.filter_time_limit_s,
                classify=classify_fault)
        await self.record_runs(runs)
        matches = match_sources(runs, parsed)
        already = await until_done(STAGE, "ledger", self.already_emitted, matches,
                                   classify=classify_fault)
        quota = await until_done(STAGE, "ledger", self.quota_book, runs,
                                 classify=classify_fault)
        out = self.outgoing(runs, parsed, quota, already)
        out = out._replace(kafka=[*letters, *out.kafka])
        await until_done(STAGE, "ledger", self.record_emitted, out.emitted, matches,
                         classify=classify_fault)
        with metrics.STAGE_STEP_DURATION.labels(STAGE, "produce").time():
            await until_done(STAGE, "produce", self.emit, out,
                             batch_offsets(records, self.seen_committed),
                             classify=classify_fault)
        return out, runs, quota
