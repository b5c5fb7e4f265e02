"""``solas bench``: measure a stage on the running local stack with cloned real alerts.

(The filter stage is in :mod:`solas.bench_filter`, the whole pipeline under a paced
replay, ``--stage all``, in :mod:`solas.bench_all`.)

Every stage's bench runs apart from the deployment (:func:`bench_settings`): its own
MariaDB database, Cassandra keyspace (emptied at the start of each run) and topics, so
synthetic alerts never reach the deployment's workers, filters or light curves.

Ingest stage: dedicated workers (``--workers``, default one; a consumer group of
their own, a metrics port each) start and share out the partitions of a fresh raw
topic; then N clones of the shipped alerts of the configured survey (Rubin: with the
history mix of the real wide survey by default, see :mod:`solas.surveys.history_mix`)
are produced to it, as fast as Kafka takes them (a backlog builds up within seconds) or at
``--rate``.  With ``--preload`` the whole backlog is produced first, so the load
generator and the broker's intake are outside the measurement: the workers start
on the full topic, and the measurement begins once they have shared out its
partitions.  Throughput comes from the workers' own counters, added up; latency
from the raw-topic timestamp to the ``ingested`` message timestamp; CPU time and
peak memory per process (the bench's own, which produces, as ``replay``) from psutil.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import psutil
from tqdm import tqdm
from aiokafka import TopicPartition

from solas import stack
from solas.processors.ingest import RAW_TIMESTAMP_HEADER
from solas.replay import Message, check_mix_survey, mixed_messages, produce, read_pool
from solas.settings import Settings
from solas.stores import cassandra
from solas.surveys.history_mix import DEEP_MIN_PRIOR, summarise
from solas.topics import INGESTED, delete_topics, end_offsets, ensure_topics, read_topic, stage_topic
from solas.workers import (WorkerProcess, alerts_done, metric, read_metrics, start_worker,
                           stop_worker)

BENCH_WORKER_ID = 3
BENCH_TOPICS = "bench-"
"""Prefix of every topic a bench run makes; a new run deletes the earlier runs' topics."""
BENCH_SUFFIX = "_bench"
"""Suffix of the bench's own MariaDB database and Cassandra keyspace."""
STEP = "solas_stage_step_duration_seconds_sum"
ASSIGNED = "solas_kafka_assigned_partitions"


class Throughput(NamedTuple):
    """Alerts per second over the whole run and over its steady middle (5%-95%)."""

    overall: float
    steady: float
    seconds: float


def default_mix(survey: str) -> str:
    """The history mix the bench clones with by default: ``wide`` (the real wide survey,
    :mod:`solas.surveys.history_mix`) for Rubin, ``asis`` for ZTF."""
    return "wide" if survey == "lsst" else "asis"


RUBIN_LEFT_OUT = ("lasair-json",)
"""Folders of ``alerts/lsst`` the bench does not clone by default: a broker's JSON
renderings (and the schema package's fake sample packets beside them), not what Rubin
streams."""


def default_source(settings: Settings) -> list[Path]:
    """The shipped real alerts the bench clones by default.  ZTF: every sample.  Rubin:
    the real packets and the broker renderings turned back into them (Avro, Parquet, tar
    archives): every entry of ``alerts/lsst`` but :data:`RUBIN_LEFT_OUT`."""
    root = settings.data_dir / "alerts" / settings.survey
    if settings.survey != "lsst":
        return [root]
    return [p for p in sorted(root.iterdir())
            if p.name not in RUBIN_LEFT_OUT and not p.name.startswith(".")]


def describe_source(source: list[Path]) -> str:
    """``source`` in a few words for the bench's log."""
    if len(source) <= 4:
        return ", ".join(map(str, source))
    return f"{len(source)} paths under {os.path.commonpath([str(p) for p in source])}"


def make_messages(settings: Settings, n: int, source: list[Path], mix: str | None = None,
                  seed: int = 0) -> list[Message]:
    """``n`` clones of the real alerts under ``source``, in the survey's framing, with the
    history ``mix`` (default :func:`default_mix`; reproducible from ``seed``).  Alerts
    without a key (an object id) are left out of the sample; an alert found twice is
    cloned as one."""
    mix = check_mix_survey(mix or default_mix(settings.survey), settings.survey)
    counts: dict = {}
    pool = read_pool(source, settings.survey, counts, keyed_only=True)
    if not pool.alerts:
        raise ValueError(f"no alerts to clone under {describe_source(source)} "
                         f"({counts.get('alerts', 0)} read, {counts.get('unkeyed_alerts', 0)}"
                         f" without an object id, {counts.get('unreadable_files', 0)} "
                         f"unreadable files)")
    messages = mixed_messages(pool, settings.survey, n, mix, seed)
    del pool  # the generator keeps only what the clones need
    out = list(messages)
    print(describe_mix(history_summary(out, mix)))
    return out


def history_summary(messages: list[Message], mix: str) -> dict:
    """The history mix the ``messages`` actually carry (Rubin: mean and largest number of
    diaSources, counting the triggering one, and forced sources per alert), for the
    bench's JSON."""
    counted = [m for m in messages if m.dia_sources is not None]
    out: dict = {"mix": mix, "alerts_counted": len(counted)}
    if counted:
        s = summarise([m.dia_sources for m in counted], [m.forced or 0 for m in counted])
        out.update(mean_dia_sources_per_alert=round(s.mean_dia_sources, 2),
                   mean_forced_per_alert=round(s.mean_forced, 2),
                   max_dia_sources=s.max_dia_sources, max_forced=s.max_forced,
                   deep_share=round(s.deep_share, 4))
    return out


def describe_mix(summary: dict) -> str:
    """One line for the bench's log from :func:`history_summary`."""
    if not summary.get("alerts_counted"):
        return f"history mix {summary['mix']}"
    return (f"history mix {summary['mix']}: {summary['mean_dia_sources_per_alert']:.1f} "
            f"diaSources (counting the triggering one) and "
            f"{summary['mean_forced_per_alert']:.2f} forced sources per alert; at most "
            f"{summary['max_dia_sources']} and {summary['max_forced']}; "
            f"{100 * summary['deep_share']:.1f}% with {DEEP_MIN_PRIOR}+ prior diaSources")


class MemoryWatch:
    """Samples the RSS of named processes in a thread; keeps the peaks (MB)."""

    def __init__(self, pids: dict[str, int]):
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items() if pid}
        self.peak = {name: 0.0 for name in self.procs}
        self.cpu_start = {name: sum(p.cpu_times()[:2]) for name, p in self.procs.items()}
        self.cpu_s: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for name, proc in self.procs.items():
                try:
                    self.peak[name] = max(self.peak[name], proc.memory_info().rss / 2**20)
                except psutil.Error:
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        for name, proc in self.procs.items():
            try:
                self.cpu_s[name] = sum(proc.cpu_times()[:2]) - self.cpu_start[name]
            except psutil.Error:
                pass


def progress_times(workers: WorkerProcess | list[WorkerProcess], n: int, timeout_s: float,
                   stage: str = "ingest") -> list[tuple[float, float]]:
    """(time, alerts done) samples until the ``workers`` together have done ``n``
    alerts of ``stage``."""
    workers = workers if isinstance(workers, list) else [workers]
    samples, deadline = [], time.monotonic() + timeout_s
    with tqdm(total=n, unit="alert", desc=stage, mininterval=0.5) as bar:
        while time.monotonic() < deadline:
            for worker in workers:
                if worker.process.poll() is not None:
                    raise RuntimeError(f"bench worker exited; see {worker.log_path}")
            done = sum(alerts_done(worker.metrics_port, stage) for worker in workers)
            samples.append((time.monotonic(), done))
            bar.update(int(done) - bar.n)
            if done >= n:
                return samples
            time.sleep(1.0)  # each /metrics scrape costs the worker CPU
    raise TimeoutError(f"only {samples[-1][1]} of {n} alerts in {timeout_s} s")


def wait_for_assignment(workers: list[WorkerProcess], topic: str, partitions: int,
                        timeout_s: float, first: bool = False) -> None:
    """Wait until the ``workers`` (one consumer group) have shared out every partition of
    ``topic``, each owning some: a worker that joins later would stop the group for a
    rebalance in the middle of the measurement.  ``first``: only until some worker owns
    a partition (it is consuming)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        owned = []
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"bench worker exited; see {worker.log_path}")
            owned.append(_assigned(worker.metrics_port, topic))
        shared = sum(owned) == partitions and min(owned) > 0
        if (sum(owned) > 0) if first else shared:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the {len(workers)} workers did not share the {partitions} "
                       f"partitions of {topic} in {timeout_s} s")


def _assigned(port: int, topic: str) -> float:
    try:
        values = read_metrics(port, names=(ASSIGNED,))
    except OSError:  # not serving yet
        return 0.0
    return metric(values, ASSIGNED, topic=topic)


def throughput(samples: list[tuple[float, float]], n: int) -> Throughput:
    """Overall and steady-state rates from ``(time, alerts done)`` progress samples of a
    run of ``n`` alerts.  Overall: from the first sample with alerts done (counted from
    0, or from that sample's count when the samples start mid-run).  Steady: between the
    first samples at or past 5% (or the first sample) and 95% of ``n``."""
    t = np.array([s[0] for s in samples])
    done = np.array([s[1] for s in samples])
    first = int(np.argmax(done > 0))
    base = done[0] if first == 0 else 0
    seconds = t[-1] - t[first]
    lo, hi = int(np.argmax(done >= max(0.05 * n, done[0]))), int(np.argmax(done >= 0.95 * n))
    steady = (done[hi] - done[lo]) / (t[hi] - t[lo]) if t[hi] > t[lo] else float("nan")
    overall = (done[-1] - base) / seconds if seconds > 0 else float("nan")
    return Throughput(overall, steady, seconds)


async def _latencies(settings: Settings, start: dict[TopicPartition, int]) -> np.ndarray:
    """Seconds from raw-topic timestamp to ``ingested`` timestamp, per message."""
    stamps = await read_topic(settings, stage_topic(settings, INGESTED), start, keep=lambda r: (
        r.timestamp, dict(r.headers or ()).get(RAW_TIMESTAMP_HEADER)))
    return np.array([(out - int(raw)) / 1000 for out, raw in stamps if raw])


def bench_settings(settings: Settings) -> Settings:
    """The deployment's settings, moved to a database, keyspace and topic namespace of
    their own (the topics and consumer group are new on every run)."""
    tag = time.strftime("%Y%m%d%H%M%S")
    return dataclasses.replace(
        settings.with_database(f"{settings.mariadb['db']}{BENCH_SUFFIX}"),
        cassandra_keyspace_name=f"{settings.cassandra_keyspace}{BENCH_SUFFIX}",
        topic_namespace=f"{BENCH_TOPICS}{tag}-", topic_prefix=f"{BENCH_TOPICS}{tag}-filter-",
        app_id=f"solas-bench-{tag}",
        raw_topic_name=f"{BENCH_TOPICS}{tag}-alerts-{settings.survey}")


def empty_bench_keyspace(s: Settings) -> None:
    """Drop the bench's own Cassandra keyspace and create it again: each run starts on
    empty tables, so its figures do not depend on what earlier runs left to flush and
    compact.  Refuses any keyspace that is not a bench keyspace."""
    if not s.cassandra_keyspace.endswith(BENCH_SUFFIX):
        raise ValueError(f"{s.cassandra_keyspace!r} is not a bench keyspace")
    print(f"emptying Cassandra keyspace {s.cassandra_keyspace} (earlier bench runs) ...")
    cluster, session = cassandra.connect(s)
    try:
        session.execute(f"DROP KEYSPACE IF EXISTS {s.cassandra_keyspace}", timeout=300)
        freed = remove_dropped_snapshots(stack.service(s, "cassandra").tables_dir,
                                         s.cassandra_keyspace)
        if freed:
            print(f"removed the snapshots Cassandra made of the dropped keyspace "
                  f"({freed / 2**30:.1f} GiB)")
        cassandra.init_schema(session, s)
    finally:
        cluster.shutdown()


def remove_dropped_snapshots(data_dir: Path, keyspace: str) -> int:
    """Delete the snapshots Cassandra took of ``keyspace``'s tables when it was dropped
    (``<data_dir>/<keyspace>/<table>/snapshots/dropped-*``); returns the bytes freed.

    Cassandra keeps them for a day (``auto_snapshot_ttl``), and each bench run drops its
    keyspace: at 1-4 GB a run, a day of benches filled this machine's disk.  Nothing
    is done when the node's data is not on this machine (``data_dir`` missing)."""
    freed = 0
    for snapshot in sorted((data_dir / keyspace).glob("*/snapshots/dropped-*")):
        freed += sum(f.stat().st_size for f in snapshot.rglob("*") if f.is_file())
        shutil.rmtree(snapshot)
    return freed


def service_pids(settings: Settings) -> dict[str, int]:
    """Pids of the running stack's services, by name."""
    return {name: s.pid for name, s in stack.status(settings).items() if s.pid}


def delete_earlier_topics(settings: Settings) -> None:
    """Delete the topics of earlier bench runs: hundreds of filter topics per run would
    otherwise pile up in the broker and cost it CPU."""
    old = asyncio.run(delete_topics(settings, BENCH_TOPICS))
    if old:
        print(f"deleted {len(old)} topics of earlier bench runs ({BENCH_TOPICS}*)")


def bench_ingest(settings: Settings, n: int, rate: float | None,
                 source: list[Path] | None = None, workers: int = 1,
                 preload: bool = False, mix: str | None = None) -> dict:
    """Run the ingest benchmark on clones of the alerts under ``source`` (default:
    :func:`default_source`) with the history ``mix`` (default :func:`default_mix`)
    and ``workers`` ingest worker processes (one consumer group: they share the raw
    topic's partitions); returns the results.
    ``preload``: produce every alert before the workers start (see the module doc)."""
    if not 1 <= workers <= settings.topic_partitions:
        raise ValueError(f"--workers must be 1 to {settings.topic_partitions} (the raw "
                         f"topic's partitions), not {workers}")
    if preload and rate is not None:
        raise ValueError("--preload produces the whole backlog first: it takes no --rate")
    mix = check_mix_survey(mix or default_mix(settings.survey), settings.survey)
    s = bench_settings(settings)
    source = source or default_source(s)
    delete_earlier_topics(s)
    empty_bench_keyspace(s)
    print(f"cloning {n} real {s.survey} alerts from {describe_source(source)} ...")
    t0 = time.monotonic()
    messages = make_messages(s, n, source, mix)
    clone_rate = n / (time.monotonic() - t0)
    ingested = stage_topic(s, INGESTED)
    asyncio.run(ensure_topics(s, [s.raw_topic, ingested]))
    start_offsets = asyncio.run(end_offsets(s, ingested))
    if preload:
        print(f"producing all {n} alerts to {s.raw_topic} before the workers start ...")
        _, produce_s = asyncio.run(produce(s, messages, s.raw_topic, total=n))
    started = [start_worker(s, ["ingest"], BENCH_WORKER_ID + i) for i in range(workers)]
    pids = {**service_pids(s), **({} if preload else {"replay": os.getpid()}),
            **{_worker_name(i, workers): w.process.pid for i, w in enumerate(started)}}
    try:
        wait_for_assignment(started, s.raw_topic, s.topic_partitions, 300, first=preload)
        with MemoryWatch(pids) as memory:
            if preload:  # consuming has begun; measure once every worker has its share
                wait_for_assignment(started, s.raw_topic, s.topic_partitions, 300)
            else:
                producer = Producer(s, messages, rate)
            samples = progress_times(started, n, 1800)
            if not preload:
                produce_s = producer.join()
            steps = [read_metrics(worker.metrics_port) for worker in started]
    finally:
        for worker in started:
            stop_worker(worker)
    rates = throughput(samples, n)
    lat = asyncio.run(_latencies(s, start_offsets))
    step_s = {step: sum(metric(m, STEP, stage="ingest", step=step) for m in steps)
              for step in ("decode", "cassandra", "produce")}
    return {
        "stage": "ingest", "alerts": n, "survey": s.survey, "keyspace": s.cassandra_keyspace,
        "source": [str(p) for p in source],
        "history_mix": history_summary(messages, mix),
        "mode": ("preloaded backlog" if preload else "backlog" if rate is None
                 else f"replay at {rate}/s"),
        "workers": workers,
        "sustained_alerts_per_s": round(rates.steady, 1),
        "overall_alerts_per_s": round(rates.overall, 1),
        "seconds": round(rates.seconds, 2),
        "latency_s": {p: round(float(np.percentile(lat, q)), 3) if len(lat) else None
                      for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "worker_step_seconds": {k: round(v, 2) for k, v in step_s.items()},
        "cassandra_rows_written": _rows_written(steps),
        "cassandra_rows_skipped": int(sum(metric(m, "solas_cassandra_skipped_rows_total")
                                          for m in steps)),
        "cpu_seconds": {k: round(v, 1) for k, v in memory.cpu_s.items()},
        "peak_rss_mb": {k: round(v, 1) for k, v in memory.peak.items()},
        "clone_encode_alerts_per_s": round(clone_rate, 1),
        "produce_alerts_per_s": round(n / produce_s, 1),
        "date": time.strftime("%Y-%m-%d"),
    }


class Producer:
    """Sends the bench's messages to its raw topic from a thread, at ``rate`` alerts/s or
    as fast as the broker takes them (None); :meth:`join` gives the seconds taken."""

    def __init__(self, settings: Settings, messages: list[Message], rate: float | None):
        self.seconds = float("nan")
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(settings, messages, rate))
        self._thread.start()

    def _run(self, settings: Settings, messages: list[Message], rate: float | None) -> None:
        try:
            _, self.seconds = asyncio.run(produce(settings, messages, settings.raw_topic,
                                                 rate=rate, total=len(messages),
                                                 progress=False))
        except BaseException as exc:  # re-raised in the bench's thread by join()
            self.error = exc

    def join(self) -> float:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.seconds


def _worker_name(index: int, workers: int) -> str:
    return "worker" if workers == 1 else f"worker-{index + 1}"


def _rows_written(steps: list[dict]) -> dict[str, int]:
    """Cassandra rows written per table, summed over the workers' metrics."""
    rows: dict[str, int] = {}
    for values in steps:
        for (name, labels), v in values.items():
            if name == "solas_cassandra_written_rows_total":
                for _, table in labels:
                    rows[table] = rows.get(table, 0) + int(v)
    return rows


def bench_sherlock(settings: Settings, n: int) -> dict:
    """The classifier on one core against every shipped catalogue (no services)."""
    from catalogs.bench import bench_classifier

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal says
    print(f"loading every catalogue and classifying {n} positions on one core ...")
    b = bench_classifier(n, settings.data_dir)
    return {"stage": "sherlock", "alerts": n, "sustained_alerts_per_s": round(b.alerts_per_s, 1),
            "catalogue_sources": b.sources, "catalogue_load_s": round(b.load_s, 2),
            "index_build_s": round(b.build_s, 2), "index_mb": round(b.index_mb, 1),
            "rss_growth_mb": round(b.rss_growth_mb, 1), "classify_s": round(b.classify_s, 2),
            "classifications": b.classifications,
            "latency_s": {"p50": None, "p95": None, "p99": None},
            "peak_rss_mb": {"bench": round(psutil.Process().memory_info().rss / 2**20, 1)},
            "date": time.strftime("%Y-%m-%d")}


def run_bench(settings: Settings, stage: str, n: int, rate: float | None,
              json_path: str | None, source: list[str] | None = None, workers: int = 1,
              preload: bool = False, mix: str | None = None) -> int:
    """Entry point of ``solas bench``; prints and optionally writes JSON.  ``mix``: the
    history mix of the cloned alerts (default :func:`default_mix`; ``wide`` and ``deep``
    are for Rubin only)."""
    if (preload or workers != 1) and stage != "ingest":
        raise SystemExit("--workers and --preload are for --stage ingest")
    if mix is not None:
        if stage == "sherlock":
            raise SystemExit("--mix shapes the cloned alerts' histories; --stage sherlock "
                             "classifies positions and clones no alerts")
        try:
            check_mix_survey(mix, settings.survey)
        except ValueError as exc:
            raise SystemExit(f"--mix {mix}: {exc}") from None
    if stage == "ingest":
        result = bench_ingest(settings, n, rate, [Path(p) for p in source or ()], workers,
                              preload, mix)
    elif stage == "sherlock":
        result = bench_sherlock(settings, n)
    elif stage == "filter":
        from solas.bench_filter import bench_filter
        result = bench_filter(settings, n, [Path(p) for p in source or ()], mix)
    elif stage == "features":
        from solas.bench_features import run_features_bench
        result = run_features_bench(settings, n, [Path(p) for p in source or ()], mix)
    elif stage == "all":
        from solas.bench_all import DEFAULT_RATE, bench_all
        plot = Path(json_path).with_suffix(".png") if json_path else Path("bench-all.png")
        result = bench_all(settings, n, rate or DEFAULT_RATE, [Path(p) for p in source or ()],
                           plot, mix)
    else:
        raise SystemExit(f"unknown stage {stage!r}; available: ingest, sherlock, filter, "
                         "features, all")
    text = json.dumps(result, indent=2)
    print(text)
    if json_path:
        Path(json_path).write_text(text + "\n")
    return 0
