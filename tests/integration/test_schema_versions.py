"""Rubin schema versions on the real stack.

Every official schema from lsst.v7_0 on: its sample alert, Confluent-framed with the
official id, goes through the ingest step into Cassandra and the filter stage's
``objects`` upsert into MariaDB, and is read back whole.  A new minor version with a
new diaSource and diaObject field (in the folder ``SOLAS_LSST_SCHEMA_DIR``): ``solas db
init`` adds the object column and says so, and a worker stores both new fields."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import math
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from solas.db import init_all
from solas.filters import TIME_COLUMNS
from solas.ingest import decode_batch
from solas.processors.filter import Parsed, object_rows, upsert
from solas.stores import cassandra, mariadb
from solas.surveys import clone_record, encode_packet, read_alert_file, to_confluent
from solas.topics import ensure_topics
from solas.workers import settings_environment, start_worker, stop_worker, wait_for_done
from tests.integration.conftest import empty_database
from tests.unit.surveys.test_schema_changes import (
    NEW_OBJECT_FIELD,
    NEW_SOURCE_FIELD,
    frame,
    with_new_fields,
)
from tests.unit.surveys.test_schema_versions import SAMPLES
from web.lightcurves import CassandraReader

pytestmark = pytest.mark.integration
TIMEOUT_S = 300


def fresh(settings):
    """Settings with their own MariaDB database and Cassandra keyspace, both empty."""
    settings = dataclasses.replace(settings,
                                   cassandra_keyspace_name=f"test_{uuid.uuid4().hex[:8]}")
    empty_database(settings)
    return settings


def drop_keyspace(settings) -> None:
    cluster, session = cassandra.connect(settings)
    try:
        session.execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra_keyspace}", timeout=120)
    finally:
        cluster.shutdown()


def same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and
                      (math.isnan(a) and math.isnan(b) or math.isclose(a, b, rel_tol=1e-6)))


def version_frames() -> dict[int, bytes]:
    """One Confluent frame per official version: a clone of its sample alert (own ids,
    so the versions do not overwrite each other) with the official schema id."""
    frames = {}
    for schema_id, folder in SAMPLES.items():
        raw = read_alert_file(folder / "fakeAlert.avro")[0]
        clone = clone_record(raw, "lsst", schema_id, np.random.default_rng(schema_id))
        frames[schema_id] = encode_packet(to_confluent(clone))
    return frames


async def store(settings, session, alerts) -> None:
    """The ingest step's Cassandra write and the filter stage's ``objects`` upsert."""
    await cassandra.CassandraStore(settings, session).write_alerts(alerts)
    n = len(alerts)
    parsed = Parsed(alerts, [{}] * n, [None] * n, [{}] * n, [None] * n, ["test/0/0"] * n)
    rows = object_rows("lsst", parsed, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    pool = await mariadb.open_pool(settings)
    try:
        await upsert(pool, "objects", rows, TIME_COLUMNS["lsst"])
    finally:
        pool.close()
        await pool.wait_closed()


def stored_object(settings, object_id) -> dict:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT * FROM objects WHERE diaObjectId=%s", (object_id,))
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    assert row is not None, object_id
    return dict(zip(names, row))


def test_every_official_version_is_stored_and_read_back(stack, isolate):
    assert 700 in SAMPLES and 1101 in SAMPLES
    settings = fresh(isolate(stack, "lsst", database="lsst_versions"))
    init_all(settings)
    frames = version_frames()
    batch = decode_batch(list(frames.values()), "lsst")
    assert not batch.dead, [d.reason for d in batch.dead]
    alerts = dict(zip(frames, batch.alerts))
    cluster, session = cassandra.connect(settings)
    try:
        asyncio.run(store(settings, session, batch.alerts))
        reader = CassandraReader(settings, session)
        for schema_id, alert in alerts.items():
            assert alert.schema_version == f"lsst.v{schema_id // 100}_{schema_id % 100}"
            curve = asyncio.run(reader.light_curve(alert.object_id))
            back = {p["diaSourceId"]: p for p in curve["detections"]}
            assert sorted(back) == sorted(p["diaSourceId"] for p in alert.detections)
            for point in alert.detections:
                for name, value in point.items():
                    if value is not None:
                        assert same(back[point["diaSourceId"]][name], value), (schema_id, name)
            row = stored_object(settings, alert.object_id)
            assert row["nDiaSources"] == len(alert.detections), schema_id
            assert row["lastDiaSourceMjdTai"] == max(p["midpointMjdTai"]
                                                     for p in alert.detections)
            for name, value in alert.object.items():
                column = "decl" if name == "dec" else name
                if isinstance(value, (int, float)) and not isinstance(value, bool) \
                        and name not in ("ra", "dec") and math.isfinite(value):
                    assert row[column] is not None, (schema_id, name)
    finally:
        cluster.shutdown()
        drop_keyspace(settings)


def db_init(settings) -> list[str]:
    """``solas db init`` in its own process, with the settings' environment."""
    env = {**os.environ, **settings_environment(settings)}
    done = subprocess.run([sys.executable, "-m", "solas.cli", "db", "init"], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


async def send(settings, packet: bytes, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(settings.raw_topic, packet, key=key)
    finally:
        await producer.stop()


def test_a_new_minor_version_gets_its_columns_from_db_init_and_is_stored(stack, isolate,
                                                                         tmp_path):
    schema, record = with_new_fields(1196)
    (tmp_path / "lsst.v11_96.alert.avsc").write_text(json.dumps(schema))
    base = fresh(isolate(stack, "lsst", database="lsst_newfield"))
    init_all(base)  # the deployment as it was, made from the official schemas
    settings = dataclasses.replace(base, lsst_schema_dir=str(tmp_path))
    try:
        lines = db_init(settings)
        maria = next(line for line in lines if line.startswith("MariaDB"))
        assert f"columns added: objects.{NEW_OBJECT_FIELD}" in maria, lines
        cass = next(line for line in lines if line.startswith("Cassandra"))
        assert cass.endswith("columns added: none"), lines  # new source fields are packed
        again = db_init(settings)
        assert all(line.endswith("columns added: none") for line in again[:2]), again

        asyncio.run(ensure_topics(settings))
        env = {"SOLAS_APP_ID": settings.app_id, "SOLAS_RAW_TOPIC": settings.raw_topic}
        worker = start_worker(settings, ["ingest", "sherlock", "filter"], 31, env)
        try:
            asyncio.run(send(settings, frame(schema, record, 1196), b"new-minor"))
            wait_for_done(worker, "filter", 1, TIMEOUT_S)
        finally:
            stop_worker(worker)
        object_id = record["diaObject"]["diaObjectId"]
        assert stored_object(settings, object_id)[NEW_OBJECT_FIELD] == 0.5
        cluster, session = cassandra.connect(settings)
        try:
            curve = asyncio.run(CassandraReader(settings, session).light_curve(object_id))
        finally:
            cluster.shutdown()
        values = sorted(p[NEW_SOURCE_FIELD] for p in curve["detections"])
        assert values == [0.25, 1.25, 2.25]
    finally:
        drop_keyspace(base)
