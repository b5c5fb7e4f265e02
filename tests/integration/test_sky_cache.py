"""A filter worker's RocksDB sky cache on the real stack: a worker restarted after a
watchlist was made while it was down starts from its cache (no full MariaDB load),
catches up from the change topic and matches alerts against both watchlists; with its
cache deleted it does the full load and still matches."""
from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time

import pytest

from solas.replay import replay
from solas.stores import mariadb
from solas.topics import INGESTED, SHERLOCKED, end_offsets, ensure_topics, stage_topic
from solas.workers import alerts_done, metric, read_metrics, start_worker, stop_worker
from solas.bench.workload import announce
from tests.integration.conftest import make_user
from tests.integration.test_filter import FOLDER, make_watchlist, sample_alerts

pytestmark = pytest.mark.integration
TIMEOUT_S = 300
WORKER_ID = 7


def cache_dir(settings):
    """The filter processor's sky cache of worker WORKER_ID (see agents.filter_processor)."""
    return dataclasses.replace(settings, worker_id=WORKER_ID).worker_dir / "sky-cache-filter.db"


def worker_metrics(worker) -> dict:
    try:
        return read_metrics(worker.metrics_port)
    except OSError:  # not serving yet
        return {}


def wait_for(worker, what: str, check) -> dict:
    """Poll the worker's metrics until ``check(samples)``; the samples."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        assert worker.process.poll() is None, f"worker died; see {worker.log_path}"
        samples = worker_metrics(worker)
        if samples and check(samples):
            return samples
        time.sleep(0.5)
    raise TimeoutError(f"{what} not reached; see {worker.log_path}")


def loads(samples: dict, source: str) -> float:
    return metric(samples, "solas_filter_sky_state_loads_total", source=source)


def cones(samples: dict) -> float:
    return metric(samples, "solas_filter_sky_index_items", kind="cones")


def log_size(settings) -> int:
    """Characters in the worker's log so far (each start appends to it)."""
    path = settings.logs_dir / f"worker-{WORKER_ID}.log"
    return len(path.read_text()) if path.exists() else 0


def start(settings, env):
    return start_worker(settings, ["ingest", "sherlock", "filter"], WORKER_ID, env)


def stream_alerts(settings, worker, paths: list[str] | None = None) -> None:
    """Replay the sample alerts (or the alert files ``paths``) and wait until the
    worker's filter stage has them all."""
    sherlocked = stage_topic(settings, SHERLOCKED)
    before = sum(asyncio.run(end_offsets(settings, sherlocked)).values())
    stats = asyncio.run(replay(settings, paths or [str(settings.data_dir.joinpath(*FOLDER))],
                               progress=False))
    wait_for(worker, "ingest", lambda s: alerts_done(worker.metrics_port, "ingest")
             >= stats.messages)
    ingested = sum(asyncio.run(end_offsets(settings, stage_topic(settings, INGESTED))).values())
    wait_for(worker, "sherlock", lambda s: sum(asyncio.run(end_offsets(
        settings, sherlocked)).values()) - before >= stats.messages)
    target = sum(asyncio.run(end_offsets(settings, sherlocked)).values()) - before
    wait_for(worker, "filter", lambda s: alerts_done(worker.metrics_port, "filter") >= target)
    assert ingested >= stats.messages


def hits(settings, wl_id: int) -> list[str]:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT DISTINCT objectId FROM watchlist_hits WHERE wl_id=%s",
                       (wl_id,))
        return sorted(r[0] for r in cursor.fetchall())


def test_a_restarted_worker_starts_from_its_cache_and_matches_both_watchlists(ztf):
    alerts = sample_alerts(ztf)
    first, second, third = alerts[::5], alerts[1::5], alerts[2::5]
    user = make_user(ztf)
    env = {"SOLAS_APP_ID": ztf.app_id, "SOLAS_RAW_TOPIC": ztf.raw_topic}
    asyncio.run(ensure_topics(ztf))
    shutil.rmtree(cache_dir(ztf), ignore_errors=True)

    worker = start(ztf, env)
    try:
        samples = wait_for(worker, "full load", lambda s: loads(s, "mariadb") == 1)
        base = cones(samples)  # active watchlists of earlier runs in this database
        wl_a = make_watchlist(ztf, user, first)
        asyncio.run(announce(ztf, [wl_a], []))
        wait_for(worker, "watchlist A", lambda s: cones(s) == base + len(first))
    finally:
        stop_worker(worker)
    assert cache_dir(ztf).is_dir()

    wl_b = make_watchlist(ztf, user, second)  # made while the worker is down
    asyncio.run(announce(ztf, [wl_b], []))
    logged = log_size(ztf)
    worker = start(ztf, env)
    try:
        samples = wait_for(worker, "both watchlists",
                           lambda s: cones(s) == base + len(first) + len(second))
        assert loads(samples, "cache") == 1 and loads(samples, "mariadb") == 0
        stream_alerts(ztf, worker)
    finally:
        stop_worker(worker)
    assert "sky state from cache" in worker.log_path.read_text()[logged:]
    assert hits(ztf, wl_a) == sorted(a.object_id for a in first)
    assert hits(ztf, wl_b) == sorted(a.object_id for a in second)

    shutil.rmtree(cache_dir(ztf))
    worker = start(ztf, env)
    try:
        samples = wait_for(worker, "full load again", lambda s: loads(s, "mariadb") == 1)
        assert loads(samples, "cache") == 0
        assert cones(samples) == base + len(first) + len(second)
        wl_c = make_watchlist(ztf, user, third)
        asyncio.run(announce(ztf, [wl_c], []))
        wait_for(worker, "watchlist C",
                 lambda s: cones(s) == base + len(first) + len(second) + len(third))
        stream_alerts(ztf, worker)
    finally:
        stop_worker(worker)
    assert hits(ztf, wl_c) == sorted(a.object_id for a in third)
    assert hits(ztf, wl_a) == sorted(a.object_id for a in first)
    assert cache_dir(ztf).is_dir()
