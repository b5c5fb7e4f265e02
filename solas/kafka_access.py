"""Who may read and write which topic on the user-facing Kafka listeners (pure).

Solas's Kafka has the workers' internal listener (no authentication; its clients are
the super user :data:`INTERNAL_PRINCIPAL`) and two user-facing listeners:

- PUBLIC (``settings.kafka_public``): no credentials, principal ``User:ANONYMOUS``;
  public filters' topics are readable there, as Lasair's are with ``lasair_consumer``;
- USERS (``settings.kafka_users``): SASL SCRAM-SHA-256 or -512, principal
  ``User:<kafka user name>``; a private filter's topic is readable only by its owner.

The ACLs of a topic are a function of the filter alone (:func:`filter_acls`), so an
update replaces the topic's ACLs by the ones computed here: idempotent, and
re-applying fixes any drift.  Nothing here does I/O: :mod:`solas.stores.kafka_admin`
applies the plans.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from solas.settings import Settings

INTERNAL_PRINCIPAL = "solas/internal"
"""Principal name of the internal listeners' clients (a super user of the broker).  The
'/' keeps it out of reach of every Solas user name (letters, digits, '_', '.', '-')."""
PUBLIC_LISTENER = "PUBLIC"
USERS_LISTENER = "USERS"
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
"""Both are enabled on the users' listener and every user gets a credential for each:
``lasair_producer`` speaks SCRAM-SHA-256, Strimzi's KafkaUser SCRAM-SHA-512."""
SCRAM_ITERATIONS = 8192
"""PBKDF2 iterations of each stored SCRAM credential (Kafka's minimum is 4096)."""
EVERYONE = "User:*"
ANONYMOUS = "ANONYMOUS"
KAFKA_USERNAME = re.compile(r"[A-Za-z0-9_.\-]{3,64}")


class KafkaAccessError(ValueError):
    """A Kafka user name or credential request that cannot be honoured."""


class Acl(NamedTuple):
    """One ACL binding: ``principal`` may ``operation`` the resource (always ALLOW,
    from any host)."""

    resource_type: str
    """``TOPIC`` or ``GROUP``."""
    name: str
    """The resource name; ``*`` with a LITERAL pattern means every resource."""
    pattern: str
    """``LITERAL`` or ``PREFIXED``."""
    principal: str
    """``User:<name>`` or ``User:*`` (everyone, anonymous users included)."""
    operation: str
    """``READ``, ``WRITE`` or ``DESCRIBE``."""


class KafkaAccess(NamedTuple):
    """What a user needs to consume Solas's streams from outside (``GET /api/kafka/``)."""

    bootstrap: str
    """SASL listener (host:port): the user's private topics, with credentials."""
    public_bootstrap: str
    """Anonymous listener (host:port): public filters' topics, no credentials."""
    security_protocol: str
    """Protocol of :attr:`bootstrap`: SASL_PLAINTEXT (local stack) or SASL_SSL."""
    sasl_mechanism: str
    """SCRAM-SHA-512 (SCRAM-SHA-256 works with the same password)."""
    username: str
    """The user's Kafka (SCRAM) user name."""


def kafka_username(username: str) -> str:
    """The Kafka user name of Solas user ``username``: the same name.

    KafkaAccessError for a name that is not a valid Solas user name or that would stand
    for someone else on the broker (ANONYMOUS: the credential-less users)."""
    if not KAFKA_USERNAME.fullmatch(username or ""):
        raise KafkaAccessError(f"{username!r} cannot be a Kafka user name (3-64 letters, "
                               "digits, '_', '.' or '-')")
    if username.upper() == ANONYMOUS:
        raise KafkaAccessError(f"the user name {username!r} is reserved on Kafka for users "
                               "without credentials: ask an administrator to rename the "
                               "account")
    return username


def principal_of(kafka_user: str) -> str:
    """The ACL principal of a Kafka user name."""
    return f"User:{kafka_user}"


def filter_acls(topic: str, public: bool, owner: str | None) -> list[Acl]:
    """The ACLs a filter topic must have: readable by everyone (anonymous users too) if
    the filter is public, else by its owner's Kafka user ``owner`` only (no one when
    None: an owner who cannot have Kafka credentials)."""
    if public:
        return [Acl("TOPIC", topic, "LITERAL", EVERYONE, "READ")]
    if owner is None:
        return []
    return [Acl("TOPIC", topic, "LITERAL", principal_of(owner), "READ")]


def group_acls() -> list[Acl]:
    """Consumer groups: any user may use any group id (as with Lasair's
    ``lasair_consumer``, whose users choose it freely).  Reading a topic still needs the
    topic's own ACL, so a group gives no access to another user's stream."""
    return [Acl("GROUP", "*", "LITERAL", EVERYONE, "READ")]


class AclChanges(NamedTuple):
    """What to do to a resource's ACLs to reach a wanted set."""

    create: list[Acl]
    delete: list[Acl]


def acl_changes(current: list[Acl], wanted: list[Acl]) -> AclChanges:
    """The ACLs to create (wanted, missing) and to delete (present, unwanted); creating
    first, then deleting, never leaves a wanted reader without access."""
    have, want = set(current), set(wanted)
    return AclChanges(sorted(want - have), sorted(have - want))


def access_for(settings: Settings, username: str) -> KafkaAccess:
    """The Kafka connection settings of Solas user ``username``."""
    return KafkaAccess(settings.kafka_users, settings.kafka_public,
                       settings.kafka_users_security_protocol,
                       settings.kafka_users_sasl_mechanism, kafka_username(username))


def consumer_config(access: KafkaAccess, password: str = "PASSWORD",
                    group: str = "my-group") -> dict[str, str]:
    """confluent-kafka consumer settings for the user's private topics."""
    return {"bootstrap.servers": access.bootstrap, "group.id": group,
            "security.protocol": access.security_protocol,
            "sasl.mechanisms": access.sasl_mechanism, "sasl.username": access.username,
            "sasl.password": password, "auto.offset.reset": "earliest"}
