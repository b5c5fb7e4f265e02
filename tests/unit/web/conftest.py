"""Fixtures of the web unit tests: real alerts of the shared sample data."""
from __future__ import annotations

import pytest

from solas.surveys import normalise, read_alert_file


@pytest.fixture(scope="session")
def ztf_alert(settings_data_dir):
    """The last alert of ZTF21abiuvdk (15 detections, cutouts)."""
    folder = settings_data_dir / "alerts" / "ztf" / "pittgoogle-ZTF21abiuvdk"
    path = sorted(folder.glob("*.avro"))[-1]
    return normalise(read_alert_file(path, "ztf")[0], "ztf")


@pytest.fixture(scope="session")
def lsst_alert(settings_data_dir):
    """A real Rubin lsst.v10 alert with a long history."""
    path = settings_data_dir / "alerts" / "lsst" / "real-v10" / "part-2-918301.avro"
    return normalise(read_alert_file(path, "lsst")[0], "lsst")
