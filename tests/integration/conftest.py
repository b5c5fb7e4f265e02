"""Fixtures of the integration tests: the real local stack under ``<repo>/.solas-test``."""
from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from solas.settings import Settings, load_settings
from solas.db import init_all
from solas.stack import down, up

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
    base = settings.mariadb_url.rsplit("/", 1)[0]
    return dataclasses.replace(
        settings, survey=survey, app_id=f"solas-test-{tag}",
        raw_topic_name=f"test-{tag}-alerts-{survey}", topic_namespace=f"test-{tag}-",
        topic_prefix=f"test-{tag}-filter-",
        mariadb_url=f"{base}/{settings.mariadb['db']}_{database or survey}")


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
