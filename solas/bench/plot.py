"""PNG plots of an end-to-end bench run: rate, lag, latency and CPU over time."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from solas.bench.timeline import P99_GOAL_S, STAGES, Sample, stage_lag, windowed_p99  # noqa: E402


def stage_rate_series(samples: Sequence[Sample], stage: str, smooth_s: float = 5.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(time s, alerts/s) of ``stage``: finished counts differenced over ``smooth_s``."""
    t = np.array([x.t for x in samples])
    done = np.array([x.done[stage] for x in samples])
    if len(t) < 2:
        return t[:0], t[:0]
    lag = max(1, int(round(smooth_s / max(np.median(np.diff(t)), 1e-3))))
    lag = min(lag, len(t) - 1)
    return t[lag:], (done[lag:] - done[:-lag]) / (t[lag:] - t[:-lag])


def plot_run(path: Path, rate: float, samples: Sequence[Sample], arrival_s: np.ndarray,
             latency_s: np.ndarray) -> None:
    """Write a four-panel PNG of one run to ``path``."""
    fig, (ax_rate, ax_lag, ax_lat, ax_cpu) = plt.subplots(4, 1, figsize=(9, 12), sharex=True)
    for stage in STAGES:
        ax_rate.plot(*stage_rate_series(samples, stage), label=stage)
        ax_lag.plot([x.t for x in samples], [stage_lag(x)[stage] for x in samples], label=stage)
    ax_rate.axhline(rate, color="grey", ls="--", label=f"target {rate:g}/s")
    ax_rate.set_ylabel("alerts/s (5 s)")
    ax_lag.set_ylabel("lag (alerts waiting)")
    ax_lat.scatter(arrival_s, latency_s, s=2, alpha=0.3, label="each match")
    windows = windowed_p99(arrival_s, latency_s)
    if windows:
        ax_lat.plot(*zip(*windows), color="C3", label="p99 per 10 s")
    ax_lat.axhline(P99_GOAL_S, color="grey", ls="--", label="p99 goal")
    ax_lat.set_ylabel("raw topic -> filter topic, s")
    for name in samples[0].cpu_percent if samples else ():
        ax_cpu.plot([x.t for x in samples], [x.cpu_percent[name] for x in samples], label=name)
    ax_cpu.set_ylabel("CPU % (100 = one core)")
    ax_cpu.set_xlabel("seconds since the replay began")
    for ax in (ax_rate, ax_lag, ax_lat, ax_cpu):
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
    fig.suptitle(f"solas bench --stage all at {rate:g} alerts/s")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
