"""Fixtures for the survey decoding tests: the real sample alerts of ../shared/data."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from solas.settings import get_settings


def same(a, b) -> bool:
    """Deep equality treating NaN as equal to NaN (Avro floats may be NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.fixture(scope="session")
def alerts_dir() -> Path:
    """The real sample alerts (settings ``data_dir``/alerts)."""
    path = get_settings().data_dir / "alerts"
    if not path.is_dir():
        raise FileNotFoundError(f"sample alerts not found at {path}: set SOLAS_DATA")
    return path


@pytest.fixture(scope="session")
def lsst_sample_dirs() -> dict[int, Path]:
    """lsst-alert-packet schema folders by Rubin schema id (major*100 + minor)."""
    from lsst.alert.packet import get_schema_root
    out = {}
    for major in get_schema_root().iterdir():
        if major.name.isdigit():
            for minor in major.iterdir():
                if minor.name.isdigit() and (minor / "sample_data" / "fakeAlert.avro").is_file():
                    out[int(major.name) * 100 + int(minor.name)] = Path(str(minor))
    return out


@pytest.fixture(scope="session")
def same_records():
    """NaN-aware deep equality."""
    return same
