"""Cassandra store: light curves and cutouts, written in batches.

Rows are grouped per object partition into unlogged single-partition batches,
bound to prepared statements and sent with ``execute_async`` (many in flight,
no per-alert round trip).  Each row's INSERT names only its non-null columns,
so no tombstones are written, and every write is a keyed upsert: replaying an
alert rewrites the same rows and never duplicates them.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from typing import Iterable, NamedTuple, Sequence

import struct

from cassandra import ConsistencyLevel, InvalidRequest
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT, Session
from cassandra.policies import DCAwareRoundRobinPolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from solas.schema.columns import TableSpec, cql_add_columns, cql_create, cql_insert
from solas.schema.tables import CUTOUT_TYPES, KEY_ALIASES, cutout_table, lightcurve_tables
from solas.settings import Settings
from solas.surveys import Alert

log = logging.getLogger(__name__)
# Errors that retrying cannot cure: the data of some alert does not fit the table.
PERMANENT_WRITE_ERRORS = (InvalidRequest, TypeError, ValueError, OverflowError, struct.error)
ROWS_PER_BATCH = 64
MAX_IN_FLIGHT = 128


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
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=settings.cassandra_dc),
        consistency_level=ConsistencyLevel.LOCAL_ONE, request_timeout=timeout_s)
    cluster = Cluster(settings.cassandra_contact_points, port=settings.cassandra_port,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                      connect_timeout=timeout_s, control_connection_timeout=timeout_s,
                      protocol_version=4)  # v5 checksums every frame: ~10% of worker CPU
    return cluster, cluster.connect()


def connect_with_retries(settings: Settings, attempts: int = 10) -> tuple[Cluster, Session]:
    """:func:`connect`, retried with back-off: a worker starting while Cassandra is busy
    or restarting waits for it instead of crashing."""
    from cassandra.cluster import NoHostAvailable

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
        self.tables = lightcurve_tables(settings.survey)
        self.cutouts = cutout_table(settings.survey, settings.cutout_ttl_s)
        self.cutout_insert = session.prepare(
            cql_insert(self.cutouts, settings.cassandra_keyspace, ttl=True))
        self._inserts: dict[tuple[str, tuple[str, ...]], PreparedStatement] = {}
        self.written = WrittenPoints(settings.written_cache_objects)

    def _insert(self, kind: str, names: tuple[str, ...]) -> PreparedStatement:
        """The prepared INSERT of ``kind`` for exactly the columns ``names``."""
        statement = self._inserts.get((kind, names))
        if statement is None:
            spec = self.tables[kind]
            subset = spec._replace(columns=tuple(spec.column(n) for n in names))
            statement = self.session.prepare(
                cql_insert(subset, self.settings.cassandra_keyspace))
            self._inserts[(kind, names)] = statement
        return statement

    def _light_curve_rows(self, alerts: Sequence[Alert]) -> tuple[dict, dict, int, int]:
        """Rows to write per kind (de-duplicated by primary key across the batch), the
        new points per object, and the numbers of points already stored and of
        points that cannot be stored (a key column missing even under its aliases)."""
        rows: dict[str, dict[tuple, dict]] = defaultdict(dict)
        new: dict[object, set[tuple]] = defaultdict(set)
        skipped = unkeyed = 0
        for alert in alerts:
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

    def _bound_rows(self, kind: str, rows: Iterable[dict]) -> list[tuple]:
        """(prepared statement, values) per row, naming only its non-null columns."""
        names = self.tables[kind].column_names
        bound = []
        for row in rows:
            present = tuple(n for n in names if row.get(n) is not None)
            bound.append((self._insert(kind, present), [row[n] for n in present]))
        return bound

    def _statements(self, rows: dict, alerts: Sequence[Alert]
                    ) -> tuple[list, dict[str, int], int]:
        """(statements, rows per table, cutouts) for the rows of a batch."""
        statements, counts = [], {}
        for kind, keyed in rows.items():
            counts[self.tables[kind].name] = len(keyed)
            by_partition: dict = defaultdict(list)
            for key, bound in zip(keyed, self._bound_rows(kind, keyed.values())):
                by_partition[key[0]].append(bound)
            statements += _partition_batches(by_partition.values())
        cutouts = 0
        ttl = self.settings.cutout_ttl_s
        for alert in alerts:  # an alert's stamps share its source id: one partition
            stamps = [(self.cutout_insert, (alert.source_id, kind, str(alert.object_id),
                                            alert.cutouts[kind], ttl))
                      for kind in CUTOUT_TYPES if alert.cutouts.get(kind)]
            statements += _partition_batches([stamps])
            cutouts += len(stamps)
        return statements, counts, cutouts

    async def write_alerts(self, alerts: Sequence[Alert]) -> WriteStats:
        """Upsert every light-curve point and cutout of ``alerts``; returns when all
        writes are acknowledged, raising the first failure."""
        start = time.perf_counter()
        rows, new, skipped, unkeyed = self._light_curve_rows(alerts)
        statements, counts, cutouts = self._statements(rows, alerts)
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def execute(statement, params) -> None:
            async with slots:
                await _as_future(self.session.execute_async(statement, params), loop)

        await asyncio.gather(*(execute(stmt, params) for stmt, params in statements))
        for object_id, points in new.items():
            self.written.add(object_id, points)
        return WriteStats(counts, cutouts, skipped, unkeyed, len(statements),
                          time.perf_counter() - start)


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


def _partition_batches(partitions: Iterable[list[tuple]]):
    """Unlogged single-partition batches of at most ROWS_PER_BATCH bound rows."""
    for bound in partitions:
        for rows in _chunks(bound, ROWS_PER_BATCH):
            if len(rows) == 1:
                yield rows[0]
                continue
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for insert, values in rows:
                batch.add(insert, values)
            yield batch, None


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
