"""The survey's own Kafka, as the ingest stage reads it (SASL_SSL, SCRAM, a CA file).

Rubin gives each community broker one SCRAM-SHA-512 user on a SASL_SSL listener and
Confluent-framed Avro whose schemas a registry serves by id (decoded in
:mod:`solas.surveys`); ZTF sends Avro container files.  This module turns the settings
into consumer options; :mod:`solas.processors.upstream` runs the consumer.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from solas.settings import Settings

SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")


@dataclass(frozen=True)
class UpstreamKafka:
    """Where and as whom the ingest stage reads the alert stream.  The password is left
    out of ``repr`` (and so of every log line and traceback that shows this object)."""

    bootstrap: str
    topic: str
    group_id: str
    security_protocol: str
    sasl_mechanism: str
    username: str
    ca_file: str
    offset_reset: str
    password: str = field(default="", repr=False)

    @property
    def sasl(self) -> bool:
        """True if the connection authenticates with SASL."""
        return self.security_protocol in SASL_PROTOCOLS

    @property
    def tls(self) -> bool:
        """True if the connection is encrypted with TLS."""
        return self.security_protocol in TLS_PROTOCOLS

    def describe(self) -> str:
        """One line for logs and errors: servers, topic, protocol and user, no secret."""
        who = f" as {self.username} ({self.sasl_mechanism})" if self.sasl else ""
        return (f"topic {self.topic} on {self.bootstrap} "
                f"[{self.security_protocol}{who}, group {self.group_id}]")


def upstream_kafka(settings: Settings, password: str) -> UpstreamKafka:
    """The upstream connection of ``settings`` with the ``password`` read from its
    file (:meth:`Settings.upstream_password`)."""
    return UpstreamKafka(settings.upstream_kafka, settings.upstream_topic_name,
                         settings.upstream_group, settings.upstream_security_protocol,
                         settings.upstream_sasl_mechanism, settings.upstream_username,
                         settings.upstream_ca_file, settings.upstream_offset_reset, password)


def consumer_options(upstream: UpstreamKafka, max_message_bytes: int,
                     ssl_context: ssl.SSLContext | None = None) -> dict[str, Any]:
    """Keyword arguments of an ``aiokafka.AIOKafkaConsumer`` for ``upstream``: its own
    consumer group, offsets committed by the caller once a batch is durable, fetches
    sized for alerts of up to ``max_message_bytes`` bytes."""
    options: dict[str, Any] = {
        "bootstrap_servers": upstream.bootstrap,
        "group_id": upstream.group_id,
        "client_id": upstream.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": upstream.offset_reset,
        "max_partition_fetch_bytes": max_message_bytes,
        "fetch_max_bytes": max(64 * 2**20, max_message_bytes),
        "security_protocol": upstream.security_protocol,
    }
    if upstream.sasl:
        options.update(sasl_mechanism=upstream.sasl_mechanism,
                       sasl_plain_username=upstream.username,
                       sasl_plain_password=upstream.password)
    if upstream.tls:
        options["ssl_context"] = ssl_context
    return options


def tls_context(upstream: UpstreamKafka) -> ssl.SSLContext | None:
    """The TLS context of ``upstream`` (None without TLS): server certificates checked
    against its CA file (the system's CAs if none is set), host names checked."""
    if not upstream.tls:
        return None
    try:
        return ssl.create_default_context(cafile=upstream.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"SOLAS_UPSTREAM_CA_FILE {upstream.ca_file}: not a readable PEM "
                         f"file of CA certificates ({exc})") from None
