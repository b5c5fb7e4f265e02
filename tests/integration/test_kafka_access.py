"""The local Kafka's user-facing listeners on the real broker: anonymous reads of public
topics with the PyPI ``lasair_consumer``, SCRAM reads of private ones, ACLs applied by
:mod:`solas.stores.kafka_admin`, and the internal listener unchanged for the workers."""
from __future__ import annotations

import asyncio
import json
import secrets
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import KafkaError

from solas.kafka_access import filter_acls, group_acls
from solas.settings import Settings
from solas.stores import kafka_admin

pytestmark = pytest.mark.integration


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


def test_public_topic_is_read_without_credentials(stack: Settings, kafka_io, users) -> None:
    topic = topic_name()
    values = kafka_io.fill_topic(stack, topic)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, True, None), group_acls())
    got = kafka_io.read_anonymously(stack, topic, len(values))
    assert got.error is None and got.values == values
    alice, password = next(iter(users.items()))
    got = kafka_io.read_as(stack, topic, alice, password, len(values))
    assert got.error is None and got.values == values


def test_private_topic_is_read_only_by_its_owner(stack: Settings, kafka_io, users) -> None:
    (alice, alice_pw), (bob, bob_pw) = users.items()
    topic = topic_name()
    values = kafka_io.fill_topic(stack, topic)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, False, alice),
                                   group_acls())
    anonymous = kafka_io.read_anonymously(stack, topic, len(values))
    assert anonymous.values == []
    assert anonymous.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    other = kafka_io.read_as(stack, topic, bob, bob_pw, len(values))
    assert other.values == []
    assert other.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        owner = kafka_io.read_as(stack, topic, alice, alice_pw, len(values), mechanism)
        assert owner.error is None and owner.values == values


def test_a_wrong_password_is_an_authentication_error(stack: Settings, kafka_io, users) -> None:
    topic = topic_name()
    kafka_io.fill_topic(stack, topic, 1)
    alice = next(iter(users))
    got = kafka_io.read_as(stack, topic, alice, "not-" + users[alice], 1)
    assert got.values == []
    assert got.error is not None and got.error.code() == KafkaError._AUTHENTICATION


def test_acls_follow_public_private_and_delete(stack: Settings, kafka_io, users) -> None:
    (alice, alice_pw), (bob, bob_pw) = users.items()
    topic = topic_name()
    values = kafka_io.fill_topic(stack, topic, 2)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, True, alice))
    assert kafka_io.read_as(stack, topic, bob, bob_pw, 2).values == values
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, False, alice))
    assert kafka_admin.topic_acls(stack, topic) == filter_acls(topic, False, alice)
    assert kafka_io.read_as(stack, topic, bob, bob_pw, 2).error.code() == \
        KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert kafka_io.read_as(stack, topic, alice, alice_pw, 2).values == values
    kafka_admin.replace_topic_acls(stack, topic, [])
    assert kafka_admin.topic_acls(stack, topic) == []
    assert kafka_io.read_as(stack, topic, alice, alice_pw, 2).error.code() == \
        KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_rotating_a_password_retires_the_old_one(stack: Settings, kafka_io) -> None:
    user, old, new = f"kafka-rot-{uuid.uuid4().hex[:6]}", "old-" + secrets.token_hex(8), \
        "new-" + secrets.token_hex(8)
    assert not kafka_admin.has_scram_credentials(stack, user)
    kafka_admin.set_scram_password(stack, user, old)
    assert kafka_admin.has_scram_credentials(stack, user)
    topic = topic_name()
    values = kafka_io.fill_topic(stack, topic, 1)
    kafka_admin.replace_topic_acls(stack, topic, filter_acls(topic, False, user))
    assert kafka_io.read_as(stack, topic, user, old, 1).values == values
    kafka_admin.set_scram_password(stack, user, new)
    assert kafka_io.read_as(stack, topic, user, old, 1).error.code() == KafkaError._AUTHENTICATION
    assert kafka_io.read_as(stack, topic, user, new, 1).values == values


def test_internal_listener_needs_no_credentials_and_sees_everything(stack: Settings,
                                                                    kafka_io) -> None:
    """The workers' listener is unchanged: a private topic, with ACLs for someone else
    only, is read and written there without credentials."""
    topic = topic_name()
    values = kafka_io.fill_topic(stack, topic, 2)
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
