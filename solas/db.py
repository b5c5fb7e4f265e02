"""``solas db init``: every schema of a deployment, created or upgraded in place.

An upgrade only adds: each live MariaDB and Cassandra table is compared with its column
spec (:mod:`solas.schema.tables`, whose Rubin columns follow every known alert schema,
lsst-alert-packet's and the setting ``lsst_schema_dir``'s) and the missing columns are
added with ``ALTER TABLE``; nothing is dropped or retyped.  The summary names them.
A database or keyspace holding the other survey's schema is refused
(:mod:`solas.stores.survey_check`).
"""
from __future__ import annotations

import asyncio
import re

from solas.settings import Settings
from solas.stores import cassandra, mariadb
from solas.stores.survey_check import check_cassandra, check_mariadb
from solas.topics import ensure_topics

_GRANTED = re.compile(r"^GRANT SELECT ON `[^`]+`\.`([^`]+)`")
_ADDED = re.compile(r'ALTER TABLE (?:\S+\.)?[`"]?([^`".\s]+)[`"]? ADD (?:COLUMN )?[`"]?([^`"\s]+)')


def added_columns(statements: list[str]) -> list[str]:
    """``table.column`` of each column that the MariaDB or CQL ``statements`` add."""
    return [f"{m.group(1)}.{m.group(2)}" for m in map(_ADDED.match, statements) if m]


def _summary(store: str, statements: list[str]) -> str:
    added = added_columns(statements)
    return (f"{store}: {len(statements)} statements run; "
            f"columns added: {', '.join(added) if added else 'none'}")


def _account_summary(settings: Settings, statements: list[str]) -> str:
    tables = [m.group(1) for m in map(_GRANTED.search, statements) if m]
    return (f"MariaDB read-only account {settings.readonly_account}: SELECT on "
            f"{', '.join(tables)} only; statements limited to "
            f"{settings.readonly_statement_time_s:g} s; password in "
            f"{settings.readonly_password_path}")


def init_all(settings: Settings) -> list[str]:
    """Create/upgrade MariaDB tables and the read-only account (SELECT on the tables a
    filter may name, an account-level statement time limit), the Cassandra keyspace and
    the Kafka topics; returns one summary line per store (MariaDB, Cassandra, Kafka, then
    the account), naming the columns added.  Idempotent.

    Raises :class:`~solas.stores.survey_check.SurveyMismatch`, before changing anything,
    if the database or the keyspace holds the other survey's schema."""
    check_mariadb(settings)
    cluster, session = cassandra.connect(settings)
    try:
        check_cassandra(session, settings)
        lines = [_summary(f"MariaDB {settings.mariadb['db']} ({settings.survey} schema)",
                          mariadb.init_schema(settings))]
        account = _account_summary(settings, mariadb.init_readonly_account(settings))
        ran = cassandra.init_schema(session, settings)
    finally:
        cluster.shutdown()
    lines.append(_summary(f"Cassandra keyspace {settings.cassandra_keyspace}", ran))
    created = asyncio.run(ensure_topics(settings))
    lines.append(f"Kafka topics created: {', '.join(created) or 'none (all exist)'}")
    return [*lines, account]
