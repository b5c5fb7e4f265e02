"""Consumer lag of the partitions this worker owns, for the pipeline dashboard."""
from __future__ import annotations

import logging

from agents.app import app, settings
from solas import metrics
from solas.topics import group_lag

log = logging.getLogger(__name__)
LAG_INTERVAL_S = 10.0
_reported: set = set()


@app.timer(LAG_INTERVAL_S)
async def report_lag():
    """Set ``solas_kafka_consumer_lag_messages`` for every owned partition; drop the
    series of partitions that moved to another worker."""
    owned = [tp for tp in app.consumer.assignment() if not tp.topic.endswith("-changelog")
             and "__assignor" not in tp.topic]
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
