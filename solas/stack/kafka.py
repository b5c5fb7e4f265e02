"""Kafka 3.9 broker in KRaft mode (one combined broker + controller) from Maven jars.

Besides the workers' internal listener (PLAINTEXT, no authentication) the local broker
has the two user-facing listeners of :mod:`solas.kafka_access`: PUBLIC (no credentials:
public filters' topics) and USERS (SASL SCRAM-SHA-256/512: each user's private topics),
with KRaft's StandardAuthorizer.  A small principal builder compiled at install time
(``ListenerPrincipalBuilder.java``, against the broker's own jars) makes the internal
listeners' clients a super user, so ACLs tell them from anonymous users.
"""
from __future__ import annotations

import base64
import hashlib
import socket
import struct
import subprocess
import tempfile
import uuid
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from solas.kafka_access import (
    INTERNAL_PRINCIPAL,
    PUBLIC_LISTENER,
    SCRAM_MECHANISMS,
    USERS_LISTENER,
)
from solas.stack.base import say
from solas.stack.jvm import JvmService
from solas.stack.process import StackError, find_tool, tail
from solas.stack.render import render_properties, write_if_changed

#: Kafka API key and version of the Metadata request used as readiness probe.
METADATA_API_KEY, METADATA_VERSION = 3, 0
#: Longest wait for ``StorageTool format``, seconds.
FORMAT_TIMEOUT_S = 120
#: Debian package providing ``javac`` (the principal builder is compiled at install).
JDK_PACKAGES = "openjdk-17-jdk-headless"
#: Source (in this package), class and jar of the principal builder.
PRINCIPAL_SOURCE = "ListenerPrincipalBuilder.java"
PRINCIPAL_BUILDER = "solas.kafka.ListenerPrincipalBuilder"
PRINCIPAL_JAR = "solas-principal-builder.jar"
#: Listeners whose unauthenticated clients are the internal super user.
INTERNAL_LISTENERS = ("PLAINTEXT", "CONTROLLER")
#: Longest javac run, seconds.
JAVAC_TIMEOUT_S = 300


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


def listener_port(bootstrap: str) -> tuple[str, int]:
    """(host, port) of the first ``host:port`` of a bootstrap-servers string."""
    first = bootstrap.split(",")[0].strip()
    host, port = first.rsplit(":", 1)
    return host, int(port)


def edge_properties(public: str, users: str) -> dict[str, object]:
    """Broker settings of the user-facing listeners on top of the internal ones.

    *public* and *users* are the addresses users reach (advertised); the broker binds
    their ports on 127.0.0.1.  PUBLIC takes no credentials (User:ANONYMOUS); USERS takes
    SASL SCRAM-SHA-256 or -512 over plaintext (User:<name>).  StandardAuthorizer denies
    what no ACL allows, except to the internal listeners' super user."""
    (public_host, public_port), (users_host, users_port) = (
        listener_port(public), listener_port(users))
    jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    props: dict[str, object] = {
        "extra.listeners": f"{PUBLIC_LISTENER}://127.0.0.1:{public_port},"
                           f"{USERS_LISTENER}://127.0.0.1:{users_port}",
        "extra.advertised.listeners": f"{PUBLIC_LISTENER}://{public_host}:{public_port},"
                                      f"{USERS_LISTENER}://{users_host}:{users_port}",
        "extra.listener.security.protocol.map":
            f"{PUBLIC_LISTENER}:PLAINTEXT,{USERS_LISTENER}:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{INTERNAL_PRINCIPAL}",
        "principal.builder.class": PRINCIPAL_BUILDER,
        "solas.internal.listeners": ",".join(INTERNAL_LISTENERS),
        "solas.internal.principal": INTERNAL_PRINCIPAL,
    }
    for mechanism in SCRAM_MECHANISMS:
        props[f"listener.name.{USERS_LISTENER.lower()}.{mechanism.lower()}"
              ".sasl.jaas.config"] = jaas
    return props


def _merge_listeners(props: dict[str, object]) -> dict[str, object]:
    """Fold the ``extra.*`` listener entries of :func:`edge_properties` into the real
    comma-separated settings."""
    merged = dict(props)
    for key in ("listeners", "advertised.listeners", "listener.security.protocol.map"):
        extra = merged.pop(f"extra.{key}", None)
        if extra:
            merged[key] = f"{merged[key]},{extra}"
    return merged


def build_principal_builder(jars_dir: Path, javac: str) -> Path:
    """Compile ``ListenerPrincipalBuilder.java`` against the broker's jars into a jar in
    *jars_dir* (on the broker's classpath); skipped when the jar matches the source.

    Returns the jar; a StackError carries javac's output if it fails."""
    source = files("solas.stack").joinpath(PRINCIPAL_SOURCE).read_text()
    digest = hashlib.sha256(source.encode()).hexdigest()
    jar, stamp = jars_dir / PRINCIPAL_JAR, jars_dir / (PRINCIPAL_JAR + ".sha256")
    if jar.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return jar
    with tempfile.TemporaryDirectory() as tmp:
        src, classes = Path(tmp) / PRINCIPAL_SOURCE, Path(tmp) / "classes"
        src.write_text(source)
        cmd = [javac, "--release", "17", "-cp", str(jars_dir / "*"), "-d", str(classes),
               str(src)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=JAVAC_TIMEOUT_S,
                                check=False)
        if result.returncode != 0:
            raise StackError(f"javac could not compile {PRINCIPAL_SOURCE} (exit "
                             f"{result.returncode}):\n{result.stdout}{result.stderr}")
        partial = jar.with_name(jar.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        partial.replace(jar)
    stamp.write_text(digest)
    return jar


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
    #: Whether the broker has the user-facing listeners, ACLs and principal builder.
    edge_listeners: ClassVar[bool] = True

    @property
    def ports(self) -> dict[str, int]:
        """Client (internal PLAINTEXT) and controller ports, and the user-facing
        listeners' ports (public: no credentials; users: SASL SCRAM)."""
        ports = {"client": kafka_port(self.settings.kafka),
                 "controller": self.settings.kafka_controller_port}
        if self.edge_listeners:
            ports["public"] = kafka_port(self.settings.kafka_public)
            ports["users"] = kafka_port(self.settings.kafka_users)
        return ports

    def install(self) -> None:
        """Check Java, fetch the jars, and compile the principal builder (``javac``)."""
        super().install()
        if self.edge_listeners:
            javac = find_tool("javac", JDK_PACKAGES, self.path)
            if not (self.jars_dir / PRINCIPAL_JAR).is_file():
                say(f"{self.name}: compiling {PRINCIPAL_SOURCE}")
            build_principal_builder(self.jars_dir, javac)

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
        props: dict[str, object] = {
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
        if self.edge_listeners:
            props = _merge_listeners({**props, **edge_properties(
                self.settings.kafka_public, self.settings.kafka_users)})
        return props

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
