"""Annotators (created by admins) and annotations submitted through the API.

An annotation is accepted only from the owner of an active annotator; it is published
to the ``annotations`` topic (contract in :mod:`solas.topics`) and the call returns
once Kafka has acknowledged it; the annotation agent writes MariaDB.
"""
from __future__ import annotations

import datetime
import re
from typing import Mapping

import orjson

from web import db, forms
from web.forms import BadRequest, NotFound
from web.sky import ID_COLUMNS

TOPIC = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
RESERVED = re.compile(r"(?i)objects|sherlock_classifications|crossmatch_tns|watchlist_hits|"
                      r"area_hits(_\d+)?|annotations")
MAX_BATCH = 10_000


def annotator_fields(params: Mapping) -> dict:
    """topic, description, url, active, public, fast of the admin's form."""
    topic = (forms.text(params, "topic", required=True, max_length=64) or "").strip()
    if not TOPIC.fullmatch(topic) or RESERVED.fullmatch(topic):
        raise BadRequest("topic: letters, digits and '_' (not starting with a digit, not a "
                         "table name)")
    return {"topic": topic,
            "description": forms.text(params, "description", "") or "",
            "url": forms.link(params, "url"),
            "active": forms.boolean(params, "active", True),
            "public": forms.boolean(params, "public", True),
            "fast": forms.boolean(params, "fast", False)}


async def create_annotator(pool, owner_id: int, fields: dict) -> None:
    """Create an annotator owned by ``owner_id`` (BadRequest if the topic exists)."""
    rows, _ = await db.execute(
        pool, "INSERT IGNORE INTO annotators (topic, owner, description, url, active, "
              "public, fast) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (fields["topic"], owner_id, fields["description"], fields["url"], fields["active"],
         fields["public"], fields["fast"]))
    if rows != 1:
        raise BadRequest(f"topic: an annotator {fields['topic']} exists already")


async def list_visible(pool, user_id: int | None) -> list[dict]:
    """Annotators that are public or the user's own."""
    return await db.fetch_all(
        pool, "SELECT a.topic, a.owner, u.username AS owner_name, a.description, a.url, "
              "a.active, a.public, a.fast FROM annotators a LEFT JOIN users u ON "
              "u.id = a.owner WHERE a.public OR a.owner <=> %s ORDER BY a.topic", (user_id,))


def _annotation(survey: str, item: Mapping, index: int) -> dict:
    """A validated annotation message (BadRequest naming the item)."""
    where = f"annotation {index}: " if index >= 0 else ""
    if not isinstance(item, Mapping):
        raise BadRequest(f"{where}expected an object")
    try:
        object_id = forms.object_id(survey, item.get("objectId", item.get(ID_COLUMNS[survey])))
        topic = forms.text(item, "topic", required=True, max_length=64)
        classification = forms.text(item, "classification", required=True, max_length=80)
        version = forms.text(item, "version", "0.1", max_length=64)
        explanation = forms.text(item, "explanation", "", max_length=65_535)
        url = forms.link(item, "url")
    except BadRequest as err:
        raise BadRequest(where + err.message) from None
    classdict = item.get("classdict", "{}")
    if isinstance(classdict, str):
        try:
            classdict = orjson.loads(classdict or "{}")
        except orjson.JSONDecodeError:
            raise BadRequest(f"{where}classdict is not valid JSON: {classdict[:80]!r}") from None
    if not isinstance(classdict, dict):
        raise BadRequest(f"{where}classdict must be a JSON object")
    if not classification.strip():
        raise BadRequest(f"{where}classification must be a short nontrivial string")
    return {ID_COLUMNS[survey]: object_id, "topic": topic, "version": version,
            "classification": classification, "explanation": explanation,
            "classdict": classdict, "url": url,
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat()}


async def check_topics(pool, topics: set[str], user) -> None:
    """Every topic must be an active annotator owned by the user."""
    for topic in sorted(topics):
        row = await db.fetch_one(pool, "SELECT owner, active, public FROM annotators "
                                       "WHERE topic=%s", (topic,))
        if row is None or (row["owner"] != user.id and not row["public"]):
            raise BadRequest(f"Annotator error: topic {topic} does not exist")
        if row["owner"] != user.id:
            raise BadRequest(f"Annotator error: {user.username} is not allowed to submit "
                             f"to topic {topic}")
        if not row["active"]:
            raise BadRequest(f"Annotator error: topic {topic} is not active")


async def submit(pool, producer, survey: str, user, items: list) -> int:
    """Validate, authorise and publish annotations; returns how many (after acks)."""
    if not isinstance(items, list) or not items:
        raise BadRequest("annotations: expected a non-empty list")
    if len(items) > MAX_BATCH:
        raise BadRequest(f"annotations: at most {MAX_BATCH} per call")
    single = len(items) == 1
    messages = [_annotation(survey, item, -1 if single else i) for i, item in enumerate(items)]
    await check_topics(pool, {m["topic"] for m in messages}, user)
    oid = ID_COLUMNS[survey]
    await producer.annotations(messages, oid)
    return len(messages)


async def annotator_or_404(pool, topic: str, user_id: int | None) -> dict:
    """A visible annotator."""
    row = await db.fetch_one(pool, "SELECT * FROM annotators WHERE topic=%s", (topic,))
    if row is None or not (row["public"] or row["owner"] == user_id):
        raise NotFound(f"no annotator {topic}")
    return row
