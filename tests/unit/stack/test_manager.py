"""Choosing one service of the local stack by name (fault drills stop and start one)."""
from __future__ import annotations

from pathlib import Path

import pytest

from solas.settings import Settings
from solas.stack import StackError, service, stop_service
from solas.stack.cassandra import CassandraService
from solas.stack.kafka import KafkaService
from solas.stack.mariadb import MariaDBService
from solas.stack.prometheus import PrometheusService


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", kafka="127.0.0.1:19092", cassandra_port=19042)


@pytest.mark.parametrize("name, kind", [("kafka", KafkaService),
                                        ("cassandra", CassandraService),
                                        ("mariadb", MariaDBService),
                                        ("prometheus", PrometheusService)])
def test_each_service_is_found_by_its_name(settings: Settings, name: str, kind: type) -> None:
    found = service(settings, name)
    assert type(found) is kind and found.settings is settings
    assert found.pid_file == (settings.home / "run" / f"{name}.pid").resolve()


def test_an_unknown_service_is_refused_with_the_choices(settings: Settings) -> None:
    with pytest.raises(StackError) as error:
        service(settings, "zookeeper")
    assert "'zookeeper'" in str(error.value)
    for name in ("kafka", "cassandra", "mariadb", "prometheus"):
        assert name in str(error.value)


def test_stopping_a_service_that_is_not_running_clears_its_stale_pid_file(
        settings: Settings) -> None:
    pid_file = settings.home / "run" / "kafka.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text("999999999\n")  # no such process: not ours, never signalled
    stop_service(settings, "kafka")
    assert not pid_file.exists()
