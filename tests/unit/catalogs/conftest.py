"""Fixtures of the catalogue tests: the real shipped catalogues, their index and the
positions of every shipped alert."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from catalogs.classifier import SherlockIndex, build_index
from catalogs.model import CatalogueRows
from catalogs.sources import load_catalogues
from solas.settings import get_settings
from solas.surveys import DecodeError, iter_alert_paths, normalise, raw_survey, read_alert_file


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


@pytest.fixture(scope="session")
def alert_positions(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) in deg of every decodable shipped ZTF and Rubin alert (Avro and JSON);
    solar-system and id-less Rubin renderings have no object and are skipped."""
    ra, dec = [], []
    for path in iter_alert_paths([data_dir / "alerts" / "ztf", data_dir / "alerts" / "lsst"]):
        for raw in read_alert_file(path):
            try:
                alert = normalise(raw, raw_survey(raw))
            except DecodeError:
                continue
            ra.append(alert.ra)
            dec.append(alert.dec)
    return np.array(ra), np.array(dec)
