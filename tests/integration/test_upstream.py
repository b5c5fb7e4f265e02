"""The ingest stage reading a survey's own Kafka as Rubin serves it: a second, real Kafka
3.9 broker with a SASL_SSL listener (SCRAM-SHA-512, TLS certificates made here with
openssl, the SCRAM user made with Kafka's own ConfigCommand), carrying the real
Confluent-framed Rubin alerts; a worker reads it in its own consumer group.
"""
from __future__ import annotations

import asyncio
import dataclasses
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from solas.db import init_all
from solas.ingest import alert_from_ingested
from solas.processors.upstream import UpstreamError, check_upstream
from solas.replay import messages_from_paths
from solas.settings import Settings
from solas.stack.kafka import KafkaService
from solas.surveys import decode_packet, normalise
from solas.topics import DEADLETTER, INGESTED, end_offsets, read_topic, stage_topic
from solas.upstream import tls_context, upstream_kafka
from solas.workers import start_worker, stop_worker, wait_for_done

pytestmark = pytest.mark.integration
TIMEOUT_S = 300
USER = "solas-broker"
KEYSTORE_PASSWORD = "keystore-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate it signs for 127.0.0.1/localhost in a PKCS12 keystore,
    and a second CA that signed nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=Solas test {ca}", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=localhost", cwd=folder)
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf",
            cwd=folder)
    openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile",
            "ca.pem", "-name", "kafka", "-out", "server.p12", "-passout",
            f"pass:{KEYSTORE_PASSWORD}", cwd=folder)
    return {"ca": folder / "ca.pem", "other_ca": folder / "other-ca.pem",
            "keystore": folder / "server.p12"}


class SurveyKafka(KafkaService):
    """A second Kafka broker standing for the survey's: the stack's broker configuration
    plus a SASL_SSL listener (SCRAM-SHA-512) on ``sasl_port``; same jars."""

    name = "kafka"
    edge_listeners = False  # the survey's broker has no Solas users' listeners

    def __init__(self, settings: Settings, jars: Path, keystore: Path, sasl_port: int):
        super().__init__(settings)
        self._jars, self.keystore, self.sasl_port = jars, keystore, sasl_port

    @property
    def jars_dir(self) -> Path:
        return self._jars

    @property
    def ports(self) -> dict[str, int]:
        return {**super().ports, "sasl_ssl": self.sasl_port}

    def server_properties(self) -> dict[str, object]:
        props = super().server_properties()
        port, controller = super().ports["client"], super().ports["controller"]
        return {
            **props,
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller},"
                         f"SASL_SSL://127.0.0.1:{self.sasl_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},"
                                    f"SASL_SSL://127.0.0.1:{self.sasl_port}",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self.keystore),
            "ssl.keystore.password": KEYSTORE_PASSWORD,
            "ssl.key.password": KEYSTORE_PASSWORD,
        }

    def add_scram_user(self, user: str, password: str) -> None:
        """Create ``user`` with Kafka's own admin tool (kafka-configs)."""
        cmd = self.java_command(
            "kafka.admin.ConfigCommand", "--bootstrap-server",
            f"127.0.0.1:{super().ports['client']}", "--alter", "--add-config",
            f"SCRAM-SHA-512=[iterations=8192,password={password}]",
            "--entity-type", "users", "--entity-name", user,
            jvm_options=(f"-Dlog4j.configuration=file:{self.log4j_file}",))
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def survey(stack: Settings) -> Iterator[dict]:
    """The survey's broker, its SCRAM user and password file; stopped by pid at the end."""
    home = stack.home.resolve() / "upstream"
    certs = make_certificates(home / "certs")
    settings = dataclasses.replace(stack, home=home, kafka=f"127.0.0.1:{free_port()}",
                                   kafka_controller_port=free_port())
    kafka = SurveyKafka(settings, stack.home.resolve() / "jars" / "kafka", certs["keystore"],
                        free_port())
    shutil.rmtree(kafka.data_dir, ignore_errors=True)  # a fresh cluster each run
    kafka.ensure_up()
    try:
        password = secrets.token_urlsafe(16)
        kafka.add_scram_user(USER, password)
        password_file = home / "upstream.password"
        password_file.write_text(password + "\n")
        yield {"plain": settings.kafka, "sasl": f"127.0.0.1:{kafka.sasl_port}",
               "password_file": password_file, "password": password, **certs,
               "service": kafka}
    finally:
        kafka.stop()


def reading(settings: Settings, survey: dict, **changes) -> Settings:
    """``settings`` with the ingest stage reading the survey's SASL_SSL listener."""
    return dataclasses.replace(
        settings, upstream_kafka=survey["sasl"], upstream_topic=f"{settings.app_id}-alerts",
        upstream_username=USER, upstream_password_file=str(survey["password_file"]),
        upstream_ca_file=str(survey["ca"]), **changes)


async def publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1, topic_configs={
            "max.message.bytes": str(16 * 2**20)})])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=16 * 2**20)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """(offsets the group committed, messages in the topic) on the survey's broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    ends = await end_offsets(dataclasses.replace(Settings(), kafka=bootstrap), topic)
    return sum(o.offset for tp, o in offsets.items() if tp.topic == topic), sum(ends.values())


def test_rubin_alerts_are_read_over_sasl_ssl_with_scram(stack, isolate, survey):
    lsst = reading(isolate(stack, "lsst"), survey)
    init_all(lsst)
    frames = [m.value for m in messages_from_paths(
        [lsst.data_dir / "alerts" / "lsst" / "real-v10"], "lsst")]
    assert frames and all(f[0] == 0 for f in frames)  # Confluent-framed, as Rubin sends
    expected = sorted(normalise(decode_packet(f, "lsst"), "lsst").source_id for f in frames)
    unknown = frames[0][:1] + (999).to_bytes(4, "big") + frames[0][5:]
    asyncio.run(publish(survey["plain"], lsst.upstream_topic, frames + [unknown]))
    start = asyncio.run(end_offsets(lsst, stage_topic(lsst, INGESTED)))
    dead_start = asyncio.run(end_offsets(lsst, stage_topic(lsst, DEADLETTER)))

    worker = start_worker(lsst, ["ingest"], 7)
    try:
        wait_for_done(worker, "ingest", len(frames), TIMEOUT_S)
        deadline = time.monotonic() + 60  # offsets are committed right after the batch
        while time.monotonic() < deadline:
            done, total = asyncio.run(committed(survey["plain"], lsst.upstream_group,
                                                lsst.upstream_topic))
            if done == total:
                break
            time.sleep(0.5)
    finally:
        stop_worker(worker)
    assert (done, total) == (len(frames) + 1, len(frames) + 1)
    forwarded = asyncio.run(read_topic(lsst, stage_topic(lsst, INGESTED), start,
                                       keep=lambda r: r.value))
    assert sorted(alert_from_ingested(v)[0].source_id for v in forwarded) == expected
    dead = asyncio.run(read_topic(lsst, stage_topic(lsst, DEADLETTER), dead_start,
                                  keep=lambda r: dict(r.headers)))
    assert [h["solas-reason"].decode()[:20] for h in dead] == ["unknown schema id 99"]
    assert dead[0]["solas-origin"].decode().startswith(f"{lsst.upstream_topic}/")
    log = worker.log_path.read_text(errors="replace")
    assert "SASL_SSL as solas-broker (SCRAM-SHA-512)" in log
    assert survey["password"] not in log


def test_ztf_avro_containers_are_read_over_sasl_ssl(stack, isolate, survey):
    ztf = reading(isolate(stack, "ztf"), survey, upstream_group_id="solas-broker-ztf")
    init_all(ztf)
    packets = [m.value for m in messages_from_paths(
        [ztf.data_dir / "alerts" / "ztf" / "pittgoogle-labelled"], "ztf")]
    assert packets and all(p[:4] == b"Obj\x01" for p in packets)  # Avro container files
    expected = sorted(normalise(decode_packet(p, "ztf"), "ztf").source_id for p in packets)
    asyncio.run(publish(survey["plain"], ztf.upstream_topic, packets))
    start = asyncio.run(end_offsets(ztf, stage_topic(ztf, INGESTED)))
    worker = start_worker(ztf, ["ingest"], 8)
    try:
        wait_for_done(worker, "ingest", len(packets), TIMEOUT_S)
    finally:
        stop_worker(worker)
    forwarded = asyncio.run(read_topic(ztf, stage_topic(ztf, INGESTED), start,
                                       keep=lambda r: r.value))
    assert sorted(alert_from_ingested(v)[0].source_id for v in forwarded) == expected
    assert "group solas-broker-ztf]" in worker.log_path.read_text(errors="replace")


def test_a_wrong_password_or_ca_gets_a_clear_error(stack, isolate, survey, tmp_path):
    settings = reading(isolate(stack, "lsst"), survey)
    right = upstream_kafka(settings, settings.upstream_password())
    asyncio.run(check_upstream(right, tls_context(right)))  # the right ones work

    wrong = dataclasses.replace(right, password="not-the-password")
    with pytest.raises(UpstreamError, match="authentication failed") as error:
        asyncio.run(check_upstream(wrong, tls_context(wrong)))
    assert error.value.kind == "authentication" and "not-the-password" not in str(error.value)

    stranger = dataclasses.replace(right, ca_file=str(survey["other_ca"]))
    with pytest.raises(UpstreamError, match="TLS handshake failed.*CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(check_upstream(stranger, tls_context(stranger)))

    nobody = dataclasses.replace(right, bootstrap=f"127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamError, match="no bootstrap server could be reached"):
        asyncio.run(check_upstream(nobody, tls_context(nobody)))
