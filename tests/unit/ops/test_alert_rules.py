"""The Prometheus alert rules of the cluster deployment read real Solas series and carry
what an operator needs (severity, summary, description; docs/operations.md)."""
import pytest
import yaml

import solas.metrics  # noqa: F401  (registers every Solas metric)
from tests.unit.ops.dashboards import (REPO, SCRAPE_SERIES, check_promql,
                                       exposed_metric_names, rule_queries)

RULES = REPO / "k8s" / "base" / "monitoring" / "prometheus-rules.yaml"
SEVERITIES = {"info", "warning", "critical"}


@pytest.mark.parametrize("rule", rule_queries(RULES), ids=lambda r: r.panel)
def test_rule_expressions_parse_and_read_solas_series(rule):
    assert check_promql(rule.expr, exposed_metric_names() | SCRAPE_SERIES)


def test_every_alert_is_explained():
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    alerts = [rule for group in groups for rule in group["rules"]]
    names = [rule["alert"] for rule in alerts]
    assert len(names) == len(set(names)) >= 10
    operations = (REPO / "docs" / "operations.md").read_text()
    for rule in alerts:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["for"], rule["alert"]
        assert rule["alert"] in operations, f"{rule['alert']} is not in docs/operations.md"
