"""``solas db init`` on the real Cassandra: table options and light-curve layouts are
upgraded in place; the bench's own keyspace."""
import asyncio
import dataclasses
import struct
import uuid

import pytest

from solas.bench.common import bench_settings, empty_bench_keyspace
from solas.schema.columns import cql_create, cql_insert
from solas.schema.tables import lightcurve_tables
from solas.stack import service
from solas.stores import cassandra
from solas.surveys import normalise, read_alert_file
from web.lightcurves import CassandraReader

pytestmark = pytest.mark.integration


def _compaction(session, keyspace: str) -> dict:
    return dict(session.execute(
        "SELECT compaction FROM system_schema.tables WHERE keyspace_name=%s AND "
        "table_name='cutouts'", (keyspace,)).one().compaction)


def test_init_gives_an_existing_cutout_table_its_compaction_once(stack):
    settings = dataclasses.replace(stack, cassandra_keyspace_name=f"test_{uuid.uuid4().hex[:8]}")
    keyspace = settings.cassandra_keyspace
    cluster, session = cassandra.connect(settings)
    try:
        cassandra.init_schema(session, settings)
        assert _compaction(session, keyspace)["class"].endswith("TimeWindowCompactionStrategy")
        session.execute(f"ALTER TABLE {keyspace}.cutouts WITH compaction = "
                        "{'class': 'SizeTieredCompactionStrategy'}")  # as before the upgrade
        upgrade = [s for s in cassandra.init_schema(session, settings) if s.startswith("ALTER")]
        assert len(upgrade) == 1 and upgrade[0].startswith(
            f"ALTER TABLE {keyspace}.cutouts WITH compaction")
        assert _compaction(session, keyspace)["min_threshold"] == "32"
        assert not [s for s in cassandra.init_schema(session, settings) if "ALTER" in s]
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()


def _count(session, keyspace: str) -> int:
    return session.execute(f"SELECT count(*) FROM {keyspace}.cutouts").one()[0]


def _add_cutout(session, keyspace: str) -> None:
    session.execute(f"INSERT INTO {keyspace}.cutouts (candid, \"cutoutType\", \"objectId\", "
                    "stamp) VALUES (1, 'Science', 'ZTF1', 0x00)")


def test_the_bench_empties_its_own_keyspace_and_leaves_the_deployments_alone(stack):
    deployment = dataclasses.replace(stack, cassandra_keyspace_name=f"test_{uuid.uuid4().hex[:8]}")
    bench = bench_settings(deployment)
    cluster, session = cassandra.connect(deployment)
    try:
        cassandra.init_schema(session, deployment)
        _add_cutout(session, deployment.cassandra_keyspace)
        empty_bench_keyspace(bench)
        _add_cutout(session, bench.cassandra_keyspace)
        assert _count(session, bench.cassandra_keyspace) == 1
        empty_bench_keyspace(bench)  # the next run starts on empty tables
        assert _count(session, bench.cassandra_keyspace) == 0
        assert _count(session, deployment.cassandra_keyspace) == 1
        tables = service(bench, "cassandra").tables_dir / bench.cassandra_keyspace
        assert tables.is_dir() and not list(tables.glob("*/snapshots/dropped-*"))
    finally:
        for keyspace in (deployment.cassandra_keyspace, bench.cassandra_keyspace):
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()


def _sample_alerts(settings, count: int) -> list:
    folder = settings.data_dir / "alerts" / "ztf" / "pittgoogle-labelled"
    raws = (raw for path in sorted(folder.glob("*.avro")) for raw in read_alert_file(path))
    alerts = [normalise(raw, "ztf") for raw in raws]
    return [a for a in alerts if a.detections and a.nondetections][:count]


def _same(stored: dict, point: dict, spec) -> bool:
    """Every declared native value of ``point`` is read back (a float column holds it as a
    32-bit float; a NaN has no value)."""
    kinds = {c.name: c.kind for c in (*spec.columns, *spec.packed)}
    for name, value in point.items():
        if name not in kinds or value is None or value != value:
            continue
        if kinds[name] == "float" and name in spec.column_names:
            value = struct.unpack("f", struct.pack("f", value))[0]
        if stored[name] != value:
            return False
    return True


def test_light_curves_are_read_back_whole_from_old_wide_rows_and_packed_rows(stack):
    settings = dataclasses.replace(stack, cassandra_keyspace_name=f"test_{uuid.uuid4().hex[:8]}")
    keyspace = settings.cassandra_keyspace
    spec = lightcurve_tables("ztf")["detections"]
    wide = spec._replace(columns=(*spec.columns[:-1], *spec.packed), packed=())
    old, new = _sample_alerts(settings, 2)
    cluster, session = cassandra.connect(settings)
    try:
        session.execute(f"CREATE KEYSPACE {keyspace} WITH replication = "
                        f"{settings.cassandra_replication}")
        session.execute(cql_create(wide, keyspace))  # the layout before packing
        insert = session.prepare(cql_insert(wide, keyspace))
        for point in old.detections:
            row = {**point, "objectId": old.object_id}
            session.execute(insert, [row.get(n) for n in wide.column_names])
        cassandra.init_schema(session, settings)  # adds the packed column, drops nothing
        asyncio.run(cassandra.CassandraStore(settings, session).write_alerts([new]))
        reader = CassandraReader(settings, session)
        for alert in (old, new):
            rows = asyncio.run(reader.light_curve(alert.object_id))
            stored = {r["candid"]: r for r in rows["detections"]}
            assert len(stored) == len(alert.detections)
            assert all(_same(stored[p["candid"]], p, spec) for p in alert.detections)
            assert "extra" not in rows["detections"][0]
        assert len(rows["nondetections"]) == len(new.nondetections)
        extra = session.execute(f'SELECT extra FROM {keyspace}.candidates WHERE "objectId"=%s',
                                (new.object_id,)).one().extra
        assert '"rcid":' in extra and '"magpsf"' not in extra
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()
