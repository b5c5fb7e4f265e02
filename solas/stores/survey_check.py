"""One survey per database: which survey's schema a MariaDB database or a Cassandra
keyspace holds, and the refusal to run one survey on another's.

A ZTF worker on a database made by a Rubin ``solas db init`` can store nothing (its
``objects`` rows lack ``diaObjectId``, which has no default), and a ``solas db init`` of
one survey on the other's database would add the first survey's tables beside the
second's.  ``solas db init`` and every worker therefore look first and refuse, naming
both surveys.  The survey of a database is read from its own tables: the key column of
``objects`` (MariaDB) and the light-curve tables (Cassandra), both from the column specs
(:mod:`solas.schema.tables`), so databases made before this check are judged too.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from solas.schema.tables import lightcurve_tables, mariadb_tables
from solas.settings import SURVEYS, Settings
from solas.stores.faults import classify_fault

log = logging.getLogger(__name__)
T = TypeVar("T")
SURVEY_NAMES = {"ztf": "ZTF", "lsst": "Rubin"}
#: Longest wait of a starting worker for a store that does not answer yet, s.
STORE_WAIT_S = 300.0


class SurveyMismatch(RuntimeError):
    """A database or keyspace holds the schema of another survey than the deployment's."""


def objects_key(survey: str) -> str:
    """The key column of the ``objects`` table of ``survey``."""
    spec = next(t for t in mariadb_tables(survey) if t.name == "objects")
    return str(spec.primary_key[0])


def survey_of_columns(columns: Iterable[str]) -> str | None:
    """The survey whose ``objects`` key is among ``columns`` (of a database's
    ``objects`` table); None if none is (no table yet)."""
    present = {c.lower() for c in columns}
    found = [s for s in SURVEYS if objects_key(s).lower() in present]
    return found[0] if len(found) == 1 else None


def survey_of_tables(tables: Iterable[str]) -> str | None:
    """The survey whose light-curve detections table is among ``tables`` (of a
    keyspace; Cassandra keeps names in lower case); None if none is."""
    present = {t.lower() for t in tables}
    found = [s for s in SURVEYS if lightcurve_tables(s)["detections"].name.lower() in present]
    return found[0] if len(found) == 1 else None


def mismatch_message(store: str, held: str, settings: Settings, how: str) -> str:
    """The refusal: what holds which survey, what this deployment is, and what to do."""
    want = settings.survey
    return (f"{store} holds the {SURVEY_NAMES[held]} ({held}) schema, but this deployment's "
            f"survey is {SURVEY_NAMES[want]} ({want}, SOLAS_SURVEY): one survey per "
            f"database. Run the {want} deployment on {how}, or set SOLAS_SURVEY={held} to "
            f"use this one.")


def check_survey(store: str, held: str | None, settings: Settings, how: str) -> None:
    """Raise :class:`SurveyMismatch` if ``held`` (the survey found) is another survey."""
    if held is not None and held != settings.survey:
        raise SurveyMismatch(mismatch_message(store, held, settings, how))


def mariadb_survey(settings: Settings) -> str | None:
    """The survey of the configured MariaDB database (None: no ``objects`` table)."""
    from solas.stores import mariadb

    with mariadb.connect(settings, database=False) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA=%s AND TABLE_NAME='objects'",
                       (settings.mariadb["db"],))
        return survey_of_columns(row[0] for row in cursor.fetchall())


def cassandra_survey(session: Any, keyspace: str) -> str | None:
    """The survey of a Cassandra keyspace (None: no light-curve table)."""
    rows = session.execute("SELECT table_name FROM system_schema.tables "
                           "WHERE keyspace_name=%s", (keyspace,))
    return survey_of_tables(row.table_name for row in rows)


def check_mariadb(settings: Settings) -> None:
    """Refuse a MariaDB database holding the other survey's schema."""
    check_survey(f"MariaDB database {settings.mariadb['db']}", mariadb_survey(settings),
                 settings, "another database (SOLAS_MARIADB_URL; without a database "
                 "name in it, each survey has its own)")


def check_cassandra(session: Any, settings: Settings) -> None:
    """Refuse a Cassandra keyspace holding the other survey's schema."""
    keyspace = settings.cassandra_keyspace
    check_survey(f"Cassandra keyspace {keyspace}", cassandra_survey(session, keyspace),
                 settings, "another keyspace (SOLAS_CASSANDRA_KEYSPACE; by default "
                 "each survey has its own)")


def when_answering(what: str, call: Callable[[], T], wait_s: float = STORE_WAIT_S) -> T:
    """``call()``, retried while it fails for a transient reason (the store not up
    yet), for at most ``wait_s``."""
    deadline = time.monotonic() + wait_s
    pause = 1.0
    while True:
        try:
            return call()
        except SurveyMismatch:
            raise
        except Exception as exc:  # drivers raise many kinds
            if classify_fault(exc).permanent or time.monotonic() > deadline:
                raise
            log.warning("%s: store not answering (%s); retrying in %.0f s", what, exc, pause)
            time.sleep(pause)
            pause = min(2 * pause, 10.0)


def check_worker_stores(settings: Settings, agents: Iterable[str]) -> None:
    """Before a worker starts: refuse the stores of its ``agents`` (ingest: Cassandra;
    sherlock, filter, annotation: MariaDB) if they hold another survey's schema."""
    agents = set(agents)
    if agents & {"sherlock", "filter", "annotation"}:
        when_answering("survey check of MariaDB", lambda: check_mariadb(settings))
    if "ingest" in agents:
        from solas.stores import cassandra

        def check() -> None:
            cluster, session = cassandra.connect(settings)
            try:
                check_cassandra(session, settings)
            finally:
                cluster.shutdown()
        when_answering("survey check of Cassandra", check)
