"""Settings come from the environment only through solas.settings."""
from pathlib import Path

import pytest

from solas.settings import Settings, load_settings


def test_defaults_work_for_the_local_stack():
    settings = load_settings({})
    assert settings.survey == "ztf"
    assert settings.raw_topic == "alerts-ztf"
    assert settings.cassandra_keyspace == "solas_ztf"
    assert settings.mariadb == {"host": "127.0.0.1", "port": 3307, "user": "solas",
                                "password": "solas", "db": "solas"}


def test_environment_overrides_are_typed():
    settings = load_settings({"SOLAS_SURVEY": "lsst", "SOLAS_HOME": "/tmp/x",
                              "SOLAS_BATCH_SIZE": "7", "SOLAS_BATCH_TIMEOUT": "0.5",
                              "SOLAS_RAW_TOPIC": ""})
    assert settings.raw_topic == "alerts-lsst"
    assert settings.home == Path("/tmp/x")
    assert settings.batch_size == 7 and settings.batch_timeout_s == 0.5


def test_unknown_survey_is_refused():
    with pytest.raises(ValueError, match="SOLAS_SURVEY"):
        load_settings({"SOLAS_SURVEY": "hsc"})


def test_every_setting_has_a_docstring_and_a_variable():
    from dataclasses import fields
    for f in fields(Settings):
        assert f.metadata["doc"] and f.metadata["env"].startswith("SOLAS_"), f.name


def test_worker_state_is_kept_per_application_id_and_worker():
    from pathlib import Path

    from solas.settings import load_settings

    a = load_settings({"SOLAS_HOME": "/x", "SOLAS_APP_ID": "solas-a", "SOLAS_WORKER_ID": "2"})
    b = load_settings({"SOLAS_HOME": "/x", "SOLAS_APP_ID": "solas-b", "SOLAS_WORKER_ID": "2"})
    assert a.worker_dir == Path("/x/workers/solas-a/2") and a.worker_dir != b.worker_dir


def test_the_upstream_password_is_read_from_its_file_and_never_shown(tmp_path):
    from solas.settings import SecretError
    secret = tmp_path / "upstream.password"
    secret.write_text("s3cret-Value\n")
    settings = load_settings({"SOLAS_UPSTREAM_KAFKA": "kafka.example:9096",
                              "SOLAS_UPSTREAM_USERNAME": "solas-broker",
                              "SOLAS_UPSTREAM_PASSWORD_FILE": str(secret)})
    assert settings.upstream_password() == "s3cret-Value"
    assert "s3cret" not in repr(settings)
    assert settings.upstream_group == f"solas-broker-{settings.app_id}"
    assert settings.upstream_topic_name == "alerts-ztf"
    missing = load_settings({"SOLAS_UPSTREAM_PASSWORD_FILE": str(tmp_path / "nope")})
    with pytest.raises(SecretError, match="SOLAS_UPSTREAM_PASSWORD_FILE: cannot read .*nope"):
        missing.upstream_password()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SecretError, match="is empty"):
        load_settings({"SOLAS_UPSTREAM_PASSWORD_FILE": str(tmp_path / "empty")}
                      ).upstream_password()


def test_upstream_settings_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="SOLAS_UPSTREAM_SECURITY_PROTOCOL"):
        load_settings({"SOLAS_UPSTREAM_SECURITY_PROTOCOL": "SASL_TLS"})
    with pytest.raises(ValueError, match="SOLAS_UPSTREAM_SASL_MECHANISM"):
        load_settings({"SOLAS_UPSTREAM_SASL_MECHANISM": "GSSAPI"})
    with pytest.raises(ValueError, match="SOLAS_UPSTREAM_USERNAME and SOLAS_UPSTREAM_PASS"):
        load_settings({"SOLAS_UPSTREAM_KAFKA": "kafka.example:9096"})
    plain = load_settings({"SOLAS_UPSTREAM_KAFKA": "127.0.0.1:9092",
                           "SOLAS_UPSTREAM_SECURITY_PROTOCOL": "PLAINTEXT"})
    assert plain.upstream_group == f"{plain.app_id}-upstream"


def test_each_survey_has_its_own_default_database():
    assert load_settings({}).mariadb["db"] == "solas"  # where ZTF deployments always were
    lsst = load_settings({"SOLAS_SURVEY": "lsst"})
    assert lsst.mariadb["db"] == "solas_lsst" and lsst.cassandra_keyspace == "solas_lsst"
    named = load_settings({"SOLAS_SURVEY": "lsst",
                           "SOLAS_MARIADB_URL": "mysql://u:p@db:3306/rubin"})
    assert named.mariadb == {"host": "db", "port": 3306, "user": "u", "password": "p",
                             "db": "rubin"}


def test_with_database_keeps_the_server_and_account():
    moved = load_settings({"SOLAS_MARIADB_URL": "mysql://u:p@db:3306"}).with_database("x_bench")
    assert moved.mariadb == {"host": "db", "port": 3306, "user": "u", "password": "p",
                             "db": "x_bench"}


def test_the_shortest_rate_interval_is_a_setting_of_seconds():
    from solas.features import MIN_RATE_INTERVAL_S
    assert load_settings({}).features_min_rate_interval_s == MIN_RATE_INTERVAL_S == 300.0
    assert load_settings({"SOLAS_FEATURES_MIN_RATE_INTERVAL": "60"}
                         ).features_min_rate_interval_s == 60.0
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(ValueError, match="SOLAS_FEATURES_MIN_RATE_INTERVAL"):
            load_settings({"SOLAS_FEATURES_MIN_RATE_INTERVAL": bad})
