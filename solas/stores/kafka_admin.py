"""Kafka ACLs and SCRAM credentials through a real admin client (confluent-kafka).

aiokafka's admin client has neither CreateAcls nor AlterUserScramCredentials, so these
calls use confluent-kafka's (librdkafka) on the internal listener, whose clients are the
broker's super user (:data:`solas.kafka_access.INTERNAL_PRINCIPAL`).  The functions
block (each waits for the broker, at most :data:`TIMEOUT_S`); async callers run them
in a thread (:func:`asyncio.to_thread`).  Which ACLs a topic needs is decided in
:mod:`solas.kafka_access`; this module only applies it.
"""
from __future__ import annotations

from concurrent.futures import Future
from enum import Enum
from typing import Any, cast

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not re-exported
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from solas.kafka_access import SCRAM_ITERATIONS, SCRAM_MECHANISMS, Acl, acl_changes
from solas.settings import Settings

TIMEOUT_S = 15.0
"""Longest wait for one admin request, seconds."""
_MECHANISMS = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256,
               "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}


class KafkaAdminError(RuntimeError):
    """Kafka refused or did not answer an admin request; the message says which."""


def _admin(settings: Settings) -> AdminClient:
    """A new admin client; its caller keeps it referenced until its futures resolve
    (a collected client fails them with _DESTROY)."""
    return AdminClient({"bootstrap.servers": settings.kafka,
                        "socket.timeout.ms": int(TIMEOUT_S * 1000)})


def _wait(future: Future[Any], what: str) -> Any:
    try:
        return future.result(timeout=TIMEOUT_S)
    except KafkaException as exc:
        raise KafkaAdminError(f"Kafka refused to {what}: {exc.args[0]}") from None
    except TimeoutError:
        raise KafkaAdminError(f"Kafka did not answer within {TIMEOUT_S:.0f} s when asked "
                              f"to {what}") from None


def _binding(acl: Acl) -> AclBinding:
    return AclBinding(ResourceType[acl.resource_type], acl.name,
                      ResourcePatternType[acl.pattern], acl.principal, "*",
                      AclOperation[acl.operation], AclPermissionType.ALLOW)


def _filter(acl: Acl) -> AclBindingFilter:
    return AclBindingFilter(ResourceType[acl.resource_type], acl.name,
                            ResourcePatternType[acl.pattern], acl.principal, "*",
                            AclOperation[acl.operation], AclPermissionType.ALLOW)


def _name(value: object) -> str:
    return value.name if isinstance(value, Enum) else str(value)


def _acl(binding: AclBinding) -> Acl:
    return Acl(_name(binding.restype), binding.name, _name(binding.resource_pattern_type),
               binding.principal, _name(binding.operation))


def set_scram_password(settings: Settings, user: str, password: str) -> None:
    """Create or replace Kafka user ``user``'s SCRAM credentials (SHA-256 and SHA-512,
    one password) on the broker; connections already open stay up."""
    admin = _admin(settings)  # referenced until the futures resolve
    for mechanism in SCRAM_MECHANISMS:  # Kafka alters a user once per request
        upsert = UserScramCredentialUpsertion(
            user, ScramCredentialInfo(_MECHANISMS[mechanism], SCRAM_ITERATIONS),
            password.encode())
        for future in admin.alter_user_scram_credentials(
                [upsert], request_timeout=TIMEOUT_S).values():
            _wait(future, f"store the {mechanism} credential of Kafka user {user!r}")


def has_scram_credentials(settings: Settings, user: str) -> bool:
    """True if Kafka user ``user`` has a SCRAM credential."""
    admin = _admin(settings)
    futures = cast(dict[str, "Future[Any]"], admin.describe_user_scram_credentials(
        [user], request_timeout=TIMEOUT_S))
    try:
        _wait(futures[user], f"describe Kafka user {user!r}")
    except KafkaAdminError as err:
        if "RESOURCE_NOT_FOUND" in str(err) or "not found" in str(err).lower():
            return False
        raise
    return True


def topic_acls(settings: Settings, topic: str) -> list[Acl]:
    """The ACLs on exactly ``topic`` (LITERAL pattern)."""
    anyone = cast(str, None)  # None matches any principal and host
    found = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, anyone,
                             anyone, AclOperation.ANY, AclPermissionType.ANY)
    admin = _admin(settings)
    bindings = _wait(admin.describe_acls(found, request_timeout=TIMEOUT_S),
                     f"list the ACLs of topic {topic}")
    return sorted(_acl(b) for b in bindings)


def create_acls(settings: Settings, acls: list[Acl]) -> None:
    """Add ``acls`` (an ACL that exists already is left as it is)."""
    if acls:
        admin = _admin(settings)  # held while its futures run: a dropped client cancels them
        _wait_each(admin.create_acls([_binding(a) for a in acls], request_timeout=TIMEOUT_S),
                   "allow {principal} to {operation} {resource_type} {name}")


def delete_acls(settings: Settings, acls: list[Acl]) -> None:
    """Remove exactly ``acls``."""
    if acls:
        admin = _admin(settings)  # held while its futures run: a dropped client cancels them
        _wait_each(admin.delete_acls([_filter(a) for a in acls], request_timeout=TIMEOUT_S),
                   "remove the ACL letting {principal} {operation} {resource_type} {name}")


def _wait_each(futures: dict, action: str) -> None:
    """Wait for the admin client's future of each ACL binding; a failure names what was
    being done (``action``, formatted with the ACL's fields)."""
    for binding, future in futures.items():
        _wait(future, action.format(**_acl(binding)._asdict()))


def replace_topic_acls(settings: Settings, topic: str, wanted: list[Acl],
                       shared: list[Acl] | None = None) -> list[Acl]:
    """Make ``wanted`` the only ACLs on ``topic`` (the new ones are added before the old
    ones go), after making sure the ``shared`` ACLs (e.g. consumer groups) exist.

    Returns the ACLs now on the topic."""
    create_acls(settings, shared or [])
    changes = acl_changes(topic_acls(settings, topic), wanted)
    create_acls(settings, changes.create)
    delete_acls(settings, changes.delete)
    return sorted(wanted)
