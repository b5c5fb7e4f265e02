"""Fixtures of the integration tests: the real local stack under ``<repo>/.solas-test``."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka import Consumer, KafkaError
from lasair import lasair_consumer

from solas.db import init_all
from solas.settings import Settings, load_settings
from solas.stack import down, up
from solas.stores import mariadb
from solas.topics import ensure_topics, filter_topic

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings of the test stack: the environment's, with SOLAS_HOME=<repo>/.solas-test
    (or $SOLAS_TEST_HOME, so two test stacks on other ports can run side by side)."""
    home = os.environ.get("SOLAS_TEST_HOME") or str(REPO / ".solas-test")
    return load_settings({**os.environ, "SOLAS_HOME": home})


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    """The running stack (``up``, answering real requests); stopped by pid at the end."""
    up(settings)
    yield settings
    down(settings)


def isolated(settings: Settings, survey: str, database: str = "") -> Settings:
    """Settings for one test on the shared stack: its own consumer group, raw topic,
    pipeline topic namespace and filter-topic prefix, and the survey's own database
    (one survey per database, as in a deployment), or the database suffix ``database``."""
    tag = uuid.uuid4().hex[:8]
    return dataclasses.replace(
        settings.with_database(f"{settings.mariadb['db']}_{database or survey}"),
        survey=survey, app_id=f"solas-test-{tag}",
        raw_topic_name=f"test-{tag}-alerts-{survey}", topic_namespace=f"test-{tag}-",
        topic_prefix=f"test-{tag}-filter-")


@pytest.fixture(scope="session")
def isolate():
    """:func:`isolated`, for tests and module fixtures."""
    return isolated


@pytest.fixture(scope="module")
def ztf(stack: Settings, isolate) -> Settings:
    """A ZTF deployment of the test module's own on the stack, schemas created."""
    settings = isolate(stack, "ztf")
    init_all(settings)
    return settings


def empty_database(settings: Settings) -> Settings:
    """Drop the settings' MariaDB database (left by an earlier run); returns the settings."""
    with mariadb.connect(settings, database=False) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{settings.mariadb['db']}`")
    return settings


def execute(settings: Settings, sql: str, params: tuple = ()) -> int:
    """Run one statement on the deployment's database; its last row id."""
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.lastrowid


def make_user(settings: Settings) -> int:
    """A new portal user (no password); its id."""
    name = f"astro-{uuid.uuid4().hex[:6]}"
    return execute(settings, "INSERT INTO users (username, email) VALUES (%s, %s)",
                   (name, f"{name}@example.org"))


def make_filter(settings: Settings, user: int, tables: str, conditions: str, selected: str,
                run: int = 1, output: int = 2) -> int:
    """An active filter of ``user`` (run 1: on alerts; output 2: its Kafka topic); its id."""
    fid = execute(settings, "INSERT INTO filters (user, name, selected, tables, conditions, "
                  "run, output) VALUES (%s, 'test', %s, %s, %s, %s, %s)",
                  (user, selected, tables, conditions, run, output))
    execute(settings, "UPDATE filters SET topic_name=%s WHERE id=%s",
            (filter_topic(settings, fid), fid))
    return fid


@pytest.fixture(scope="session")
def db_helpers() -> SimpleNamespace:
    """:func:`execute`, :func:`make_user` and :func:`make_filter`, for test modules."""
    return SimpleNamespace(execute=execute, make_user=make_user, make_filter=make_filter)


# ----------------------------------------------- clients of the user-facing Kafka
POLL_S = 30.0
"""Longest wait of a test consumer for its messages, seconds."""


def fill_topic(settings: Settings, topic: str, count: int = 3) -> list[dict]:
    """A new topic on the internal listener with ``count`` JSON messages."""
    values = [{"objectId": f"ZTF{i}", "n": i} for i in range(count)]

    async def produce() -> None:
        await ensure_topics(settings, [topic], 1)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(topic, json.dumps(value).encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    return values


class Outcome:
    """What a consumer got: message values, or the first error it met."""

    def __init__(self) -> None:
        self.values: list[dict] = []
        self.error: KafkaError | None = None

    def on_error(self, error: KafkaError) -> None:
        self.error = self.error or error


def drain(poll, outcome: Outcome, expected: int, timeout_s: float = POLL_S) -> Outcome:
    """Poll until ``expected`` values, an error, or the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(outcome.values) < expected:
        msg = poll(1.0)
        if outcome.error is not None:
            break
        if msg is None:
            continue
        if msg.error():
            outcome.error = msg.error()
            break
        outcome.values.append(json.loads(msg.value()))
    return outcome


def read_anonymously(settings: Settings, topic: str, expected: int) -> Outcome:
    """The unchanged ``lasair_consumer`` on the public listener, as Lasair users run it."""
    consumer = lasair_consumer(settings.kafka_public, f"anon-{uuid.uuid4().hex[:8]}", topic)
    try:
        return drain(consumer.poll, Outcome(), expected)
    finally:
        consumer.close()


def read_as(settings: Settings, topic: str, user: str, password: str, expected: int,
            mechanism: str = "SCRAM-SHA-512") -> Outcome:
    """confluent-kafka with SCRAM on the users' listener."""
    outcome = Outcome()
    consumer = Consumer({
        "bootstrap.servers": settings.kafka_users, "group.id": f"{user}-{uuid.uuid4().hex}",
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": mechanism,
        "sasl.username": user, "sasl.password": password, "auto.offset.reset": "earliest",
        "error_cb": outcome.on_error})
    consumer.subscribe([topic])
    try:
        return drain(consumer.poll, outcome, expected)
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def kafka_io() -> SimpleNamespace:
    """:func:`fill_topic`, :func:`read_anonymously` and :func:`read_as`: producers and
    consumers of the user-facing Kafka listeners, for test modules."""
    return SimpleNamespace(fill_topic=fill_topic, read_anonymously=read_anonymously,
                           read_as=read_as)
