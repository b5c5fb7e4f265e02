"""``solas bench --stage ...``: the one entry point of every benchmark.

Each stage's module is imported only when its stage runs (matplotlib, the catalogues
and the portal are not loaded for the others)."""
from __future__ import annotations

import json
from pathlib import Path

from solas.replay import check_mix_survey
from solas.settings import Settings

STAGES = ("ingest", "sherlock", "filter", "features", "all", "portal", "decode")
"""The stages ``solas bench --stage`` runs."""
CLONING_STAGES = ("ingest", "filter", "features", "all")
"""Stages that clone alerts, so take ``--mix`` and ``--source``."""


def check_flags(settings: Settings, stage: str, workers: int, preload: bool,
                mix: str | None, warmup: int | None) -> None:
    """Refuse, with ``SystemExit`` naming the flag, flags the stage does not take."""
    if stage not in STAGES:
        raise SystemExit(f"unknown stage {stage!r}; available: {', '.join(STAGES)}")
    if (preload or workers != 1) and stage != "ingest":
        raise SystemExit("--workers and --preload are for --stage ingest")
    if warmup is not None and stage != "all":
        raise SystemExit("--warmup is for --stage all")
    if mix is not None:
        if stage not in CLONING_STAGES:
            raise SystemExit(f"--mix shapes the cloned alerts' histories; --stage {stage} "
                             "clones no alerts")
        try:
            check_mix_survey(mix, settings.survey)
        except ValueError as exc:
            raise SystemExit(f"--mix {mix}: {exc}") from None


def bench_stage(settings: Settings, stage: str, n: int, rate: float | None,
                json_path: str | None, source: list[Path], workers: int, preload: bool,
                mix: str | None, warmup: int | None) -> dict:
    """The results of one stage's benchmark (flags already checked)."""
    if stage == "ingest":
        from solas.bench.ingest import bench_ingest
        return bench_ingest(settings, n, rate, source, workers, preload, mix)
    if stage == "sherlock":
        from solas.bench.sherlock import bench_sherlock
        return bench_sherlock(settings, n)
    if stage == "filter":
        from solas.bench.filter import bench_filter
        return bench_filter(settings, n, source, mix)
    if stage == "features":
        from solas.bench.features import run_features_bench
        return run_features_bench(settings, n, source, mix)
    if stage == "portal":
        from solas.bench.portal import bench_portal
        return bench_portal(settings, n)
    if stage == "decode":
        from solas.bench.decode import bench_decode
        return bench_decode(settings)
    from solas.bench.end_to_end import DEFAULT_RATE, DEFAULT_WARMUP, bench_all
    plot = Path(json_path).with_suffix(".png") if json_path else Path("bench-all.png")
    return bench_all(settings, n, rate or DEFAULT_RATE, source, plot, mix,
                     DEFAULT_WARMUP if warmup is None else warmup)


def run_bench(settings: Settings, stage: str, n: int, rate: float | None,
              json_path: str | None, source: list[str] | None = None, workers: int = 1,
              preload: bool = False, mix: str | None = None,
              warmup: int | None = None) -> int:
    """Entry point of ``solas bench``; prints and optionally writes JSON.  ``mix``: the
    history mix of the cloned alerts (default :func:`solas.bench.common.default_mix`;
    ``wide`` and ``deep`` are for Rubin only)."""
    check_flags(settings, stage, workers, preload, mix, warmup)
    result = bench_stage(settings, stage, n, rate, json_path, [Path(p) for p in source or ()],
                         workers, preload, mix, warmup)
    text = json.dumps(result, indent=2)
    print(text)
    if json_path:
        Path(json_path).write_text(text + "\n")
    return 0
