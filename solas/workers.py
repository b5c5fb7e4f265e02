"""Start, watch and stop Solas worker processes (for the demo, benchmarks, tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NamedTuple, Sequence

from prometheus_client.parser import text_string_to_metric_families

from solas.settings import Settings
from solas.stack.process import is_alive, read_pid, terminate

WORKER_MARKER = "solas.cli"  # in the command line of every worker started here
#: The counters of a stage's finished alerts (:func:`alerts_done`).
DONE_METRICS = ("solas_stage_out_alerts_total", "solas_stage_deadletter_alerts_total")


class WorkerProcess(NamedTuple):
    """A worker we started: its process, log file and metrics port."""

    process: subprocess.Popen
    log_path: Path
    metrics_port: int


def settings_environment(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process."""
    from dataclasses import fields

    env = {}
    for f in fields(settings):
        name = f.metadata.get("env")
        if name:
            env[name] = str(getattr(settings, f.name))
    return env


def start_worker(settings: Settings, agents: list[str], worker_id: int = 0,
                 extra_env: dict[str, str] | None = None) -> WorkerProcess:
    """Start ``solas worker --agents ...`` in its own session, logging to a file."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.logs_dir / f"worker-{worker_id}.log"
    env = {**os.environ, **settings_environment(settings), "SOLAS_WORKER_ID": str(worker_id),
           **(extra_env or {})}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MARKER, "worker", "--agents", ",".join(agents)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    pid_file = settings.home / "run" / f"worker-{worker_id}.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(process.pid))
    return WorkerProcess(process, log_path, settings.metrics_port + worker_id)


def start_portal(settings: Settings) -> subprocess.Popen:
    """Start ``solas web`` in its own session, logging to ``logs/web.log``; its pid goes
    to ``run/web.pid`` so ``solas stack down`` stops it."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings_environment(settings)}
    with open(settings.logs_dir / "web.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", WORKER_MARKER, "web"], stdout=log,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    pid_file = settings.home / "run" / "web.pid"
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(process.pid))
    return process


def stop_worker(worker: WorkerProcess, kill: bool = False, timeout_s: float = 30.0) -> None:
    """Stop a worker by pid: SIGTERM (or SIGKILL when ``kill``), then wait."""
    if worker.process.poll() is not None:
        return
    worker.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        worker.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait(timeout_s)


def read_metrics(port: int, timeout_s: float = 2.0, names: Sequence[str] = ()
                 ) -> dict[tuple[str, tuple], float]:
    """Samples of a /metrics endpoint as {(name, sorted labels): value}; only of the
    metrics ``names`` if given (the worker then renders and we parse only those: the
    filter worker's full page holds a histogram per filter)."""
    query = urllib.parse.urlencode([("name[]", name) for name in names])
    url = f"http://127.0.0.1:{port}/metrics" + (f"?{query}" if query else "")
    with urllib.request.urlopen(url, timeout=timeout_s) as r:
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metric(samples: dict, name: str, **labels) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def alerts_done(port: int, stage: str) -> float:
    """Alerts a worker's stage has finished: forwarded plus dead-lettered (0 if the
    worker does not answer yet)."""
    try:
        values = read_metrics(port, names=DONE_METRICS)
    except OSError:
        return 0.0
    return (metric(values, "solas_stage_out_alerts_total", stage=stage)
            + metric(values, "solas_stage_deadletter_alerts_total", stage=stage))


def wait_for_done(worker: WorkerProcess, stage: str, target: float, timeout_s: float
                  ) -> float:
    """Poll until the worker's stage has finished ``target`` alerts; returns the count.
    Raises if the worker exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    done = 0.0
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with code {worker.process.returncode}; "
                               f"see {worker.log_path}")
        done = alerts_done(worker.metrics_port, stage)
        if done >= target:
            return done
        time.sleep(0.2)
    raise TimeoutError(f"{stage}: {done} of {target} alerts done in {timeout_s} s; "
                       f"see {worker.log_path}")


def stop_recorded_workers(settings: Settings, timeout_s: float = 30.0) -> list[int]:
    """Stop every worker whose pid file is under ``$SOLAS_HOME/run`` (ours only: its
    command line must be ``solas.cli worker``); returns the pids stopped."""
    stopped = []
    run = settings.home / "run"
    for pid_file in sorted([*run.glob("worker-*.pid"), *run.glob("web.pid")]):
        pid = read_pid(pid_file)
        if pid is not None and is_alive(pid, WORKER_MARKER):
            terminate(pid, WORKER_MARKER, timeout_s)
            stopped.append(pid)
        pid_file.unlink(missing_ok=True)
    return stopped
