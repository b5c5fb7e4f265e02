"""Every Prometheus metric of Solas, declared once.

Names follow ``solas_<subsystem>_<name>_<unit>``; counters gain ``_total`` on
exposition.  Stages (``ingest``, ``sherlock``, ``filter``) are a label.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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
CASSANDRA_BUSY_WAITS = Counter("solas_cassandra_busy_waits_statements",
                               "Statements sent again after waiting: the Cassandra "
                               "connection was busy (Cassandra reading more slowly than "
                               "the worker sends)")
STAGE_RETRIES = Counter("solas_stage_retries_batches",
                        "Batch steps that failed (a store or registry away) and were retried",
                        ["stage", "step"])
UPSTREAM_ERRORS = Counter("solas_upstream_errors_connections",
                         "Failures reading the survey's own Kafka (the ingest stage then "
                         "reconnects): authentication, authorisation, TLS, unreachable",
                         ["kind"])
STAGE_PERMANENT_FAILURES = Counter(
    "solas_stage_permanent_failures_batches",
    "Batch steps that failed with an error retrying cannot cure (a schema mismatch, a "
    "value that does not fit): the batch, or its alerts at fault, went to the dead-letter "
    "topic and the stage went on", ["stage", "step"])
SHERLOCK_CLASSIFIED = Counter("solas_sherlock_classified_alerts",
                              "Alerts given a contextual classification", ["classification"])
SHERLOCK_CACHE_HITS = Counter("solas_sherlock_cache_hits_alerts",
                              "Alerts whose object's classification was reused from cache")
SHERLOCK_INDEX_SOURCES = Gauge("solas_sherlock_index_sources",
                               "Catalogue sources in the in-memory sky index")
SHERLOCK_INDEX_BUILD = Gauge("solas_sherlock_index_build_seconds",
                             "Time to read the catalogues and build the sky index")
LATENCIES = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
PIPELINE_LATENCY = Histogram("solas_pipeline_latency_seconds",
                             "Time from an alert's raw-topic timestamp to its filter-stage "
                             "output", buckets=LATENCIES)
CONSUMER_LAG = Gauge("solas_kafka_consumer_lag_messages",
                     "Messages of a topic partition owned by this worker not yet processed",
                     ["topic", "partition"])
ASSIGNED_PARTITIONS = Gauge("solas_kafka_assigned_partitions",
                            "Partitions of an input topic assigned to this worker",
                            ["topic"])
MARIADB_WRITE_DURATION = Histogram("solas_mariadb_write_duration_seconds",
                                   "Time to write one batch to MariaDB", ["table"],
                                   buckets=DURATIONS)
MARIADB_ROWS = Counter("solas_mariadb_written_rows", "Rows upserted into MariaDB", ["table"])
FILTER_RUN_DURATION = Histogram("solas_filter_run_duration_seconds",
                                "Time to run one active user filter on one batch", ["filter"],
                                buckets=DURATIONS)
FILTER_MATCHES = Counter("solas_filter_matches_alerts", "Alerts matched by an active filter",
                         ["filter"])
API_REQUESTS = Counter("solas_api_requests", "HTTP requests answered by the portal and API",
                       ["route", "method", "status"])
API_REQUEST_DURATION = Histogram("solas_api_request_duration_seconds",
                                 "Time to answer one HTTP request", ["route"],
                                 buckets=DURATIONS)
API_RATE_LIMITED = Counter("solas_api_rate_limited_requests",
                           "Requests refused with 429 Too Many Requests",
                           ["route", "user_class"])
WEBSOCKET_CLIENTS = Gauge("solas_websocket_connected_clients",
                          "WebSocket clients connected to the live feed")
FILTER_ERRORS = Counter("solas_filter_errors", "Filter runs that failed or were killed",
                        ["filter"])
FILTER_EMITTED_BYTES = Counter("solas_filter_emitted_bytes",
                               "Bytes a filter sent to its Kafka topic", ["filter"])
FILTER_LEDGER_WAITS = Counter("solas_filter_ledger_waits_polls",
                              "Waits of a filter worker for a match another worker's open "
                              "Kafka transaction may have sent (after a rebalance)")
SKY_INDEX_ITEMS = Gauge("solas_filter_sky_index_items",
                        "Active watchlist cones / watchmaps / GW sky maps in a worker's index",
                        ["kind"])
SKY_STATE_LOADS = Counter("solas_filter_sky_state_loads",
                          "Starts of a worker's sky state, by source: 'cache' (its RocksDB "
                          "cache) or 'mariadb' (the full load)", ["source"])


def declare_stage(stage: str, steps: tuple[str, ...], reasons: tuple[str, ...]) -> None:
    """Create a stage's labelled series at 0, so dashboards show "none yet" rather than
    "no data" before the first retry or dead letter."""
    for step in steps:
        STAGE_RETRIES.labels(stage, step)
        STAGE_PERMANENT_FAILURES.labels(stage, step)
    for reason in reasons:
        STAGE_DEADLETTER.labels(stage, reason)
    for series in (STAGE_IN, STAGE_OUT):
        series.labels(stage)


def serve_metrics(port: int, addr: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` on ``addr``:``port`` from a background thread."""
    start_http_server(port, addr=addr)
