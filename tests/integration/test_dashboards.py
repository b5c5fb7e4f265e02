"""Every PromQL expression of every Grafana panel returns data from the real Prometheus
after alerts went through the running stack (workers and portal scraped by the
stack's own Prometheus configuration)."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from solas.replay import replay
from solas.stores import mariadb
from solas.topics import ensure_topics, filter_topic
from solas.workers import start_portal, start_worker, stop_worker, wait_for_done
from tests.unit.ops.dashboards import dashboard_queries

pytestmark = pytest.mark.integration
TIMEOUT_S = 300
SETTLE_S = 90  # rate() over the panels' windows needs several 5 s scrapes


def prometheus_query(settings, expr: str) -> list:
    url = (f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query?" +
           urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:  # nobody listening (yet)
        return 0


def wait_for_portal(settings) -> None:
    deadline = time.monotonic() + 60
    while get(f"http://127.0.0.1:{settings.web_metrics_port}/metrics") != 200:
        assert time.monotonic() < deadline, "portal did not start"
        time.sleep(1)


def exercise_portal(settings) -> None:
    """Pages, a 404, and anonymous API calls past the hourly limit (429)."""
    base = f"http://127.0.0.1:{settings.web_port}"
    assert get(f"{base}/") == 200
    assert get(f"{base}/no-such-page/") == 404
    codes = [get(f"{base}/api/cone/?ra=10&dec=10&radius=5&requestType=count")
             for _ in range(12)]
    assert 429 in codes


def make_active_filter(settings) -> None:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO users (username, email) VALUES ('grafana', 'g@localhost')")
        cursor.execute("INSERT INTO filters (user, name, selected, tables, conditions, run, "
                       "output, topic_name) VALUES (%s, 'bright', 'objects.objectId', "
                       "'objects', 'objects.ncand >= 1', 1, 2, %s)",
                       (cursor.lastrowid, filter_topic(settings, 999999)))


def test_every_dashboard_panel_returns_series(ztf, tmp_path):
    settings = ztf
    make_active_filter(settings)
    corrupt = tmp_path / "corrupt.avro"
    corrupt.write_bytes(b"Obj\x01 not really an alert")
    asyncio.run(ensure_topics(settings))
    worker = start_worker(settings, ["ingest", "sherlock", "filter", "annotation"], 0,
                          {"SOLAS_APP_ID": settings.app_id})
    portal = start_portal(settings)
    try:
        wait_for_portal(settings)
        folder = settings.data_dir / "alerts" / "ztf" / "pittgoogle-labelled"
        stats = asyncio.run(replay(settings, [str(folder), str(corrupt)], progress=False))
        wait_for_done(worker, "filter", stats.messages - 1, TIMEOUT_S)
        exercise_portal(settings)
        time.sleep(SETTLE_S)
        queries = dashboard_queries()
        empty = [(q.uid, q.panel, q.expr) for q in queries
                 if not prometheus_query(settings, q.expr)]
    finally:
        stop_worker(worker)
        portal.terminate()
        portal.wait(30)
    assert len(queries) > 30
    assert empty == []
