"""Generated configurations and the specific errors of the local stack (no services run)."""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from solas.settings import Settings
from solas.stack import Service, StackError, ServiceStatus, up
from solas.stack.cassandra import CassandraService
from solas.stack.cli import format_status
from solas.stack.kafka import (KafkaService, build_principal_builder, list_topics,
                               new_cluster_id)
from solas.stack.mariadb import MariaDBService, init_sql
from solas.stack.prometheus import PrometheusService
from solas.stack.process import is_running
from solas.stack.render import render_properties


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", kafka="127.0.0.1:19092", kafka_controller_port=19093,
                    kafka_public="kafka.example:19094", kafka_users="kafka.example:19095",
                    topic_partitions=7, max_message_bytes=20 * 1024 * 1024,
                    cassandra_port=19042, cassandra_storage_port=17000,
                    prometheus_port=19090, metrics_port=19150)


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A PATH folder with harmless stand-ins for prometheus and java (no mvn)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("prometheus", "java"):
        (folder / name).write_text("#!/bin/sh\nexit 0\n")
        (folder / name).chmod(0o755)
    return folder


def parse_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_server_properties(settings: Settings) -> None:
    props = parse_properties(render_properties(KafkaService(settings).server_properties()))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == ("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,"
                                  "PUBLIC://127.0.0.1:19094,USERS://127.0.0.1:19095")
    assert props["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:19092,"
                                             "PUBLIC://kafka.example:19094,"
                                             "USERS://kafka.example:19095")
    assert props["listener.security.protocol.map"] == (
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PUBLIC:PLAINTEXT,USERS:SASL_PLAINTEXT")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-256,SCRAM-SHA-512"
    for mechanism in ("scram-sha-256", "scram-sha-512"):
        assert "ScramLoginModule" in props[f"listener.name.users.{mechanism}.sasl.jaas.config"]
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:solas/internal"
    assert props["principal.builder.class"] == "solas.kafka.ListenerPrincipalBuilder"
    assert props["solas.internal.listeners"] == "PLAINTEXT,CONTROLLER"
    assert not any(key.startswith("extra.") for key in props)
    assert int(props["message.max.bytes"]) >= settings.max_message_bytes
    assert int(props["replica.fetch.max.bytes"]) >= settings.max_message_bytes
    assert int(props["socket.request.max.bytes"]) > settings.max_message_bytes
    assert props["auto.create.topics.enable"] == "false"  # topics are created explicitly (solas db init, replay)
    assert props["num.partitions"] == "7"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert Path(props["log.dirs"]) == settings.home.resolve() / "data" / "kafka"


def test_cluster_id_shape() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")


def test_cassandra_yaml(settings: Settings) -> None:
    svc = CassandraService(settings)
    svc.prepare()
    conf = yaml.safe_load(svc.yaml_file.read_text())
    assert conf["native_transport_port"] == 19042
    assert conf["storage_port"] == 17000
    assert conf["listen_address"] == conf["rpc_address"] == "127.0.0.1"
    assert conf["num_tokens"] == 1
    assert conf["partitioner"].endswith("Murmur3Partitioner")
    assert conf["commitlog_sync"] == "periodic" and conf["commitlog_sync_period"]
    assert conf["endpoint_snitch"] == "SimpleSnitch"
    assert conf["memtable"]["configurations"]["default"] == {"inherits": "trie"}
    assert conf["batch_size_fail_threshold"] == "16MiB"  # a long Rubin light curve fits
    assert conf["auto_snapshot"] is True and conf["auto_snapshot_ttl"] == "1d"
    seeds = conf["seed_provider"][0]
    assert seeds["class_name"].endswith("SimpleSeedProvider")
    assert seeds["parameters"][0]["seeds"] == "127.0.0.1:17000"
    data = settings.home.resolve() / "data" / "cassandra"
    for key in ("commitlog_directory", "saved_caches_directory", "hints_directory",
                "cdc_raw_directory"):
        assert Path(conf[key]).parent == data
    assert [Path(p).parent for p in conf["data_file_directories"]] == [data]
    assert (svc.conf_dir / "logback.xml").is_file()


def test_cassandra_command_has_jdk17_options(settings: Settings, fake_bin: Path) -> None:
    svc = CassandraService(settings, path=str(fake_bin))
    svc.jars_dir.mkdir(parents=True)
    (svc.jars_dir / "jamm-0.4.0.jar").touch()
    cmd = svc.command()
    assert "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED" in cmd
    assert "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED" in cmd
    assert f"-javaagent:{svc.jars_dir / 'jamm-0.4.0.jar'}" in cmd
    assert "-Xmx2g" in cmd and cmd[-1] == "org.apache.cassandra.service.CassandraDaemon"
    assert any(svc.marker in arg for arg in cmd)


def test_prometheus_yml(settings: Settings, fake_bin: Path) -> None:
    svc = PrometheusService(settings, path=str(fake_bin))
    svc.prepare()
    conf = yaml.safe_load(svc.config_file.read_text())
    assert conf["global"]["scrape_interval"] == "5s"
    jobs = {job["job_name"]: job["static_configs"][0]["targets"]
            for job in conf["scrape_configs"]}
    assert jobs["prometheus"] == ["127.0.0.1:19090"]
    assert jobs["solas-worker"] == [f"127.0.0.1:{p}" for p in range(19150, 19154)]
    assert jobs["solas-web"] == ["127.0.0.1:9149"]  # the portal's metrics port
    cmd = svc.command()
    assert cmd[0] == str(fake_bin / "prometheus")
    assert f"--storage.tsdb.path={svc.data_dir}" in cmd
    assert "--web.listen-address=127.0.0.1:19090" in cmd


def test_mariadb_init_sql() -> None:
    sql = init_sql("solas", "solas", "it's")
    assert "CREATE DATABASE IF NOT EXISTS `solas`" in sql
    for host in ("127.0.0.1", "localhost"):
        assert (f"GRANT ALL PRIVILEGES ON `solas`.* TO 'solas'@'{host}' WITH GRANT OPTION;"
                in sql)
        assert f"GRANT CONNECTION ADMIN, CREATE USER ON *.* TO 'solas'@'{host}';" in sql
    assert "IDENTIFIED BY 'it''s'" in sql
    assert "solas_ro" not in sql  # solas db init makes the read-only account


def test_mariadb_init_sql_grants_every_surveys_database() -> None:
    sql = init_sql("solas_lsst", "solas", "pw", ["solas", "solas_lsst"])
    for db in ("solas", "solas_lsst", "solas_%", "solas_lsst_%"):
        assert (f"GRANT ALL PRIVILEGES ON `{db}`.* TO 'solas'@'127.0.0.1' WITH GRANT OPTION;"
                in sql)
    assert sql.count("ON `solas_lsst`.* TO 'solas'@'127.0.0.1'") == 1


def test_foreign_process_on_port_is_refused(settings: Settings, fake_bin: Path) -> None:
    port = free_port()
    settings = Settings(home=settings.home, prometheus_port=port)
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", port))
        foreign.listen()
        with pytest.raises(StackError, match=rf"port {port} needed by prometheus .*"
                                             r"this stack .* did not start"):
            PrometheusService(settings, path=str(fake_bin)).start()


def test_missing_java_names_the_debian_package(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StackError, match=r"java not found.*openjdk-17-jre-headless"):
        KafkaService(settings, path=str(empty)).install()
    with pytest.raises(StackError, match=r"java not found.*openjdk-17-jre-headless"):
        up(settings, path=str(empty))


def test_missing_maven_names_the_debian_package(settings: Settings, fake_bin: Path) -> None:
    with pytest.raises(StackError, match=r"mvn not found.*maven"):
        KafkaService(settings, path=str(fake_bin)).install()


def test_missing_javac_names_the_debian_package(settings: Settings, fake_bin: Path) -> None:
    svc = KafkaService(settings, path=str(fake_bin))
    svc.jars_dir.mkdir(parents=True)
    (svc.jars_dir / ".complete").write_text(hashlib.sha256(svc.pom_text.encode()).hexdigest())
    with pytest.raises(StackError, match=r"javac not found.*openjdk-17-jdk-headless"):
        svc.install()


def test_the_principal_builder_compiles_once(tmp_path: Path) -> None:
    """Against a stand-in of the three Kafka classes it uses: the real jar is built by
    the integration tests' stack."""
    javac = shutil.which("javac")
    assert javac, "javac is needed (openjdk-17-jdk-headless)"
    stubs = tmp_path / "stubs"
    for name, body in STUBS.items():
        path = stubs / f"{name.replace('.', '/')}.java"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    jars = tmp_path / "jars"
    jars.mkdir()
    subprocess.run([javac, "-d", str(tmp_path / "classes"), *map(str, stubs.rglob("*.java"))],
                   check=True)
    with zipfile.ZipFile(jars / "stubs.jar", "w") as archive:
        for path in (tmp_path / "classes").rglob("*.class"):
            archive.write(path, path.relative_to(tmp_path / "classes").as_posix())
    jar = build_principal_builder(jars, javac)
    assert "solas/kafka/ListenerPrincipalBuilder.class" in zipfile.ZipFile(jar).namelist()
    built = jar.stat().st_mtime_ns
    assert build_principal_builder(jars, javac) == jar and jar.stat().st_mtime_ns == built


STUBS = {
    "org.apache.kafka.common.Configurable": "package org.apache.kafka.common;\n"
        "public interface Configurable { void configure(java.util.Map<String, ?> c); }",
    "org.apache.kafka.common.security.auth.AuthenticationContext":
        "package org.apache.kafka.common.security.auth;\n"
        "public interface AuthenticationContext { String listenerName(); }",
    "org.apache.kafka.common.security.auth.KafkaPrincipal":
        "package org.apache.kafka.common.security.auth;\n"
        "public class KafkaPrincipal { public static final String USER_TYPE = \"User\";\n"
        "public static final KafkaPrincipal ANONYMOUS = new KafkaPrincipal(\"User\", \"A\");\n"
        "public KafkaPrincipal(String t, String n) {} }",
    "org.apache.kafka.common.security.auth.KafkaPrincipalBuilder":
        "package org.apache.kafka.common.security.auth;\n"
        "public interface KafkaPrincipalBuilder { KafkaPrincipal build(AuthenticationContext c); }",
    "org.apache.kafka.common.security.auth.KafkaPrincipalSerde":
        "package org.apache.kafka.common.security.auth;\n"
        "public interface KafkaPrincipalSerde { byte[] serialize(KafkaPrincipal p);\n"
        "KafkaPrincipal deserialize(byte[] b); }",
    "org.apache.kafka.common.security.ssl.SslPrincipalMapper":
        "package org.apache.kafka.common.security.ssl;\n"
        "public class SslPrincipalMapper { public static SslPrincipalMapper fromRules(String r) "
        "{ return new SslPrincipalMapper(); } }",
    "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder":
        "package org.apache.kafka.common.security.authenticator;\n"
        "import org.apache.kafka.common.security.auth.*;\n"
        "import org.apache.kafka.common.security.ssl.SslPrincipalMapper;\n"
        "public class DefaultKafkaPrincipalBuilder implements KafkaPrincipalBuilder, "
        "KafkaPrincipalSerde {\n public DefaultKafkaPrincipalBuilder(Object k, "
        "SslPrincipalMapper m) {}\n public KafkaPrincipal build(AuthenticationContext c) "
        "{ return KafkaPrincipal.ANONYMOUS; }\n public byte[] serialize(KafkaPrincipal p) "
        "{ return new byte[0]; }\n public KafkaPrincipal deserialize(byte[] b) "
        "{ return KafkaPrincipal.ANONYMOUS; } }",
}
