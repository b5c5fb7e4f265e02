"""``solas bench --stage ingest``: the ingest stage on the running local stack.

Dedicated workers (``--workers``, default one; a consumer group of
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
import os
import threading
import time
from pathlib import Path

import numpy as np
from aiokafka import TopicPartition

from solas.bench.common import (
    BENCH_WORKER_ID,
    STEP,
    MemoryWatch,
    bench_settings,
    default_mix,
    default_source,
    delete_earlier_topics,
    describe_source,
    empty_bench_keyspace,
    history_summary,
    make_messages,
    progress_times,
    service_pids,
    throughput,
    wait_for_assignment,
)
from solas.processors.ingest import RAW_TIMESTAMP_HEADER
from solas.replay import Message, check_mix_survey, produce
from solas.settings import Settings
from solas.topics import INGESTED, end_offsets, ensure_topics, read_topic, stage_topic
from solas.workers import metric, read_metrics, start_worker, stop_worker


async def _latencies(settings: Settings, start: dict[TopicPartition, int]) -> np.ndarray:
    """Seconds from raw-topic timestamp to ``ingested`` timestamp, per message."""
    stamps = await read_topic(settings, stage_topic(settings, INGESTED), start, keep=lambda r: (
        r.timestamp, dict(r.headers or ()).get(RAW_TIMESTAMP_HEADER)))
    return np.array([(out - int(raw)) / 1000 for out, raw in stamps if raw])


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


