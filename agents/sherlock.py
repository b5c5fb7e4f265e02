"""Sherlock agent: topic ``ingested`` -> sky context -> topic ``sherlocked``.

Thin wiring: batches from ``stream.take_events`` go to the
:class:`~solas.processors.sherlock.SherlockProcessor`; events are acknowledged
only after every output message is on ``sherlocked``.
"""
from __future__ import annotations

import functools

from agents.app import app, settings
from agents.topics import ingested, sherlocked
from catalogs.load import current_version, load_context
from solas.processors.sherlock import ContextSource, Record, SherlockProcessor


async def _send(topic: str, key: bytes | None, value: bytes, headers: dict[str, bytes]):
    return await sherlocked.send(key=key, value=value, headers=headers)


def _record(event) -> Record:
    return Record(event.message.key, event.value, dict(event.message.headers or ()))


@app.agent(ingested)
async def sherlock(stream):
    """Classify ingested alerts in batches."""
    source = ContextSource(functools.partial(current_version, settings),
                           functools.partial(load_context, settings))
    processor = SherlockProcessor(source, _send, settings.sherlock_cache_objects,
                                  settings.sherlock_refresh_s)
    await processor.start()
    async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
        await processor.process([_record(e) for e in events])
