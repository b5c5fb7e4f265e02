"""Users' Kafka credentials and the ACLs of filter topics, for the portal and the API.

``GET /api/kafka/`` and the profile page show where and how to connect
(:class:`solas.kafka_access.KafkaAccess`); ``POST`` creates or rotates the user's SCRAM
credential and shows its password once (it is stored only as Kafka's salted SCRAM
credential).  Every change of a filter re-applies its topic's ACLs
(:func:`sync_filter_acls`): public -> readable by anyone, private -> by the owner's
Kafka user only, deleted -> by no one.  A Kafka that cannot be reached is a 503 naming
what was not done; saving the filter again re-applies the ACLs.
"""
from __future__ import annotations

import asyncio
import logging
import secrets

from solas.kafka_access import (
    KafkaAccessError,
    access_for,
    filter_acls,
    group_acls,
    kafka_username,
)
from solas.settings import Settings
from solas.stores import kafka_admin
from solas.stores.kafka_admin import KafkaAdminError
from web import db
from web.forms import BadRequest, Problem

log = logging.getLogger("solas.web")
PASSWORD_BYTES = 24
"""Random bytes of a generated Kafka password (32 URL-safe characters)."""


class KafkaUnavailable(Problem):
    """Kafka did not do what the request needs (503)."""

    status = 503


def access(settings: Settings, username: str) -> dict:
    """What ``GET /api/kafka/`` answers for ``username``."""
    try:
        return access_for(settings, username)._asdict()
    except KafkaAccessError as err:
        raise BadRequest(str(err)) from None


async def has_credentials(settings: Settings, username: str) -> bool | None:
    """Whether the user has a Kafka credential; None if Kafka cannot say now."""
    try:
        return await asyncio.to_thread(kafka_admin.has_scram_credentials, settings,
                                       kafka_username(username))
    except (KafkaAccessError, KafkaAdminError):
        return None


async def rotate(settings: Settings, username: str) -> dict:
    """Create or replace the user's SCRAM credential; the access plus ``password``."""
    answer = access(settings, username)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    try:
        await asyncio.to_thread(kafka_admin.set_scram_password, settings,
                                answer["username"], password)
    except KafkaAdminError as err:
        raise KafkaUnavailable(f"no new Kafka credentials: {err}") from None
    log.info("Kafka credentials of %s created or rotated", answer["username"])
    return {**answer, "password": password}


def owner_kafka_user(username: str | None) -> str | None:
    """The Kafka user of a filter's owner, None if the name cannot be one."""
    try:
        return kafka_username(username or "")
    except KafkaAccessError:
        return None


async def sync_filter_acls(pool, settings: Settings, filter_id: int) -> None:
    """Give the filter's topic (if it ever had one) the ACLs its filter calls for."""
    row = await db.fetch_one(
        pool, "SELECT filters.topic_name, filters.public, users.username FROM filters "
              "LEFT JOIN users ON users.id = filters.user WHERE filters.id=%s", (filter_id,))
    if row is None or not row["topic_name"]:
        return
    topic = row["topic_name"]
    wanted = filter_acls(topic, bool(row["public"]), owner_kafka_user(row["username"]))
    try:
        await _replace(settings, topic, wanted)
    except KafkaAdminError as err:
        raise KafkaUnavailable(f"filter {filter_id} was saved, but who may read its Kafka "
                               f"topic {topic} could not be updated ({err}); save it again "
                               "to retry") from None


async def drop_topic_acls(settings: Settings, topic: str | None, filter_id: int) -> None:
    """Remove every ACL of ``topic`` (the filter's, before it is deleted): then only the
    workers reach it."""
    if not topic:
        return
    try:
        await _replace(settings, topic, [])
    except KafkaAdminError as err:
        raise KafkaUnavailable(f"filter {filter_id} was not deleted: the ACLs of its Kafka "
                               f"topic {topic} could not be removed ({err}); try again") \
            from None


async def _replace(settings: Settings, topic: str, wanted: list) -> None:
    try:
        await asyncio.to_thread(kafka_admin.replace_topic_acls, settings, topic, wanted,
                                group_acls())
    except KafkaAdminError as err:
        log.warning("ACLs of topic %s not updated: %s", topic, err)
        raise
