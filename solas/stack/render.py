"""Writers for the generated configuration files (YAML and Java properties)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path


def render_yaml(mapping: Mapping[str, object]) -> str:
    """YAML text with one top-level key per line, each value in JSON (a YAML subset)."""
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in mapping.items())


def render_properties(mapping: Mapping[str, object]) -> str:
    """Java ``.properties`` text, one ``key=value`` per line."""
    return "".join(f"{key}={value}\n" for key, value in mapping.items())


def write_if_changed(path: Path, text: str) -> None:
    """Write *text* to *path* (creating its folder) unless it already holds exactly that."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
