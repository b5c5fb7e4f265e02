"""Install, start, stop and inspect the whole local stack (all services in parallel)."""
from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from solas.settings import Settings
from solas.stack.base import Service, ServiceStatus, say
from solas.stack.cassandra import CassandraService
from solas.stack.kafka import KafkaService
from solas.stack.mariadb import MariaDBService
from solas.stack.process import StackError, which
from solas.stack.prometheus import PrometheusService

#: Services of the stack, slowest first so it starts first.
SERVICE_TYPES: tuple[type[Service], ...] = (
    CassandraService, KafkaService, MariaDBService, PrometheusService)
#: Debian package -> an executable it provides (installed iff that is found).
DEBIAN_PACKAGES = {
    "mariadb-server": "mariadbd",
    "mariadb-client": "mariadb",
    "prometheus": "prometheus",
    "openjdk-17-jre-headless": "java",
    "openjdk-17-jdk-headless": "javac",  # compiles Kafka's principal builder
    "maven": "mvn",
    "chromium": "chromium",            # browser tests (headless, never downloaded by a tool)
    "chromium-driver": "chromedriver",
}
#: Debian services whose packages could start them on our ports.
SYSTEM_SERVICES = ("mariadb", "prometheus")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")

T = TypeVar("T")


def services(settings: Settings, path: str | None = None) -> list[Service]:
    """One object per service of the stack, bound to *settings*."""
    return [kind(settings, path) for kind in SERVICE_TYPES]


def _each(settings: Settings, path: str | None,
          action: Callable[[Service], T]) -> dict[str, T]:
    """Run *action* on every service in parallel; results by name, StackErrors joined."""
    results: dict[str, T] = {}
    errors: list[str] = []
    svcs = services(settings, path)
    with ThreadPoolExecutor(max_workers=len(svcs)) as pool:
        futures = {pool.submit(action, svc): svc.name for svc in svcs}
        for future in as_completed(futures):
            try:
                results[futures[future]] = future.result()
            except StackError as exc:
                errors.append(str(exc))
    if errors:
        raise StackError("\n\n".join(errors))
    return {svc.name: results[svc.name] for svc in svcs}


def missing_packages(path: str | None = None) -> list[str]:
    """Debian packages of the stack whose executable is not found."""
    return [pkg for pkg, exe in DEBIAN_PACKAGES.items() if which(exe, path) is None]


@contextlib.contextmanager
def _no_service_starts() -> Iterator[None]:
    """Forbid package scripts to start services (policy-rc.d exiting 101) meanwhile."""
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def _run(cmd: list[str]) -> None:
    say("$ " + " ".join(cmd))
    code = subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        raise StackError(f"`{' '.join(cmd)}` failed with exit code {code}")


def apt_install(packages: list[str]) -> None:
    """``apt-get update`` then install *packages* (as root), without starting services."""
    if os.geteuid() != 0:
        raise StackError("missing Debian packages: " + " ".join(packages) +
                         "; as root run: apt-get install -y " + " ".join(packages))
    with _no_service_starts():
        _run(["apt-get", "update"])
        _run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
              "--no-install-recommends", *packages])
    if Path("/run/systemd/system").is_dir():  # keep system copies off our ports at boot
        subprocess.run(["systemctl", "disable", "--now", *SYSTEM_SERVICES], check=False)


def install(settings: Settings, path: str | None = None) -> None:
    """Idempotent bootstrap: missing Debian packages (as root), then the Maven jars."""
    packages = missing_packages(path)
    if packages:
        say("installing Debian packages: " + " ".join(packages))
        apt_install(packages)
    for svc in services(settings, path):
        svc.install()
    say("install complete")


def up(settings: Settings, path: str | None = None) -> None:
    """Start every service that is not ready; return once each answers a real request."""
    for svc in services(settings, path):
        svc.install()
    _each(settings, path, lambda svc: say(svc.ensure_up()))


def down(settings: Settings, path: str | None = None) -> None:
    """Stop the workers, then the services Solas started (by pid: SIGTERM, then SIGKILL
    after a timeout)."""
    from solas.workers import stop_recorded_workers  # solas.workers imports this package

    for pid in stop_recorded_workers(settings):
        say(f"worker {pid} stopped")
    _each(settings, path, Service.stop)
    say("stack stopped")


def service(settings: Settings, name: str, path: str | None = None) -> Service:
    """The service called *name* (``kafka``, ``cassandra``, ``mariadb``, ``prometheus``)."""
    for svc in services(settings, path):
        if svc.name == name:
            return svc
    known = ", ".join(kind.name for kind in SERVICE_TYPES)
    raise StackError(f"no service {name!r} in the stack; choose from {known}")


def stop_service(settings: Settings, name: str, path: str | None = None) -> None:
    """Stop one service by pid (SIGTERM, then SIGKILL after its timeout), leaving the
    others and the workers running: for fault drills."""
    service(settings, name, path).stop()
    say(f"{name}: stopped")


def start_service(settings: Settings, name: str, path: str | None = None) -> str:
    """Start one service unless it is ready; return once it answers a real request.
    A summary line."""
    message = service(settings, name, path).ensure_up()
    say(message)
    return message


def restart_service(settings: Settings, name: str, path: str | None = None) -> str:
    """Stop one service, then start it again and wait until it answers."""
    stop_service(settings, name, path)
    return start_service(settings, name, path)


def status(settings: Settings, path: str | None = None) -> dict[str, ServiceStatus]:
    """State of each service: our process running, and answering a real request."""
    return _each(settings, path, Service.status)
