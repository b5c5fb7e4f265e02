"""Fixtures of the integration tests: the real local stack under ``<repo>/.solas-test``."""
from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from solas.db import init_all
from solas.settings import Settings, load_settings
from solas.stack import down, up
from solas.stores import mariadb
from solas.topics import filter_topic

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
