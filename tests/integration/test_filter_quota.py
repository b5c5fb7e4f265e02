"""The per-filter daily byte quota on the real stack: kept in MariaDB (filter_quota), so a
filter that used its quota gets no more Kafka messages after its worker restarts, while
the live feed still gets every match."""
from __future__ import annotations

import asyncio
import datetime as dt

import orjson
import pytest

from solas.stores import mariadb
from solas.topics import LIVE, end_offsets, ensure_topics, filter_topic, read_topic, stage_topic
from solas.workers import start_worker, stop_worker
from tests.integration.conftest import make_filter, make_user
from tests.integration.test_filter import FOLDER, sample_alerts
from tests.integration.test_sky_cache import stream_alerts, wait_for

pytestmark = pytest.mark.integration
WORKER_ID = 8
QUOTA = 150
"""Bytes a day: room for two matches (objectId and UTC, about 60 bytes each)."""


def usage(settings, fid: int) -> int:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT SUM(bytes) FROM filter_quota WHERE filter_id=%s AND day=%s",
                       (fid, dt.datetime.now(dt.timezone.utc).date()))
        return int(cursor.fetchone()[0] or 0)


def test_a_used_quota_stays_used_across_a_worker_restart(ztf):
    files = sorted(str(p) for p in ztf.data_dir.joinpath(*FOLDER).glob("*.avro"))
    halves = [files[: len(files) // 2], files[len(files) // 2:]]
    user = make_user(ztf)
    fid = make_filter(ztf, user, "objects", "objects.ncand >= 1", "objects.objectId")
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:
        cursor.execute("UPDATE filters SET byte_quota=%s WHERE id=%s", (QUOTA, fid))
    env = {"SOLAS_APP_ID": ztf.app_id, "SOLAS_RAW_TOPIC": ztf.raw_topic}
    asyncio.run(ensure_topics(ztf))
    live_start = asyncio.run(end_offsets(ztf, stage_topic(ztf, LIVE)))
    sent = []
    for half in halves:  # a fresh worker process for each half
        worker = start_worker(ztf, ["ingest", "sherlock", "filter"], WORKER_ID, env)
        try:
            wait_for(worker, "sky state", lambda s: any(
                n == "solas_filter_sky_state_loads_total" and v for (n, _), v in s.items()))
            stream_alerts(ztf, worker, half)
        finally:
            stop_worker(worker)
        out = asyncio.run(read_topic(ztf, filter_topic(ztf, fid), keep=lambda r: r.value))
        sent.append(out)
    first, both = sent
    size = len(first[0])
    assert all(len(m) == size for m in both)  # objectId and UTC have fixed lengths
    assert len(first) == QUOTA // size >= 1  # the first worker filled the quota ...
    assert sorted(both) == sorted(first)  # ... and the restarted one sent nothing more
    assert usage(ztf, fid) == len(first) * size
    live = asyncio.run(read_topic(ztf, stage_topic(ztf, LIVE), live_start,
                                  keep=lambda r: orjson.loads(r.value)))
    matched = {m["object_id"] for m in live if m["filter_id"] == fid}
    assert matched == {a.object_id for a in sample_alerts(ztf)}  # every match, both halves
    assert len(matched) > 2 * len(first)
