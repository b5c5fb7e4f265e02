"""One ``objects`` row per alert: the public entry point of :mod:`solas.features`."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from solas.features.lsst import lsst_features
from solas.features.points import FeatureError
from solas.features.ztf import MIN_RATE_INTERVAL_S, ztf_features
from solas.schema.tables import mariadb_tables
from solas.surveys import Alert

SURVEYS = ("ztf", "lsst")
SKIPPED_COLUMNS = frozenset({"timestamp"})
"""``objects`` columns the feature code does not fill (the store sets them)."""


@lru_cache(maxsize=2)
def object_columns(survey: str) -> tuple[str, ...]:
    """Names of the ``objects`` columns of ``survey`` that :func:`compute_features`
    fills, in table order (every column but ``timestamp``)."""
    _check_survey(survey)
    objects = next(t for t in mariadb_tables(survey) if t.name == "objects")
    return tuple(c.name for c in objects.columns if c.name not in SKIPPED_COLUMNS)


def _check_survey(survey: str) -> None:
    if survey not in SURVEYS:
        raise FeatureError(f"unknown survey {survey!r}: expected one of {', '.join(SURVEYS)}")


def _check_alerts(alerts: Sequence[Alert], survey: str) -> None:
    for i, alert in enumerate(alerts):
        if not isinstance(alert, Alert):
            raise FeatureError(f"batch item {i} is a {type(alert).__name__}, not an Alert")
        if alert.survey != survey:
            raise FeatureError(f"batch item {i} ({alert.object_id}) is a {alert.survey} "
                               f"alert, but features are computed for {survey}")


def compute_feature_columns(alerts: Sequence[Alert], survey: str,
                            context: Mapping[Any, Mapping[str, Any]] | None = None, *,
                            fits: bool = True,
                            min_rate_interval_s: float = MIN_RATE_INTERVAL_S
                            ) -> dict[str, np.ndarray]:
    """The computed ``objects`` columns of a batch, one array of ``len(alerts)`` per
    column (float columns NaN, text columns None, count and index columns -1, where
    undefined).

    Rubin: :mod:`solas.features.lsst` (the remaining diaObject columns are not
    included: :func:`compute_features` copies them); ZTF: :mod:`solas.features.ztf`.
    ``context`` maps object id -> Sherlock-like mapping (``distance``/``direct_distance``
    Mpc, ``z``/``photoZ``, ``classification``), used by Rubin absolute magnitudes and to
    pick the objects to fit; ``fits=False`` skips the per-object BBB fits.
    ``min_rate_interval_s`` is the shortest interval, s, a rate between two detections
    is computed over (ZTF ``dmdt_*``; the settings give it,
    ``Settings.features_min_rate_interval_s``).
    """
    _check_survey(survey)
    _check_alerts(alerts, survey)
    if not (math.isfinite(min_rate_interval_s) and min_rate_interval_s >= 0):
        raise FeatureError(f"min_rate_interval_s must be a finite number >= 0, not "
                           f"{min_rate_interval_s!r}")
    if survey == "ztf":
        return ztf_features(alerts, min_rate_interval_s)
    return lsst_features(alerts, context, fits)


def _python(value: Any) -> Any:
    """A JSON/SQL-ready scalar: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _column_values(values: np.ndarray) -> list[Any]:
    """A column as Python scalars, None where undefined."""
    if values.dtype.kind in "iu":  # counts and sky index: -1 marks "none"
        return [v if v >= 0 else None for v in values.tolist()]
    if values.dtype.kind == "f":
        out = values.tolist()
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            out[i] = None
        return out
    return [_python(v) for v in values.tolist()]


def compute_features(alerts: Sequence[Alert], survey: str,
                     context: Mapping[Any, Mapping[str, Any]] | None = None, *,
                     fits: bool = True,
                     min_rate_interval_s: float = MIN_RATE_INTERVAL_S) -> list[dict[str, Any]]:
    """One ``objects`` row per alert, in batch order: a dict with exactly the columns
    :func:`object_columns` gives (Python int/float/str/None; NaN, infinities and the
    -1 of an undefined count become None, so an undefined value is stored as NULL).

    The feature columns come from :func:`compute_feature_columns`; for Rubin the
    other columns are the alert's own diaObject fields (None where absent).  Raises
    :class:`FeatureError` (a ``ValueError``) for an unknown survey, an alert of another
    survey, a light-curve field that is not a number, or a bad ``min_rate_interval_s``.
    """
    names = object_columns(survey)
    computed = compute_feature_columns(alerts, survey, context, fits=fits,
                                       min_rate_interval_s=min_rate_interval_s)
    objects = [a.object for a in alerts]
    columns = []
    for name in names:
        if name in computed:
            columns.append(_column_values(computed[name]))
        else:
            columns.append([_python(obj.get(name)) for obj in objects])
    return [dict(zip(names, row)) for row in zip(*columns)] if alerts else []
