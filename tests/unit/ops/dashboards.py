"""Read the PromQL of the Grafana dashboards and alert rules, and check it offline.

Pure helpers shared by the offline tests of ``grafana/`` and ``k8s/`` and by the
integration test that sends every dashboard expression to the real Prometheus:

    from tests.unit.ops.dashboards import dashboard_queries
    for query in dashboard_queries(REPO / "grafana" / "dashboards"):
        ...  # query.uid, query.panel, query.expr

Expressions use no Grafana macros (``$__rate_interval``...), so they can be sent to the
Prometheus HTTP API as they are.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, NamedTuple

import promql_parser
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

#: Repository root (this file is tests/unit/ops/dashboards.py).
REPO = Path(__file__).resolve().parents[3]
DASHBOARDS = REPO / "grafana" / "dashboards"
#: Series Prometheus adds to every scrape target itself.
SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
#: Functions whose argument must be a counter (or a histogram's counters).
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
COUNTER_SUFFIXES = ("_total", "_bucket", "_sum", "_count")
#: Exposed sample names of each metric type (prometheus_client strips ``_total`` from a
#: counter family's name).
TYPE_SUFFIXES = {"counter": ("_total", "_created"),
                 "histogram": ("_bucket", "_sum", "_count", "_created"),
                 "summary": ("", "_sum", "_count", "_created"),
                 "info": ("_info",)}


class DashboardError(ValueError):
    """A dashboard file, or one of its panels, is malformed."""


class PromQLError(ValueError):
    """A PromQL expression does not parse, or names a series Solas does not expose."""


class DashboardQuery(NamedTuple):
    """One PromQL expression of one panel."""

    uid: str
    panel: str
    expr: str


def load_dashboard(path: Path) -> dict:
    """The dashboard object of a Grafana JSON file (raises DashboardError if malformed)."""
    try:
        board = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DashboardError(f"{path}: not a readable JSON file: {exc}") from exc
    if not isinstance(board, dict) or not isinstance(board.get("panels"), list):
        raise DashboardError(f"{path}: not a Grafana dashboard (no 'panels' list)")
    if not isinstance(board.get("uid"), str) or not board["uid"]:
        raise DashboardError(f"{path}: the dashboard has no uid")
    return board


def dashboard_files(path: Path) -> list[Path]:
    """``path`` itself if it is a file, else the ``*.json`` files of the folder, sorted."""
    return [path] if path.is_file() else sorted(path.glob("*.json"))


def iter_panels(panels: list[dict]) -> Iterator[dict]:
    """Every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def dashboard_queries(path: Path = DASHBOARDS) -> list[DashboardQuery]:
    """(dashboard uid, panel title, expr) of every target of every panel under ``path``
    (a dashboard JSON file or a folder of them), in file and panel order."""
    queries = []
    for file in dashboard_files(Path(path)):
        board = load_dashboard(file)
        for panel in iter_panels(board["panels"]):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not isinstance(expr, str) or not expr.strip():
                    raise DashboardError(f"{file}: panel {panel.get('title')!r} target "
                                         f"{target.get('refId')!r} has no PromQL expr")
                queries.append(DashboardQuery(board["uid"], panel.get("title", ""), expr))
    return queries


def rule_queries(path: Path) -> list[DashboardQuery]:
    """(group name, alert or record name, expr) of every rule of a PrometheusRule file."""
    rule = yaml.safe_load(Path(path).read_text())
    return [DashboardQuery(group["name"], r.get("alert") or r.get("record"), str(r["expr"]))
            for group in rule["spec"]["groups"] for r in group["rules"]]


def exposed_metric_names(registry: CollectorRegistry = REGISTRY) -> frozenset[str]:
    """Sample names a process exposes for every collector of ``registry`` (import
    ``solas.metrics`` first so its declarations are registered)."""
    names = set()
    for family in registry.collect():
        suffixes = TYPE_SUFFIXES.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return frozenset(names)


def _selector_name(node) -> str:
    selector = node.vector_selector if isinstance(node, promql_parser.MatrixSelector) else node
    return selector.name or ""


def check_promql(expr: str, known: frozenset[str]) -> frozenset[str]:
    """The series names ``expr`` selects, after checking that it parses, that every
    selector names a known series, that rate-like functions read counters and that
    ``histogram_quantile`` reads ``_bucket`` series aggregated by ``le``."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        raise PromQLError(f"{expr!r} does not parse: {exc}") from exc
    names: set[str] = set()
    problems: list[str] = []

    def visit(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                problems.append("a selector without a metric name")
            elif node.name not in known:
                problems.append(f"unknown series {node.name!r}")
            names.add(node.name or "")
        elif isinstance(node, promql_parser.Call):
            _check_call(node, problems)

    promql_parser.walk(tree, visit)
    if problems:
        raise PromQLError(f"{expr!r}: " + "; ".join(problems))
    return frozenset(names)


def _check_call(node: promql_parser.Call, problems: list[str]) -> None:
    name = node.func.name
    if name in COUNTER_FUNCTIONS:
        series = _selector_name(node.args[0])
        if not series.endswith(COUNTER_SUFFIXES):
            problems.append(f"{name}() of {series!r}, which is not a counter")
    if name == "histogram_quantile":
        inner = node.args[1]
        if isinstance(inner, promql_parser.AggregateExpr):
            modifier = inner.modifier
            if modifier is None or "le" not in modifier.labels \
                    or modifier.type != promql_parser.AggModifierType.By:
                problems.append("histogram_quantile() of an aggregation that drops 'le'")
        buckets: list[str] = []
        promql_parser.walk(inner, lambda n: buckets.append(n.name or "") if isinstance(
            n, promql_parser.VectorSelector) else None)
        if not buckets or not all(b.endswith("_bucket") for b in buckets):
            problems.append("histogram_quantile() of series that are not _bucket counters")
