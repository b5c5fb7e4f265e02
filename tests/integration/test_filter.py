"""The filter stage on the real stack: two workers, a watchlist made while they run,
active filters to their own topics, the live topic, and the watchdog on MariaDB; filters
of several shapes streamed over every shipped alert of each survey select the same
objects as the same text run on demand.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import astropy.units as u
import numpy as np
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from mocpy import MOC

from catalogs.load import load_catalogues
from solas.db import init_all
from solas.filters import TIME_COLUMNS, build_query, compile_filter, object_id_list
from solas.processors.filter import OBJECT_ID
from solas.processors.filters import ActiveFilter, run_filters
from solas.replay import messages_from_paths, produce, replay
from solas.skymatch import moc_to_fits_bytes
from solas.stores import mariadb
from solas.surveys import (DecodeError, decode_packet, iter_alert_paths, normalise,
                           read_alert_file)
from solas.topics import (ANNOTATIONS, INGESTED, LIVE, SHERLOCKED, WATCHLIST_CHANGES,
                          end_offsets, ensure_topics, filter_topic, partitions, read_topic,
                          stage_topic)
from solas.workers import alerts_done, start_worker, stop_worker
from tests.integration.conftest import empty_database, execute, make_filter, make_user
from web import db as web_db
from web.queries import ReadOnlyRunner, compile_for, run_filter

pytestmark = pytest.mark.integration
TIMEOUT_S = 300
FOLDER = ("alerts", "ztf", "pittgoogle-labelled")


def sample_alerts(settings):
    folder = settings.data_dir.joinpath(*FOLDER)
    return [normalise(raw, "ztf") for path in sorted(folder.glob("*.avro"))
            for raw in read_alert_file(path)]


def make_watchlist(settings, user: int, alerts) -> int:
    wl_id = execute(settings, "INSERT INTO watchlists (user, name, active, radius) "
                    "VALUES (%s, 'sample objects', 1, 3)", (user,))
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.executemany("INSERT INTO watchlist_cones (wl_id, name, ra, decl) "
                           "VALUES (%s, %s, %s, %s)",
                           [(wl_id, a.object_id, a.ra, a.dec) for a in alerts])
    return wl_id


async def publish(settings, topic: str, key: str, value: dict) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, orjson.dumps(value), key=key.encode())
    finally:
        await producer.stop()


def wait_for_stage(workers, stage: str, target: float) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        for w in workers:
            assert w.process.poll() is None, f"worker died; see {w.log_path}"
        if sum(alerts_done(w.metrics_port, stage) for w in workers) >= target:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{stage} did not reach {target}")


def test_two_workers_see_a_new_watchlist_and_emit_each_match_once(ztf):
    alerts = sample_alerts(ztf)
    chosen = alerts[::5]  # every fifth object goes on the watchlist
    user = make_user(ztf)
    env = {"SOLAS_APP_ID": ztf.app_id, "SOLAS_RAW_TOPIC": ztf.raw_topic}
    asyncio.run(ensure_topics(ztf))
    workers = [start_worker(ztf, ["ingest", "sherlock", "filter"], i, env) for i in (5, 6)]
    try:
        time.sleep(15)  # both workers up and owning partitions before the list exists
        wl_id = make_watchlist(ztf, user, chosen)
        asyncio.run(publish(ztf, stage_topic(ztf, WATCHLIST_CHANGES), str(wl_id), {"wl_id": wl_id,
                                                                 "action": "upsert"}))
        fid = make_filter(ztf, user, f"objects, watchlist:{wl_id}", "objects.ncand >= 1",
                          "objects.objectId, objects.ncand, objects.jdmax, watchlist_hits.name")
        time.sleep(8)  # the filter refresh interval is 5 s
        topic = filter_topic(ztf, fid)
        live_start = asyncio.run(end_offsets(ztf, stage_topic(ztf, LIVE)))
        stats = asyncio.run(replay(ztf, [str(ztf.data_dir.joinpath(*FOLDER))],
                                   progress=False))
        wait_for_stage(workers, "ingest", stats.messages)
        wait_for_stage(workers, "sherlock", sum(asyncio.run(end_offsets(ztf, stage_topic(ztf, INGESTED))).values()))
        total = sum(asyncio.run(end_offsets(ztf, stage_topic(ztf, SHERLOCKED))).values())
        wait_for_stage(workers, "filter", total)
    finally:
        for w in workers:
            stop_worker(w)
    # a worker stopped mid-transaction holds back later records until the broker aborts it
    settle_s = ztf.filter_transaction_timeout_s + 30
    records = asyncio.run(read_topic(ztf, topic, settle_s=settle_s))
    out = [orjson.loads(r.value) for r in records]
    names = sorted(m["objectId"] for m in out)
    # each message names the alert that produced it (header, JSON body as it was): one of
    # that object's alerts, and never one alert twice
    candids = {}
    for a in alerts:
        candids.setdefault(a.object_id, set()).add(a.source_id)
    sent_ids = [int(dict(r.headers)["solas-alert-id"]) for r in records]
    assert all(i in candids[m["objectId"]] for i, m in zip(sent_ids, out))
    assert len(sent_ids) == len(set(sent_ids))
    assert all("solas-alert-id" not in m for m in out)
    # every object on the list matches; an object with two alerts in different batches
    # matches once per alert (its latest detection, jdmax, tells them apart), never twice
    # for the same alert
    assert sorted(set(names)) == sorted({a.object_id for a in chosen})
    alerts_sent = [(m["objectId"], m["jdmax"]) for m in out]
    assert len(alerts_sent) == len(set(alerts_sent))
    assert all(m["name"] == m["objectId"] and m["UTC"] for m in out)
    live = asyncio.run(read_topic(ztf, stage_topic(ztf, LIVE), live_start,
                                  keep=lambda r: orjson.loads(r.value), settle_s=settle_s))
    assert sorted(m["object_id"] for m in live if m["filter_id"] == fid) == names
    on_demand = build_query("objects.objectId", f"objects, watchlist:{wl_id}",
                            "objects.ncand >= 1", "ztf", limit=1000)
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:
        cursor.execute(on_demand)
        assert sorted(r[0] for r in cursor.fetchall()) == sorted(set(names))
    assert total >= len(alerts)


async def _run_with_a_sleeper(settings, good: ActiveFilter, slow: ActiveFilter, ids):
    pool = await mariadb.open_pool(settings)
    ro = await mariadb.open_pool(settings, *mariadb.readonly_credentials(settings), maxsize=4)
    try:
        start = time.perf_counter()
        runs = await run_filters(ro, pool, [slow, good], {"objects": ids}, 100, time_limit_s=2.0)
        return runs, time.perf_counter() - start
    finally:
        pool.close(), ro.close()
        await pool.wait_closed(), await ro.wait_closed()


def test_a_sleeping_filter_is_killed_and_the_others_still_answer(ztf):
    compiled = compile_filter("objects.objectId", "objects", "objects.ncand >= 0", "ztf")
    good = ActiveFilter(1, None, "good", True, 1, 2, None, None, None, compiled)
    # The vetter refuses SLEEP; a filter made behind its back shows the watchdog works.
    slow = good._replace(id=2, name="slow", compiled=compiled._replace(
        where="SLEEP(30) = 0"))
    ids = object_id_list([a.object_id for a in sample_alerts(ztf)], "ztf")
    runs, seconds = asyncio.run(_run_with_a_sleeper(ztf, good, slow, ids))
    by_name = {r.filter.name: r for r in runs}
    assert by_name["good"].error is None
    assert by_name["slow"].error and by_name["slow"].rows == []
    assert seconds < 6.0


def test_a_fast_annotation_reruns_its_filters_once(ztf):
    alert = sample_alerts(ztf)[0]
    user = make_user(ztf)
    topic_name = f"finder{uuid.uuid4().hex[:6]}"
    execute(ztf, "INSERT INTO annotators (topic, owner, active, public, fast) "
            "VALUES (%s, %s, 1, 1, 1)", (topic_name, user))
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:  # the object is known
        cursor.execute("INSERT IGNORE INTO objects (objectId, ncand) VALUES (%s, 1)",
                       (alert.object_id,))
    fid = make_filter(ztf, user, f"objects, annotator:{topic_name}",
                      f"{topic_name}.classification = 'SN'",
                      f"objects.objectId, {topic_name}.classification")
    execute(ztf, "UPDATE filters SET run=2 WHERE id=%s", (fid,))
    asyncio.run(ensure_topics(ztf))
    note = {"objectId": alert.object_id, "topic": topic_name, "classification": "SN",
            "version": "1", "classdict": {"p": 0.9}}
    env = {"SOLAS_APP_ID": ztf.app_id}
    worker = start_worker(ztf, ["annotation"], 7, env)
    try:
        for _ in range(2):  # the same annotation twice: filters re-run once
            asyncio.run(publish(ztf, stage_topic(ztf, ANNOTATIONS), alert.object_id, note))
        wait_for_stage([worker], "annotation", 2)
    finally:
        stop_worker(worker)
    out = asyncio.run(read_topic(ztf, filter_topic(ztf, fid),
                                 keep=lambda r: orjson.loads(r.value)))
    assert [(m["objectId"], m["classification"]) for m in out] == [(alert.object_id, "SN")]
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT classification FROM annotations WHERE objectId=%s AND "
                       "topic=%s", (alert.object_id, topic_name))
        assert cursor.fetchall() == (("SN",),)


def test_kill_9_mid_stream_neither_loses_nor_repeats_a_match(ztf):
    folder = ztf.data_dir.joinpath(*FOLDER)
    clones = list(messages_from_paths([folder], "ztf", clone=20))
    ids = [normalise(decode_packet(m.value, "ztf"), "ztf").object_id for m in clones]
    messages = [m for m, i in zip(clones, ids) if ids.count(i) == 1]  # one alert per object:
    objects = {i for i in ids if ids.count(i) == 1}                   # one match per object
    user = make_user(ztf)
    fid = make_filter(ztf, user, "objects", "objects.ncand >= 1", "objects.objectId")
    asyncio.run(ensure_topics(ztf))
    asyncio.run(produce(ztf, messages, ztf.raw_topic, progress=False))
    env = {"SOLAS_APP_ID": ztf.app_id, "SOLAS_BATCH_SIZE": "50"}
    worker = start_worker(ztf, ["ingest", "sherlock", "filter"], 5, env)
    try:
        wait_for_stage([worker], "filter", len(messages) // 4)
    finally:
        stop_worker(worker, kill=True)
    worker = start_worker(ztf, ["ingest", "sherlock", "filter"], 5, env)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            assert worker.process.poll() is None, f"worker died; see {worker.log_path}"
            if stored_objects(ztf, objects) == len(objects) and sum(asyncio.run(
                    end_offsets(ztf, filter_topic(ztf, fid))).values()) >= len(objects):
                break
            time.sleep(1)
        time.sleep(5)  # anything still in flight would show up as a repeat
    finally:
        stop_worker(worker)
    out = asyncio.run(read_topic(ztf, filter_topic(ztf, fid),
                                 keep=lambda r: orjson.loads(r.value)["objectId"]))
    assert sorted(out) == sorted(objects)  # every match once: none lost, none repeated
    assert stored_objects(ztf, objects) == len(objects)
    assert len(asyncio.run(partitions(ztf, filter_topic(ztf, fid)))) == 1  # made by the stage


def stored_objects(settings, objects) -> int:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM objects WHERE objectId IN (%s)"
                       % ", ".join(["%s"] * len(objects)), tuple(objects))
        return cursor.fetchone()[0]


# ------------------------------------------- on demand vs streaming, every shipped alert

# (selected, tables, conditions) of several shapes; {wl} and {ar} are the test's own
# watchlist and watchmap.  Each selects the object's time column, so a streamed match
# can be traced to the object state it was made on.
FILTER_SHAPES = {
    "ztf": [
        ("objects.objectId, objects.jdmax, objects.ncand", "objects", "objects.ncand >= 3"),
        ("objects.objectId, objects.jdmax, sherlock_classifications.classification",
         "objects, sherlock_classifications",
         "sherlock_classifications.classification <> 'ORPHAN'"),
        ("objects.objectId, objects.jdmax, watchlist_hits.name", "objects, watchlist:{wl}",
         "objects.ncand >= 1"),
        ("objects.objectId, objects.jdmax", "objects, watchmap:{ar}", "objects.ncand >= 1"),
        ("objects.objectId, objects.jdmax, objects.rmag, objects.dmdt_r", "objects",
         "objects.rmag < 18.5 OR objects.dmdt_r > 0.01 OR objects.dmdt_g > 0.01"),
        ("objects.objectId, objects.jdmax, objects.gmag", "objects",
         "objects.gmag IS NOT NULL AND objects.ncand >= 2 ORDER BY objects.jdmax DESC"),
    ],
    "lsst": [
        ("objects.diaObjectId, objects.lastDiaSourceMjdTai, objects.nDiaSources", "objects",
         "objects.nDiaSources >= 3"),
        ("objects.diaObjectId, objects.lastDiaSourceMjdTai, "
         "sherlock_classifications.classification", "objects, sherlock_classifications",
         "sherlock_classifications.classification IN ('ORPHAN', 'SN', 'NT') AND "
         "objects.decl < -40"),  # no shipped Rubin alert sits near a catalogued source
        ("objects.diaObjectId, objects.lastDiaSourceMjdTai, watchlist_hits.name",
         "objects, watchlist:{wl}", "objects.nDiaSources >= 1"),
        ("objects.diaObjectId, objects.lastDiaSourceMjdTai", "objects, watchmap:{ar}",
         "objects.nDiaSources >= 1"),
        ("objects.diaObjectId, objects.lastDiaSourceMjdTai, objects.latest_psfFlux",
         "objects", "flux2mag(objects.latest_psfFlux) < 23 OR objects.jump1 > 3"),
        ("objects.diaObjectId, objects.lastDiaSourceMjdTai", "objects",
         "objects.r_psfFlux IS NOT NULL ORDER BY objects.lastDiaSourceMjdTai DESC"),
    ],
}
MONOTONE = (0, 2, 3)
"""Shapes whose answer cannot change as an object's light curve grows: every match
streamed is also found on demand."""


def shipped_alerts(settings) -> list:
    """Every shipped alert of the deployment's survey that decodes, normalised."""
    root = settings.data_dir / "alerts"
    alerts = []
    for folder in sorted(root.glob(f"{settings.survey}*")):
        for path in iter_alert_paths([folder]):
            try:
                raws = read_alert_file(path, settings.survey)
            except DecodeError:
                continue
            for raw in raws:
                try:
                    alerts.append(normalise(raw, settings.survey))
                except DecodeError:  # dead-lettered by ingest too
                    continue
    return alerts


def make_watchmap(settings, user: int, ra, dec) -> int:
    """An active watchmap: the order-10 cells (~3.4') holding the given positions."""
    moc = MOC.from_lonlat(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg, max_norder=10)
    return execute(settings, "INSERT INTO watchmaps (user, name, moc, active) VALUES "
                   "(%s, 'sample cells', UNHEX(%s), 1)", (user, moc_to_fits_bytes(moc).hex()))


async def on_demand(settings, user: int, selected: str, tables: str, conditions: str):
    """Rows of a filter run on the whole database as the portal and API run it."""
    pool = await web_db.open_pool(settings)
    runner = ReadOnlyRunner(settings, *mariadb.readonly_credentials(settings))
    try:
        compiled = await compile_for(pool, settings.survey, selected, tables, conditions,
                                     user)
        return (await run_filter(runner, compiled, limit=100_000)).rows
    finally:
        pool.close()
        await pool.wait_closed()


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_on_demand_and_streaming_select_the_same_objects_over_every_shipped_alert(
        stack, isolate, survey):
    settings = isolate(stack, survey, database=f"{survey}_every")
    empty_database(settings)
    init_all(settings)
    load_catalogues(settings, progress=False)
    oid, time_column = OBJECT_ID[survey], TIME_COLUMNS[survey]
    alerts = shipped_alerts(settings)
    alerts = [a for a in alerts if not a.is_solar_system]  # no objects row: not here
    objects = sorted({a.object_id for a in alerts}, key=str)
    latest = {a.object_id: a for a in alerts}
    user = make_user(settings)
    wl_id = make_watchlist(settings, user, [latest[o] for o in objects[::3]])  # one cone each
    ar_id = make_watchmap(settings, user, [latest[o].ra for o in objects[1::4]],
                          [latest[o].dec for o in objects[1::4]])
    shapes = [(s, t.format(wl=wl_id, ar=ar_id), c) for s, t, c in FILTER_SHAPES[survey]]
    fids = [make_filter(settings, user, t, c, s) for s, t, c in shapes]
    asyncio.run(ensure_topics(settings))
    env = {"SOLAS_APP_ID": settings.app_id, "SOLAS_RAW_TOPIC": settings.raw_topic}
    workers = [start_worker(settings, ["ingest", "sherlock", "filter"], i, env)
               for i in (10, 11)]
    try:
        stats = asyncio.run(replay(settings, sorted(
            str(p) for p in (settings.data_dir / "alerts").glob(f"{survey}*")),
            progress=False))
        wait_for_stage(workers, "ingest", stats.messages)
        wait_for_stage(workers, "sherlock", sum(asyncio.run(end_offsets(
            settings, stage_topic(settings, INGESTED))).values()))
        total = sum(asyncio.run(end_offsets(settings, stage_topic(settings,
                                                                  SHERLOCKED))).values())
        wait_for_stage(workers, "filter", total)
    finally:
        for w in workers:
            stop_worker(w)
    assert total >= len(alerts)  # every decodable alert (at least once: rebalances)
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT {oid}, {time_column} FROM objects")
        final = dict(cursor.fetchall())
    assert sorted(final, key=str) == objects
    for n, (fid, (selected, tables, conditions)) in enumerate(zip(fids, shapes)):
        streamed = asyncio.run(read_topic(settings, filter_topic(settings, fid),
                                          keep=lambda r: orjson.loads(r.value)))
        rows = asyncio.run(on_demand(settings, user, selected, tables, conditions))
        found = {r[0] for r in rows}  # an object near two cones has two rows
        assert 0 < len(found) < len(objects), f"{conditions}: selects none or everything"
        on_final_state = {m[oid] for m in streamed if m[time_column] == final[m[oid]]}
        assert on_final_state == found, f"{tables} WHERE {conditions}"
        assert found <= {m[oid] for m in streamed}
        if n in MONOTONE:
            assert {m[oid] for m in streamed} == found, f"{tables} WHERE {conditions}"
        if "ORDER BY" in conditions:  # on demand in the filter's order
            times = [r[1] for r in rows]
            assert times == sorted(times, reverse=True)
