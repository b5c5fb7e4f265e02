"""The ingest stage reading the survey's own Kafka (:mod:`solas.upstream`).

A consumer of its own group on the upstream cluster hands batches of raw packets to the
:class:`~solas.processors.ingest.IngestProcessor` and commits their offsets only once
the processor has returned (everything durable): at-least-once, and every ingest write
is idempotent.  A failure to reach, authenticate to or read the upstream cluster is
logged with its cause (never the password), counted, and retried; it never stops the
worker, and what was not committed is read again.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnsupportedSaslMechanismError,
)

from solas import metrics
from solas.processors.ingest import IngestProcessor, Packet
from solas.settings import SecretError, Settings
from solas.upstream import UpstreamKafka, consumer_options, tls_context, upstream_kafka

log = logging.getLogger(__name__)
RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before reconnecting after successive failures, s (the last repeats)."""
CONFIG_RETRY_S = 30.0
"""Wait before reading a missing or bad password or CA file again, s."""


class UpstreamError(RuntimeError):
    """The upstream Kafka cannot be used as configured: ``kind`` is ``authentication``,
    ``authorization``, ``tls``, ``unreachable`` or ``kafka``; the message names the
    cluster, topic, user and cause (never the password)."""

    def __init__(self, upstream: UpstreamKafka, kind: str, cause: str):
        super().__init__(f"upstream Kafka {upstream.describe()}: {FAILURES[kind]}: {cause}")
        self.kind = kind


FAILURES = {"authentication": "authentication failed (user name or password)",
            "authorization": "not authorised (ACLs of the topic or group)",
            "tls": "TLS handshake failed (CA file or server certificate)",
            "unreachable": "no bootstrap server could be reached",
            "kafka": "Kafka error"}
"""What each kind of :class:`UpstreamError` says."""


class Position(NamedTuple):
    """Offsets to commit after a batch: the next offset of each partition."""

    offsets: dict[TopicPartition, int]


def error_kind(exc: BaseException) -> str:
    """What went wrong talking to the upstream Kafka, from the exception."""
    if isinstance(exc, (SaslAuthenticationFailed, AuthenticationFailedError,
                        UnsupportedSaslMechanismError)):
        return "authentication"
    if isinstance(exc, TopicAuthorizationFailedError) or "Authorization" in type(exc).__name__:
        return "authorization"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, (OSError, TimeoutError)):
        return "unreachable"
    return "kafka"


def packets_of(records: Sequence[ConsumerRecord]) -> list[Packet]:
    """Ingest packets of upstream records (the record timestamp is ms)."""
    return [Packet(r.value, r.key, r.timestamp,
                   f"{r.topic}/{r.partition}/{r.offset}") for r in records]


def next_offsets(batches: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> Position:
    """The offsets that commit every record of ``batches``."""
    return Position({tp: records[-1].offset + 1 for tp, records in batches.items()
                     if records})


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    pairs = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        pairs.append((host.strip("[]"), int(port)))
    return pairs


async def check_upstream(upstream: UpstreamKafka, context: ssl.SSLContext | None,
                         timeout_s: float = 20.0) -> None:
    """Connect and authenticate to one bootstrap server of ``upstream``; an
    :class:`UpstreamError` naming the cause if none accepts (aiokafka itself reports
    only "Unable to bootstrap")."""
    causes = []
    for host, port in _hosts(upstream.bootstrap):
        options = consumer_options(upstream, 1, context)
        try:
            conn = await create_conn(
                host, port, client_id=upstream.group_id, request_timeout_ms=timeout_s * 1000,
                ssl_context=options.get("ssl_context"),
                security_protocol=upstream.security_protocol,
                sasl_mechanism=options.get("sasl_mechanism", "PLAIN"),
                sasl_plain_username=options.get("sasl_plain_username"),
                sasl_plain_password=options.get("sasl_plain_password"))
        except (KafkaError, OSError, TimeoutError) as exc:
            causes.append((error_kind(exc), f"{host}:{port}: {type(exc).__name__}: {exc}"))
            continue
        conn.close()
        return
    kind = next((k for k, _ in causes if k != "unreachable"), "unreachable")
    raise UpstreamError(upstream, kind, "; ".join(cause for _, cause in causes))


class UpstreamIngest:
    """Reads ``upstream`` in batches of ``batch_size`` into ``processor``."""

    def __init__(self, upstream: UpstreamKafka, processor: IngestProcessor, *,
                 batch_size: int, batch_timeout_s: float, max_message_bytes: int):
        self.upstream = upstream
        self.processor = processor
        self.batch_size = batch_size
        self.batch_timeout_ms = int(batch_timeout_s * 1000)
        self.max_message_bytes = max_message_bytes
        self.context = tls_context(upstream)

    async def connect(self) -> AIOKafkaConsumer:
        """A started consumer of the upstream topic in the ingest stage's group."""
        await check_upstream(self.upstream, self.context)
        consumer = AIOKafkaConsumer(self.upstream.topic, **consumer_options(
            self.upstream, self.max_message_bytes, self.context))
        try:
            await consumer.start()
        except (KafkaError, OSError) as exc:
            await consumer.stop()
            raise UpstreamError(self.upstream, error_kind(exc), str(exc)) from exc
        log.info("ingest reads %s", self.upstream.describe())
        return consumer

    async def run_batches(self, consumer: AIOKafkaConsumer, limit: int | None = None) -> int:
        """Ingest batches until ``limit`` packets were ingested (forever if None); the
        count.  Errors of the cluster propagate as :class:`UpstreamError`."""
        done = 0
        while limit is None or done < limit:
            try:
                batches = await consumer.getmany(timeout_ms=self.batch_timeout_ms,
                                                 max_records=self.batch_size)
            except KafkaError as exc:
                raise UpstreamError(self.upstream, error_kind(exc), str(exc)) from exc
            records = [r for tp_records in batches.values() for r in tp_records]
            if not records:
                continue
            await self.processor.process(packets_of(records))
            await self._commit(consumer, next_offsets(batches))
            done += len(records)
        return done

    async def _commit(self, consumer: AIOKafkaConsumer, position: Position) -> None:
        try:
            await consumer.commit(position.offsets)
        except KafkaError as exc:  # e.g. a rebalance moved the partitions: re-read there
            log.warning("upstream offsets not committed (%s): the batch will be read again "
                        "(ingest writes are idempotent)", exc)

    async def run(self) -> None:
        """Ingest forever; reconnect after any failure of the upstream cluster."""
        failures = 0
        while True:
            try:
                consumer = await self.connect()
            except UpstreamError as exc:
                failures = self._failed(exc, failures)
                await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S)) - 1])
                continue
            failures = 0
            try:
                await self.run_batches(consumer)
            except UpstreamError as exc:
                failures = self._failed(exc, failures)
            finally:
                await consumer.stop()
            await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S)) - 1] if failures else 0)

    def _failed(self, exc: UpstreamError, failures: int) -> int:
        metrics.UPSTREAM_ERRORS.labels(exc.kind).inc()
        log.error("%s; retrying", exc)
        return failures + 1




async def configured_upstream(settings: Settings) -> UpstreamKafka:
    """The upstream Kafka of ``settings`` with its password and a usable CA file; while
    either file cannot be used, logs why (never the secret) and tries again every
    :data:`CONFIG_RETRY_S` seconds instead of stopping the worker."""
    while True:
        try:
            upstream = upstream_kafka(settings, settings.upstream_password())
            tls_context(upstream)
            return upstream
        except (SecretError, ValueError) as exc:
            metrics.UPSTREAM_ERRORS.labels("configuration").inc()
            log.error("upstream Kafka %s: %s; retrying in %.0f s", settings.upstream_kafka,
                      exc, CONFIG_RETRY_S)
            await asyncio.sleep(CONFIG_RETRY_S)
