"""Fixtures of the catalogue tests: the positions of every shipped alert (the catalogues
and their index are shared: tests/unit/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from solas.surveys import (
    DecodeError,
    iter_alert_paths,
    normalise,
    raw_survey,
    read_alert_file,
)


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
