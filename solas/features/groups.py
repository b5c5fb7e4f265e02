"""Vectorised per-group reductions over a whole batch of light curves.

Every light-curve point of a batch sits in one flat array with an integer *group key*
(an object index ``0..n-1``, or ``object * n_bands + band`` for per-band statistics).
These helpers reduce such arrays with ``np.bincount`` and ``ufunc.at`` instead of
Python loops over objects.  Empty groups give NaN (floats) or -1 (indices).
"""
from __future__ import annotations

import numpy as np

NO_INDEX = -1
"""Index returned for an empty group."""


def counts(key: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Number of points of each of the ``n`` groups (where ``mask``), int64."""
    k = key if mask is None else key[mask]
    return np.bincount(k, minlength=n).astype(np.int64)


def sums(key: np.ndarray, n: int, values: np.ndarray,
         mask: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``values`` in each group (where ``mask``), float64; 0 for empty groups."""
    if mask is not None:
        key, values = key[mask], values[mask]
    return np.bincount(key, weights=values, minlength=n)


def means(key: np.ndarray, n: int, values: np.ndarray,
          mask: np.ndarray | None = None) -> np.ndarray:
    """Arithmetic mean of ``values`` in each group (where ``mask``); NaN if empty."""
    num = counts(key, n, mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(num > 0, sums(key, n, values, mask) / num, np.nan)


def extreme(key: np.ndarray, n: int, values: np.ndarray, largest: bool,
            mask: np.ndarray | None = None) -> np.ndarray:
    """Maximum (``largest``) or minimum of ``values`` in each group; NaN if empty."""
    if mask is not None:
        key, values = key[mask], values[mask]
    fill = -np.inf if largest else np.inf
    out = np.full(n, fill)
    (np.maximum if largest else np.minimum).at(out, key, values)
    out[out == fill] = np.nan
    return out


def last_index(key: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Position of the last point of each group (where ``mask``), -1 if none.

    "Last" is in array order: for points sorted by time within each object it is the
    latest point.
    """
    pos = np.arange(key.size)
    if mask is not None:
        key, pos = key[mask], pos[mask]
    out = np.full(n, NO_INDEX, dtype=np.int64)
    np.maximum.at(out, key, pos)
    return out


def first_index(key: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Position of the first point of each group (where ``mask``), -1 if none."""
    pos = np.arange(key.size)
    if mask is not None:
        key, pos = key[mask], pos[mask]
    sentinel = np.iinfo(np.int64).max
    out = np.full(n, sentinel, dtype=np.int64)
    np.minimum.at(out, key, pos)
    out[out == sentinel] = NO_INDEX
    return out


def take(values: np.ndarray, index: np.ndarray, fill=np.nan) -> np.ndarray:
    """``values[index]`` with ``fill`` where ``index`` is -1."""
    if values.size == 0:
        return np.full(index.shape, fill, dtype=np.result_type(values, np.asarray(fill)))
    out = values[np.clip(index, 0, None)]
    if np.any(index < 0):
        out = out.astype(np.result_type(out, np.asarray(fill)), copy=True)
        out[index < 0] = fill
    return out


def medians(key: np.ndarray, n: int, values: np.ndarray,
            mask: np.ndarray | None = None) -> np.ndarray:
    """Median of ``values`` in each group (where ``mask``); NaN if empty."""
    if mask is not None:
        key, values = key[mask], values[mask]
    order = np.lexsort((values, key))
    ordered = values[order]
    num = np.bincount(key, minlength=n)
    start = np.concatenate(([0], np.cumsum(num)[:-1]))
    out = np.full(n, np.nan)
    has = num > 0
    lo = start[has] + (num[has] - 1) // 2
    hi = start[has] + num[has] // 2
    out[has] = 0.5 * (ordered[lo] + ordered[hi])
    return out


def top_two(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest finite value of each row of a 2-D array with at
    least two columns (NaN where the row has fewer finite values)."""
    filled = np.where(np.isfinite(values), values, -np.inf)
    ordered = np.sort(filled, axis=1)[:, -2:]
    ordered[~np.isfinite(ordered)] = np.nan
    return ordered[:, 1], ordered[:, 0]


def previous_in_group(key: np.ndarray) -> np.ndarray:
    """For points sorted by group (then time): position of the previous point of the
    same group, -1 for the first point of each group."""
    prev = np.arange(key.size) - 1
    if key.size:
        starts = np.ones(key.size, dtype=bool)
        starts[1:] = key[1:] != key[:-1]
        prev[starts] = NO_INDEX
    return prev
