"""Reading a worker's /metrics: the whole page, or only the counters asked for."""
import socket

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from solas.workers import DONE_METRICS, alerts_done, read_metrics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_only_the_named_metrics_are_read_and_the_done_count_adds_dead_letters():
    registry = CollectorRegistry()
    out = Counter("solas_stage_out_alerts", "out", ["stage"], registry=registry)
    dead = Counter("solas_stage_deadletter_alerts", "dead", ["stage", "reason"],
                   registry=registry)
    runs = Histogram("solas_filter_run_duration_seconds", "runs", ["filter"], registry=registry)
    out.labels("ingest").inc(7)
    dead.labels("ingest", "decode").inc(2)
    out.labels("filter").inc(100)
    runs.labels("1").observe(0.1)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        everything = {name for name, _ in read_metrics(port)}
        named = {name for name, _ in read_metrics(port, names=DONE_METRICS)}
        assert "solas_filter_run_duration_seconds_count" in everything
        assert named == set(DONE_METRICS)
        assert alerts_done(port, "ingest") == 9 and alerts_done(port, "filter") == 100
    finally:
        server.shutdown()
        thread.join()
