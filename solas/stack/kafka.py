"""Kafka 3.9 broker in KRaft mode (one combined broker + controller) from Maven jars."""
from __future__ import annotations

import base64
import socket
import struct
import subprocess
import uuid
from pathlib import Path

from solas.stack.jvm import JvmService
from solas.stack.process import StackError, tail
from solas.stack.render import render_properties, write_if_changed

#: Kafka API key and version of the Metadata request used as readiness probe.
METADATA_API_KEY, METADATA_VERSION = 3, 0
#: Longest wait for ``StorageTool format``, seconds.
FORMAT_TIMEOUT_S = 120


def kafka_port(bootstrap: str) -> int:
    """Port of the first ``host:port`` of a bootstrap-servers string."""
    first = bootstrap.split(",")[0].strip()
    return int(first.rsplit(":", 1)[1])


def new_cluster_id() -> str:
    """A KRaft cluster id: 22 characters of base64url, not starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class _Reader:
    """Minimal big-endian reader of Kafka protocol responses."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def take(self, fmt: str) -> int:
        """The first value of *fmt* (struct format) at the current offset."""
        value = struct.unpack_from(fmt, self.data, self.offset)[0]
        self.offset += struct.calcsize(fmt)
        return value

    def take_array(self, fmt: str) -> list[int]:
        """A length-prefixed array of *fmt* values."""
        return [self.take(fmt) for _ in range(self.take(">i"))]

    def string(self) -> str:
        """A length-prefixed (int16) UTF-8 string; empty when null."""
        size = self.take(">h")
        text = self.data[self.offset:self.offset + max(size, 0)].decode()
        self.offset += max(size, 0)
        return text


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("Kafka closed the connection")
        chunks += chunk
    return bytes(chunks)


def list_topics(port: int, host: str = "127.0.0.1", timeout_s: float = 3.0) -> list[str]:
    """Topic names from a real Kafka Metadata request (v0, all topics).

    Raises OSError when the broker cannot be reached and ConnectionError when it
    answers without any live broker (still starting).
    """
    client_id = b"solas-stack"
    request = struct.pack(">hhih", METADATA_API_KEY, METADATA_VERSION, 1, len(client_id))
    request += client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        reader = _Reader(_recv_exactly(sock, size))
    if reader.take(">i") != 1:
        raise ConnectionError("Kafka answered with a wrong correlation id")
    brokers = reader.take(">i")
    if brokers < 1:
        raise ConnectionError("Kafka metadata lists no live broker yet")
    for _ in range(brokers):  # node id, host, port
        reader.take(">i")
        reader.string()
        reader.take(">i")
    topics = []
    for _ in range(reader.take(">i")):  # error code, name, partitions
        reader.take(">h")
        topics.append(reader.string())
        for _ in range(reader.take(">i")):  # error code, id, leader, replicas, isr
            reader.take(">hii")
            reader.take_array(">i")
            reader.take_array(">i")
    return topics


class KafkaService(JvmService):
    """Kafka broker + KRaft controller on 127.0.0.1 (data in ``data/kafka``)."""

    name = "kafka"
    ready_timeout_s = 120.0
    heap_min = "512m"

    @property
    def ports(self) -> dict[str, int]:
        """Client (PLAINTEXT) and controller ports."""
        return {"client": kafka_port(self.settings.kafka),
                "controller": self.settings.kafka_controller_port}

    @property
    def properties_file(self) -> Path:
        """Generated ``server.properties``."""
        return self.conf_dir / "server.properties"

    @property
    def log4j_file(self) -> Path:
        """Generated log4j configuration (everything to stdout, i.e. the log file)."""
        return self.conf_dir / "log4j.properties"

    def server_properties(self) -> dict[str, object]:
        """The broker configuration derived from the settings."""
        port, controller = self.ports["client"], self.ports["controller"]
        max_bytes = self.settings.max_message_bytes
        return {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data_dir,
            "num.partitions": self.settings.topic_partitions,
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "message.max.bytes": max_bytes,
            "replica.fetch.max.bytes": max_bytes,
            "socket.request.max.bytes": max(100 * 1024 * 1024, 2 * max_bytes),
            # After a kill -9 the old registration blocks the restarted broker until its
            # session expires (default 9 s): keep that short on this single local node.
            "broker.heartbeat.interval.ms": 1000,
            "broker.session.timeout.ms": 3000,
        }

    def prepare(self) -> None:
        """Write the configuration, clear a stale lock and format storage on first start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_if_changed(self.properties_file, render_properties(self.server_properties()))
        write_if_changed(self.log4j_file, LOG4J)
        (self.data_dir / ".lock").unlink(missing_ok=True)
        if not (self.data_dir / "meta.properties").is_file():
            self._format()

    def _format(self) -> None:
        cmd = self.java_command("kafka.tools.StorageTool", "format", "-t", new_cluster_id(),
                                "-c", str(self.properties_file), "--ignore-formatted",
                                jvm_options=self._jvm_options())
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=FORMAT_TIMEOUT_S).returncode
        if code != 0:
            raise StackError(f"kafka storage format failed (exit {code}); see its log "
                             f"{self.log_file}, last lines:\n{tail(self.log_file)}")

    def _jvm_options(self) -> tuple[str, ...]:
        return ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                f"-Dlog4j.configuration=file:{self.log4j_file}")

    def command(self) -> list[str]:
        """``java ... kafka.Kafka server.properties``."""
        return self.java_command("kafka.Kafka", str(self.properties_file),
                                 jvm_options=self._jvm_options())

    def ready(self) -> bool:
        """True if a Metadata request lists a live broker."""
        try:
            list_topics(self.ports["client"])
        except (OSError, struct.error, UnicodeDecodeError):
            return False
        return True


LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
"""
