"""Annotation agent: topic ``annotations`` -> MariaDB ``annotations``; fast annotators
re-run the filters that use them for the annotated objects at once.

The RocksDB-backed table ``annotation_state`` (co-partitioned with the topic: both
keyed by object id) remembers each object's latest annotation per annotator, so a
repeated annotation does not re-run filters.
"""
from __future__ import annotations

from agents.app import app, settings
from agents.filter import _processor as filter_processor
from agents.filter import _record
from agents.topics import annotations
from solas.processors.annotation import AnnotationProcessor

annotation_state = app.Table("annotation_state", default=dict, key_type=str,
                             partitions=settings.topic_partitions)  # values: JSON objects


@app.agent(annotations)
async def annotate(stream):
    """Store annotations in batches and run the fast annotators' filters."""
    processor = AnnotationProcessor(await filter_processor("annotation"),
                                    annotation_state)
    async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
        updates = await processor.process([_record(e) for e in events])
        for update in updates:  # the RocksDB store files a key under its event's partition
            stream._set_current_event(events[update.index])
            annotation_state[update.key] = update.value
        stream._set_current_event(None)
