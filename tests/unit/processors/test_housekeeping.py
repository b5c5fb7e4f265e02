"""The schedule of periodic tasks: a success waits an interval, a failure the retry wait."""
from solas.processors.housekeeping import (
    Outcome,
    Task,
    default_tasks,
    microseconds,
    next_wait_s,
)
from solas.settings import load_settings


def test_a_failed_run_is_retried_sooner_than_the_next_round():
    task = Task("digests", 86400.0, 300.0, lambda settings: Outcome(True, ""))
    assert next_wait_s(task, Outcome(True, "3 digests sent")) == 86400.0
    assert next_wait_s(task, Outcome(False, "SMTP server not reached")) == 300.0


def test_the_tasks_follow_the_settings():
    settings = load_settings({"SOLAS_DIGEST_INTERVAL": "3600", "SOLAS_DIGEST_RETRY": "60",
                              "SOLAS_LEDGER_PRUNE_INTERVAL": "900"})
    tasks = {t.name: t for t in default_tasks(settings)}
    assert (tasks["digests"].interval_s, tasks["digests"].retry_s) == (3600.0, 60.0)
    assert tasks["ledger_prune"].interval_s == 900.0
    assert settings.ledger_horizon_s == 7 * 86400.0


def test_intervals_are_whole_microseconds():
    assert microseconds(1.5) == 1_500_000 and microseconds(7 * 86400.0) == 604_800_000_000
