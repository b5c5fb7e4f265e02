"""Topic declarations of the stream topology (DESIGN section 1)."""
from __future__ import annotations

from agents.app import app, settings
from solas.topics import ANNOTATIONS, DEADLETTER, INGESTED, SHERLOCKED, stage_topic

raw_alerts = app.topic(settings.raw_topic, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
ingested = app.topic(stage_topic(settings, INGESTED), key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")
deadletter = app.topic(stage_topic(settings, DEADLETTER), key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
sherlocked = app.topic(stage_topic(settings, SHERLOCKED), key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
annotations = app.topic(stage_topic(settings, ANNOTATIONS), key_type=bytes, value_type=bytes,
                        key_serializer="raw", value_serializer="raw")
