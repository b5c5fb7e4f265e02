"""``solas bench --stage sherlock``: the Sherlock-style classifier on one core.

:func:`bench_classifier` loads every shipped catalogue, builds the index and classifies
``n_alerts`` positions in batches: half drawn uniformly over the sky, half placed
0-30" from randomly chosen catalogued sources (so every rule is exercised).
"""
from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import psutil

from catalogs.classifier import build_index, classify_positions
from catalogs.sources import load_catalogues
from solas.settings import Settings


class ClassifierBench(NamedTuple):
    """Figures of one :func:`bench_classifier` run."""

    alerts: int
    sources: int
    """Catalogue rows loaded (all catalogues)."""
    load_s: float
    """Reading and parsing every catalogue, s."""
    build_s: float
    """Deriving radii and building the sky index, s."""
    index_mb: float
    """Memory held by the sky index (vectors, radii, trees), MB (estimate)."""
    rss_growth_mb: float
    """Growth of the process RSS over loading and building, MB."""
    classify_s: float
    alerts_per_s: float
    classifications: dict[str, int]


def bench_positions(index, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions (deg): half uniform on the sphere, half 0-30" from sources."""
    n_near = n // 2
    ra = rng.uniform(0.0, 360.0, n - n_near)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n - n_near)))
    usable = np.flatnonzero(np.isfinite(index.properties.search_radius_arcsec))
    picked = rng.choice(usable, n_near)
    offset = rng.uniform(0.0, 30.0, n_near) / 3600.0
    angle = rng.uniform(0.0, 2 * np.pi, n_near)
    near_dec = np.clip(index.rows.dec[picked] + offset * np.cos(angle), -90.0, 90.0)
    cos_dec = np.maximum(np.cos(np.radians(near_dec)), 1e-6)
    near_ra = (index.rows.ra[picked] + offset * np.sin(angle) / cos_dec) % 360.0
    return np.concatenate([ra, near_ra]), np.concatenate([dec, near_dec])


def bench_classifier(n_alerts: int = 100_000, data_dir: Path | None = None,
                     batch_size: int = 10_000, seed: int = 0,
                     names: Iterable[str] | None = None) -> ClassifierBench:
    """Load the catalogues (all, or ``names``), index them and classify ``n_alerts``
    positions in batches of ``batch_size``; ``data_dir`` defaults to the settings'
    data directory."""
    if data_dir is None:
        from solas.settings import get_settings
        data_dir = get_settings().data_dir
    process = psutil.Process()
    rss = process.memory_info().rss
    start = time.perf_counter()
    catalogues = load_catalogues(data_dir, names)
    loaded = time.perf_counter()
    index = build_index(catalogues)
    built = time.perf_counter()
    growth = (process.memory_info().rss - rss) / 1e6
    ra, dec = bench_positions(index, n_alerts, np.random.default_rng(seed))
    begin = time.perf_counter()
    batches = [classify_positions(ra[i:i + batch_size], dec[i:i + batch_size], index)
               for i in range(0, n_alerts, batch_size)]
    elapsed = time.perf_counter() - begin
    counts = Counter(r.classification for b in batches for r in b.results)
    return ClassifierBench(n_alerts, len(index.rows), loaded - start, built - loaded,
                           index.sky.nbytes / 1e6, growth, elapsed,
                           n_alerts / elapsed if elapsed > 0 else float("inf"),
                           dict(counts))


def bench_sherlock(settings: Settings, n: int) -> dict:
    """The classifier on one core against every shipped catalogue (no services)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal says
    print(f"loading every catalogue and classifying {n} positions on one core ...")
    b = bench_classifier(n, settings.data_dir)
    return {"stage": "sherlock", "alerts": n, "sustained_alerts_per_s": round(b.alerts_per_s, 1),
            "catalogue_sources": b.sources, "catalogue_load_s": round(b.load_s, 2),
            "index_build_s": round(b.build_s, 2), "index_mb": round(b.index_mb, 1),
            "rss_growth_mb": round(b.rss_growth_mb, 1), "classify_s": round(b.classify_s, 2),
            "classifications": b.classifications,
            "latency_s": {"p50": None, "p95": None, "p99": None},
            "peak_rss_mb": {"bench": round(psutil.Process().memory_info().rss / 2**20, 1)},
            "date": time.strftime("%Y-%m-%d")}
