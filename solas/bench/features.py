"""``solas bench --stage features``: the feature step of the filter stage alone.

No service is needed.  ``n`` clones of the shipped alerts with the bench's history mix
(:func:`solas.bench.common.make_messages`; Rubin: the real wide survey by default) are
decoded as the ingest stage decodes them, then their ``objects`` rows are computed in
batches of ``SOLAS_BATCH_SIZE`` as the filter stage computes them, once with the
light-curve fits and once without.  Rates are alerts per second of this process's CPU
time (so other load on the machine does not distort them) and of wall time.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm import tqdm

from solas.bench.common import default_mix, default_source, make_messages
from solas.features import compute_features
from solas.ingest import decode_batch
from solas.settings import Settings
from solas.surveys import Alert


class Timing(NamedTuple):
    """One pass of the feature step over every alert."""

    cpu_s: float
    wall_s: float
    fitted: int
    """Rows with a BBB fit (Rubin)."""


def time_features(alerts: Sequence[Alert], survey: str, batch: int, fits: bool,
                  desc: str) -> Timing:
    """CPU and wall time of :func:`compute_features` over ``alerts`` in batches."""
    fitted = 0
    cpu, wall = time.process_time(), time.perf_counter()
    with tqdm(total=len(alerts), desc=desc, unit=" alerts") as bar:
        for start in range(0, len(alerts), batch):
            chunk = alerts[start:start + batch]
            rows = compute_features(chunk, survey, None, fits=fits)
            fitted += sum(row.get("BBBTemp") is not None for row in rows)
            bar.update(len(chunk))
    return Timing(time.process_time() - cpu, time.perf_counter() - wall, fitted)


def history_sizes(alerts: Sequence[Alert]) -> dict[str, float]:
    """Mean and largest detections (the triggering one included) and forced sources."""
    det = np.array([len(a.detections) for a in alerts])
    forced = np.array([len(a.forced) for a in alerts])
    return {"mean_detections": round(float(det.mean()), 2), "max_detections": int(det.max()),
            "mean_forced": round(float(forced.mean()), 2), "max_forced": int(forced.max())}


def decode_alerts(settings: Settings, values: Sequence[bytes]) -> list[Alert]:
    """The alerts with a diaObject (or ZTF object) among ``values``: those the feature
    step sees."""
    decoded = decode_batch(values, settings.survey)
    return [a for a in decoded.alerts if not a.is_solar_system]


def run_features_bench(settings: Settings, n: int, source: list[Path] | None,
                       mix: str | None, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run the feature bench (module docstring); returns the results dictionary."""
    mix = mix or default_mix(settings.survey)
    messages = make_messages(settings, n, list(source or default_source(settings)), mix)
    alerts = decode_alerts(settings, [m.value for m in messages])
    batch = settings.batch_size
    log(f"{len(alerts)} alerts with an object, batches of {batch}")
    with_fits = time_features(alerts, settings.survey, batch, True, "features with fits")
    without = time_features(alerts, settings.survey, batch, False, "features without fits")
    fit_cpu = max(with_fits.cpu_s - without.cpu_s, 0.0)
    results = {
        "survey": settings.survey, "alerts": len(alerts), "batch": batch,
        "mix": mix, **history_sizes(alerts),
        "alerts_per_cpu_s": round(len(alerts) / with_fits.cpu_s),
        "alerts_per_wall_s": round(len(alerts) / with_fits.wall_s),
        "without_fits_alerts_per_cpu_s": round(len(alerts) / without.cpu_s),
        "accepted_fits": with_fits.fitted,
        "fit_cpu_ms_per_alert": round(1000 * fit_cpu / len(alerts), 3),
    }
    log(", ".join(f"{k} {v}" for k, v in results.items()))
    return results
