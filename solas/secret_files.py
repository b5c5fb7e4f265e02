"""Secrets Solas makes for itself on first use (the portal's signing key, the read-only
MariaDB account's password): one file each, mode 0600, never logged."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def ensure_secret_file(path: Path, generate: Callable[[], str]) -> None:
    """Write ``generate()`` to ``path`` (mode 0600, parents made) unless the file exists;
    when several processes race, the first one's secret is kept."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    with os.fdopen(fd, "w") as out:
        out.write(generate())
