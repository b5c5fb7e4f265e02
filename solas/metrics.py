"""Every Prometheus metric of Solas, declared once.

Names follow ``solas_<subsystem>_<name>_<unit>``; counters gain ``_total`` on
exposition.  Stages (``ingest``, ``sherlock``, ``filter``) are a label.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

BATCH_SIZES = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
DURATIONS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

STAGE_IN = Counter("solas_stage_in_alerts", "Alerts received by a stage", ["stage"])
STAGE_OUT = Counter("solas_stage_out_alerts", "Alerts forwarded by a stage", ["stage"])
STAGE_DEADLETTER = Counter("solas_stage_deadletter_alerts",
                           "Alerts sent to the dead-letter topic", ["stage", "reason"])
STAGE_BATCH_SIZE = Histogram("solas_stage_batch_size_alerts", "Alerts per batch",
                             ["stage"], buckets=BATCH_SIZES)
STAGE_BATCH_DURATION = Histogram("solas_stage_batch_duration_seconds",
                                 "Wall time to process one batch", ["stage"],
                                 buckets=DURATIONS)
STAGE_STEP_DURATION = Histogram("solas_stage_step_duration_seconds",
                                "Wall time of one step of a batch (decode, store, produce)",
                                ["stage", "step"], buckets=DURATIONS)
CASSANDRA_WRITE_DURATION = Histogram("solas_cassandra_write_duration_seconds",
                                     "Time to write one batch to Cassandra", ["table"],
                                     buckets=DURATIONS)
CASSANDRA_ROWS = Counter("solas_cassandra_written_rows", "Rows upserted into Cassandra",
                         ["table"])
CASSANDRA_SKIPPED = Counter("solas_cassandra_skipped_rows",
                            "Light-curve points not rewritten: already stored")
CASSANDRA_UNKEYED = Counter("solas_cassandra_unkeyed_rows",
                            "Light-curve points not stored: a key column is missing")
STAGE_RETRIES = Counter("solas_stage_retries_batches",
                        "Batch steps that failed (a store or registry away) and were retried",
                        ["stage", "step"])


def serve_metrics(port: int) -> None:
    """Serve ``/metrics`` on 127.0.0.1:``port`` from a background thread."""
    start_http_server(port, addr="127.0.0.1")
