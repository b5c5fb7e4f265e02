"""Permanent store faults never stall a stage (issue 24, item 1): tables altered under a
running worker make MariaDB refuse some alerts (a CHECK constraint: only those alerts go
to the dead-letter topic, the rest of their batch is stored) and then every alert (a NOT
NULL column without a default: the whole batch goes there, with the error); once the
table is repaired the stage goes on storing new alerts.  Each phase replays its own
cloned objects of the real ZTF sample through ingest, sherlock and filter."""
from __future__ import annotations

import asyncio

import pytest

from solas.db import init_all
from solas.replay import Message, messages_from_paths, produce
from solas.stores import mariadb
from solas.surveys import decode_packet, normalise
from solas.topics import (
    DEADLETTER,
    INGESTED,
    SHERLOCKED,
    end_offsets,
    ensure_topics,
    read_topic,
    stage_topic,
)
from solas.workers import metric, read_metrics, start_worker, stop_worker, wait_for_done
from tests.integration.conftest import empty_database, execute

pytestmark = pytest.mark.integration
FOLDER = ("alerts", "ztf", "pittgoogle-labelled")
TIMEOUT_S = 300


def clone_rounds(settings, rounds: int) -> list[tuple[list[Message], list[str]]]:
    """``rounds`` clones of every sample alert, each round its own objects, with the
    object ids of its alerts."""
    messages = list(messages_from_paths([settings.data_dir.joinpath(*FOLDER)], "ztf",
                                        clone=rounds))
    ids = [normalise(decode_packet(m.value, "ztf"), "ztf").object_id for m in messages]
    size = len(messages) // rounds
    return [(messages[k * size:(k + 1) * size], ids[k * size:(k + 1) * size])
            for k in range(rounds)]


def stored(settings, ids) -> set[str]:
    """The object ids of ``ids`` that have an ``objects`` row."""
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT objectId FROM objects WHERE objectId IN ("
                       + ", ".join(["%s"] * len(set(ids))) + ")", sorted(set(ids)))
        return {row[0] for row in cursor.fetchall()}


def filter_letters(settings) -> list[dict]:
    """Headers (text) and key of every dead letter of the filter stage."""
    def keep(record):
        headers = {k: v.decode() for k, v in record.headers}
        return {**headers, "key": record.key.decode()}
    letters = asyncio.run(read_topic(settings, stage_topic(settings, DEADLETTER), keep=keep))
    return [m for m in letters if m.get("solas-stage") == "filter"]


def run_phase(settings, worker, messages) -> None:
    """Replay ``messages`` and wait until each stage has finished all it was sent."""
    asyncio.run(produce(settings, messages, settings.raw_topic, progress=False))
    for stage, topic in (("ingest", settings.raw_topic),
                         ("sherlock", stage_topic(settings, INGESTED)),
                         ("filter", stage_topic(settings, SHERLOCKED))):
        sent = sum(asyncio.run(end_offsets(settings, topic)).values())
        wait_for_done(worker, stage, sent, TIMEOUT_S)


@pytest.fixture()
def ztf(stack, isolate):
    """A ZTF deployment in a database of its own, emptied first (a failed run may have
    left its altered table)."""
    settings = empty_database(isolate(stack, "ztf", "ztf_store_faults"))
    init_all(settings)
    return settings


def test_altered_tables_send_batches_to_the_dead_letter_topic_and_the_stage_goes_on(ztf):
    asyncio.run(ensure_topics(ztf))
    (a, a_ids), (b, b_ids), (c, c_ids) = clone_rounds(ztf, 3)
    assert not set(a_ids) & set(b_ids) and not set(b_ids) & set(c_ids)
    refused = sorted(set(a_ids))[:2]
    env = {"SOLAS_APP_ID": ztf.app_id, "SOLAS_RAW_TOPIC": ztf.raw_topic}
    worker = start_worker(ztf, ["ingest", "sherlock", "filter"], 8, env)
    try:
        # A: a constraint refuses two objects: only their alerts are dead letters
        execute(ztf, "ALTER TABLE objects ADD CONSTRAINT refuse_two CHECK (objectId NOT IN "
                "(%s, %s))", tuple(refused))
        run_phase(ztf, worker, a)
        letters = filter_letters(ztf)
        assert sorted(m["key"] for m in letters) == sorted(i for i in a_ids if i in refused)
        assert all(m["solas-step"] == "store" and "(4025)" in m["solas-reason"]
                   and m["solas-origin"].startswith(stage_topic(ztf, SHERLOCKED) + "/")
                   for m in letters)
        assert stored(ztf, a_ids) == set(a_ids) - set(refused)

        # B: a NOT NULL column without a default: MariaDB refuses every alert
        execute(ztf, "ALTER TABLE objects DROP CONSTRAINT refuse_two")
        execute(ztf, "ALTER TABLE objects ADD COLUMN added_by_hand INT NOT NULL")
        run_phase(ztf, worker, b)
        letters = [m for m in filter_letters(ztf) if m["key"] not in a_ids]
        assert sorted(m["key"] for m in letters) == sorted(b_ids)
        assert all("(1364)" in m["solas-reason"] and "added_by_hand" in m["solas-reason"]
                   for m in letters)
        assert stored(ztf, b_ids) == set()

        # C: the table repaired, the stage stores new alerts again
        execute(ztf, "ALTER TABLE objects DROP COLUMN added_by_hand")
        run_phase(ztf, worker, c)
        assert stored(ztf, c_ids) == set(c_ids)
        refused_alerts = [i for i in a_ids if i in refused]
        assert len(filter_letters(ztf)) == len(refused_alerts) + len(b_ids)
        samples = read_metrics(worker.metrics_port)
        assert metric(samples, "solas_stage_permanent_failures_batches_total",
                      stage="filter", step="store") >= 2
        assert metric(samples, "solas_stage_deadletter_alerts_total", stage="filter",
                      reason="store") == len(refused_alerts) + len(b_ids)
        assert metric(samples, "solas_stage_retries_batches_total", stage="filter",
                      step="store") == 0
    finally:
        stop_worker(worker)
