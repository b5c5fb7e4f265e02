"""The Faust application: broker, RocksDB state and alert-sized Kafka limits."""
from __future__ import annotations

import faust

from agents.transport import transport_for
from solas.settings import get_settings

settings = get_settings()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka}",
    store="rocksdb://",
    datadir=str(settings.worker_dir.resolve()),
    autodiscover=False,
    web_port=settings.worker_web_port + settings.worker_id,
    web_bind="127.0.0.1",
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.kafka_replication,
    consumer_max_fetch_size=settings.max_message_bytes,
    producer_max_request_size=settings.max_message_bytes,
    producer_max_batch_size=1024 * 1024,  # alerts are tens of KB: many per request
    producer_linger_ms=5,
    producer_acks=-1,
    stream_buffer_maxsize=2 * settings.batch_size,
    broker_commit_interval=1.0,
    broker_max_poll_records=settings.batch_size,
    consumer_auto_offset_reset="earliest",
    consumer_metadata_max_age_ms=30_000,  # new topics (filters, namespaces) within 30 s
)
app.transport = transport_for(settings)(app.conf.broker_consumer, app)
