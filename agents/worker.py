"""Run a Faust worker with a chosen set of agents."""
from __future__ import annotations

import gc
import importlib
import logging
from typing import Sequence

from agents import AGENTS


def tune_garbage_collector(young_threshold: int) -> None:
    """Freeze the objects of start-up (modules, the app, catalogues) out of the cyclic
    collector's sight, and let ``young_threshold`` allocations pass between its runs on
    the youngest generation: alert batches are millions of short-lived dicts."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def run_worker(names: Sequence[str], loglevel: str = "INFO") -> None:
    """Register the agents ``names`` and run the worker until it is stopped."""
    unknown = sorted(set(names) - set(AGENTS))
    if unknown:
        raise SystemExit(f"unknown agents {unknown}; choose from {', '.join(AGENTS)}")
    from faust import Worker

    from agents.app import app, settings
    from solas.metrics import serve_metrics
    from solas.stores.survey_check import SurveyMismatch, check_worker_stores

    try:  # one survey per database: never write one survey's alerts into the other's
        check_worker_stores(settings, names)
    except SurveyMismatch as exc:
        raise SystemExit(f"solas worker: {exc}") from None

    app.conf.datadir.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        importlib.import_module(f"agents.{name}")
    importlib.import_module("agents.lag")
    port = settings.metrics_port + settings.worker_id
    serve_metrics(port, settings.metrics_bind)
    logging.getLogger(__name__).info("metrics on http://127.0.0.1:%d/metrics", port)
    tune_garbage_collector(settings.gc_young_threshold)
    Worker(app, loglevel=loglevel, redirect_stdouts=False).execute_from_commandline()
