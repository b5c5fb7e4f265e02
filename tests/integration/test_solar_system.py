"""Rubin solar-system alerts on the real services: ingest (Cassandra ssSources), the
sherlock skip, the filter stage's ss_objects / ss_sources upserts, filters on them
(streaming and on demand), the API answer, and ``solas db init`` on an existing
database."""
from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from solas.db import init_all
from solas.filters import compile_filter, object_id_list
from solas.ingest import decode_batch, ingested_record, position_headers
from solas.processors.filter import FilterProcessor, Record, parse_records
from solas.processors.filters import ActiveFilter, run_filter
from solas.processors.sherlock import NO_CONTEXT, located, with_context
from tables.sky import SkyState
from solas.stores import cassandra, mariadb
from solas.surveys import encode_packet, read_alert_file
from tests.integration.conftest import empty_database, make_user
from web import db as web_db
from web import objects as web_objects
from web.lightcurves import CassandraReader
from web.queries import ReadOnlyRunner, compile_for
from web.queries import run_filter as run_on_demand


@pytest.fixture(scope="module")
def lsst(stack, isolate):
    """A Rubin deployment of its own, its database made afresh."""
    settings = isolate(stack, "lsst", database="lsst_sso")
    empty_database(settings)
    init_all(settings)
    return settings


def real_packets(settings) -> list[bytes]:
    """The ampel lsst.v9_0 packets (9 of 10 solar-system) and the fink lsst.v10_0
    alerts of two Parquet files with solar-system alerts, as Confluent packets."""
    lsst = settings.data_dir / "alerts" / "lsst"
    raws = read_alert_file(lsst / "ampel-v9" / "2025-09-20.partition0.tar.gz")
    for name in ("part-1-0-204159575.parquet", "part-1-0-417693031.parquet"):
        raws += read_alert_file(lsst / "fink-transfer-v10" / name)
    return [encode_packet(r) for r in raws]


def sherlocked(alerts) -> list[Record]:
    """``sherlocked`` records as the sherlock stage makes them for these alerts (the
    diaObject alerts with an empty context: no catalogues are loaded here)."""
    records = []
    for offset, alert in enumerate(alerts):
        value = ingested_record(alert, 1_700_000_000_000)
        headers = position_headers(alert)
        seen = located(Record(str(alert.object_id).encode(), value, headers, None, 0))
        assert seen["solar_system"] == alert.is_solar_system
        context = NO_CONTEXT if seen["solar_system"] else {"sherlock": {}, "tns_name": None}
        records.append(Record(str(alert.object_id).encode(), with_context(value, context),
                              headers, TopicPartition("sherlocked", 0), offset))
    return records


async def ingest_and_store(settings, packets):
    batch = decode_batch(packets, "lsst")
    assert batch.dead == []  # solar-system alerts are alerts, not dead letters
    cluster, session = cassandra.connect(settings)
    try:
        stats = await cassandra.CassandraStore(settings, session).write_alerts(batch.alerts)
        detections = {}
        reader = CassandraReader(settings, session)
        for ss in {a.ss_object_id for a in batch.alerts if a.ss_object_id}:
            detections[ss] = await reader.solar_system_detections(ss)
        dia_rows = await reader.light_curve(next(
            a.object_id for a in batch.alerts if a.is_solar_system))
    finally:
        cluster.shutdown()
    pool = await mariadb.open_pool(settings)
    try:
        processor = FilterProcessor(settings, pool, None, SkyState(settings), None,
                                    settings.app_id, "test")
        parsed = parse_records(sherlocked(batch.alerts), "lsst")
        await processor.store(parsed)
        await processor.store(parsed)  # a replay rewrites the same rows
    finally:
        pool.close()
        await pool.wait_closed()
    return batch.alerts, stats, detections, dia_rows


def rows(settings, sql: str, params=()) -> list[dict]:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


@pytest.fixture(scope="module")
def stored(lsst):
    """The real packets ingested into Cassandra and through the filter stage's store."""
    return asyncio.run(ingest_and_store(lsst, real_packets(lsst)))


def test_solar_system_alerts_are_stored_and_queryable(lsst, stored):
    alerts, stats, detections, dia_rows = stored
    sso = [a for a in alerts if a.is_solar_system]
    dia = [a for a in alerts if not a.is_solar_system]
    assert len(sso) >= 9 + 5 and dia
    # Cassandra: one ssSources row per detection, read back by ssObjectId
    assert stats.rows["ssSources"] == len(sso)
    for alert in sso:
        [point] = [p for p in detections[alert.ss_object_id]
                   if p["diaSourceId"] == alert.source_id]
        assert point["midpointMjdTai"] == alert.mjd and point["band"] == \
            alert.detections[-1]["band"]
        assert point["psfFlux"] == pytest.approx(alert.detections[-1]["psfFlux"], rel=1e-6)
        ss = alert.solar_system["ssSource"]
        geometry = "helioRange" if "helioRange" in ss else "heliocentricDist"
        assert point[geometry] == pytest.approx(ss[geometry], rel=1e-6)
    # an ssObjectId is no diaObject: nothing in the diaObject light-curve tables
    assert all(not r for r in dia_rows.values())
    # MariaDB: ss_sources and ss_objects, no objects rows for solar-system alerts
    ids = sorted({a.ss_object_id for a in sso})
    marks = ", ".join(["%s"] * len(ids))
    sources = rows(lsst, f"SELECT * FROM ss_sources WHERE ssObjectId IN ({marks})", ids)
    assert sorted(r["diaSourceId"] for r in sources) == sorted(a.source_id for a in sso)
    objects = {r["ssObjectId"]: r for r in rows(
        lsst, f"SELECT * FROM ss_objects WHERE ssObjectId IN ({marks})", ids)}
    assert sorted(objects) == ids
    assert rows(lsst, f"SELECT diaObjectId FROM objects WHERE diaObjectId IN ({marks})",
                ids) == []
    assert len(rows(lsst, "SELECT diaObjectId FROM objects")) == len(
        {a.object_id for a in dia})
    for alert in sso:
        obj = objects[alert.ss_object_id]
        band = alert.detections[-1]["band"]
        assert obj["nDiaSources"] == 1 and obj[f"n{band}Sources"] == 1
        assert obj[f"{band}_latestMJD"] == obj["lastDiaSourceMjdTai"] == \
            obj["firstDiaSourceMjdTai"] == alert.mjd
        assert obj[f"{band}_psfFlux"] == pytest.approx(alert.detections[-1]["psfFlux"],
                                                       rel=1e-6)
        orbit = alert.solar_system.get("mpc_orbits") or alert.solar_system["MPCORB"]
        assert obj["q"] == pytest.approx(orbit["q"]) and obj["e"] == pytest.approx(orbit["e"])
        assert obj["designation"] == (orbit.get("designation") or orbit["mpcDesignation"])
        assert obj["phaseAngle"] == pytest.approx(alert.solar_system["ssSource"]["phaseAngle"],
                                                  rel=1e-6)


def test_filters_select_solar_system_objects_streaming_and_on_demand(lsst, stored):
    sso = [a for a in stored[0] if a.is_solar_system]
    near = sorted(a.ss_object_id for a in sso if
                  (a.solar_system.get("mpc_orbits") or a.solar_system.get("MPCORB"))["q"] < 2)
    assert 0 < len(near) < len(sso)
    selected = "ss_objects.designation, ss_sources.band, ss_sources.phaseAngle"
    tables, conditions = "ss_objects, ss_sources", "ss_objects.q < 2 AND ss_sources.psfFlux > 0"

    async def streaming():
        pool = await mariadb.open_pool(lsst)
        ro = await mariadb.open_pool(lsst, *mariadb.readonly_credentials(lsst))
        try:
            compiled = compile_filter(selected, tables, conditions, "lsst")
            active = ActiveFilter(1, None, "near", True, 1, 2, None, None, None, compiled)
            ids = object_id_list(sorted({a.object_id for a in sso}), "lsst")
            return await run_filter(ro, pool, active, ids, 1000, 10)
        finally:
            for p in (pool, ro):
                p.close()
                await p.wait_closed()

    run = asyncio.run(streaming())
    assert run.error is None
    assert sorted({r[0] for r in run.rows}) == near  # the first value is the ssObjectId

    async def on_demand():
        user = make_user(lsst)
        pool = await web_db.open_pool(lsst)
        try:
            compiled = await compile_for(pool, "lsst", selected, tables, conditions, user)
            runner = ReadOnlyRunner(lsst, *mariadb.readonly_credentials(lsst))
            return (await run_on_demand(runner, compiled, limit=1000)).rows
        finally:
            pool.close()
            await pool.wait_closed()

    found = asyncio.run(on_demand())
    assert len(found) == len(run.rows)
    designations = {r["designation"] if isinstance(r, dict) else r[0] for r in found}
    assert designations == {r[1] for r in run.rows}


def test_the_api_answer_of_an_ss_object_id(lsst, stored):
    alert = next(a for a in stored[0] if a.is_solar_system)

    async def answer():
        pool = await web_db.open_pool(lsst)
        cluster, session = cassandra.connect(lsst)
        try:
            assert await web_objects.context(pool, "lsst", alert.object_id, None) is None
            info = await web_objects.solar_system(pool, CassandraReader(lsst, session), "lsst",
                                                  alert.object_id)
            return web_objects.api_solar_system(info, lite=False)
        finally:
            cluster.shutdown()
            pool.close()
            await pool.wait_closed()

    body = asyncio.run(answer())
    assert body["ssObjectId"] == alert.ss_object_id and body["solar_system"] is True
    assert body["designation"] and body["orbit"]["q"] > 0
    assert [d["diaSourceId"] for d in body["ssSourcesList"]] == [alert.source_id]


def test_db_init_adds_the_solar_system_tables_to_an_existing_database(lsst, stored):
    with mariadb.connect(lsst) as conn, conn.cursor() as cursor:
        cursor.execute("DROP TABLE ss_sources")
        cursor.execute("ALTER TABLE ss_objects DROP COLUMN earth_moid")
    init_all(lsst)
    names = {r["COLUMN_NAME"] for r in rows(
        lsst, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s "
              "AND TABLE_NAME IN ('ss_objects', 'ss_sources')", (lsst.mariadb["db"],))}
    assert {"earth_moid", "ssObjectId", "diaSourceId", "phaseAngle"} <= names
