"""``solas demo``: the whole broker on this machine, with the real sample alerts.

Starts the stack, creates the schemas, loads the catalogues (first time), runs a
worker with every agent and the portal, replays every shipped alert of the
configured survey through ingest -> sherlock -> filter, and reports what happened
and where to look.
"""
from __future__ import annotations

import asyncio
import os
import time

from solas import stack
from solas.db import init_all
from solas.replay import replay
from solas.settings import Settings
from solas.stores import cassandra, mariadb
from solas.topics import DEADLETTER, INGESTED, SHERLOCKED, stage_topic
from solas.workers import alerts_done, metric, read_metrics, start_portal, start_worker

DEMO_WORKER_ID = 0
AGENTS = ["ingest", "sherlock", "filter", "annotation"]


def _running(settings: Settings, name: str) -> bool:
    try:
        os.kill(int((settings.home / "run" / f"{name}.pid").read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def _catalogues_loaded(settings: Settings) -> bool:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM catalogues")
        return cursor.fetchone()[0] > 0


def _cassandra_counts(settings: Settings) -> dict[str, int]:
    cluster, session = cassandra.connect(settings)
    try:
        return {spec.name: session.execute(
                    f'SELECT COUNT(*) FROM {settings.cassandra_keyspace}."{spec.name}"',
                    timeout=120).one()[0]
                for spec in cassandra.schema_statements(settings)}
    finally:
        cluster.shutdown()


def _wait_for(port: int, stage: str, target: float, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while alerts_done(port, stage) < target and time.monotonic() < deadline:
        time.sleep(0.5)


def _start(settings: Settings) -> None:
    if not _catalogues_loaded(settings):
        from catalogs.load import load_catalogues
        print("loading the sky-context catalogues (first run only) ...")
        load_catalogues(settings)
    if not _running(settings, f"worker-{DEMO_WORKER_ID}"):
        worker = start_worker(settings, AGENTS, DEMO_WORKER_ID)
        print(f"worker started: agents {', '.join(AGENTS)} (pid {worker.process.pid}, "
              f"log {worker.log_path})")
    if not _running(settings, "web"):
        portal = start_portal(settings)
        print(f"portal started (pid {portal.pid}, log {settings.logs_dir / 'web.log'})")


def run_demo(settings: Settings) -> int:
    """Run the demo; prints a report and leaves the stack, worker and portal running."""
    print("starting the local stack (first start takes a few minutes) ...")
    stack.up(settings)
    for line in init_all(settings):
        print(line)
    _start(settings)
    port = settings.metrics_port + DEMO_WORKER_ID
    before = {s: alerts_done(port, s) for s in ("ingest", "sherlock", "filter")}
    data = settings.data_dir / "alerts" / settings.survey
    stats = asyncio.run(replay(settings, [str(data)]))
    print(f"replayed {stats.messages} messages: {stats.alerts} alerts from {stats.files} files"
          f" ({stats.unreadable_files} unreadable files sent as they are)")
    _wait_for(port, "ingest", before["ingest"] + stats.messages)
    forwarded = metric(read_metrics(port), "solas_stage_out_alerts_total", stage="ingest")
    _wait_for(port, "sherlock", before["sherlock"] + forwarded - before["ingest"])
    _wait_for(port, "filter", before["filter"] + forwarded - before["ingest"])
    _report(settings, port)
    return 0


def _report(settings: Settings, port: int) -> None:
    values = read_metrics(port)
    for stage in ("ingest", "sherlock", "filter"):
        got = {name: int(metric(values, f"solas_stage_{name}_alerts_total", stage=stage))
               for name in ("in", "out", "deadletter")}
        print(f"{stage:9s} in {got['in']:6d}   out {got['out']:6d}   dead-lettered "
              f"{got['deadletter']}")
    classes = {dict(labels).get("classification"): int(v) for (name, labels), v in
               values.items() if name == "solas_sherlock_classified_alerts_total"}
    print(f"sky context: {classes}")
    print("stored in Cassandra (rows now in each table):")
    for table, count in _cassandra_counts(settings).items():
        print(f"  {settings.cassandra_keyspace}.{table}: {count}")
    print("\nwhere to look:")
    print(f"  portal and API   http://127.0.0.1:{settings.web_port}/  "
          f"(create an account there, or: .venv/bin/solas users add NAME --email E)")
    print(f"  worker metrics   http://127.0.0.1:{port}/metrics")
    print(f"  Prometheus       http://127.0.0.1:{settings.prometheus_port}/graph")
    print(f"  logs             {settings.logs_dir}/")
    topics = [settings.raw_topic] + [stage_topic(settings, t)
                                     for t in (INGESTED, SHERLOCKED, DEADLETTER)]
    print(f"  Kafka            {settings.kafka} (topics {', '.join(topics)})")
    print(f"  MariaDB          {settings.mariadb_url}")
    print("  stop everything  .venv/bin/solas stack down")
