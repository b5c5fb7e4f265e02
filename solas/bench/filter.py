"""``solas bench --stage filter``: the filter stage under the standard workload.

Runs in its own database (``<database>_bench``), keyspace and topic namespace on the
running stack (:func:`solas.bench.common.bench_settings`).  Cloned real alerts go through ingest
and sherlock first (not timed); then a filter-only worker drains the backlog of classified
alerts, timed from its own counters.  Two parts are also timed in this process: all 100
filters over one 10,000-object batch, and watchlist matching against the 1e6-cone list on
one core.
"""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np

from catalogs.load import load_catalogues
from solas.bench.common import (
    BENCH_WORKER_ID,
    MemoryWatch,
    bench_settings,
    default_mix,
    default_source,
    delete_earlier_topics,
    empty_bench_keyspace,
    history_summary,
    make_messages,
    progress_times,
    service_pids,
    throughput,
)
from solas.bench.workload import create_workload, random_sky
from solas.db import init_all
from solas.filters import object_id_list
from solas.processors.filters import load_active_filters, run_filters
from solas.replay import check_mix_survey, produce
from solas.settings import Settings
from solas.skymatch import ConeIndex
from solas.stores import mariadb
from solas.surveys import decode_packet, normalise
from solas.workers import metric, read_metrics, start_worker, stop_worker, wait_for_done
from tables.sky import load_watchlist

BATCH_OBJECTS = 10_000
STEP = "solas_stage_step_duration_seconds_sum"


def prepare_bench_database(s: Settings) -> None:
    """Empty the bench's own database and keyspace and delete earlier runs' topics, then
    create the schemas and load the catalogues."""
    print(f"setting up database {s.mariadb['db']} (emptied) and topics "
          f"{s.topic_namespace}* ...")
    with mariadb.connect(s, database=False) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{s.mariadb['db']}`")  # the bench's own
    delete_earlier_topics(s)
    empty_bench_keyspace(s)
    init_all(s)
    load_catalogues(s)


def alert_positions(messages, survey: str, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Positions (deg) of the first ``n`` of ``messages``: some watchlists sit on them."""
    alerts = [normalise(decode_packet(m.value, survey), survey) for m in messages[:n]]
    return np.array([a.ra for a in alerts]), np.array([a.dec for a in alerts])


async def _filters_on_one_batch(settings: Settings) -> dict:
    """All active filters over the latest 10,000 stored objects, as the stage runs them."""
    pool = await mariadb.open_pool(settings)
    ro = await mariadb.open_pool(settings, *mariadb.readonly_credentials(settings),
                                 maxsize=settings.filter_connections)
    try:
        with mariadb.connect(settings) as conn, conn.cursor() as cursor:
            filters, errors = load_active_filters(cursor, settings.survey)
            oid = "objectId" if settings.survey == "ztf" else "diaObjectId"
            cursor.execute(f"SELECT {oid} FROM objects LIMIT {BATCH_OBJECTS}")
            ids = object_id_list([r[0] for r in cursor.fetchall()], settings.survey)
        start = time.perf_counter()
        runs = await run_filters(ro, pool, filters, {"objects": ids}, settings.filter_row_limit,
                                 settings.filter_time_limit_s)
        seconds = time.perf_counter() - start
    finally:
        for p in (pool, ro):
            p.close()
            await p.wait_closed()
    return {"filters": len(filters), "filters_refused": len(errors), "objects": ids.count,
            "seconds": round(seconds, 3), "matches": sum(len(r.rows) for r in runs),
            "errors": sum(1 for r in runs if r.error),
            "slowest_filter_s": round(max((r.seconds for r in runs), default=0), 3)}


def _cone_matching(settings: Settings, wl_id: int, n: int = 200_000) -> dict:
    """Alerts/s of watchlist matching against the 1e6-cone list, on one core."""
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        start = time.perf_counter()
        cones = load_watchlist(cursor, wl_id)
        load_s = time.perf_counter() - start
    index = ConeIndex.from_watchlists([cones])
    ra, dec = random_sky(n, np.random.default_rng(1))
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    start = time.perf_counter()
    for i in range(0, n, BATCH_OBJECTS):
        index.match_to_cones(ra[i:i + BATCH_OBJECTS], dec[i:i + BATCH_OBJECTS])
    seconds = time.perf_counter() - start
    return {"cones": len(cones), "load_from_mariadb_s": round(load_s, 2),
            "alerts_per_s_one_core": round(n / seconds, 1)}


def bench_filter(settings: Settings, n: int, source: list[Path], mix: str | None = None
                 ) -> dict:
    """Run the filter-stage benchmark on clones of the alerts under ``source`` (default:
    :func:`solas.bench.common.default_source`) with the history ``mix`` (default
    :func:`solas.bench.common.default_mix`); returns the results dictionary."""
    mix = check_mix_survey(mix or default_mix(settings.survey), settings.survey)
    s = bench_settings(settings)
    source = source or default_source(s)
    prepare_bench_database(s)
    messages = make_messages(s, n, source, mix)
    workload = create_workload(s, alert_positions(messages, s.survey))
    print(f"workload: {len(workload.watchlists)} watchlists ({workload.cones} cones), "
          f"{len(workload.watchmaps)} watchmaps, {len(workload.filters)} filters")
    asyncio.run(produce(s, messages, s.raw_topic, total=n))
    first = start_worker(s, ["ingest", "sherlock"], BENCH_WORKER_ID)
    try:
        wait_for_done(first, "sherlock", n, 3600)
    finally:
        stop_worker(first)
    worker = start_worker(s, ["filter"], BENCH_WORKER_ID)
    pids = {**service_pids(s), "worker": worker.process.pid}
    try:
        with MemoryWatch(pids) as memory:
            samples = progress_times(worker, n, 3600, stage="filter")
            steps = read_metrics(worker.metrics_port)
    finally:
        stop_worker(worker)
    rates = throughput(samples, n)
    return {
        "stage": "filter", "alerts": n, "survey": s.survey, "database": s.mariadb["db"],
        "history_mix": history_summary(messages, mix),
        "workload": workload._asdict() | {"watchlists": len(workload.watchlists),
                                          "watchmaps": len(workload.watchmaps),
                                          "filters": len(workload.filters)},
        "sustained_alerts_per_s": round(rates.steady, 1),
        "overall_alerts_per_s": round(rates.overall, 1), "seconds": round(rates.seconds, 2),
        "latency_s": {"p50": None, "p95": None, "p99": None},  # a backlog: see --stage all
        "worker_step_seconds": {step: round(metric(steps, STEP, stage="filter", step=step), 2)
                                for step in ("features", "sky", "mariadb", "filters",
                                             "produce")},
        "matches": int(sum(v for (name, _), v in steps.items()
                           if name == "solas_filter_matches_alerts_total")),
        "filters_on_one_10000_object_batch": asyncio.run(_filters_on_one_batch(s)),
        "watchlist_matching_1e6_cones": _cone_matching(s, workload.watchlists[0]),
        "cpu_seconds": {k: round(v, 1) for k, v in memory.cpu_s.items()},
        "peak_rss_mb": {k: round(v, 1) for k, v in memory.peak.items()},
        "date": time.strftime("%Y-%m-%d"),
    }
