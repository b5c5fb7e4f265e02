"""The bench runs apart from the deployment it measures."""
import pytest

from solas.bench import bench_settings, empty_bench_keyspace
from solas.settings import load_settings
from solas.topics import INGESTED, stage_topic


@pytest.fixture
def deployment(tmp_path):
    return load_settings({"SOLAS_HOME": str(tmp_path), "SOLAS_SURVEY": "ztf"})


def test_bench_settings_move_every_store_and_topic_away_from_the_deployment(deployment):
    s = bench_settings(deployment)
    assert s.mariadb["db"] == f"{deployment.mariadb['db']}_bench"
    assert s.cassandra_keyspace == f"{deployment.cassandra_keyspace}_bench"
    assert s.raw_topic != deployment.raw_topic and s.raw_topic.startswith("bench-")
    assert stage_topic(s, INGESTED) != stage_topic(deployment, INGESTED)
    assert stage_topic(s, INGESTED).startswith("bench-")
    assert s.app_id != deployment.app_id and s.topic_prefix.startswith("bench-")


def test_only_a_bench_keyspace_is_ever_dropped(deployment):
    with pytest.raises(ValueError, match="not a bench keyspace"):
        empty_bench_keyspace(deployment)  # refused before any connection is made
