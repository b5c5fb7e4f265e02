"""The annotation table: each object's latest annotation per annotator.

Keyed by object id (as text), co-partitioned with the ``annotations`` topic, so the
worker that owns an object's annotations owns its entry; the value maps an annotator's
topic to ``[version, classification]``.  A repeated annotation (same version and
classification) finds itself here and re-runs no filter.  RocksDB-backed
(``store="rocksdb://"`` of the app) and replicated through faust's changelog topic.
"""
from __future__ import annotations

from typing import NamedTuple

import faust

TABLE_NAME = "annotation_state"


def annotation_table(app: faust.App, partitions: int) -> faust.Table:
    """The annotation table of ``app``, with ``partitions`` (those of the topics it is
    co-partitioned with)."""
    return app.Table(TABLE_NAME, default=dict, key_type=str, partitions=partitions)


class StateUpdate(NamedTuple):
    """A new value of the table for an object, and the record that caused it."""

    index: int
    """Position of the record in the batch."""
    key: str
    """Object id as text."""
    value: dict
    """Annotator topic -> ``[version, classification]``."""
