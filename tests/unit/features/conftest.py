"""Fixtures of the feature tests: the real sample alerts of ../shared/data and
factories of small synthetic alerts."""
from __future__ import annotations

from pathlib import Path

import pytest

from solas.settings import get_settings
from solas.surveys import (Alert, DecodeError, iter_alert_paths, normalise,
                           read_alert_file)


def _alerts(folder: Path, survey: str) -> list[Alert]:
    if not folder.is_dir():
        raise FileNotFoundError(f"sample alerts not found at {folder}: set SOLAS_DATA")
    out = []
    for path in sorted(iter_alert_paths([folder])):
        for raw in read_alert_file(path):
            try:
                alert = normalise(raw, survey)
            except DecodeError:  # the id-less rendering
                continue
            if not alert.is_solar_system:  # features are for diaObjects only
                out.append(alert)
    return out


@pytest.fixture(scope="session")
def alerts_dir() -> Path:
    return get_settings().data_dir / "alerts"


@pytest.fixture(scope="session")
def ztf_sequence(alerts_dir) -> list[Alert]:
    """The 34 successive alerts of ZTF21abiuvdk, in time order."""
    alerts = _alerts(alerts_dir / "ztf" / "pittgoogle-ZTF21abiuvdk", "ztf")
    assert len(alerts) == 34
    return sorted(alerts, key=lambda a: a.mjd)


@pytest.fixture(scope="session")
def ztf_other(alerts_dir) -> list[Alert]:
    """Real ZTF alerts of other objects and schema versions."""
    return (_alerts(alerts_dir / "ztf" / "kowalski", "ztf")
            + _alerts(alerts_dir / "ztf" / "pittgoogle-labelled", "ztf"))


@pytest.fixture(scope="session")
def lsst_real(alerts_dir) -> list[Alert]:
    """Real Rubin lsst.v10_0 alerts with long histories (diaObjects only)."""
    alerts = _alerts(alerts_dir / "lsst" / "real-v10", "lsst")
    assert len(alerts) == 5
    return alerts


@pytest.fixture(scope="session")
def lsst_json(alerts_dir) -> list[Alert]:
    """Lasair JSON renderings of Rubin alerts, schemas 7.0-10.0 and DP0.2."""
    alerts = _alerts(alerts_dir / "lsst" / "lasair-json", "lsst")
    assert len(alerts) >= 9
    return alerts


def _lsst_alert(points, object_id=1, ra=150.0, dec=2.0, forced=(), obj=None) -> Alert:
    """A Rubin alert from (mjd, band, flux nJy[, err nJy[, reliability]]) tuples."""
    rows = []
    for i, p in enumerate(points):
        t, band, flux = p[:3]
        rows.append({"diaSourceId": object_id * 1000 + i, "midpointMjdTai": t, "band": band,
                     "psfFlux": flux, "psfFluxErr": p[3] if len(p) > 3 else 10.0,
                     "reliability": p[4] if len(p) > 4 else 0.9})
    forced_rows = [{"midpointMjdTai": t, "band": b, "psfFlux": f, "psfFluxErr": e}
                   for t, b, f, e in forced]
    last = max((r["midpointMjdTai"] for r in rows), default=60000.0)
    return Alert("lsst", object_id, object_id * 1000, ra, dec, last, "test",
                 obj if obj is not None else {"diaObjectId": object_id, "ra": ra, "dec": dec},
                 rows, forced_rows, [], {})


def _ztf_alert(points, object_id="ZTF00aaaaaaa", ra=150.0, dec=2.0, **latest) -> Alert:
    """A ZTF alert from (jd, fid, magpsf[, sigmapsf[, isdiffpos[, drb]]]) tuples; the
    keyword arguments go into the last (triggering) detection."""
    rows = []
    for i, p in enumerate(points):
        jd, fid, mag = p[:3]
        rows.append({"candid": i + 1, "jd": jd, "fid": fid, "magpsf": mag,
                     "sigmapsf": p[3] if len(p) > 3 else 0.05,
                     "isdiffpos": p[4] if len(p) > 4 else "t",
                     "drb": p[5] if len(p) > 5 else 0.9, "ra": ra, "dec": dec})
    if rows:
        rows[-1].update(latest)
    last = max((r["jd"] for r in rows), default=2460000.5) - 2400000.5
    return Alert("ztf", object_id, len(rows), ra, dec, last, "test", {}, rows, [], [], {})


@pytest.fixture
def make_lsst():
    """Factory of synthetic Rubin alerts (see ``_lsst_alert``)."""
    return _lsst_alert


@pytest.fixture
def make_ztf():
    """Factory of synthetic ZTF alerts (see ``_ztf_alert``)."""
    return _ztf_alert
