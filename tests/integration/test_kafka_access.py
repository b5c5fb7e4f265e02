"""The local Kafka's user-facing listeners on the real broker: anonymous reads of public
topics with the PyPI ``lasair_consumer``, SCRAM reads of private ones, ACLs applied by
:mod:`solas.stores.kafka_admin`, and the internal listener unchanged for the workers."""
from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, KafkaError
from lasair import lasair_consumer

from solas.kafka_access import filter_acls, group_acls
from solas.settings import Settings
from solas.stores import kafka_admin
from solas.topics import ensure_topics

pytestmark = pytest.mark.integration
POLL_S = 30.0


def fill_topic(settings: Settings, topic: str, count: int = 3) -> list[dict]:
    """A new topic on the internal listener with ``count`` JSON messages."""
    values = [{"objectId": f"ZTF{i}", "n": i} for i in range(count)]

    async def produce() -> None:
        await ensure_topics(settings, [topic], 1)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(topic, json.dumps(value).encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    return values


class Outcome:
    """What a consumer got: message values, or the first error it met."""

    def __init__(self) -> None:
        self.values: list[dict] = []
        self.error: KafkaError | None = None

    def on_error(self, error: KafkaError) -> None:
        self.error = self.error or error


def drain(poll, outcome: Outcome, expected: int, timeout_s: float = POLL_S) -> Outcome:
    """Poll until ``expected`` values, an error, or the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(outcome.values) < expected:
        msg = poll(1.0)
        if outcome.error is not None:
            break
        if msg is None:
            continue
        if msg.error():
            outcome.error = msg.error()
            break
        outcome.values.append(json.loads(msg.value()))
    return outcome


def read_anonymously(settings: Settings, topic: str, expected: int) -> Outcome:
    """The unchanged ``lasair_consumer`` on the public listener, as Lasair users run it."""
    consumer = lasair_consumer(settings.kafka_public, f"anon-{uuid.uuid4().hex[:8]}", topic)
    try:
        return drain(consumer.poll, Outcome(), expected)
    finally:
        consumer.close()


def read_as(settings: Settings, topic: str, user: str, password: str, expected: int,
            mechanism: str = "SCRAM-SHA-512") -> Outcome:
    """confluent-kafka with SCRAM on the users' listener."""
    outcome = Outcome()
    consumer = Consumer({
        "bootstrap.servers": settings.kafka_users, "group.id": f"{user}-{uuid.uuid4().hex}",
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": mechanism,
        "sasl.username": user, "sasl.password": password, "auto.offset.reset": "earliest",
        "error_cb": outcome.on_error})
    consumer.subscribe([topic])
    try:
        return drain(consumer.poll, outcome, expected)
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def users(stack: Settings) -> dict[str, str]:
    """Two Kafka users with SCRAM credentials: name -> password."""
    made = {f"kafka-{name}-{uuid.uuid4().hex[:6]}": secrets.token_urlsafe(18)
            for name in ("alice", "bob")}
    for user, password in made.items():
        kafka_admin.set_scram_password(stack, user, password)
    return made


def topic_name() -> str:
    return f"test-access-{uuid.uuid4().hex[:10]}"


def test_public_topic_is_read_without_credentials(stack: Settings, users) -> None:
    topic = topic_name()
    values = fill_topic(stack, topic)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, True, None), group_acls())
    got = read_anonymously(stack, topic, len(values))
    assert got.error is None and got.values == values
    alice, password = next(iter(users.items()))
    got = read_as(stack, topic, alice, password, len(values))
    assert got.error is None and got.values == values


def test_private_topic_is_read_only_by_its_owner(stack: Settings, users) -> None:
    (alice, alice_pw), (bob, bob_pw) = users.items()
    topic = topic_name()
    values = fill_topic(stack, topic)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, False, alice),
                                   group_acls())
    anonymous = read_anonymously(stack, topic, len(values))
    assert anonymous.values == []
    assert anonymous.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    other = read_as(stack, topic, bob, bob_pw, len(values))
    assert other.values == []
    assert other.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        owner = read_as(stack, topic, alice, alice_pw, len(values), mechanism)
        assert owner.error is None and owner.values == values


def test_a_wrong_password_is_an_authentication_error(stack: Settings, users) -> None:
    topic = topic_name()
    fill_topic(stack, topic, 1)
    alice = next(iter(users))
    got = read_as(stack, topic, alice, "not-" + users[alice], 1)
    assert got.values == []
    assert got.error is not None and got.error.code() == KafkaError._AUTHENTICATION


def test_acls_follow_public_private_and_delete(stack: Settings, users) -> None:
    (alice, alice_pw), (bob, bob_pw) = users.items()
    topic = topic_name()
    values = fill_topic(stack, topic, 2)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, True, alice))
    assert read_as(stack, topic, bob, bob_pw, 2).values == values
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, False, alice))
    assert kafka_admin.topic_acls(stack, topic) == filter_acls(topic, False, alice)
    assert read_as(stack, topic, bob, bob_pw, 2).error.code() == \
        KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert read_as(stack, topic, alice, alice_pw, 2).values == values
    kafka_admin.replace_topic_acls(stack, topic, [])
    assert kafka_admin.topic_acls(stack, topic) == []
    assert read_as(stack, topic, alice, alice_pw, 2).error.code() == \
        KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_rotating_a_password_retires_the_old_one(stack: Settings) -> None:
    user, old, new = f"kafka-rot-{uuid.uuid4().hex[:6]}", "old-" + secrets.token_hex(8), \
        "new-" + secrets.token_hex(8)
    assert not kafka_admin.has_scram_credentials(stack, user)
    kafka_admin.set_scram_password(stack, user, old)
    assert kafka_admin.has_scram_credentials(stack, user)
    topic = topic_name()
    values = fill_topic(stack, topic, 1)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, False, user))
    assert read_as(stack, topic, user, old, 1).values == values
    kafka_admin.set_scram_password(stack, user, new)
    assert read_as(stack, topic, user, old, 1).error.code() == KafkaError._AUTHENTICATION
    assert read_as(stack, topic, user, new, 1).values == values


def test_internal_listener_needs_no_credentials_and_sees_everything(stack: Settings) -> None:
    """The workers' listener is unchanged: a private topic, with ACLs for someone else
    only, is read and written there without credentials."""
    topic = topic_name()
    values = fill_topic(stack, topic, 2)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, False, "someone"))

    async def consume() -> list[dict]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka,
                                    group_id=f"internal-{uuid.uuid4().hex}",
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=10_000, max_records=10)
            return [json.loads(r.value) for records in batch.values() for r in records]
        finally:
            await consumer.stop()

    assert asyncio.run(consume()) == values
