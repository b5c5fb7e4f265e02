"""The Grafana dashboards and their provisioning: well formed, fixed uids, one data
source, and PromQL that parses and reads only series Solas exposes."""
import json

import pytest
import yaml

import solas.metrics  # noqa: F401  (registers every Solas metric)
from tests.unit.ops.dashboards import (DASHBOARDS, REPO, DashboardError, PromQLError,
                                       SCRAPE_SERIES, check_promql, dashboard_files,
                                       dashboard_queries, exposed_metric_names,
                                       iter_panels, load_dashboard)

PROVISIONING = REPO / "grafana" / "provisioning"
EXPECTED_UIDS = {"pipeline.json": "solas-pipeline", "storage.json": "solas-storage",
                 "portal.json": "solas-portal"}


@pytest.fixture(scope="module")
def datasource():
    """The provisioned data source of the dashboards."""
    config = yaml.safe_load((PROVISIONING / "datasources" / "solas.yaml").read_text())
    (source,) = config["datasources"]
    return source


@pytest.fixture(scope="module")
def known_series():
    return exposed_metric_names() | SCRAPE_SERIES


@pytest.fixture(scope="module")
def boards():
    return {path.name: load_dashboard(path) for path in dashboard_files(DASHBOARDS)}


def test_dashboards_have_fixed_unique_uids(boards):
    assert {name: board["uid"] for name, board in boards.items()} == EXPECTED_UIDS
    titles = [board["title"] for board in boards.values()]
    assert len(set(titles)) == len(titles)


def test_panel_ids_are_unique_within_each_dashboard(boards):
    for name, board in boards.items():
        ids = [panel["id"] for panel in iter_panels(board["panels"])]
        assert len(ids) == len(set(ids)), name


def test_every_panel_and_target_uses_the_provisioned_datasource(boards, datasource):
    assert datasource["type"] == "prometheus"
    reference = {"type": "prometheus", "uid": datasource["uid"]}
    for name, board in boards.items():
        for panel in iter_panels(board["panels"]):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == reference, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == reference, (name, panel["title"])


def test_panels_fit_the_grid_and_are_described(boards):
    for name, board in boards.items():
        for panel in iter_panels(board["panels"]):
            grid = panel["gridPos"]
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, (name, panel["title"])
            if panel["type"] != "row":
                assert panel["title"] and panel["description"], (name, panel["id"])


def test_dashboard_queries_lists_every_target(boards):
    queries = dashboard_queries(DASHBOARDS)
    targets = sum(len(panel.get("targets", [])) for board in boards.values()
                  for panel in iter_panels(board["panels"]))
    assert len(queries) == targets > 30
    assert {query.uid for query in queries} == set(EXPECTED_UIDS.values())
    first = queries[0]
    assert first == ("solas-pipeline", "Alerts in per stage",
                     "sum by (stage) (rate(solas_stage_in_alerts_total[2m]))")


@pytest.mark.parametrize("query", dashboard_queries(DASHBOARDS),
                         ids=lambda q: f"{q.uid}:{q.panel}")
def test_every_expression_parses_and_reads_solas_series(query, known_series):
    assert "$" not in query.expr, "Grafana macros cannot be sent to Prometheus as is"
    assert check_promql(query.expr, known_series)


def test_dashboards_cover_the_issue_panels(known_series):
    """Each subject of the operations issue has a panel reading its metric."""
    read = set()
    for query in dashboard_queries(DASHBOARDS):
        read |= check_promql(query.expr, known_series)
    for series in ("solas_stage_in_alerts_total", "solas_stage_out_alerts_total",
                   "solas_kafka_consumer_lag_messages", "solas_pipeline_latency_seconds_bucket",
                   "solas_stage_deadletter_alerts_total", "solas_filter_run_duration_seconds_sum",
                   "solas_filter_matches_alerts_total", "solas_cassandra_written_rows_total",
                   "solas_cassandra_write_duration_seconds_bucket",
                   "solas_mariadb_written_rows_total",
                   "solas_mariadb_write_duration_seconds_bucket", "solas_api_requests_total",
                   "solas_api_request_duration_seconds_bucket",
                   "solas_api_rate_limited_requests_total",
                   "solas_websocket_connected_clients"):
        assert series in read, series


@pytest.mark.parametrize("expr, reason", [
    ("sum(rate(solas_stage_in_alerts_total[5m])", "does not parse"),
    ("rate(solas_stage_in_alerts[5m])", "unknown series"),
    ("rate(solas_kafka_consumer_lag_messages[5m])", "not a counter"),
    ("histogram_quantile(0.99, sum by (stage) "
     "(rate(solas_stage_batch_duration_seconds_bucket[5m])))", "drops 'le'"),
    ("histogram_quantile(0.99, rate(solas_stage_batch_duration_seconds_sum[5m]))",
     "not _bucket"),
    ('{__name__=~"solas_.*"}', "without a metric name"),
])
def test_check_promql_rejects_broken_expressions(expr, reason, known_series):
    with pytest.raises(PromQLError, match=reason):
        check_promql(expr, known_series)


def test_malformed_dashboard_is_refused(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"uid": "x", "panels": [')
    with pytest.raises(DashboardError, match="broken.json"):
        dashboard_queries(broken)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"uid": "x", "panels": [
        {"id": 1, "title": "t", "targets": [{"refId": "A", "expr": " "}]}]}))
    with pytest.raises(DashboardError, match="no PromQL"):
        dashboard_queries(empty)


def test_dashboard_provider_loads_the_solas_folder():
    config = yaml.safe_load((PROVISIONING / "dashboards" / "solas.yaml").read_text())
    (provider,) = config["providers"]
    assert config["apiVersion"] == 1
    assert provider["type"] == "file" and provider["folder"] == "Solas"
    assert provider["options"]["path"].startswith("/")


def test_cluster_datasource_matches_the_provisioned_one(datasource):
    cluster = yaml.safe_load(
        (REPO / "k8s" / "base" / "monitoring" / "grafana-datasource.yaml").read_text())
    (source,) = cluster["datasources"]
    for key in ("name", "uid", "type"):
        assert source[key] == datasource[key], key
    assert source["url"] != datasource["url"]
