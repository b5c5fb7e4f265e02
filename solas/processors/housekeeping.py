"""Periodic tasks of the filter workers, one worker at a time, on a schedule in MariaDB.

Each task (e-mail digests, pruning the ``filter_emitted`` ledger) has a row in
``housekeeping``: the worker holding its lease (``owner``, ``lease_until``) and when it
is next due (``next_run``).  Every filter worker polls (:func:`run_due_tasks`): it takes
or renews the lease of each task (one statement: a lease held by another worker and not
expired is left alone), and runs the tasks it holds that are due.  A run that succeeds
sets ``next_run`` one interval later; one that fails (the SMTP server away, a digest
refused) sets it ``retry_s`` later and records why.  The schedule is in MariaDB, so a
restarted worker neither sends again early nor forgets a due run; a worker that stops
renewing loses its leases after ``housekeeping_lease_s`` and another worker takes over.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from solas.processors.digest import send_queued
from solas.settings import Settings
from solas.stores import mariadb

log = logging.getLogger(__name__)
PRUNE_ROWS = 10_000
"""Ledger rows deleted per statement (short transactions beside the filter stage's)."""

#: Take the lease if it is free, expired or ours; renew it if it is ours.  MariaDB
#: assigns left to right: ``owner`` is already the new value in the second assignment.
LEASE_SQL = (
    "INSERT INTO housekeeping (task, owner, lease_until, next_run) VALUES "
    "(%s, %s, UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND, UTC_TIMESTAMP(6)) "
    "ON DUPLICATE KEY UPDATE "
    "owner = IF(owner IS NULL OR lease_until IS NULL OR lease_until < UTC_TIMESTAMP(6) "
    "OR owner = VALUES(owner), VALUES(owner), owner), "
    "lease_until = IF(owner = VALUES(owner), VALUES(lease_until), lease_until)")
DUE_SQL = ("SELECT owner = %s, next_run IS NULL OR next_run <= UTC_TIMESTAMP(6) "
           "FROM housekeeping WHERE task = %s")
DONE_SQL = ("UPDATE housekeeping SET next_run = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND, "
            "last_run = %s, last_error = %s WHERE task = %s AND owner = %s")


class Outcome(NamedTuple):
    """How a task's run went."""

    ok: bool
    detail: str
    """What it did, or why it failed."""


class Task(NamedTuple):
    """A periodic task: its name, interval and wait after a failure (s), and its run
    (blocking, given the settings)."""

    name: str
    interval_s: float
    retry_s: float
    run: Callable[[Settings], Outcome]


def send_digests_task(settings: Settings) -> Outcome:
    """Send the e-mail digests; failed if the SMTP server is away or refused one."""
    try:
        done = send_queued(settings)
    except OSError as exc:  # SMTP away: every match stays queued
        return Outcome(False, f"SMTP server {settings.smtp} not reached: {exc}")
    if done.failed:
        return Outcome(False, f"{done.failed} digests refused ({done.sent} sent)")
    return Outcome(True, f"{done.sent} digests sent")


def prune_ledger(settings: Settings) -> Outcome:
    """Delete the ``filter_emitted`` entries older than the replay horizon, in chunks."""
    deleted = 0
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        while True:
            cursor.execute("DELETE FROM filter_emitted WHERE emitted < UTC_TIMESTAMP(6) - "
                           f"INTERVAL %s MICROSECOND LIMIT {PRUNE_ROWS}",
                           (microseconds(settings.ledger_horizon_s),))
            deleted += cursor.rowcount
            if cursor.rowcount < PRUNE_ROWS:
                return Outcome(True, f"{deleted} ledger entries pruned")


def default_tasks(settings: Settings) -> list[Task]:
    """The periodic tasks of a filter worker."""
    return [Task("digests", settings.digest_interval_s, settings.digest_retry_s,
                 send_digests_task),
            Task("ledger_prune", settings.ledger_prune_interval_s,
                 settings.ledger_prune_interval_s, prune_ledger)]


def microseconds(seconds: float) -> int:
    """``seconds`` as whole microseconds (MariaDB INTERVAL ... MICROSECOND)."""
    return round(seconds * 1e6)


def next_wait_s(task: Task, outcome: Outcome) -> float:
    """Seconds until ``task`` is due again after ``outcome``."""
    return task.interval_s if outcome.ok else task.retry_s


def holds_due(cursor: Any, task: Task, owner: str, lease_s: float) -> bool:
    """Take or renew the lease of ``task``; True if ``owner`` holds it and it is due."""
    cursor.execute(LEASE_SQL, (task.name, owner, microseconds(lease_s)))
    cursor.execute(DUE_SQL, (owner, task.name))
    row = cursor.fetchone()
    return bool(row and row[0] and row[1])


def run_due_tasks(settings: Settings, owner: str, tasks: Sequence[Task] | None = None
                  ) -> dict[str, Outcome]:
    """Run the ``tasks`` (default :func:`default_tasks`) that ``owner`` holds and that are
    due (blocking); returns their outcomes by name.  A task that raises is a failed run."""
    outcomes: dict[str, Outcome] = {}
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        for task in tasks if tasks is not None else default_tasks(settings):
            if not holds_due(cursor, task, owner, settings.housekeeping_lease_s):
                continue
            cursor.execute("SELECT UTC_TIMESTAMP(6)")
            started = cursor.fetchone()[0]
            try:
                outcome = task.run(settings)
            except Exception as exc:  # noqa: BLE001 (MariaDB away mid-run, a bug: retry later)
                outcome = Outcome(False, f"{type(exc).__name__}: {exc}")
            cursor.execute(DONE_SQL, (microseconds(next_wait_s(task, outcome)), started,
                                      None if outcome.ok else outcome.detail[:4000],
                                      task.name, owner))
            (log.info if outcome.ok else log.error)("%s: %s", task.name, outcome.detail)
            outcomes[task.name] = outcome
    return outcomes
