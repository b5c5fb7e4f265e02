"""``solas db init`` on the real Cassandra: table options are upgraded in place."""
import dataclasses
import uuid

import pytest

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
