"""The samples of an end-to-end bench run (``solas bench --stage all``) and their
statistics: per-stage lag and rate, lag growth, latency percentiles, and whether the
pipeline kept up.  Pure: no I/O."""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from solas.bench.common import throughput

STAGES = ("ingest", "sherlock", "filter")
P99_GOAL_S = 30.0
"""The end-to-end latency goal of the issue, s (p99 from the raw topic to a filter's topic)."""


class Sample(NamedTuple):
    """The pipeline at one moment of the timed replay (``t`` s after it began)."""

    t: float
    produced: int
    done: dict[str, float]        # alerts finished per stage, warm-up excluded
    cpu_percent: dict[str, float]  # per process, since the previous sample
    rss_mb: dict[str, float]


def stage_lag(sample: Sample) -> dict[str, float]:
    """Messages waiting in front of each stage: done upstream, not yet done here."""
    upstream = [float(sample.produced), *(sample.done[s] for s in STAGES[:-1])]
    return {stage: max(0.0, up - sample.done[stage]) for stage, up in zip(STAGES, upstream)}


def percentiles(values: np.ndarray) -> dict[str, float | None]:
    """p50, p95 and p99 of ``values`` (None when empty)."""
    return {p: round(float(np.percentile(values, q)), 3) if len(values) else None
            for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def windowed_p99(arrival_s: np.ndarray, latency_s: np.ndarray, width_s: float = 10.0
                 ) -> list[tuple[float, float]]:
    """(window centre, p99 latency) for consecutive windows of ``width_s`` seconds."""
    if not len(arrival_s):
        return []
    edges = np.arange(0.0, arrival_s.max() + width_s, width_s)
    which = np.digitize(arrival_s, edges) - 1
    return [(float(edges[k] + width_s / 2), float(np.percentile(latency_s[which == k], 99)))
            for k in np.unique(which)]


def stage_rates(samples: Sequence[Sample]) -> dict[str, float]:
    """Steady throughput of each stage over the 5-95% of the alerts it finished, alerts/s
    (NaN without progress)."""
    rates = {}
    for stage in STAGES:
        points = [(x.t, x.done[stage]) for x in samples]
        done = max((p[1] for p in points), default=0.0)
        rates[stage] = round(throughput(points, done).steady, 1) if done > 0 else float("nan")
    return rates


def lag_growth(samples: Sequence[Sample], replay_s: float) -> float:
    """Slope of the total lag over the second half of the replay, alerts/s: about 0 when
    the pipeline keeps up (lag only rises and falls with batching), positive when a
    backlog builds."""
    half = [(x.t, sum(stage_lag(x).values())) for x in samples
            if replay_s / 2 <= x.t <= replay_s]
    if len(half) < 3:
        return float("nan")
    t, lag = np.array(half).T
    return float(np.polyfit(t, lag, 1)[0])


def kept_up(growth: float, rate: float, p99_s: float | None) -> bool:
    """Sustainable: p99 latency met the goal and the backlog did not grow by more than
    5% of the replay rate (a short run whose backlog grows fails the second test)."""
    return (p99_s is not None and p99_s < P99_GOAL_S and np.isfinite(growth)
            and growth <= 0.05 * rate)
