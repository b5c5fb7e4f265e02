"""``solas bench --stage all``: the whole pipeline under a paced replay.

Runs in its own database and topic namespace on the running stack (as the filter
bench does), with the standard workload: 10 watchlists (one of 1e6 cones), 100
watchmaps, 100 filters with Kafka output, 5 annotators.  Three worker processes
run the stages side by side: ingest, sherlock, and filter with the annotation
agent.  After a warm-up backlog (:data:`DEFAULT_WARMUP` alerts by default: the
services' JVMs are freshly started, and until their JIT compilers have compiled the
hot code they spend about half their CPU compiling, a cost a long-running deployment
does not pay), ``n`` other cloned real alerts are replayed at ``rate`` per second
while the bench samples, once a second, every stage's
finished count, its lag (messages waiting: produced upstream and not yet done)
and each process's CPU and memory.  A read_committed consumer on every filter
topic timestamps each match as it becomes readable: end-to-end latency is that
moment minus the alert's raw-topic timestamp (carried in a header).
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from aiokafka import AIOKafkaConsumer
from tqdm import tqdm

from solas.bench.common import (
    MemoryWatch,
    bench_settings,
    default_mix,
    default_source,
    history_summary,
    make_messages,
    service_pids,
)
from solas.bench.filter import alert_positions, prepare_bench_database
from solas.bench.timeline import (
    STAGES,
    Sample,
    kept_up,
    lag_growth,
    percentiles,
    stage_lag,
    stage_rates,
    windowed_p99,
)
from solas.bench.workload import create_workload
from solas.processors.ingest import RAW_TIMESTAMP_HEADER
from solas.replay import check_mix_survey, produce
from solas.settings import Settings
from solas.topics import filter_topic
from solas.workers import (
    WorkerProcess,
    alerts_done,
    read_metrics,
    start_worker,
    stop_worker,
    wait_for_done,
)

#: stage -> (agents of its worker process, worker id: offsets the metrics port)
WORKERS = {"ingest": (["ingest"], 3), "sherlock": (["sherlock"], 4),
           "filter": (["filter", "annotation"], 5)}
DEFAULT_WARMUP = 10_000
"""Alerts of the default warm-up backlog (at least :data:`MIN_WARMUP`)."""
MIN_WARMUP = 500
"""Fewest warm-up alerts: enough to build every index, load the filters and make the
topics."""
DEFAULT_RATE = 333.0  # alerts/s: the Rubin mean


class MatchClock:
    """Reads every filter topic (read_committed) in a thread from where they end now;
    records each match's arrival time and its latency from the raw topic, s."""

    def __init__(self, settings: Settings, topics: list[str]):
        self.settings, self.topics = settings, topics
        self.arrival: list[float] = []
        self.latency: list[float] = []
        self.t0 = time.time()
        self._ready, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> "MatchClock":
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the filter-topic consumer did not start in 60 s")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka,
                                    isolation_level="read_committed", enable_auto_commit=False,
                                    max_partition_fetch_bytes=self.settings.max_message_bytes)
        await consumer.start()
        try:
            consumer.subscribe(topics=self.topics)  # no group: every partition is ours
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
            await consumer.seek_to_end()
            for tp in consumer.assignment():
                await consumer.position(tp)  # resolved now, before the replay starts
            self._ready.set()
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                now = time.time()
                for records in batches.values():
                    self._record(records, now)
        finally:
            await consumer.stop()

    def _record(self, records, now: float) -> None:
        for record in records:
            raw = dict(record.headers or ()).get(RAW_TIMESTAMP_HEADER)
            if raw:
                self.arrival.append(now - self.t0)
                self.latency.append(now - int(raw) / 1000)


class Sampler:
    """Once a second: every stage's finished count (from its worker's /metrics), and
    CPU and RSS of every process."""

    def __init__(self, workers: dict[str, WorkerProcess], pids: dict[str, int],
                 base: dict[str, float]):
        self.workers, self.base = workers, base
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        for proc in self.procs.values():
            proc.cpu_percent(None)
        self.samples: list[Sample] = []
        self.produced = 0
        self.t0 = time.monotonic()

    def count_acked(self, k: int) -> None:
        """``produce``'s callback: k more alerts are in the raw topic."""
        self.produced += k

    def sample(self) -> Sample:
        done = {stage: alerts_done(w.metrics_port, stage) - self.base[stage]
                for stage, w in self.workers.items()}
        cpu, rss = {}, {}
        for name, proc in self.procs.items():
            try:
                cpu[name] = proc.cpu_percent(None)
                rss[name] = proc.memory_info().rss / 2**20
            except psutil.Error:
                cpu[name] = rss[name] = float("nan")
        s = Sample(time.monotonic() - self.t0, self.produced, done, cpu, rss)
        self.samples.append(s)
        return s


def _start_workers(s: Settings) -> dict[str, WorkerProcess]:
    return {stage: start_worker(s, agents, wid) for stage, (agents, wid) in WORKERS.items()}


def _warm_up(s: Settings, messages, workers: dict[str, WorkerProcess]) -> dict[str, float]:
    """Send the warm-up alerts as a backlog and wait until every stage has done them
    (indexes built, filters loaded, topics made); returns each stage's count."""
    print(f"warm-up: {len(messages)} alerts through every stage ...")
    asyncio.run(produce(s, messages, s.raw_topic, total=len(messages)))
    for stage, worker in workers.items():
        wait_for_done(worker, stage, len(messages), 900)
    return {stage: alerts_done(w.metrics_port, stage) for stage, w in workers.items()}


def _replay(s: Settings, messages, rate: float, sampler: Sampler,
            workers: dict[str, WorkerProcess], drain_s: float) -> float:
    """Replay at ``rate`` while sampling until the filter stage has done them all (or
    ``drain_s`` after the last alert was sent); returns the replay's seconds."""
    n = len(messages)
    took: list[float] = []
    producer = threading.Thread(target=lambda: took.append(asyncio.run(produce(
        s, messages, s.raw_topic, rate=rate, total=n, progress=False,
        on_acked=sampler.count_acked))[1]))
    producer.start()
    deadline = None
    with tqdm(total=n, unit="alert", desc="through every stage", mininterval=1) as bar:
        while True:
            time.sleep(1.0)
            sample = sampler.sample()
            bar.update(int(sample.done["filter"]) - bar.n)
            bar.set_postfix(sent=sample.produced, lag=int(sum(stage_lag(sample).values())))
            _check_alive(workers)
            if sample.done["filter"] >= n:
                break
            if not producer.is_alive():
                deadline = deadline or time.monotonic() + drain_s
                if time.monotonic() > deadline:
                    break
    producer.join()
    return took[0] if took else float("nan")


def _check_alive(workers: dict[str, WorkerProcess]) -> None:
    for stage, worker in workers.items():
        if worker.process.poll() is not None:
            raise RuntimeError(f"{stage} worker exited; see {worker.log_path}")


def bench_all(settings: Settings, n: int, rate: float, source: list[Path],
              plot_path: Path | None = None, mix: str | None = None,
              warmup: int = DEFAULT_WARMUP) -> dict:
    """Run the end-to-end benchmark on clones of the alerts under ``source`` (default:
    :func:`solas.bench.common.default_source`) with the history ``mix`` (default
    :func:`solas.bench.common.default_mix`), after a backlog of ``warmup`` other clones;
    returns the results dictionary."""
    mix = check_mix_survey(mix or default_mix(settings.survey), settings.survey)
    warmup = max(MIN_WARMUP, warmup)
    s = bench_settings(settings)
    prepare_bench_database(s)
    messages = make_messages(s, warmup + n, source or default_source(s), mix)
    warm, messages = messages[:warmup], messages[warmup:]
    workload = create_workload(s, alert_positions(messages, s.survey))
    workers = _start_workers(s)
    try:
        base = _warm_up(s, warm, workers)
        del warm
        pids = {**service_pids(s), **{f"worker-{k}": w.process.pid for k, w in workers.items()},
                "bench": os.getpid()}  # the load generator and the match clock share the cores
        sampler = Sampler(workers, pids, base)
        print(f"replaying {n} alerts at {rate:g}/s ...")
        with MemoryWatch(pids) as memory, MatchClock(s, [filter_topic(s, f) for f in workload.filters]) \
                as clock:
            replay_s = _replay(s, messages, rate, sampler, workers,
                               drain_s=max(120.0, n / rate))
            time.sleep(3.0)  # the last transaction's matches become readable
        steps = {stage: read_metrics(w.metrics_port) for stage, w in workers.items()}
    finally:
        for worker in workers.values():
            stop_worker(worker)
    result = _result(s, n, rate, workload, sampler, clock, memory, replay_s, steps)
    result["history_mix"] = history_summary(messages, mix)
    result["warmup_alerts"] = warmup
    if plot_path:
        from solas.bench.plot import plot_run
        plot_run(plot_path, rate, sampler.samples, np.array(clock.arrival),
                 np.array(clock.latency))
        result["plot"] = str(plot_path)
    return result


def _result(s: Settings, n: int, rate: float, workload, sampler: Sampler, clock: MatchClock,
            memory: MemoryWatch, replay_s: float, steps: dict) -> dict:
    samples = sampler.samples
    latency = np.array(clock.latency)
    rates = stage_rates(samples)
    p99 = percentiles(latency)["p99"]
    growth = lag_growth(samples, replay_s)
    return {
        "stage": "all", "alerts": n, "survey": s.survey, "target_rate": rate,
        "replay_alerts_per_s": round(n / replay_s, 1),
        "sustained_alerts_per_s": min(rates.values()),
        "stage_alerts_per_s": rates,
        "finished": {k: int(v) for k, v in samples[-1].done.items()} if samples else {},
        "lag_growth_alerts_per_s": round(growth, 1),
        "kept_up": kept_up(growth, rate, p99),
        "latency_s": percentiles(latency), "matches": len(latency),
        "latency_p99_per_10s": [(round(t, 1), round(v, 2))
                                for t, v in windowed_p99(np.array(clock.arrival), latency)],
        "max_lag": {stage: int(max(stage_lag(x)[stage] for x in samples)) for stage in STAGES},
        "lag_over_time": [(round(x.t, 1), {k: int(v) for k, v in stage_lag(x).items()})
                          for x in samples],
        "cpu_seconds": {k: round(v, 1) for k, v in memory.cpu_s.items()},
        "mean_cpu_percent": {k: round(float(np.nanmean([x.cpu_percent[k] for x in samples])), 1)
                             for k in sampler.procs},
        "peak_rss_mb": {k: round(v, 1) for k, v in memory.peak.items()},
        "workload": {"watchlists": len(workload.watchlists), "cones": workload.cones,
                     "watchmaps": len(workload.watchmaps), "filters": len(workload.filters)},
        "date": time.strftime("%Y-%m-%d"),
    }
