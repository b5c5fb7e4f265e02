"""Faults under load (issue 7): every fault is injected while cloned real ZTF alerts
stream through four workers, one per agent, and afterwards nothing is lost or repeated.

One deployment for the module (its own database, keyspace, topics and consumer group):
an SQL filter and a watchlist filter on alerts, a fast annotator with a filter on its
annotations, and the workers ``ingest``, ``sherlock``, ``filter`` and ``annotation``,
each its own process.  Each test replays its own cloned objects (one alert each) at a
steady rate, injects its fault mid-stream, waits until the pipeline has caught up and
checks, for its objects only:

* Cassandra holds every light-curve point of every alert once (keys are upserts: the
  rows of each object are exactly the distinct detections and limits it was sent);
* MariaDB ``objects`` holds every object with its latest candidate (``jdmax``);
* every expected filter match is on the filter's topic exactly once
  (``read_committed``): for the SQL filter, what the same filter finds on demand in the
  final database; for the watchlist filter, one row per (object, cone) whose radius
  holds the alert, computed here from the alerts' positions; for the annotation filter,
  every annotated object.

Recovery times (fault injected -> the stage processing again, and -> the whole
pipeline caught up) are printed and written to ``<test home>/faults/recovery.json``.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections import Counter
from typing import Callable, NamedTuple

import numpy as np
import orjson
import pytest

from solas.db import init_all
from solas.filters import build_query
from solas.replay import Message, messages_from_paths, produce
from solas.settings import Settings
from solas.stack import start_service, stop_service
from solas.stores import cassandra, mariadb
from solas.surveys import Alert, decode_packet, normalise
from solas.topics import (ANNOTATIONS, INGESTED, SHERLOCKED, end_offsets, ensure_topics,
                          filter_topic, group_lag, partitions, read_topic, stage_topic)
from solas.workers import WorkerProcess, alerts_done, start_worker, stop_worker

pytestmark = pytest.mark.integration

FOLDER = ("alerts", "ztf", "pittgoogle-labelled")
#: The faults, in the order the tests run, each with the stage whose progress shows the
#: pipeline is processing again after it.
FAULTS = {"kill-ingest": "ingest", "kill-sherlock": "sherlock", "kill-filter": "filter",
          "kill-annotation": "annotation", "restart-kafka": "filter",
          "restart-mariadb": "filter", "stop-cassandra-30s": "ingest"}
AGENTS = ("ingest", "sherlock", "filter", "annotation")
WORKER_IDS = {"ingest": 41, "sherlock": 42, "filter": 43, "annotation": 44}
CLONES_PER_TEST = 12          # x 48 single-alert objects: 576 alerts per fault
RATE = 40.0                   # alerts per second while the fault is injected
ANNOTATIONS_PER_TEST = 240    # sent at ANNOTATION_RATE during the annotation fault
ANNOTATION_RATE = 16.0
WARM_UP_ANNOTATIONS = 10
WATCHLIST_RADIUS = 2.0        # arcsec; every fourth object has a cone on it
CASSANDRA_DOWN_S = 30.0
TIMEOUT_S = 420.0             # longest wait for any one condition
SETTLE_S = 5.0                # after catching up: anything still in flight would show
FILTER_CONDITION = "objects.ncand >= 10"


class Expected(NamedTuple):
    """What one replayed alert must leave behind."""

    object_id: str
    candids: frozenset        # detections with a candid (Cassandra ``candidates``)
    limits: frozenset         # (jd, fid) of the upper limits (``noncandidates``)
    jdmax: float              # the latest candidate's Julian date
    ra: float
    dec: float


class Chunk(NamedTuple):
    """One test's share of the cloned alerts: the messages and what each must leave."""

    messages: list[Message]
    objects: dict[str, Expected]


@dataclasses.dataclass
class Deployment:
    """The module's deployment: settings, running workers, filters, alerts per test."""

    settings: Settings
    env: dict[str, str]
    workers: dict[str, WorkerProcess]
    chunks: dict[str, Chunk]
    sql_filter: int
    watchlist_filter: int
    annotation_filter: int
    annotator: str
    cones: np.ndarray            # (n, 2) ra, dec in degrees
    figures: dict[str, dict]


def expected_of(alert: Alert) -> Expected:
    """Light-curve keys, latest candidate and position of one alert."""
    candids = frozenset(d["candid"] for d in alert.detections if d.get("candid"))
    limits = frozenset((d["jd"], d["fid"]) for d in alert.nondetections)
    return Expected(str(alert.object_id), candids, limits, alert.mjd + 2400000.5,
                    alert.ra, alert.dec)


def cloned_chunks(settings: Settings, names: list[str]) -> dict[str, Chunk]:
    """Cloned real alerts split among ``names``: one alert per object (so each match is
    one message), every object in exactly one chunk, clones dealt out in turn."""
    folder = settings.data_dir.joinpath(*FOLDER)
    messages = list(messages_from_paths([folder], "ztf", clone=CLONES_PER_TEST * len(names)))
    alerts = [normalise(decode_packet(m.value, "ztf"), "ztf") for m in messages]
    counts = Counter(a.object_id for a in alerts)
    single = [(m, a) for m, a in zip(messages, alerts) if counts[a.object_id] == 1]
    chunks = {name: Chunk([], {}) for name in names}
    for i, (message, alert) in enumerate(single):
        chunk = chunks[names[i % len(names)]]
        chunk.messages.append(message)
        chunk.objects[str(alert.object_id)] = expected_of(alert)
    return chunks


def separation_arcsec(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Great-circle separation (haversine), arcsec; arguments in degrees, broadcast."""
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(x, float)) for x in (ra1, dec1, ra2, dec2))
    h = (np.sin((dec2 - dec1) / 2) ** 2
         + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2)
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))) * 3600


def watchlist_hits(expected: Expected, cones: np.ndarray) -> set[tuple[str, str]]:
    """(object id, cone name) of every cone whose radius holds the alert, computed here
    (not by Solas's cone index): the watchlist filter sends one row per hit."""
    near = separation_arcsec(cones[:, 0], cones[:, 1], expected.ra, expected.dec)
    return {(expected.object_id, f"cone{i}") for i in np.flatnonzero(near <= WATCHLIST_RADIUS)}


# ----- workers, load and progress -----------------------------------------------------
def start_agent(dep: Deployment, agent: str) -> None:
    """Start the worker process of one agent."""
    dep.workers[agent] = start_worker(dep.settings, [agent], WORKER_IDS[agent], dep.env)


def check_workers(dep: Deployment) -> None:
    """Fail if any worker process has exited: nothing may crash a worker."""
    for agent, worker in dep.workers.items():
        assert worker.process.poll() is None, \
            f"the {agent} worker exited ({worker.process.returncode}); see {worker.log_path}"


def done(dep: Deployment, agent: str) -> float:
    """Alerts (or annotations) the agent's current worker process has finished."""
    return alerts_done(dep.workers[agent].metrics_port, agent)


def wait_until(dep: Deployment, what: str, condition: Callable[[], bool],
               timeout_s: float = TIMEOUT_S, poll_s: float = 0.5) -> float:
    """Poll ``condition`` (workers alive) until true; the monotonic time it became so."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check_workers(dep)
        if condition():
            return time.monotonic()
        time.sleep(poll_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f} s; logs in "
                       f"{dep.settings.logs_dir}")


class Load:
    """Messages produced at steady rates in a background thread (its own event loop)."""

    def __init__(self, settings: Settings, streams: list[tuple[str, list[Message], float]]):
        self.settings, self.streams = settings, streams
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def all_streams():
            await asyncio.gather(*(produce(self.settings, messages, topic, rate,
                                           progress=False)
                                   for topic, messages, rate in self.streams))
        try:
            asyncio.run(all_streams())
        except BaseException as exc:  # reported by finished()
            self.error = exc

    def __enter__(self) -> "Load":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(TIMEOUT_S)

    def finished(self) -> bool:
        """True once every message is acknowledged by the broker."""
        if self.error is not None:
            raise AssertionError(f"producing the load failed: {self.error!r}")
        return not self.thread.is_alive()


def input_lag(dep: Deployment) -> int:
    """Messages of the stages' input topics not yet committed by the workers' group."""
    settings = dep.settings
    topics = [settings.raw_topic, *(stage_topic(settings, t)
                                    for t in (INGESTED, SHERLOCKED, ANNOTATIONS))]

    async def lag() -> int:
        parts = [tp for t in topics for tp in await partitions(settings, t)]
        return sum((await group_lag(settings, settings.app_id, parts)).values())
    try:
        return asyncio.run(lag())
    except Exception:  # Kafka away or still electing leaders: not caught up
        return -1


def stored_objects(settings: Settings, ids: list[str]) -> dict[str, tuple[float, int]]:
    """(jdmax, ncand) of the stored ``objects`` rows among ``ids``."""
    found = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        with mariadb.connect(settings) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT objectId, jdmax, ncand FROM objects WHERE objectId IN "
                           f"({', '.join(['%s'] * len(part))})", tuple(part))
            found.update({o: (j, n) for o, j, n in cursor.fetchall()})
    return found


def all_stored(settings: Settings, ids: list[str]) -> bool:
    """True if every object of ``ids`` is in MariaDB (False while MariaDB is away)."""
    try:
        return len(stored_objects(settings, ids)) == len(ids)
    except Exception:
        return False


# ----- the module's deployment -----------------------------------------------------------
@pytest.fixture(scope="module")
def deployment(stack: Settings, isolate, db_helpers) -> Deployment:
    """Own database, keyspace and topics; the filters; one worker per agent, warmed up
    with a first share of alerts.  Every worker is stopped by pid at the end."""
    settings = dataclasses.replace(isolate(stack, "ztf", "faults"),
                                   cassandra_keyspace_name="solas_faults")
    init_all(settings)
    chunks = cloned_chunks(settings, ["warm-up", *FAULTS])
    objects = [e for chunk in chunks.values() for e in chunk.objects.values()]
    cones = np.array([(e.ra, e.dec) for e in objects[::4]])
    user = db_helpers.make_user(settings)
    wl_id = db_helpers.execute(settings, "INSERT INTO watchlists (user, name, active, radius) "
                               "VALUES (%s, 'fault drill', 1, %s)", (user, WATCHLIST_RADIUS))
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.executemany("INSERT INTO watchlist_cones (wl_id, name, ra, decl) VALUES "
                           "(%s, %s, %s, %s)", [(wl_id, f"cone{i}", float(ra), float(dec))
                                                for i, (ra, dec) in enumerate(cones)])
    annotator = f"drill{int(time.time()) % 100000}"
    db_helpers.execute(settings, "INSERT INTO annotators (topic, owner, active, public, fast) "
                       "VALUES (%s, %s, 1, 1, 1)", (annotator, user))
    make = db_helpers.make_filter
    dep = Deployment(
        settings, {}, {}, chunks,
        sql_filter=make(settings, user, "objects", FILTER_CONDITION,
                        "objects.objectId, objects.ncand, objects.jdmax"),
        watchlist_filter=make(settings, user, f"objects, watchlist:{wl_id}",
                              "objects.ncand >= 1", "objects.objectId, watchlist_hits.name"),
        annotation_filter=make(settings, user, f"objects, annotator:{annotator}",
                               f"{annotator}.classification = 'SN'",
                               f"objects.objectId, {annotator}.version", run=2),
        annotator=annotator, cones=cones, figures={})
    asyncio.run(ensure_topics(settings, [filter_topic(settings, f) for f in (
        dep.sql_filter, dep.watchlist_filter, dep.annotation_filter)]))
    try:
        for agent in AGENTS:
            start_agent(dep, agent)
        warm = chunks["warm-up"]
        asyncio.run(produce(settings, warm.messages, settings.raw_topic, progress=False))
        wait_until(dep, "warm-up alerts stored", lambda: all_stored(settings, list(warm.objects)))
        notes = annotation_messages(dep, "warm-up")[:WARM_UP_ANNOTATIONS]
        asyncio.run(produce(settings, notes, stage_topic(settings, ANNOTATIONS), progress=False))
        wait_until(dep, "warm-up annotations stored",  # every worker now consumes
                   lambda: done(dep, "annotation") >= len(notes))
        yield dep
    finally:
        for worker in dep.workers.values():
            stop_worker(worker)


# ----- one fault drill ---------------------------------------------------------------------
def annotation_messages(dep: Deployment, fault: str) -> list[Message]:
    """One annotation per warm-up object (stored before the tests), a version per fault."""
    ids = sorted(dep.chunks["warm-up"].objects)[:ANNOTATIONS_PER_TEST]
    return [Message(i.encode(), orjson.dumps({
        "objectId": i, "topic": dep.annotator, "classification": "SN", "version": fault,
        "explanation": "fault drill", "classdict": {"p": 0.9}})) for i in ids]


def drill(dep: Deployment, fault: str, inject: Callable[[], float]) -> dict:
    """Replay this fault's alerts at :data:`RATE` (and annotations for the annotation
    fault), call ``inject`` once a quarter is through (it returns when the fault is over,
    with the monotonic time the service or worker was back), wait until everything is
    processed, check nothing was lost or repeated and record the recovery times."""
    settings, chunk, stage = dep.settings, dep.chunks[fault], FAULTS[fault]
    ids = list(chunk.objects)
    streams = [(settings.raw_topic, chunk.messages, RATE)]
    notes = annotation_messages(dep, fault) if stage == "annotation" else []
    if notes:
        streams.append((stage_topic(settings, ANNOTATIONS), notes, ANNOTATION_RATE))
    watched = len(notes) or len(chunk.messages)
    starts = {t: asyncio.run(end_offsets(settings, t)) for t in _output_topics(dep)}
    base = done(dep, stage)
    with Load(settings, streams) as load:
        wait_until(dep, f"{fault}: a quarter through {stage}",
                   lambda: done(dep, stage) - base >= watched / 4, poll_s=0.2)
        injected = time.monotonic()
        restored = inject()
        before = 0.0 if fault.startswith("kill-") else done(dep, stage)  # a new process
        resumed = wait_until(dep, f"{fault}: {stage} processing again",
                             lambda: done(dep, stage) > before, poll_s=0.2)
        caught_up = wait_until(
            dep, f"{fault}: every alert processed",
            lambda: load.finished() and all_stored(settings, ids) and input_lag(dep) == 0,
            poll_s=1.0)
    time.sleep(SETTLE_S)
    check_workers(dep)
    assert input_lag(dep) == 0
    figures = {"alerts": len(chunk.messages), "annotations": len(notes),
               "rate_alerts_per_s": RATE, "outage_s": round(restored - injected, 1),
               "resumed_s": round(resumed - injected, 1),
               "caught_up_s": round(caught_up - injected, 1)}
    record(dep, fault, figures)
    check_cassandra(settings, chunk)
    check_objects(settings, chunk)
    check_matches(dep, fault, starts)
    return figures


def _output_topics(dep: Deployment) -> list[str]:
    return [filter_topic(dep.settings, f) for f in (dep.sql_filter, dep.watchlist_filter,
                                                     dep.annotation_filter)]


def record(dep: Deployment, fault: str, figures: dict) -> None:
    """Print the recovery figures and add them to ``<home>/faults/recovery.json``."""
    print(f"\n[faults] {fault}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    path = dep.settings.home / "faults" / "recovery.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[fault] = figures
    path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    dep.figures[fault] = figures


# ----- the checks ----------------------------------------------------------------------------
def check_cassandra(settings: Settings, chunk: Chunk) -> None:
    """Every detection and limit of every alert stored, each exactly once."""
    cluster, session = cassandra.connect(settings)
    ks = settings.cassandra_keyspace
    try:
        for table, columns, field in (("candidates", "candid", "candids"),
                                      ("noncandidates", "jd, fid", "limits")):
            statement = session.prepare(
                f'SELECT {columns} FROM {ks}."{table}" WHERE "objectId"=?')
            futures = {o: session.execute_async(statement, (o,)) for o in chunk.objects}
            for object_id, future in futures.items():
                rows = [r[0] if len(r) == 1 else tuple(r) for r in future.result()]
                want = getattr(chunk.objects[object_id], field)
                assert len(rows) == len(set(rows)) == len(want) and set(rows) == want, \
                    f"{table} of {object_id}: {len(rows)} rows, {len(want)} expected"
    finally:
        cluster.shutdown()


def check_objects(settings: Settings, chunk: Chunk) -> None:
    """Every object in ``objects`` with its latest candidate."""
    stored = stored_objects(settings, list(chunk.objects))
    missing = sorted(set(chunk.objects) - set(stored))
    assert not missing, f"{len(missing)} objects missing from MariaDB, e.g. {missing[:3]}"
    for object_id, expected in chunk.objects.items():
        assert stored[object_id][0] == pytest.approx(expected.jdmax, abs=1e-6), object_id


def emitted(dep: Deployment, filter_id: int, starts: dict, ids: set,
            columns: tuple[str, ...] = ("objectId",)) -> Counter:
    """How many times each match (the values of ``columns``) of an object of ``ids``
    was sent on the filter's topic since ``starts`` (committed transactions only)."""
    topic = filter_topic(dep.settings, filter_id)
    out = asyncio.run(read_topic(dep.settings, topic, starts[topic],
                                 keep=lambda r: orjson.loads(r.value)))
    return Counter(tuple(m[c] for c in columns) for m in out if m["objectId"] in ids)


def on_demand(settings: Settings, ids: set) -> set:
    """The objects of ``ids`` that the SQL filter finds in the final database."""
    sql = build_query("objects.objectId", "objects", FILTER_CONDITION, "ztf", limit=10**6)
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        return {r[0] for r in cursor.fetchall()} & ids


def check_matches(dep: Deployment, fault: str, starts: dict) -> None:
    """Every expected match of each filter on its topic exactly once."""
    chunk = dep.chunks[fault]
    ids = set(chunk.objects)
    sql_expected = {(o,) for o in on_demand(dep.settings, ids)}
    assert 0 < len(sql_expected) < len(ids)  # the filter does choose
    wl_expected = set().union(*(watchlist_hits(e, dep.cones) for e in chunk.objects.values()))
    assert wl_expected
    for name, fid, expected, columns in (
            ("sql", dep.sql_filter, sql_expected, ("objectId",)),
            ("watchlist", dep.watchlist_filter, wl_expected, ("objectId", "name"))):
        assert_once(name, emitted(dep, fid, starts, ids, columns), expected)
    if FAULTS[fault] == "annotation":
        check_annotations(dep, fault, starts)


def assert_once(name: str, counts: Counter, expected: set) -> None:
    """Each expected match sent once, nothing else."""
    lost = sorted(expected - set(counts))
    repeated = sorted(m for m, n in counts.items() if n > 1)
    unexpected = sorted(set(counts) - expected)
    assert not (lost or repeated or unexpected), (
        f"{name} filter: {len(lost)} lost, {len(repeated)} repeated, "
        f"{len(unexpected)} unexpected; e.g. {(lost + repeated + unexpected)[:3]}")


def check_annotations(dep: Deployment, fault: str, starts: dict) -> None:
    """Every annotation stored, and its fast filter's match sent exactly once."""
    notes = {m.key.decode() for m in annotation_messages(dep, fault)}
    with mariadb.connect(dep.settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT objectId FROM annotations WHERE topic=%s AND version=%s",
                       (dep.annotator, fault))
        assert {r[0] for r in cursor.fetchall()} == notes
    assert_once("annotation", emitted(dep, dep.annotation_filter, starts, notes),
                {(o,) for o in notes})


# ----- the faults ------------------------------------------------------------------------------
def kill_and_restart(dep: Deployment, agent: str) -> Callable[[], float]:
    """``kill -9`` of the agent's worker, then a new worker in its place."""
    def inject() -> float:
        stop_worker(dep.workers[agent], kill=True)
        start_agent(dep, agent)
        return time.monotonic()
    return inject


def restart(dep: Deployment, service: str, down_s: float = 0.0) -> Callable[[], float]:
    """Stop one service of the stack by pid, keep it down ``down_s`` s, start it again."""
    def inject() -> float:
        stopped = time.monotonic()
        stop_service(dep.settings, service)
        time.sleep(max(0.0, down_s - (time.monotonic() - stopped)))
        start_service(dep.settings, service)
        return time.monotonic()
    return inject


@pytest.mark.parametrize("agent", ["ingest", "sherlock", "filter", "annotation"])
def test_kill_9_of_a_worker_loses_and_repeats_nothing(deployment, agent):
    drill(deployment, f"kill-{agent}", kill_and_restart(deployment, agent))


def test_a_kafka_restart_loses_and_repeats_nothing(deployment):
    drill(deployment, "restart-kafka", restart(deployment, "kafka"))


def test_a_mariadb_restart_loses_and_repeats_nothing(deployment):
    drill(deployment, "restart-mariadb", restart(deployment, "mariadb"))


def test_cassandra_down_for_30_s_loses_and_repeats_nothing(deployment):
    drill(deployment, "stop-cassandra-30s", restart(deployment, "cassandra", CASSANDRA_DOWN_S))
