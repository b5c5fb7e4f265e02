"""The real local stack: readiness, idempotent ``up``, recovery after ``kill -9``, ``down``."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pymysql
import pytest

from solas.db import init_all
from solas.settings import Settings
from solas.stack import down, services, status, up
from solas.stack.kafka import kafka_port, list_topics
from solas.stack.process import is_running
from solas.stores.mariadb import readonly_credentials

pytestmark = pytest.mark.integration
#: A no-op ``up`` only probes each service; seconds.
NOOP_UP_S = 10.0


def mariadb_select_one(settings: Settings, user: str, password: str) -> int:
    db = settings.mariadb
    conn = pymysql.connect(host="127.0.0.1", port=db["port"], user=user, password=password,
                           database=db["db"], connect_timeout=5)
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


def test_status_all_ready(stack: Settings) -> None:
    statuses = status(stack)
    assert set(statuses) == {"cassandra", "kafka", "mariadb", "prometheus"}
    for st in statuses.values():
        assert st.running and st.ready and st.pid, st
    cli = subprocess.run([sys.executable, "-m", "solas.stack.cli", "status"],
                         env={**os.environ, "SOLAS_HOME": str(stack.home)},
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert all(name in cli.stdout for name in statuses)


def test_up_again_is_a_fast_no_op(stack: Settings) -> None:
    before = {name: st.pid for name, st in status(stack).items()}
    started = time.monotonic()
    up(stack)
    assert time.monotonic() - started < NOOP_UP_S
    assert {name: st.pid for name, st in status(stack).items()} == before


def test_up_for_a_database_not_made_yet_is_ready_at_once(stack: Settings) -> None:
    fresh = stack.with_database("solas_not_made_yet")
    with pymysql.connect(**{k: v for k, v in stack.mariadb.items() if k != "db"}) as conn, \
            conn.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS solas_not_made_yet")
    started = time.monotonic()
    up(fresh)  # the server is up: only the database is missing, and db init makes it
    assert time.monotonic() - started < NOOP_UP_S
    assert status(fresh)["mariadb"].ready


def test_readonly_account_can_only_select(stack: Settings, isolate) -> None:
    """The owner account the stack declares may create the read-only account (solas db
    init does, with the settings' credentials), which can then only SELECT."""
    settings = isolate(stack, "ztf", "stack_readonly")
    init_all(settings)
    user, password = readonly_credentials(settings)
    assert mariadb_select_one(settings, user, password) == 1
    db = settings.mariadb
    conn = pymysql.connect(host="127.0.0.1", port=db["port"], user=user,
                           password=password, database=db["db"])
    with conn, conn.cursor() as cursor, pytest.raises(pymysql.err.OperationalError,
                                                      match="denied"):
        cursor.execute("CREATE TABLE ro_must_not_create (x INT)")


def test_up_recovers_after_kill_9(stack: Settings) -> None:
    victims = [svc for svc in services(stack) if svc.name in ("mariadb", "kafka")]
    old = {svc.name: svc.pid() for svc in victims}
    for pid in old.values():
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(is_running(pid) for pid in old.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(svc.ready() for svc in victims)
    up(stack)
    statuses = status(stack)
    for name, pid in old.items():
        assert statuses[name].ready and statuses[name].pid not in (None, pid)
    assert isinstance(list_topics(kafka_port(stack.kafka)), list)
    assert mariadb_select_one(stack, stack.mariadb["user"], stack.mariadb["password"]) == 1


def test_down_then_status_reports_not_running(stack: Settings) -> None:
    """Runs last in this module and starts the stack again for the tests after it."""
    try:
        down(stack)
        for st in status(stack).values():
            assert not st.running and not st.ready and st.pid is None, st
    finally:
        up(stack)
    assert all(st.ready for st in status(stack).values())
