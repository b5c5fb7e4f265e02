"""Who may read which topic on the user-facing Kafka listeners (pure functions)."""
from __future__ import annotations

import pytest

from solas.kafka_access import (
    INTERNAL_PRINCIPAL,
    Acl,
    KafkaAccessError,
    access_for,
    acl_changes,
    consumer_config,
    filter_acls,
    group_acls,
    kafka_username,
)
from solas.settings import Settings, load_settings


def test_public_filter_topics_are_readable_by_everyone() -> None:
    assert filter_acls("solas_filter_7", True, "alice") == [
        Acl("TOPIC", "solas_filter_7", "LITERAL", "User:*", "READ")]


def test_private_filter_topics_are_readable_by_their_owner_only() -> None:
    assert filter_acls("solas_filter_7", False, "alice") == [
        Acl("TOPIC", "solas_filter_7", "LITERAL", "User:alice", "READ")]
    assert filter_acls("solas_filter_7", False, None) == []


def test_any_group_id_may_be_used() -> None:
    assert group_acls() == [Acl("GROUP", "*", "LITERAL", "User:*", "READ")]


def test_acl_changes_create_the_missing_and_delete_the_unwanted() -> None:
    public = filter_acls("t", True, "alice")
    private = filter_acls("t", False, "alice")
    assert acl_changes(public, private) == (private, public)
    assert acl_changes(private, private) == ([], [])
    assert acl_changes(private + public, []) == ([], sorted(private + public))


@pytest.mark.parametrize("name", ["ANONYMOUS", "anonymous", "ab", "a b", "solas/internal",
                                  INTERNAL_PRINCIPAL, "x" * 65, ""])
def test_names_that_would_stand_for_someone_else_are_refused(name: str) -> None:
    with pytest.raises(KafkaAccessError):
        kafka_username(name)


def test_kafka_user_is_the_solas_user() -> None:
    assert kafka_username("alice.b-1") == "alice.b-1"


def test_access_and_consumer_config_follow_the_settings() -> None:
    settings = Settings(kafka_public="kafka.example:9094", kafka_users="kafka.example:9095",
                        kafka_users_security_protocol="SASL_SSL")
    access = access_for(settings, "alice")
    assert access._asdict() == {
        "bootstrap": "kafka.example:9095", "public_bootstrap": "kafka.example:9094",
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "username": "alice"}
    config = consumer_config(access, "pw", "g")
    assert config["sasl.username"] == "alice" and config["sasl.password"] == "pw"
    assert config["bootstrap.servers"] == "kafka.example:9095" and config["group.id"] == "g"


def test_users_listener_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="SOLAS_KAFKA_USERS_SECURITY_PROTOCOL"):
        load_settings({"SOLAS_KAFKA_USERS_SECURITY_PROTOCOL": "PLAINTEXT"})
    with pytest.raises(ValueError, match="SOLAS_KAFKA_USERS_SASL_MECHANISM"):
        load_settings({"SOLAS_KAFKA_USERS_SASL_MECHANISM": "PLAIN"})
