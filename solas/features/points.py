"""Flatten the native light-curve rows of a batch of alerts into column arrays.

All rows of one kind (detections or forced photometry) of every alert of a batch go
into one array per field, with the index of their alert in ``obj``, sorted by alert
then time.  Older schemas spell some fields differently, so each field is given as a
tuple of accepted names; an alert uses the first name its first (or last) row carries.  Missing
or null values become NaN (numbers) or None (text); rows without a finite time are
dropped.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

from solas.surveys import Alert


class FeatureError(ValueError):
    """Alert content the feature code cannot use (names the alert, row and field)."""


class Points(NamedTuple):
    """Light-curve points of a batch, sorted by alert index then time."""

    obj: np.ndarray
    """Index (0..n-1) of each point's alert in the batch, int64, non-decreasing."""
    t: np.ndarray
    """Time of each point (the survey's time field: MJD for Rubin, JD for ZTF), days."""
    num: dict[str, np.ndarray]
    """Numeric fields, float64 (NaN where missing)."""
    text: dict[str, np.ndarray]
    """Text fields, object arrays (None where missing)."""

    @property
    def size(self) -> int:
        return int(self.obj.size)


def _key(rows: Sequence[dict], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that the alert's first or last row carries (the last
    row, the triggering detection, may carry fields earlier rows lack)."""
    first, last = rows[0], rows[-1]
    return next((name for name in names if name in first or name in last), None)


def _raw_values(alerts: Sequence[Alert], kind: str,
                names: tuple[str, ...]) -> tuple[list[Any], list[str | None]]:
    values: list[Any] = []
    keys: list[str | None] = []
    for alert in alerts:
        rows = getattr(alert, kind)
        key = _key(rows, names) if rows else None
        keys.append(key)
        if key is None:
            values.extend([None] * len(rows))
            continue
        try:
            got = list(map(itemgetter(key), rows))  # fast path: every row has the key
        except KeyError:
            got = [row.get(key) for row in rows]
        values.extend(got)
    return values, keys


def _bad_value(alerts: Sequence[Alert], kind: str, keys: list[str | None]) -> FeatureError:
    """The error naming the first row whose field is not a number."""
    for alert, key in zip(alerts, keys):
        for i, row in enumerate(getattr(alert, kind)):
            value = row.get(key) if key else None
            try:
                float(value if value is not None else "nan")
            except (TypeError, ValueError):
                return FeatureError(f"{alert.survey} alert {alert.object_id}: {kind}[{i}]."
                                    f"{key} is not a number ({value!r})")
    return FeatureError(f"{kind}: a numeric field holds a value that is not a number")


def _floats(alerts: Sequence[Alert], kind: str, names: tuple[str, ...]) -> np.ndarray:
    values, keys = _raw_values(alerts, kind, names)
    try:
        return np.array(values, dtype=np.float64).reshape(len(values))
    except (TypeError, ValueError):
        raise _bad_value(alerts, kind, keys) from None


def gather(alerts: Sequence[Alert], kind: str, time: tuple[str, ...],
           num: Mapping[str, tuple[str, ...]],
           text: Mapping[str, tuple[str, ...]] | None = None) -> Points:
    """Columns of the ``kind`` rows (``"detections"`` or ``"forced"``) of ``alerts``.

    ``time``, and each value of ``num`` and ``text``, are the accepted spellings of one
    field; the arrays are keyed by the names of ``num`` and ``text``.
    """
    lengths = np.fromiter((len(getattr(a, kind)) for a in alerts), np.int64, len(alerts))
    obj = np.repeat(np.arange(len(alerts), dtype=np.int64), lengths)
    t = _floats(alerts, kind, time)
    numbers = {name: _floats(alerts, kind, names) for name, names in num.items()}
    texts = {name: np.fromiter(_raw_values(alerts, kind, names)[0], object, obj.size)
             for name, names in (text or {}).items()}
    keep = np.isfinite(t)
    order = np.flatnonzero(keep)[np.lexsort((t[keep], obj[keep]))]
    return Points(obj[order], t[order], {k: v[order] for k, v in numbers.items()},
                  {k: v[order] for k, v in texts.items()})


def lookup_codes(values: np.ndarray, codes: Mapping[Any, int]) -> np.ndarray:
    """Integer code of each value (e.g. band name -> index), -1 if unknown."""
    get = codes.get
    try:
        return np.array([get(v, -1) for v in values.tolist()], dtype=np.int64)
    except TypeError:  # an unhashable value: look the values up one by one
        return np.array([get(v, -1) if isinstance(v, (str, int, bool)) else -1
                         for v in values.tolist()], dtype=np.int64)
