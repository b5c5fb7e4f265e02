"""One survey per database (issue 24, item 2): ``solas db init`` and a worker of one
survey refuse, naming both surveys, a MariaDB database or a Cassandra keyspace that holds
the other survey's schema, and leave it as it was."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import pytest

from solas.db import init_all
from solas.stores import cassandra, mariadb
from solas.stores.survey_check import SurveyMismatch
from solas.workers import settings_environment, start_worker, stop_worker
from tests.integration.conftest import empty_database

pytestmark = pytest.mark.integration
KEYSPACE = "solas_test_survey_check"


def drop_keyspace(settings, keyspace: str) -> None:
    cluster, session = cassandra.connect(settings)
    try:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
    finally:
        cluster.shutdown()


def tables(settings) -> set[str]:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture(scope="module")
def ztf(stack, isolate):
    """A ZTF deployment on a database and keyspace of its own, made afresh."""
    settings = dataclasses.replace(empty_database(isolate(stack, "ztf", "survey_check")),
                                   cassandra_keyspace_name=f"{KEYSPACE}_ztf")
    drop_keyspace(settings, settings.cassandra_keyspace)
    init_all(settings)
    yield settings
    drop_keyspace(settings, settings.cassandra_keyspace)


def test_db_init_of_rubin_on_the_ztf_database_is_refused_and_changes_nothing(ztf):
    before = tables(ztf)
    rubin = dataclasses.replace(ztf, survey="lsst", cassandra_keyspace_name=f"{KEYSPACE}_new")
    with pytest.raises(SurveyMismatch) as caught:
        init_all(rubin)
    text = str(caught.value)
    assert f"MariaDB database {ztf.mariadb['db']} holds the ZTF (ztf) schema" in text
    assert "survey is Rubin (lsst" in text
    assert tables(ztf) == before and "ss_objects" not in before


def test_db_init_of_rubin_on_the_ztf_keyspace_is_refused(ztf, isolate):
    rubin = dataclasses.replace(empty_database(isolate(ztf, "lsst", "survey_check_lsst")),
                                cassandra_keyspace_name=ztf.cassandra_keyspace)
    with pytest.raises(SurveyMismatch, match=f"Cassandra keyspace {ztf.cassandra_keyspace} "
                                             r"holds the ZTF \(ztf\) schema.*Rubin \(lsst"):
        init_all(rubin)


def test_the_command_line_says_why_and_exits_1(ztf):
    env = {**os.environ, **settings_environment(ztf), "SOLAS_SURVEY": "lsst",
           "SOLAS_CASSANDRA_KEYSPACE": f"{KEYSPACE}_new"}
    done = subprocess.run([sys.executable, "-m", "solas.cli", "db", "init"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ZTF (ztf)" in done.stderr and "Rubin (lsst" in done.stderr


@pytest.mark.parametrize("agents", [["filter"], ["ingest"]])
def test_a_rubin_worker_refuses_the_ztf_stores(ztf, agents):
    rubin = dataclasses.replace(ztf, survey="lsst")  # the ZTF database and keyspace
    worker = start_worker(rubin, agents, 9, {"SOLAS_APP_ID": ztf.app_id})
    try:
        deadline = time.monotonic() + 120
        while worker.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert worker.process.returncode == 1
    finally:
        stop_worker(worker)
    log = worker.log_path.read_text().splitlines()[-1]
    store = "MariaDB database" if agents == ["filter"] else "Cassandra keyspace"
    assert log.startswith(f"solas worker: {store}") and "ZTF (ztf)" in log \
        and "Rubin (lsst" in log
