"""``solas db init`` on the real Cassandra: table options are upgraded in place; the bench's
own keyspace."""
import dataclasses
import uuid

import pytest

from solas.bench import bench_settings, empty_bench_keyspace
from solas.stores import cassandra

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
    finally:
        for keyspace in (deployment.cassandra_keyspace, bench.cassandra_keyspace):
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()
