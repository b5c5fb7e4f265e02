"""Periodic tasks on the real MariaDB and a real local SMTP server (issue 24, item 6):
e-mail digests are sent by the one worker holding the lease, on a schedule that survives
restarts, and a failed send is retried; the filter_emitted ledger is pruned past the
replay horizon."""
from __future__ import annotations

import dataclasses
import time
import uuid

import orjson
import pytest
from aiosmtpd.controller import Controller

from solas.db import init_all
from solas.processors.housekeeping import default_tasks, run_due_tasks
from solas.stores import mariadb
from tests.integration.conftest import empty_database
from tests.integration.test_digest import Inbox, free_port, queued

pytestmark = pytest.mark.integration


@pytest.fixture()
def deployment(stack, isolate):
    """A fresh ZTF database; digests hourly, retried after 1 s; SMTP on a free port."""
    settings = empty_database(isolate(stack, "ztf", "housekeeping"))
    init_all(settings)
    return dataclasses.replace(settings, smtp=f"127.0.0.1:{free_port()}",
                               digest_interval_s=3600.0, digest_retry_s=1.0,
                               housekeeping_lease_s=60.0)


def queue_matches(settings, n: int, name: str) -> int:
    """A filter with e-mail output of a new user, with ``n`` queued matches; its id."""
    user = f"mail{uuid.uuid4().hex[:8]}"
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO users (username, email) VALUES (%s, %s)",
                       (user, f"{user}@example.org"))
        cursor.execute("INSERT INTO filters (user, name, selected, tables, conditions, run, "
                       "output) VALUES (%s, %s, 'objects.objectId', 'objects', "
                       "'objects.ncand > 1', 1, 1)", (cursor.lastrowid, name))
        fid = cursor.lastrowid
        cursor.executemany("INSERT INTO email_queue (filter_id, object_key, payload) "
                           "VALUES (%s, %s, %s)",
                           [(fid, f"ZTF21aaaa{i:03d}", orjson.dumps({"ncand": i}).decode())
                            for i in range(n)])
        return fid


def task(settings, name: str):
    return [t for t in default_tasks(settings) if t.name == name]


def execute(settings, sql: str, params=()) -> None:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)


def row(settings, name: str) -> tuple:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT owner, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), next_run), "
                       "last_error FROM housekeeping WHERE task=%s", (name,))
        return cursor.fetchone()


@pytest.fixture()
def smtp(deployment):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1",
                            port=int(deployment.smtp.split(":")[1]))
    controller.start()
    yield inbox
    controller.stop()


def test_one_worker_sends_the_digests_and_a_restart_does_not_send_again(deployment, smtp):
    fid = queue_matches(deployment, 2, "lease test")
    digests = task(deployment, "digests")
    first = run_due_tasks(deployment, "worker-a", digests)
    second = run_due_tasks(deployment, "worker-b", digests)  # the lease is worker-a's
    assert first["digests"].ok and second == {}
    assert len(smtp.messages) == 1 and queued(deployment, fid) == 0
    owner, due_in_s, error = row(deployment, "digests")
    assert owner == "worker-a" and 3500 < due_in_s <= 3600 and error is None

    queue_matches(deployment, 1, "after the first digest")
    assert run_due_tasks(deployment, "worker-a", digests) == {}  # restarted: not due yet
    execute(deployment, "UPDATE housekeeping SET lease_until = UTC_TIMESTAMP(6) - "
            "INTERVAL 1 SECOND WHERE task='digests'")  # worker-a died; its lease ran out
    assert run_due_tasks(deployment, "worker-b", digests) == {}  # taken over, not due
    assert row(deployment, "digests")[0] == "worker-b" and len(smtp.messages) == 1
    execute(deployment, "UPDATE housekeeping SET next_run = UTC_TIMESTAMP(6) "
            "WHERE task='digests'")
    assert run_due_tasks(deployment, "worker-b", digests)["digests"].ok
    assert len(smtp.messages) == 2


def test_a_failed_send_is_retried_soon_and_keeps_the_matches(deployment):
    fid = queue_matches(deployment, 3, "retry test")
    digests = task(deployment, "digests")
    failed = run_due_tasks(deployment, "worker-a", digests)["digests"]
    assert not failed.ok and "not reached" in failed.detail
    _, due_in_s, error = row(deployment, "digests")
    assert due_in_s <= 1 and "not reached" in error and queued(deployment, fid) == 3
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1",
                            port=int(deployment.smtp.split(":")[1]))
    controller.start()
    try:
        time.sleep(1.5)
        assert run_due_tasks(deployment, "worker-a", digests)["digests"].ok
    finally:
        controller.stop()
    assert len(inbox.messages) == 1 and queued(deployment, fid) == 0
    assert row(deployment, "digests")[2] is None


def test_the_ledger_is_pruned_past_the_replay_horizon(deployment):
    horizon = dataclasses.replace(deployment, ledger_horizon_s=7 * 86400.0)
    with mariadb.connect(horizon) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO filter_emitted (filter_id, source_id, origin, committed, emitted) "
            "VALUES (1, %s, 'sherlocked/0/1', 1, UTC_TIMESTAMP(6) - INTERVAL %s HOUR)",
            [(100, 8 * 24), (101, 7 * 24 + 1), (102, 6 * 24), (103, 0)])
    done = run_due_tasks(horizon, "worker-a", task(horizon, "ledger_prune"))
    assert done["ledger_prune"].ok and done["ledger_prune"].detail.startswith("2 ")
    with mariadb.connect(horizon) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT source_id FROM filter_emitted ORDER BY source_id")
        assert [r[0] for r in cursor.fetchall()] == [102, 103]
    assert run_due_tasks(horizon, "worker-a", task(horizon, "ledger_prune")) == {}
