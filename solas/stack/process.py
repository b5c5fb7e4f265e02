"""Process and port helpers for the local stack: pid files, detached spawn, stop by pid.

Only processes Solas started are ever signalled: a pid counts as ours when it is alive
and its command line contains the service's *marker* (a path under ``$SOLAS_HOME``), so
a recycled pid of a foreign process is never touched.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path

import psutil

#: Folders searched after PATH: Debian keeps daemons such as ``mariadbd`` in sbin.
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
#: Longest wait for a process to disappear after SIGKILL, seconds.
KILL_WAIT_S = 10.0


class StackError(RuntimeError):
    """A local-stack operation failed; the message says what to do about it."""


def which(name: str, path: str | None = None) -> str | None:
    """Absolute path of executable *name*, searched in *path*, or in PATH then sbin."""
    searches = [path] if path is not None else [None, os.pathsep.join(SBIN_DIRS)]
    for search in searches:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


def find_tool(name: str, packages: str, path: str | None = None) -> str:
    """Like :func:`which`, but a StackError names the Debian *packages* providing *name*."""
    found = which(name, path)
    if found is None:
        raise StackError(f"{name} not found: install the Debian package(s) {packages} (as "
                         f"root: apt-get install -y {packages}, or run `solas stack install`)")
    return found


def is_running(pid: int) -> bool:
    """True if process *pid* exists and is not a zombie (an exited child is reaped)."""
    with contextlib.suppress(ChildProcessError):  # raised when not our child
        os.waitpid(pid, os.WNOHANG)
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_alive(pid: int, marker: str) -> bool:
    """True if *pid* is running and its command line contains *marker* (it is ours).

    Right after ``exec`` the command line can read empty for a moment: callers that
    just spawned *pid* use :func:`is_running` instead.
    """
    if not is_running(pid):
        return False
    try:
        return any(marker in arg for arg in psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in *pid_file*, or None if absent or unreadable."""
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def spawn(cmd: list[str], log_file: Path, cwd: Path) -> int:
    """Start *cmd* detached (new session), appending stdout/stderr to *log_file*; its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"\n=== solas stack: starting at {time.ctime()}: {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    return proc.pid


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait up to *timeout_s* seconds for *pid* to end; True if it did."""
    deadline = time.monotonic() + timeout_s
    while is_running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pid: int, marker: str, timeout_s: float) -> None:
    """SIGTERM our process *pid*, wait up to *timeout_s* seconds, then SIGKILL it.

    Once ownership is checked, the wait watches the pid alone: an exiting process loses
    its command line before it closes its sockets.
    """
    if not is_alive(pid, marker):
        return
    _signal(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout_s):
        return
    _signal(pid, signal.SIGKILL)
    if not _wait_gone(pid, KILL_WAIT_S):
        raise StackError(f"process {pid} survived SIGKILL for {KILL_WAIT_S:.0f} s")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if TCP *port* on *host* cannot be bound because something listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_owner(port: int) -> psutil.Process | None:
    """The process listening on TCP *port*, if it can be seen (needs root for others')."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port \
                and conn.pid:
            try:
                return psutil.Process(conn.pid)
            except psutil.NoSuchProcess:
                return None
    return None


def describe(proc: psutil.Process | None) -> str:
    """Short text naming *proc* (pid and command line) for error messages."""
    if proc is None:
        return "an unknown process"
    try:
        return f"pid {proc.pid} ({' '.join(proc.cmdline())[:120]})"
    except psutil.Error:
        return f"pid {proc.pid}"


def can_connect(port: int, host: str = "127.0.0.1", timeout_s: float = 1.0) -> bool:
    """True if a TCP connection to *host*:*port* succeeds within *timeout_s* seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 30) -> str:
    """The last *lines* lines of text file *path* (empty if it does not exist)."""
    try:
        with open(path, "rb") as handle:
            return b"".join(deque(handle, maxlen=lines)).decode(errors="replace")
    except FileNotFoundError:
        return ""
