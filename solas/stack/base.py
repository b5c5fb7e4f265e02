"""The :class:`Service` interface of the local stack and its shared process life cycle.

A service owns, under ``$SOLAS_HOME``: ``conf/<name>/`` (generated configuration),
``data/<name>/``, ``logs/<name>.log`` and ``run/<name>.pid``.  Subclasses say how to
prepare, which command to run, which ports it needs and how to ask it a real question
(:meth:`Service.ready`); the base class starts it detached, waits, and stops it by pid.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

from solas.settings import Settings
from solas.stack.process import (StackError, can_connect, describe, is_alive, is_running,
                                 port_in_use, port_owner, read_pid, spawn, tail, terminate)


class ServiceStatus(NamedTuple):
    """State of one service as seen by :func:`solas.stack.status`."""

    name: str
    running: bool
    ready: bool
    pid: int | None
    detail: str


def say(message: str) -> None:
    """Print one progress line of the stack tooling."""
    print(f"[stack] {message}", flush=True)


class Service(ABC):
    """One local service process managed by Solas."""

    name: ClassVar[str]
    #: Longest wait for a start to answer a real request, seconds.
    ready_timeout_s: ClassVar[float] = 60.0
    #: Longest wait after SIGTERM before SIGKILL, seconds.
    stop_timeout_s: ClassVar[float] = 30.0
    #: Pause between readiness probes, seconds.
    poll_s: ClassVar[float] = 0.5

    def __init__(self, settings: Settings, path: str | None = None) -> None:
        """Bind the service to *settings*; *path* overrides PATH for finding executables."""
        self.settings = settings
        self.path = path
        home = settings.home.resolve()
        self.home = home
        self.conf_dir = home / "conf" / self.name
        self.data_dir = home / "data" / self.name
        self.log_file = home / "logs" / f"{self.name}.log"
        self.pid_file = home / "run" / f"{self.name}.pid"

    # ----- what each service defines -------------------------------------------------
    @property
    @abstractmethod
    def ports(self) -> dict[str, int]:
        """TCP ports on 127.0.0.1 the service listens on, by role."""

    @abstractmethod
    def install(self) -> None:
        """Fetch or check everything the service needs to run (idempotent, no apt)."""

    @abstractmethod
    def prepare(self) -> None:
        """Write configuration, initialise data on first start, clear stale state."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line of the service process (must mention :attr:`marker`)."""

    @abstractmethod
    def ready(self) -> bool:
        """True if the service answers a real request now (each probe takes a few s)."""

    # ----- shared life cycle ----------------------------------------------------------
    @property
    def marker(self) -> str:
        """Text found in the command line of our process only: its config folder."""
        return str(self.conf_dir)

    def pid(self) -> int | None:
        """Pid of our running process, or None (a stale pid file is ignored)."""
        pid = read_pid(self.pid_file)
        return pid if pid is not None and is_alive(pid, self.marker) else None

    def start(self) -> int:
        """Start the process detached (it must not be running); its pid."""
        self.pid_file.unlink(missing_ok=True)
        adopted = self._claim_ports()
        if adopted is not None:
            return adopted
        self.install()
        self.prepare()
        pid = spawn(self.command(), self.log_file, cwd=self.data_dir)
        self._write_pid(pid)
        return pid

    def stop(self) -> None:
        """Stop our process: SIGTERM, then SIGKILL after :attr:`stop_timeout_s`."""
        pid = self.pid()
        if pid is not None:
            terminate(pid, self.marker, self.stop_timeout_s)
        self.pid_file.unlink(missing_ok=True)

    def ensure_up(self) -> str:
        """Start the service unless it is ready; return once it answers. A summary line."""
        pid = self.pid()
        if pid is not None and self.ready():
            return f"{self.name}: already ready (pid {pid})"
        started = time.monotonic()
        if pid is None:
            pid = self.start()
        self.wait_ready(pid)
        return f"{self.name}: ready in {time.monotonic() - started:.1f} s (pid {pid})"

    def wait_ready(self, pid: int) -> None:
        """Wait until :meth:`ready`, at most :attr:`ready_timeout_s` seconds."""
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if not is_running(pid):
                raise self._failure("exited during start-up")
            if self.ready():
                return
            time.sleep(self.poll_s)
        raise self._failure(f"did not become ready within {self.ready_timeout_s:.0f} s")

    def status(self) -> ServiceStatus:
        """Whether our process runs and whether it answers a real request."""
        pid = self.pid()
        ready = self.ready()
        ports = ", ".join(f"127.0.0.1:{port}" for port in self.ports.values())
        if ready and pid is None:
            detail = f"answering on {ports}, but not started from {self.home}"
        elif ready:
            detail = f"ready on {ports}"
        elif pid is not None:
            detail = "running but not answering (starting?)"
        else:
            detail = "not running"
        return ServiceStatus(self.name, pid is not None, ready, pid, detail)

    # ----- helpers -------------------------------------------------------------------
    def _write_pid(self, pid: int) -> None:
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{pid}\n")

    def _claim_ports(self) -> int | None:
        """Check our ports are free; adopt our own process if it holds them (its pid)."""
        for role, port in self.ports.items():
            if not port_in_use(port):
                continue
            owner = port_owner(port)
            if owner is not None and is_alive(owner.pid, self.marker):
                self._write_pid(owner.pid)
                return owner.pid
            raise StackError(
                f"port {port} needed by {self.name} ({role}) is already in use by "
                f"{describe(owner)}, which this stack ({self.home}) did not start: stop "
                f"it, or give {self.name} another port in the Solas settings")
        return None

    def _failure(self, what: str) -> StackError:
        return StackError(f"{self.name} {what}; see its log {self.log_file}, last lines:\n"
                          f"{tail(self.log_file)}")

    def _port_open(self, role: str) -> bool:
        """Cheap pre-check before a real request: does the *role* port accept TCP?"""
        return can_connect(self.ports[role])
