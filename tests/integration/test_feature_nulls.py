"""Undefined features arrive in MariaDB as NULL (issue 28), on the real stack: the filter
stage's ``objects`` rows of shipped ZTF alerts, upserted as the stage does, read back
with NULL where the column definitions say, and the definitions are the columns'
comments."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from solas.filters import TIME_COLUMNS
from solas.processors.filter import Parsed, object_rows, upsert
from solas.schema.tables import mariadb_tables
from solas.settings import get_settings
from solas.stores import mariadb
from solas.surveys import normalise, read_alert_file
from tests.integration.conftest import empty_database

pytestmark = pytest.mark.integration
ALERTS = {  # shipped alert -> the columns its definitions make NULL
    "kowalski/20231012/2475433850315015009.avro": ("dmdt_r", "dmdt_r_err"),  # 83 s apart
    "kowalski/20231012/2475433850315015003.avro": (  # one detection, -999 sentinels
        "rastd", "decstd", "sgmag1", "srmag1", "sgscore1", "distpsnr1"),
}


def _alerts():
    root = get_settings().data_dir / "alerts" / "ztf"
    return [normalise(read_alert_file(root / name)[0], "ztf") for name in ALERTS]


async def _store(settings, rows) -> None:
    pool = await mariadb.open_pool(settings)
    try:
        await upsert(pool, "objects", rows, TIME_COLUMNS["ztf"])
    finally:
        pool.close()
        await pool.wait_closed()


def test_undefined_features_are_stored_as_null(stack, isolate):
    settings = empty_database(isolate(stack, "ztf", database="ztf_feature_nulls"))
    mariadb.init_schema(settings)
    alerts = _alerts()
    unscored = alerts[0]._replace(object_id="ZTF00unscored", detections=[
        {k: v for k, v in d.items() if k not in ("rb", "drb")} for d in alerts[0].detections])
    batch = [*alerts, unscored]
    n = len(batch)
    rows = object_rows("ztf", Parsed(batch, [{}] * n, [None] * n, [{}] * n, [None] * n,
                                     [""] * n), dt.datetime.now(dt.UTC).replace(tzinfo=None),
                       settings.features_min_rate_interval_s)
    asyncio.run(_store(settings, rows))
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT * FROM objects")
        names = [d[0] for d in cursor.description]
        stored = {r[0]: dict(zip(names, r)) for r in cursor.fetchall()}
        cursor.execute("SELECT COLUMN_NAME, COLUMN_COMMENT FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'objects'")
        comments = dict(cursor.fetchall())
    for alert, nulls in zip(alerts, ALERTS.values()):
        row = stored[alert.object_id]
        for name in nulls:
            assert row[name] is None, (alert.object_id, name)
        assert row["ncand"] == len(alert.detections) and row["ramean"] is not None
    assert stored["ZTF00unscored"]["ncandgp"] is None
    assert stored[alerts[0].object_id]["ncandgp"] > 0
    spec = next(t for t in mariadb_tables("ztf") if t.name == "objects")
    for name in ("rastd", "sgmag1", "ncandgp", "dmdt_r"):
        assert comments[name] == spec.column(name).definition
