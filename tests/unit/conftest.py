"""Shared fixtures of the unit tests: the shared data, the real shipped catalogues and
their index (the catalogue tests and the sherlock bench's)."""
from __future__ import annotations

from pathlib import Path

import pytest

from catalogs.classifier import SherlockIndex, build_index
from catalogs.model import CatalogueRows
from catalogs.sources import load_catalogues
from solas.settings import get_settings


@pytest.fixture(scope="session")
def settings_data_dir():
    """The shared real sample data (../shared/data)."""
    return get_settings().data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data (settings ``data_dir``)."""
    path = get_settings().data_dir
    if not (path / "catalogs").is_dir():
        raise FileNotFoundError(f"catalogues not found under {path}: set SOLAS_DATA")
    return path


@pytest.fixture(scope="session")
def catalogues(data_dir: Path) -> dict[str, CatalogueRows]:
    """Every shipped catalogue, loaded once."""
    return load_catalogues(data_dir)


@pytest.fixture(scope="session")
def sherlock_index(catalogues: dict[str, CatalogueRows]) -> SherlockIndex:
    """The index over every shipped catalogue."""
    return build_index(catalogues)
