"""Faust agents of the Solas stream topology (import ``agents.<name>`` to register one)."""

AGENTS = ("ingest", "sherlock", "filter", "annotation")
