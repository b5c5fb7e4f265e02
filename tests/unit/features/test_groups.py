"""The batch reductions agree with plain Python loops over the groups."""
from __future__ import annotations

import statistics

import numpy as np
import pytest

from solas.features import groups

N = 7


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    key = np.sort(rng.integers(0, N - 2, 60))  # groups N-2 and N-1 stay empty
    values = rng.normal(size=60).round(2)  # rounding makes ties
    mask = rng.random(60) < 0.7
    return key, values, mask


def by_group(key, values, mask):
    out = {g: [] for g in range(N)}
    for k, v, m in zip(key, values, mask):
        if m:
            out[int(k)].append(float(v))
    return out


def test_counts_sums_means_extremes(data):
    key, values, mask = data
    expected = by_group(key, values, mask)
    assert groups.counts(key, N, mask).tolist() == [len(expected[g]) for g in range(N)]
    np.testing.assert_allclose(groups.sums(key, N, values, mask),
                               [sum(expected[g]) for g in range(N)])
    for g in range(N):
        vals = expected[g]
        mean = groups.means(key, N, values, mask)[g]
        lo = groups.extreme(key, N, values, False, mask)[g]
        hi = groups.extreme(key, N, values, True, mask)[g]
        med = groups.medians(key, N, values, mask)[g]
        if vals:
            assert mean == pytest.approx(statistics.fmean(vals))
            assert (lo, hi) == (min(vals), max(vals))
            assert med == pytest.approx(statistics.median(vals))
        else:
            assert np.isnan([mean, lo, hi, med]).all()


def test_first_last_index_and_take(data):
    key, values, mask = data
    last, first = groups.last_index(key, N, mask), groups.first_index(key, N, mask)
    for g in range(N):
        positions = [i for i in range(key.size) if key[i] == g and mask[i]]
        assert last[g] == (positions[-1] if positions else -1)
        assert first[g] == (positions[0] if positions else -1)
    taken = groups.take(values, last)
    assert np.isnan(taken[last < 0]).all()
    np.testing.assert_array_equal(taken[last >= 0], values[last[last >= 0]])


def test_take_from_empty_array_gives_fill():
    assert np.isnan(groups.take(np.array([]), np.array([-1, -1]))).all()


def test_top_two():
    values = np.array([[1.0, np.nan, 5.0, 3.0], [np.nan, 2.0, np.nan, np.nan],
                       [np.nan] * 4])
    first, second = groups.top_two(values)
    np.testing.assert_array_equal(first, [5.0, 2.0, np.nan])
    np.testing.assert_array_equal(second, [3.0, np.nan, np.nan])


def test_previous_in_group():
    key = np.array([0, 0, 0, 2, 2, 5])
    assert groups.previous_in_group(key).tolist() == [-1, 0, 1, -1, 3, -1]
