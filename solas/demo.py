"""``solas demo``: the whole foundation on this machine, with the real sample alerts.

Starts the stack, creates the schemas, runs a worker, replays every shipped
alert of the configured survey and reports what happened and where to look.
"""
from __future__ import annotations

import asyncio
import os
import time

from solas import stack
from solas.db import init_all
from solas.replay import replay
from solas.settings import Settings
from solas.stores import cassandra
from solas.topics import DEADLETTER, INGESTED
from solas.workers import alerts_done, metric, read_metrics, start_worker

DEMO_WORKER_ID = 0


def _worker_running(settings: Settings) -> bool:
    pid_file = settings.home / "run" / f"worker-{DEMO_WORKER_ID}.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def _cassandra_counts(settings: Settings) -> dict[str, int]:
    cluster, session = cassandra.connect(settings)
    try:
        return {spec.name: session.execute(
                    f'SELECT COUNT(*) FROM {settings.cassandra_keyspace}."{spec.name}"',
                    timeout=120).one()[0]
                for spec in cassandra.schema_statements(settings)}
    finally:
        cluster.shutdown()


def run_demo(settings: Settings) -> int:
    """Run the demo; prints a report and leaves the stack and worker running."""
    print("starting the local stack (first start takes a few minutes) ...")
    stack.up(settings)
    for line in init_all(settings):
        print(line)
    port = settings.metrics_port + DEMO_WORKER_ID
    if not _worker_running(settings):
        worker = start_worker(settings, ["ingest"], DEMO_WORKER_ID)
        print(f"worker started (pid {worker.process.pid}, log {worker.log_path})")
    before = alerts_done(port, "ingest")
    data = settings.data_dir / "alerts" / settings.survey
    stats = asyncio.run(replay(settings, [str(data)]))
    print(f"replayed {stats.messages} messages: {stats.alerts} alerts from {stats.files} files"
          f" ({stats.unreadable_files} unreadable files sent as they are)")
    deadline = time.monotonic() + 300
    while alerts_done(port, "ingest") - before < stats.messages and time.monotonic() < deadline:
        time.sleep(0.5)
    _report(settings, port)
    return 0


def _report(settings: Settings, port: int) -> None:
    values = read_metrics(port)
    counts = {name: int(metric(values, f"solas_stage_{name}_alerts_total", stage="ingest"))
              for name in ("in", "out", "deadletter")}
    print(f"\nalerts in:        {counts['in']}")
    print(f"forwarded:        {counts['out']} (topic {INGESTED})")
    print(f"dead-lettered:    {counts['deadletter']} (topic {DEADLETTER})")
    print("stored in Cassandra (rows now in each table):")
    for table, count in _cassandra_counts(settings).items():
        print(f"  {settings.cassandra_keyspace}.{table}: {count}")
    print("\nwhere to look:")
    print(f"  worker metrics   http://127.0.0.1:{port}/metrics")
    print(f"  Prometheus       http://127.0.0.1:{settings.prometheus_port}/graph")
    print(f"  logs             {settings.logs_dir}/")
    print(f"  Kafka            {settings.kafka} (topics {settings.raw_topic}, {INGESTED}, "
          f"{DEADLETTER})")
    print(f"  MariaDB          {settings.mariadb_url}")
    print("  stop everything  .venv/bin/solas stack down")
