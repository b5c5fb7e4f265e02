"""GW sky maps in the stream: a real map uploaded as a watchmap (the portal's own
function) while two filter workers run; real ZTF alerts placed inside and outside its
90% region; the stored ``mma_area_hits`` against :func:`solas.skymatch.evaluate_skymap`
on the original file, written once per object however often the alerts are replayed.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import time
import uuid

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from solas.db import init_all
from solas.replay import Message, produce
from solas.skymatch import evaluate_skymap, read_moc_fits, read_skymap
from solas.stores import mariadb
from solas.surveys import clone_record, encode_packet, normalise, read_alert_file
from solas.surveys.clone import ClonePlan, RowSpec, clone_row
from solas.surveys.ztf import DETECTION_SPEC
from solas.topics import ensure_topics
from solas.workers import alerts_done, start_worker, stop_worker
from tests.integration.conftest import empty_database
from web import db as web_db
from web import objects as web_objects
from web import watchmaps
from web.publish import Publisher

pytestmark = pytest.mark.integration
TIMEOUT_S = 300
MAP = "S200129m.bayestar.multiorder.fits"
FOLDER = ("alerts", "ztf", "pittgoogle-labelled")
POSITION_ONLY = RowSpec(ras=DETECTION_SPEC.ras, decs=DETECTION_SPEC.decs)


@pytest.fixture(scope="module")
def gw(stack, isolate):
    """A ZTF deployment with a database of its own (emptied first)."""
    settings = isolate(stack, "ztf", database="ztf_gw")
    empty_database(settings)
    init_all(settings)
    return settings


def query(settings, sql: str, params=()) -> list[tuple]:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def targets(skymap, n_in: int, n_out: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres of ``n_in`` pixels inside the 90% region and ``n_out`` in the
    92-99% ring, degrees."""
    inner = np.flatnonzero(skymap.level <= 0.9)
    ring = np.flatnonzero((skymap.level > 0.92) & (skymap.level < 0.99))
    pick = np.concatenate([rng.choice(inner, n_in, replace=False),
                           rng.choice(ring, n_out, replace=False)])
    return skymap.pixel_centres(pick)


def placed_alerts(settings, ra, dec) -> tuple[list[Message], dict[str, tuple]]:
    """One clone (new ids) of an alert of each real object, the first ones moved so that
    the detection sits at (ra[k], dec[k]); the others stay where they are.  Returns the
    messages and {object id: (ra, dec)} of every alert."""
    folder = settings.data_dir.joinpath(*FOLDER)
    raws = [raw for path in sorted(folder.glob("*.avro")) for raw in read_alert_file(path)]
    first = {}
    for raw in raws:
        first.setdefault(normalise(raw, "ztf").object_id, raw)
    messages, moved = [], {}
    for k, raw in enumerate(first.values()):
        copy = clone_record(raw, "ztf", 7, np.random.default_rng(k), jitter_arcmin=0.0)
        if k < ra.size:
            cand = copy.record["candidate"]
            plan = ClonePlan(0, ra[k] - cand["ra"], dec[k] - cand["dec"], 0.0)
            record = dict(copy.record, candidate=clone_row(cand, POSITION_ONLY, plan))
            if record.get("prv_candidates") is not None:
                record["prv_candidates"] = [clone_row(r, POSITION_ONLY, plan)
                                            for r in record["prv_candidates"]]
            copy = copy._replace(record=record)
        alert = normalise(copy, "ztf")
        if k < ra.size:
            assert (alert.ra, alert.dec) == pytest.approx((ra[k] % 360, dec[k]), abs=1e-9)
        moved[alert.object_id] = (alert.ra, alert.dec)
        messages.append(Message(str(alert.object_id).encode(), encode_packet(copy)))
    return messages, moved


async def upload(settings, user: int, path, name: str, public: bool) -> int:
    """The map through the portal's own upload function (pool + change publisher)."""
    pool = await web_db.open_pool(settings)
    await web_db.ensure_web_tables(pool)  # as the portal does at start-up
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
    await producer.start()
    try:
        fields = {"name": name, "description": "", "public": public, "active": True,
                  "level": 0.9}
        ar_id, made = await watchmaps.create(pool, Publisher(producer, settings), settings,
                                             user, fields, path, path.name)
        assert made.gw is not None and made.source == "skymap 90%"
        return ar_id
    finally:
        await producer.stop()
        pool.close()
        await pool.wait_closed()


async def object_page(settings, object_id, user_id):
    pool = await web_db.open_pool(settings)
    try:
        return await web_objects.context(pool, "ztf", object_id, user_id)
    finally:
        pool.close()
        await pool.wait_closed()


def wait_filtered(settings, workers, target: int) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        for w in workers:
            assert w.process.poll() is None, f"worker died; see {w.log_path}"
        if sum(alerts_done(w.metrics_port, "filter") for w in workers) >= target:
            return
        time.sleep(0.5)
    raise TimeoutError(f"filter did not reach {target}")


def test_gw_map_uploaded_while_workers_run_gives_hits_with_contour_and_density(gw, tmp_path):
    source = gw.data_dir / "skymaps" / MAP
    whole = read_skymap(source, max_level=1.0)
    ra, dec = targets(whole, 30, 12, np.random.default_rng(5))
    messages, moved = placed_alerts(gw, ra, dec)
    expected = evaluate_skymap([p[0] for p in moved.values()], [p[1] for p in moved.values()],
                               whole)
    inside = {oid: (c, p) for oid, c, p in zip(moved, expected.contour, expected.probdens)
              if c <= 90.0}
    assert len(inside) == 30 and len(moved) == len(messages) > 42
    name = f"astro-{uuid.uuid4().hex[:6]}"
    with mariadb.connect(gw) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO users (username, email) VALUES (%s, %s)",
                       (name, f"{name}@example.org"))
        user = cursor.lastrowid
    asyncio.run(ensure_topics(gw))
    env = {"SOLAS_APP_ID": gw.app_id, "SOLAS_RAW_TOPIC": gw.raw_topic}
    workers = [start_worker(gw, ["ingest", "sherlock", "filter"], i, env) for i in (8, 9)]
    try:
        time.sleep(15)  # both workers own partitions before the map exists
        copy = tmp_path / MAP  # the upload function deletes its file
        shutil.copy(source, copy)
        ar_id = asyncio.run(upload(gw, user, copy, "S200129m", public=False))
        time.sleep(5)  # every worker follows watchmap-changes
        for rounds in (1, 2):  # the same alerts twice: the hits are upserted, not doubled
            asyncio.run(produce(gw, messages, gw.raw_topic, progress=False))
            wait_filtered(gw, workers, rounds * len(messages))
    finally:
        for w in workers:
            stop_worker(w)

    (mw_id, event_id, event_date, area90, params, level, moc90), = query(
        gw, "SELECT a.mw_id, event_id, event_date, area90_deg2, params, level, moc90 FROM "
            "mma_areas a JOIN watchmaps w ON w.mw_id = a.mw_id WHERE w.ar_id=%s", (ar_id,))
    assert event_id == "G361581"  # OBJECT of the S200129m map header
    assert event_date == dt.datetime(2020, 1, 29, 6, 54, 58, 432376)
    assert area90 == pytest.approx(whole.area_deg2(0.9), rel=1e-9) and level == 90.0
    params = json.loads(params)
    assert params["DISTMEAN"] == pytest.approx(908.4386811451134) and params["CREATOR"] == "BAYESTAR"
    assert read_moc_fits(moc90) == whole.credible_region_moc(0.9)

    rows = query(gw, "SELECT objectId, contour, probdens FROM mma_area_hits WHERE mw_id=%s",
                 (mw_id,))
    stored = {oid: (c, p) for oid, c, p in rows}
    assert len(rows) == len(stored) == 30
    assert set(stored) == set(inside)
    for oid, (contour, probdens) in inside.items():
        assert stored[oid][0] == pytest.approx(contour, rel=1e-9)
        assert stored[oid][1] == pytest.approx(probdens, rel=1e-9)
    areas = query(gw, "SELECT objectId FROM area_hits WHERE ar_id=%s", (ar_id,))
    assert {r[0] for r in areas} == set(inside)

    best = min(inside, key=lambda oid: inside[oid][0])
    page = asyncio.run(object_page(gw, best, user))
    assert [(h["event_id"], h["ar_id"]) for h in page["mma_hits"]] == [("G361581", ar_id)]
    assert page["mma_hits"][0]["contour"] == pytest.approx(inside[best][0], rel=1e-9)
    hidden = asyncio.run(object_page(gw, best, None))  # a private watchmap's GW hits
    assert hidden["mma_hits"] == [] and hidden["area_hits"] == []
