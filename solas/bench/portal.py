"""Benchmark of the portal on the running stack (issue 5): ``/api/query/`` latency over
many stored objects with an indexed and an unindexed filter, object pages per second,
and WebSocket fan-out latency to many clients.

Synthetic objects are clones of the stored real ones (new ids ``ZTF99...`` or
``diaObjectId >= 9e18``, random sky positions, latest-detection times spread over the
last 30 days); they are deleted at the end.  Run: ``solas bench --stage portal --alerts 100000`` (or ``python -m solas.bench.portal --objects 100000 ...````
with the stack's environment.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import string
import time
import uuid

import aiohttp
import numpy as np
import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer

from solas.features.sky import healpix_index
from solas.settings import Settings, get_settings
from solas.stores import mariadb
from solas.topics import LIVE, stage_topic
from web.accounts import add_user
from web.config import WebConfig
from web.main import create_app
from web.sky import ID_COLUMNS, POSITION_COLUMNS

LSST_FIRST_ID = 9_000_000_000_000_000_000
TIME_COLUMNS = {"ztf": ("jdmax", 2400000.5), "lsst": ("lastDiaSourceMjdTai", 0.0)}
FILTERS = {  # (indexed, unindexed) conditions; the unindexed one reads every row
    "ztf": ("objects.jdmax > jdnow() - 0.1",
            "objects.ncand >= 3 AND objects.decmean > 89"),
    "lsst": ("objects.lastDiaSourceMjdTai > mjdnow() - 0.1",
             "objects.nDiaSources >= 3 AND objects.decl > 89"),
}


def synthetic_id(survey: str, n: int):
    """The n-th synthetic object id."""
    if survey == "lsst":
        return LSST_FIRST_ID + n
    letters = "".join(string.ascii_lowercase[(n // 26 ** k) % 26] for k in range(6, -1, -1))
    return f"ZTF99{letters}"


def clone_objects(settings: Settings, count: int, batch: int = 5000) -> int:
    """Insert ``count`` clones of the stored objects; returns how many."""
    survey = settings.survey
    oid = ID_COLUMNS[survey]
    ra_col, dec_col = POSITION_COLUMNS[survey]
    time_col, offset = TIME_COLUMNS[survey]
    rng = np.random.default_rng(5)
    with mariadb.connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM objects WHERE {synthetic_filter(survey, negate=True)} "
                    "LIMIT 1000")
        columns = [d[0] for d in cur.description]
        templates = [dict(zip(columns, row)) for row in cur.fetchall()]
        if not templates:
            raise RuntimeError("no stored objects to clone: replay some alerts first")
        sql = (f"INSERT INTO objects ({', '.join(f'`{c}`' for c in columns)}) VALUES "
               f"({', '.join(['%s'] * len(columns))})")
        now = time.time() / 86400.0 + 40587.0 + offset
        for start in range(0, count, batch):
            n = min(batch, count - start)
            ra = rng.uniform(0, 360, n)
            dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
            cells = healpix_index(ra, dec)
            times = now - rng.uniform(0, 30, n)
            rows = []
            for i in range(n):
                row = dict(templates[(start + i) % len(templates)])
                row.update({oid: synthetic_id(survey, start + i), ra_col: float(ra[i]),
                            dec_col: float(dec[i]), "hpx16": int(cells[i]),
                            time_col: float(times[i])})
                rows.append([row[c] for c in columns])
            cur.executemany(sql, rows)
    return count


def synthetic_filter(survey: str, negate: bool = False) -> str:
    """SQL condition selecting the synthetic objects (or the others)."""
    cond = (f"diaObjectId >= {LSST_FIRST_ID}" if survey == "lsst"
            else "objectId LIKE 'ZTF99%'")
    return f"NOT ({cond})" if negate else cond


def drop_clones(settings: Settings) -> None:
    """Delete the synthetic objects."""
    with mariadb.connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM objects WHERE {synthetic_filter(settings.survey)}")


def percentiles(values: list[float]) -> dict:
    """p50, p95, p99 and max of latencies, seconds."""
    a = np.asarray(values)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "n": int(a.size)}


async def query_latency(session: aiohttp.ClientSession, url: str, token: str,
                        conditions: str, survey: str, n: int) -> dict:
    """Sequential /api/query/ calls with one filter."""
    data = {"selected": f"objects.{ID_COLUMNS[survey]}", "tables": "objects",
            "conditions": conditions, "limit": 1000}
    times, rows = [], 0
    for _ in range(n):
        started = time.perf_counter()
        async with session.post(f"{url}/api/query/", data=data,
                                headers={"Authorization": f"Token {token}"}) as r:
            body = await r.json()
            if r.status != 200:
                raise RuntimeError(f"query failed: {body}")
        times.append(time.perf_counter() - started)
        rows = len(body)
    return {**percentiles(times), "rows": rows, "conditions": conditions}


async def page_rate(session: aiohttp.ClientSession, url: str, ids: list, seconds: float,
                    concurrency: int) -> dict:
    """Object pages per second with ``concurrency`` parallel clients."""
    done, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()

    async def worker(k: int) -> None:
        nonlocal done
        i = k
        while time.perf_counter() < deadline:
            async with session.get(f"{url}/objects/{ids[i % len(ids)]}") as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"object page {ids[i % len(ids)]}: {r.status}")
            done += 1
            i += concurrency

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"pages": done, "seconds": elapsed, "pages_per_s": done / elapsed,
            "concurrency": concurrency}


async def fanout(session: aiohttp.ClientSession, url: str, settings: Settings,
                 clients: int, messages: int) -> dict:
    """Latency from the broker's ack of a ``live`` message to each client's receipt."""
    sockets = [await session.ws_connect(f"{url.replace('http', 'ws')}/ws/live")
               for _ in range(clients)]
    for ws in sockets:
        await ws.receive()  # hello
    received: list[float] = []
    acked: dict[int, float] = {}

    async def read(ws) -> None:
        for _ in range(messages):
            msg = await ws.receive()
            data = orjson.loads(msg.data)
            received.append((data["row"]["n"], time.perf_counter()))

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, linger_ms=0)
    await producer.start()
    tag = uuid.uuid4().hex[:6]
    try:
        for n in range(messages):
            message = {"filter_id": 0, "filter_name": f"bench-{tag}", "user": None,
                       "public": True, "object_id": n, "UTC": "", "row": {"n": n}}
            await producer.send_and_wait(stage_topic(settings, LIVE), orjson.dumps(message))
            acked[n] = time.perf_counter()
            await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*readers), 30)
    finally:
        await producer.stop()
        for ws in sockets:
            await ws.close()
    latencies = [at - acked[n] for n, at in received]
    return {**percentiles(latencies), "clients": clients, "messages": messages}


async def run(settings: Settings, objects: int, queries: int, clients: int,
              page_seconds: float) -> dict:
    """Every measurement on an in-process server."""
    app = create_app(settings, WebConfig(query_timeout_s=30.0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    name = f"bench{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, add_user, settings, name, f"{name}@example.org",
                               password, "power", False)
    results = {"objects": objects}
    try:
        # no connection limit: every WebSocket client holds a connection
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            async with session.post(f"{url}/api/auth-token/", data={
                    "username": name, "password": password}) as r:
                token = (await r.json())["token"]
            indexed, unindexed = FILTERS[settings.survey]
            results["query_indexed"] = await query_latency(session, url, token, indexed,
                                                           settings.survey, queries)
            results["query_unindexed"] = await query_latency(session, url, token, unindexed,
                                                             settings.survey, queries)
            ids = await loop.run_in_executor(None, real_ids, settings)
            results["object_page"] = await page_rate(session, url, ids, page_seconds, 8)
            results["websocket_fanout"] = await fanout(session, url, settings, clients, 20)
    finally:
        await runner.cleanup()
    return results


def real_ids(settings: Settings) -> list:
    """Ids of the stored real (not synthetic) objects."""
    with mariadb.connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {ID_COLUMNS[settings.survey]} FROM objects WHERE "
                    f"{synthetic_filter(settings.survey, negate=True)} LIMIT 200")
        return [r[0] for r in cur.fetchall()]


def bench_portal(settings: Settings, objects: int, queries: int = 200, clients: int = 200,
                 page_seconds: float = 15.0) -> dict:
    """Store ``objects`` synthetic objects, measure the portal and API against them on an
    in-process server, and delete them; returns the results."""
    started = time.perf_counter()
    clone_objects(settings, objects)
    print(f"{objects} synthetic objects stored in {time.perf_counter() - started:.0f} s")
    try:
        return asyncio.run(run(settings, objects, queries, clients, page_seconds))
    finally:
        drop_clones(settings)


def main(argv: list[str] | None = None) -> int:
    """``python -m solas.bench.portal``: print the results as JSON (and write --json)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--page-seconds", type=float, default=15.0)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args(argv)
    results = bench_portal(get_settings(), args.objects, args.queries, args.clients,
                           args.page_seconds)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
