"""Saved filters: create, update, copy, delete, list; topics and consumer snippets.

A filter is vetted for its owner (:func:`web.queries.compile_for`) every time it is
saved.  Making it active (``run`` != 0) fixes its Kafka topic,
:func:`solas.topics.filter_topic` of its id, which renaming never changes.
"""
from __future__ import annotations

import logging
from typing import Mapping, NamedTuple

from solas.filters import render_query
from solas.settings import Settings
from solas.topics import ensure_topics, filter_topic
from web import db, forms, kafka
from web.config import PAGE_ROWS
from web.forms import BadRequest, NotFound
from web.queries import compile_for

log = logging.getLogger("solas.web")
RUN_MODES = {0: "off", 1: "on every alert", 2: "on every annotation", 3: "on alerts and "
             "annotations"}
OUTPUT_MODES = {0: "none", 1: "e-mail", 2: "Kafka", 3: "Kafka with the lite light curve",
                4: "Kafka with the full alert"}
COLUMNS = ("filters.id, filters.user, users.username AS owner, filters.name, "
           "filters.description, selected, conditions, tables, public, run, output, "
           "topic_name, filters.created, modified, last_error, last_error_at")


class FilterInput(NamedTuple):
    """What a user submits for a filter."""

    name: str
    description: str
    selected: str
    tables: str
    conditions: str
    public: bool
    run: int
    output: int


def filter_input(params: Mapping, existing: dict | None = None) -> FilterInput:
    """Read a filter from request parameters; missing ones keep ``existing`` values."""
    old = existing or {}
    name = forms.text(params, "name", old.get("name"), max_length=255)
    if not name or not name.strip():
        raise BadRequest("name: give the filter a name")
    return FilterInput(
        name.strip(), forms.text(params, "description", old.get("description") or "") or "",
        forms.text(params, "selected", old.get("selected")) or "",
        forms.text(params, "tables", old.get("tables") or "objects") or "objects",
        forms.text(params, "conditions", old.get("conditions") or "") or "",
        forms.boolean(params, "public", bool(old.get("public", False))),
        forms.integer(params, "run", int(old.get("run") or 0), low=0, high=3),
        forms.integer(params, "output", int(old.get("output") or 0), low=0, high=4))


async def save_filter(pool, settings: Settings, user_id: int, data: FilterInput,
                      filter_id: int | None = None) -> dict:
    """Vet and store a filter of ``user_id``; returns {"id", "topic"}.

    FilterError (a ValueError) if the SQL is refused; NotFound if ``filter_id`` is not
    the user's."""
    compiled = await compile_for(pool, settings.survey, data.selected, data.tables,
                                 data.conditions, user_id)
    real_sql = render_query(compiled, limit=PAGE_ROWS)
    values = (data.name, data.description, data.selected, data.conditions,
              compiled.tables.text(), real_sql, data.public, data.run, data.output)
    if filter_id is None:
        _, filter_id = await db.execute(
            pool, "INSERT INTO filters (name, description, selected, conditions, tables, "
                  "real_sql, public, run, output, user, modified) VALUES "
                  "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6))",
            (*values, user_id))
    else:
        await owned_filter(pool, filter_id, user_id)
        await db.execute(
            pool, "UPDATE filters SET name=%s, description=%s, selected=%s, conditions=%s, "
                  "tables=%s, real_sql=%s, public=%s, run=%s, output=%s, "
                  "modified=UTC_TIMESTAMP(6), last_error=NULL, last_error_at=NULL "
                  "WHERE id=%s AND user=%s",
            (*values, filter_id, user_id))
    topic = await topic_of(pool, filter_id)
    if data.run and topic is None:
        topic = await activate(pool, settings, filter_id)
    await kafka.sync_filter_acls(pool, settings, filter_id)
    return {"id": int(filter_id), "topic": topic}


async def topic_of(pool, filter_id: int) -> str | None:
    """The filter's topic, None if it was never active."""
    return await db.fetch_value(pool, "SELECT topic_name FROM filters WHERE id=%s",
                                (filter_id,))


async def activate(pool, settings: Settings, filter_id: int) -> str:
    """Fix the filter's topic (once) and create it in Kafka."""
    topic = filter_topic(settings, filter_id)
    await db.execute(pool, "UPDATE filters SET topic_name=%s WHERE id=%s AND "
                           "topic_name IS NULL", (topic, filter_id))
    try:
        await ensure_topics(settings, [topic], settings.filter_topic_partitions)
    except Exception:  # the filter stage creates it when it first publishes
        log.warning("could not create topic %s now", topic, exc_info=True)
    return topic


async def visible_filter(pool, filter_id: int, user_id: int | None) -> dict:
    """A filter the user owns or that is public; NotFound otherwise (private filters of
    other users are invisible)."""
    row = await db.fetch_one(pool, f"SELECT {COLUMNS} FROM filters LEFT JOIN users ON "
                                   "users.id = filters.user WHERE filters.id=%s",
                             (filter_id,))
    if row is None or not (row["public"] or (user_id is not None and row["user"] == user_id)):
        raise NotFound(f"no filter {filter_id}")
    return row


async def owned_filter(pool, filter_id: int, user_id: int) -> dict:
    """A filter of the user; NotFound otherwise."""
    row = await visible_filter(pool, filter_id, user_id)
    if row["user"] != user_id:
        raise NotFound(f"filter {filter_id} is not yours")
    return row


async def list_filters(pool, user_id: int | None) -> list[dict]:
    """The user's filters, then public ones of others, newest first."""
    return await db.fetch_all(
        pool, f"SELECT {COLUMNS} FROM filters LEFT JOIN users ON users.id = filters.user "
              "WHERE filters.user <=> %s OR public ORDER BY (filters.user <=> %s) DESC, "
              "filters.id DESC", (user_id, user_id))


async def delete_filter(pool, settings: Settings, filter_id: int, user_id: int) -> None:
    """Delete a filter of the user, after removing the ACLs of its topic (the topic and
    what it holds stay, readable by no user)."""
    row = await owned_filter(pool, filter_id, user_id)
    await kafka.drop_topic_acls(settings, row["topic_name"], filter_id)
    await db.execute(pool, "DELETE FROM filters WHERE id=%s AND user=%s", (filter_id, user_id))


async def copy_filter(pool, settings: Settings, filter_id: int, user_id: int) -> dict:
    """Copy a public (or own) filter for the user, private and inactive."""
    row = await visible_filter(pool, filter_id, user_id)
    data = FilterInput(f"Copy of {row['name']}"[:255], row["description"] or "",
                       row["selected"] or "", row["tables"] or "objects",
                       row["conditions"] or "", False, 0, 0)
    return await save_filter(pool, settings, user_id, data)


def as_api(row: dict) -> dict:
    """A filter as the API returns it."""
    return {"id": row["id"], "owner": row.get("owner"), "name": row["name"],
            "description": row["description"], "selected": row["selected"],
            "tables": row["tables"], "conditions": row["conditions"],
            "public": bool(row["public"]), "run": row["run"], "output": row["output"],
            "topic": row["topic_name"], "created": row["created"],
            "modified": row["modified"]}


def consumer_snippet(topic: str, public: bool, public_bootstrap: str,
                     private_config: Mapping[str, str], group: str = "my-group") -> str:
    """Python that prints the filter's matches as they arrive: the PyPI ``lasair``
    consumer on the anonymous listener for a public filter, confluent-kafka with the
    owner's SCRAM credentials (``private_config``, password left for the user to fill
    in) for a private one."""
    if public:
        opening = f"""import json
from lasair import lasair_consumer

consumer = lasair_consumer('{public_bootstrap}', '{group}', '{topic}')
"""
    else:
        settings = "".join(f"    {key!r}: {value!r},\n" for key, value in
                           {**private_config, "group.id": group}.items())
        opening = f"""import json
from confluent_kafka import Consumer

# a private filter: only its owner's Kafka credentials (profile page) may read it
consumer = Consumer({{
{settings}}})
consumer.subscribe(['{topic}'])
"""
    return opening + """while True:
    msg = consumer.poll(timeout=20)
    if msg is None:
        continue
    if msg.error():
        print(msg.error())
        break
    match = json.loads(msg.value())
    # the alert that produced the match (ZTF candid, Rubin diaSourceId): deduplicate on it
    alert_id = dict(msg.headers() or []).get('solas-alert-id', b'').decode()
    print(alert_id, match)
"""
