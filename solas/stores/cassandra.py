"""Cassandra store: light curves and cutouts, written in batches.

Rows are bound to prepared statements and grouped into unlogged batches of rows
whose partitions share their replicas (so a batch goes whole to the nodes that
own it, through the token-aware policy), then sent with ``execute_async`` (many
in flight, no per-alert round trip).  Few large batches cost both the worker and
Cassandra far less CPU per row than one statement per partition.  Each row's INSERT
names only its non-null columns, so no tombstones are written, and every write is a
keyed upsert: replaying an alert rewrites the same rows and never duplicates them.  A
point's rarely used native columns go into one JSON column
(:func:`~solas.schema.columns.packed_row`): Cassandra's CPU is per stored cell.
"""
from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import OrderedDict, defaultdict
from functools import partial
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

from cassandra import ConsistencyLevel, InvalidRequest, cqltypes, marshal
from cassandra.cluster import (Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT, NoHostAvailable,
                               Session)
from cassandra.connection import ConnectionBusy
from cassandra.policies import (DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy,
                                TokenAwarePolicy)
from cassandra.query import BatchStatement, BatchType, BoundStatement, PreparedStatement, Statement

from solas import metrics
from solas.schema.columns import (PACKED_COLUMN, TableSpec, cql_add_columns,
                                  cql_alter_compaction, cql_create, cql_insert, packed_row)
from solas.schema.tables import (CUTOUT_TYPES, KEY_ALIASES, SS_LIGHTCURVE_KIND, cutout_table,
                                 lightcurve_tables, solar_system_lightcurve)
from solas.settings import Settings
from solas.surveys import Alert

log = logging.getLogger(__name__)
# Errors that retrying cannot cure: the data of some alert does not fit the table.
PERMANENT_WRITE_ERRORS = (InvalidRequest, TypeError, ValueError, OverflowError, struct.error)
#: Light-curve bytes per unlogged batch, as :func:`row_bytes` estimates them: Cassandra
#: warns about (and logs, and sends the client a warning for) every batch above 512 KiB.
ROW_BYTES_PER_BATCH = 320 * 1024
STAMP_BYTES_PER_BATCH = 256 * 1024  # cutout bytes per batch
#: Cassandra's bytes per cell besides its value (timestamp, flags, column id), about.
CELL_OVERHEAD_BYTES = 32
MAX_IN_FLIGHT = 32
#: Longest pause between the driver's attempts to reconnect to a node that went away, s.
#: Its default (doubling up to 600 s) left the ingest stage idle for about 30 s after
#: Cassandra was back from a 30 s outage.
RECONNECT_MAX_DELAY_S = 4.0
#: Waits (s) before sending a statement again while the connection is busy; about 10 s.
BUSY_WAIT_S = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2) + (0.5,) * 19


#: Serialisers of the fixed-width CQL types: the driver's own packers, called directly.
PACKERS: dict[type, Callable[[object], bytes]] = {
    cqltypes.DoubleType: marshal.double_pack, cqltypes.FloatType: marshal.float_pack,
    cqltypes.LongType: marshal.int64_pack, cqltypes.Int32Type: marshal.int32_pack,
    cqltypes.ShortType: marshal.int16_pack, cqltypes.ByteType: marshal.int8_pack,
    cqltypes.BooleanType: marshal.int8_pack}


class Insert(NamedTuple):
    """A prepared INSERT and the serialiser of each of its bind markers."""

    statement: PreparedStatement
    packers: tuple[Callable[[object], bytes], ...]


class WriteStats(NamedTuple):
    """What one :meth:`CassandraStore.write_alerts` call wrote."""

    rows: dict[str, int]
    cutouts: int
    skipped: int          # light-curve points already stored by an earlier alert
    unkeyed: int          # light-curve points without a time or id: not storable
    statements: int
    seconds: float


def connect(settings: Settings, timeout_s: float = 30.0) -> tuple[Cluster, Session]:
    """Open a session on the configured Cassandra hosts."""
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(
            DCAwareRoundRobinPolicy(local_dc=settings.cassandra_dc)),
        consistency_level=ConsistencyLevel.LOCAL_ONE, request_timeout=timeout_s)
    cluster = Cluster(settings.cassandra_contact_points, port=settings.cassandra_port,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                      connect_timeout=timeout_s, control_connection_timeout=timeout_s,
                      reconnection_policy=ExponentialReconnectionPolicy(
                          0.5, RECONNECT_MAX_DELAY_S),
                      protocol_version=4)  # v5 checksums every frame: ~10% of worker CPU
    return cluster, cluster.connect()


def connect_with_retries(settings: Settings, attempts: int = 10) -> tuple[Cluster, Session]:
    """:func:`connect`, retried with back-off: a worker starting while Cassandra is busy
    or restarting waits for it instead of crashing."""
    for attempt in range(attempts - 1):
        try:
            return connect(settings)
        except (NoHostAvailable, OSError) as exc:
            log.warning("Cassandra not answering (%s); retrying", exc)
            time.sleep(min(2 ** attempt, 30))
    return connect(settings)


def schema_statements(settings: Settings) -> list[TableSpec]:
    """Every Cassandra table spec of the configured survey."""
    specs = list(lightcurve_tables(settings.survey).values())
    specs += solar_system_lightcurve(settings.survey).values()
    specs.append(cutout_table(settings.survey, settings.cutout_ttl_s))
    return specs


def init_schema(session: Session, settings: Settings) -> list[str]:
    """Create or upgrade the keyspace and tables; returns the statements run."""
    ks = settings.cassandra_keyspace
    run = [f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
           f"{settings.cassandra_replication}"]
    session.execute(run[0])
    for spec in schema_statements(settings):
        create = cql_create(spec, ks)
        session.execute(create, timeout=120)
        run.append(create)
        existing = {r.column_name for r in session.execute(
            "SELECT column_name FROM system_schema.columns "
            "WHERE keyspace_name=%s AND table_name=%s", (ks, spec.name))}
        for alter in cql_add_columns(spec, ks, existing):
            session.execute(alter, timeout=120)
            run.append(alter)
        options = session.execute(
            "SELECT compaction FROM system_schema.tables WHERE keyspace_name=%s AND "
            "table_name=%s", (ks, spec.name)).one()
        for alter in cql_alter_compaction(spec, ks, dict(options.compaction)):
            session.execute(alter, timeout=120)
            run.append(alter)
    return run


def _as_future(response_future, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    future = loop.create_future()

    def done(result):
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(result))

    def failed(exc):
        loop.call_soon_threadsafe(lambda: future.done() or future.set_exception(exc))

    response_future.add_callbacks(done, failed)
    return future


class WrittenPoints:
    """Which light-curve points of recently seen objects are already in Cassandra.

    Each alert repeats its object's recent history; points known to be stored are
    not written again.  Bounded (least recently seen objects are forgotten) and only
    ever filled after Cassandra acknowledged the write, so a miss merely rewrites a
    point (an idempotent upsert) and a restart only costs rewrites."""

    def __init__(self, max_objects: int):
        self.max_objects = max_objects
        self._points: OrderedDict[object, set[tuple]] = OrderedDict()

    def known(self, object_id) -> set[tuple]:
        """(kind, key without the object id) of the stored points of ``object_id``."""
        points = self._points.get(object_id)
        if points is None:
            return set()
        self._points.move_to_end(object_id)
        return points

    def add(self, object_id, points: Iterable[tuple]) -> None:
        """Record points of ``object_id`` as stored."""
        self._points.setdefault(object_id, set()).update(points)
        self._points.move_to_end(object_id)
        while len(self._points) > self.max_objects:
            self._points.popitem(last=False)


class CassandraStore:
    """Writes the light curves and cutouts of a batch of normalised alerts.

    Each row is bound to an ``INSERT`` naming only its non-null columns (one
    prepared statement per kind and column set, prepared once): no tombstones,
    and binding costs what the row holds, not what the schema could hold."""

    def __init__(self, settings: Settings, session: Session):
        self.settings = settings
        self.session = session
        self.tables = {**lightcurve_tables(settings.survey),
                       **solar_system_lightcurve(settings.survey)}
        self.cutouts = cutout_table(settings.survey, settings.cutout_ttl_s)
        self.cutout_insert = session.prepare(
            cql_insert(self.cutouts, settings.cassandra_keyspace, ttl=True))
        self._inserts: dict[tuple[str, tuple[str, ...]], Insert] = {}
        self.written = WrittenPoints(settings.written_cache_objects)

    def _insert(self, kind: str, names: tuple[str, ...]) -> Insert:
        """The prepared INSERT of ``kind`` for exactly the columns ``names``."""
        insert = self._inserts.get((kind, names))
        if insert is None:
            spec = self.tables[kind]
            subset = spec._replace(columns=tuple(spec.column(n) for n in names))
            statement = self.session.prepare(
                cql_insert(subset, self.settings.cassandra_keyspace))
            insert = Insert(statement, packers_of(statement))
            self._inserts[(kind, names)] = insert
        return insert

    def _light_curve_rows(self, alerts: Sequence[Alert]) -> tuple[dict, dict, int, int]:
        """Rows to write per kind (de-duplicated by primary key across the batch), the
        new points per object, and the numbers of points already stored and of
        points that cannot be stored (a key column missing even under its aliases)."""
        rows: dict[str, dict[tuple, dict]] = defaultdict(dict)
        new: dict[object, set[tuple]] = defaultdict(set)
        skipped = unkeyed = 0
        for alert in alerts:
            ss_row = solar_system_point(alert)
            if ss_row is not None:  # one detection per alert: always (re)written
                spec = self.tables[SS_LIGHTCURVE_KIND]
                key = tuple(ss_row.get(k) for k in spec.primary_key)
                if None in key:
                    unkeyed += 1
                else:
                    rows[SS_LIGHTCURVE_KIND][key] = ss_row
            if alert.is_solar_system:  # no diaObject: its points are not a diaObject's
                continue
            known = self.written.known(alert.object_id)
            for kind, points in (("detections", alert.detections), ("forced", alert.forced),
                                 ("nondetections", alert.nondetections)):
                spec = self.tables[kind]
                for point in points:
                    row = _with_keys(point, spec.primary_key, alert.object_id)
                    key = tuple(row.get(k) for k in spec.primary_key)
                    point = (kind, key[1:])  # exact: a false match would lose a point
                    if None in key:
                        unkeyed += 1
                    elif point in known:
                        skipped += 1
                    else:
                        rows[kind][key] = row
                        new[alert.object_id].add(point)
        return rows, new, skipped, unkeyed

    def _bound_rows(self, kind: str, rows: Iterable[dict]
                    ) -> list[tuple[BoundStatement, int]]:
        """One bound INSERT per row, naming only its non-null columns (the packed ones
        go into one JSON column), with its size (:func:`row_bytes`)."""
        spec = self.tables[kind]
        columns = tuple(n for n in spec.column_names if n != PACKED_COLUMN)
        bound = []
        for row in rows:
            names, values = packed_row(row, columns)
            statement = bind_values(self._insert(kind, names), values)
            bound.append((statement, row_bytes(statement)))
        return bound

    def _statements(self, rows: dict, alerts: Sequence[Alert]
                    ) -> tuple[list, dict[str, int], int]:
        """(statements, rows per table, cutouts) for the rows of a batch: unlogged
        batches of rows whose partitions live on the same replicas."""
        counts = {self.tables[kind].name: len(keyed) for kind, keyed in rows.items()}
        points = [b for kind, keyed in rows.items()
                  for b in self._bound_rows(kind, keyed.values())]
        ttl = self.settings.cutout_ttl_s
        stamps = [(self.cutout_insert.bind((alert.source_id, kind, str(alert.object_id),
                                            alert.cutouts[kind], ttl)), len(alert.cutouts[kind]))
                  for alert in alerts for kind in CUTOUT_TYPES if alert.cutouts.get(kind)]
        statements = [*self._replica_batches(points, ROW_BYTES_PER_BATCH),
                      *self._replica_batches(stamps, STAMP_BYTES_PER_BATCH)]
        return statements, counts, len(stamps)

    def _replica_batches(self, sized: list[tuple[BoundStatement, int]], budget: int
                         ) -> list[Statement]:
        """Unlogged batches of the ``(statement, size)`` pairs, grouped by the replicas of
        their partitions (so each batch goes whole to nodes that own all of it), each of
        total size at most ``budget`` (a single statement stays unbatched)."""
        groups: dict[tuple, list] = defaultdict(list)
        metadata, keyspace = self.session.cluster.metadata, self.settings.cassandra_keyspace
        replicas: dict[bytes, tuple] = {}
        for statement, size in sized:
            key = statement.routing_key
            if key not in replicas:
                replicas[key] = tuple(sorted(str(h.endpoint) for h in
                                             metadata.get_replicas(keyspace, key)))
            groups[replicas[key]].append((statement, size))
        return [batch for group in groups.values() for batch in _batches(group, budget)]

    async def write_alerts(self, alerts: Sequence[Alert]) -> WriteStats:
        """Upsert every light-curve point and cutout of ``alerts``; returns when all
        writes are acknowledged, raising the first failure."""
        start = time.perf_counter()
        rows, new, skipped, unkeyed = self._light_curve_rows(alerts)
        statements, counts, cutouts = self._statements(rows, alerts)
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def execute(statement) -> None:
            async with slots:
                await _executed(self.session, statement, loop)

        await asyncio.gather(*(execute(statement) for statement in statements))
        for object_id, points in new.items():
            self.written.add(object_id, points)
        return WriteStats(counts, cutouts, skipped, unkeyed, len(statements),
                          time.perf_counter() - start)


def packers_of(statement: PreparedStatement) -> tuple[Callable[[object], bytes], ...]:
    """The serialiser of each bind marker of ``statement``: the driver's packer of a
    fixed-width type, else the column type's own ``serialize``."""
    version = statement.protocol_version
    return tuple(PACKERS.get(column.type) or
                 partial(column.type.serialize, protocol_version=version)
                 for column in statement.column_metadata)


def row_bytes(statement: BoundStatement) -> int:
    """About what Cassandra counts for the row of ``statement`` in a batch's size."""
    return sum(map(len, statement.values)) + CELL_OVERHEAD_BYTES * len(statement.values)


def bind_values(insert: Insert, values: list) -> BoundStatement:
    """What ``insert.statement.bind(values)`` gives for values that are all set (none is
    None), at a fraction of its cost per value.  A value its column cannot hold is bound
    by the driver after all, which raises its own error naming the column."""
    statement = BoundStatement(insert.statement)
    statement.raw_values = values
    try:
        statement.values = [pack(value) for pack, value in zip(insert.packers, values)]
    except PERMANENT_WRITE_ERRORS:
        return insert.statement.bind(values)
    return statement


async def _executed(session: Session, statement: Statement, loop: asyncio.AbstractEventLoop,
                    busy_wait_s: float = BUSY_WAIT_S) -> None:
    """Execute one statement; while the connection is busy (its socket buffer full:
    Cassandra is reading more slowly than we send) wait and send it again, rather than
    failing, and so retrying, the whole batch."""
    for wait in busy_wait_s:
        try:
            await _as_future(session.execute_async(statement), loop)
            return
        except NoHostAvailable as exc:
            if not _all_busy(exc):
                raise
        metrics.CASSANDRA_BUSY_WAITS.inc()
        await asyncio.sleep(wait)
    await _as_future(session.execute_async(statement), loop)


def _all_busy(exc: NoHostAvailable) -> bool:
    """True if every host refused only because its connection was busy."""
    errors = list((exc.errors or {}).values())
    return bool(errors) and all(isinstance(e, ConnectionBusy) for e in errors)


def solar_system_point(alert: Alert) -> dict | None:
    """The ``ssSources`` row of an alert of a solar-system object (with or without a
    diaObject): its triggering diaSource and ssSource in one row, keyed by ssObjectId;
    ``None`` for other alerts."""
    if alert.ss_object_id is None or not alert.detections:
        return None
    source = alert.detections[-1]
    row = {**source, **(alert.solar_system.get("ssSource") or {}),
           "ssObjectId": alert.ss_object_id, "diaSourceId": alert.source_id}
    if row.get("midpointMjdTai") is None:
        row["midpointMjdTai"] = source.get("midPointTai")
    if not row.get("diaObjectId"):
        row.pop("diaObjectId", None)  # 0 means none: stored as null
    return row


def _with_keys(point: dict, keys: tuple[str, ...], object_id) -> dict:
    """The point with its object id and any key column taken from an alias."""
    row = {**point, keys[0]: object_id}
    for key in keys[1:]:
        if row.get(key) is None:
            for alias in KEY_ALIASES.get(key, ()):
                if point.get(alias) is not None:
                    row[key] = point[alias]
                    break
    return row


def _batches(sized: list[tuple[BoundStatement, int]], budget: int) -> Iterator[Statement]:
    """Unlogged batches of consecutive statements whose sizes add up to at most
    ``budget``; a batch of one is sent as the bare statement."""
    chunk: list[BoundStatement] = []
    used = 0
    for statement, size in sized:
        if chunk and used + size > budget:
            yield _batch(chunk)
            chunk, used = [], 0
        chunk.append(statement)
        used += size
    if chunk:
        yield _batch(chunk)


def _batch(statements: list[BoundStatement]) -> Statement:
    if len(statements) == 1:
        return statements[0]
    batch = BatchStatement(batch_type=BatchType.UNLOGGED)
    for statement in statements:
        batch.add(statement)
    return batch
