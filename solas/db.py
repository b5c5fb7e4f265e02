"""``solas db init``: every schema of a deployment, created or upgraded in place."""
from __future__ import annotations

import asyncio

from solas.settings import Settings
from solas.stores import cassandra, mariadb
from solas.topics import ensure_topics


def init_all(settings: Settings) -> list[str]:
    """Create/upgrade MariaDB tables, the Cassandra keyspace and the Kafka topics;
    returns one summary line per store.  Idempotent."""
    lines = [f"MariaDB {settings.mariadb['db']}: {len(mariadb.init_schema(settings))} "
             f"DDL statements run ({settings.survey} schema)"]
    cluster, session = cassandra.connect(settings)
    try:
        ran = cassandra.init_schema(session, settings)
    finally:
        cluster.shutdown()
    lines.append(f"Cassandra keyspace {settings.cassandra_keyspace}: {len(ran)} statements run")
    created = asyncio.run(ensure_topics(settings))
    lines.append(f"Kafka topics created: {', '.join(created) or 'none (all exist)'}")
    return lines
