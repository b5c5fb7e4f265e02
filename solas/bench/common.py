"""What every benchmark shares: its own database, keyspace and topics apart from the
deployment (:func:`bench_settings`), the cloned real alerts with their history mix
(:func:`make_messages`), per-process CPU and memory (:class:`MemoryWatch`), and the
workers' progress and throughput.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import psutil
from tqdm import tqdm

from solas import stack
from solas.replay import Message, check_mix_survey, mixed_messages, read_pool
from solas.settings import Settings
from solas.stores import cassandra
from solas.surveys.history_mix import DEEP_MIN_PRIOR, summarise
from solas.topics import delete_topics
from solas.workers import WorkerProcess, alerts_done, metric, read_metrics

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


