"""Topic declarations of the stream topology (DESIGN section 1)."""
from __future__ import annotations

from agents.app import app, settings
from solas.topics import DEADLETTER, INGESTED, SHERLOCKED

raw_alerts = app.topic(settings.raw_topic, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
ingested = app.topic(INGESTED, key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")
deadletter = app.topic(DEADLETTER, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
sherlocked = app.topic(SHERLOCKED, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
