"""The input partitions this worker owns and their consumer lag, for the pipeline
dashboard and for anyone waiting until a group of workers has shared them out."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Iterable

from faust.types import TP

from agents.app import app, settings
from solas import metrics
from solas.topics import group_lag

log = logging.getLogger(__name__)
LAG_INTERVAL_S = 10.0
_reported: set = set()


def input_partitions(assignment: Iterable[TP]) -> list[TP]:
    """The partitions of ``assignment`` that carry input (not faust's changelogs or its
    assignor's topic)."""
    return [tp for tp in assignment if not tp.topic.endswith("-changelog")
            and "__assignor" not in tp.topic]


@app.on_partitions_revoked.connect
async def count_revoked(_app, revoked: set[TP], **kwargs) -> None:
    """A rebalance starts: this worker owns nothing until it is assigned again."""
    metrics.ASSIGNED_PARTITIONS.clear()


@app.on_partitions_assigned.connect
async def count_assigned(_app, assigned: set[TP], **kwargs) -> None:
    """Set ``solas_kafka_assigned_partitions`` per topic of the new assignment."""
    metrics.ASSIGNED_PARTITIONS.clear()
    for topic, count in Counter(tp.topic for tp in input_partitions(assigned)).items():
        metrics.ASSIGNED_PARTITIONS.labels(topic).set(count)


@app.timer(LAG_INTERVAL_S)
async def report_lag():
    """Set ``solas_kafka_consumer_lag_messages`` for every owned partition; drop the
    series of partitions that moved to another worker."""
    owned = input_partitions(app.consumer.assignment())
    try:
        lag = await group_lag(settings, app.conf.id, owned)
    except Exception as exc:  # Kafka away: report next time
        log.warning("consumer lag not read: %s", exc)
        return
    for tp, value in lag.items():
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(value)
    for topic, partition in _reported - {(tp.topic, tp.partition) for tp in lag}:
        metrics.CONSUMER_LAG.remove(topic, str(partition))
    _reported.clear()
    _reported.update((tp.topic, tp.partition) for tp in lag)
