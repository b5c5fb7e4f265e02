"""Annotation agent: topic ``annotations`` -> MariaDB ``annotations``; fast annotators
re-run the filters that use them for the annotated objects at once.

The table of :mod:`tables.annotations` remembers each object's latest annotation per
annotator, so a repeated annotation does not re-run filters.
"""
from __future__ import annotations

from agents.app import app, settings
from agents.filter_processor import filter_processor, filter_record
from agents.topics import annotations
from solas.processors.annotation import AnnotationProcessor
from tables.annotations import annotation_table

annotation_state = annotation_table(app, settings.topic_partitions)


@app.agent(annotations)
async def annotate(stream):
    """Store annotations in batches and run the fast annotators' filters."""
    filters = await filter_processor("annotation")
    processor = AnnotationProcessor(filters, annotation_state)
    try:
        async for events in stream.take_events(settings.batch_size,
                                               within=settings.batch_timeout_s):
            updates = await processor.process([filter_record(e) for e in events])
            _remember(stream, events, updates)
    finally:
        await filters.close_producer()


def _remember(stream, events, updates) -> None:
    """Write each update to the annotation table with its own event current.

    The RocksDB store files a key under its event's partition.  take_events fills the next
    batch meanwhile and reads the stream's current event when it resumes: put back the one
    it set (no await in between), never None, or it crashes or files the next message
    under a wrong event."""
    previous = stream.current_event
    try:
        for update in updates:
            stream._set_current_event(events[update.index])
            annotation_state[update.key] = update.value
    finally:
        stream._set_current_event(previous)
