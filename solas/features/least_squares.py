"""Bounded nonlinear least squares for many small problems at once (vectorised numpy).

Each of ``m`` problems has ``p`` parameters and up to ``n`` weighted residuals (padding
residuals are 0 with a zero Jacobian row, so they change nothing).  All problems
advance together by Levenberg-Marquardt steps with Marquardt's scaling (the diagonal of
``J^T J``, floored, like ``scipy.optimize.least_squares``'s ``x_scale="jac"``): the
damped normal equations of every problem are solved in one batched
``numpy.linalg.solve``, each step is projected onto the box ``lower <= x <= upper``,
and a problem whose step does not lower its cost keeps its parameters and raises its
damping.  A problem is done when an accepted step lowers the cost by at most ``FTOL``
of it, moves the parameters by at most ``XTOL`` of their size, or the projected
gradient vanishes (``GTOL``); problems not done after ``max_nfev`` evaluations are
reported as not converged.

The cost per iteration is a few array operations on ``(m, n, p)`` arrays whatever
``m`` is, so a batch of hundreds of light curves fits in the time
``scipy.optimize.least_squares`` takes for a handful (Python overhead per iteration
dominated there).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Residuals = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``model(x, rows) -> (r, J)``: for the problems ``rows`` (indices) at parameters
``x`` (``(k, p)``), the weighted residuals ``(k, n)`` and their Jacobian ``(k, n, p)``."""

FTOL = 1e-8
"""Relative cost reduction below which an accepted step ends a problem."""
XTOL = 1e-8
"""Relative parameter change below which a step ends a problem."""
GTOL = 1e-8
"""Projected-gradient size (relative to the cost) below which a problem is done."""
_DAMPING_START = 1e-3
_DAMPING_UP, _DAMPING_DOWN = 4.0, 1.0 / 3.0
_DAMPING_MAX = 1e16
_DIAG_FLOOR = 1e-12


class BatchSolution(NamedTuple):
    """The outcome of :func:`solve_least_squares`, one entry per problem."""

    x: np.ndarray
    """Parameters, ``(m, p)``."""
    rss: np.ndarray
    """Sum of squared weighted residuals at ``x``, ``(m,)``."""
    nfev: np.ndarray
    """Residual evaluations spent, ``(m,)``."""
    converged: np.ndarray
    """Whether the problem met a stopping tolerance within the budget, ``(m,)``."""


def _cost(r: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        cost = np.sum(r * r, axis=1)
    return np.where(np.isfinite(cost), cost, np.inf)


def _steps(J: np.ndarray, g: np.ndarray, damping: np.ndarray, blocked: np.ndarray
           ) -> np.ndarray:
    """Levenberg-Marquardt steps ``(k, p)`` of each problem from its Jacobian and
    gradient ``J^T r``; parameters in ``blocked`` (at a bound the descent direction
    points out of) are held fixed."""
    with np.errstate(all="ignore"):
        H = J.transpose(0, 2, 1) @ J
        diag = np.diagonal(H, axis1=1, axis2=2)
        floor = _DIAG_FLOOR * np.maximum(diag.max(axis=1, keepdims=True), 1e-300)
        scale = np.maximum(diag, floor)
        eye = np.eye(H.shape[1])
        A = H + damping[:, None, None] * (scale[:, :, None] * eye)
        free = ~blocked
        A = A * (free[:, :, None] & free[:, None, :]) + blocked[:, :, None] * eye
        g = np.where(free, g, 0.0)
        usable = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(g).all(axis=1)
        A, g = np.where(usable[:, None, None], A, eye), np.where(usable[:, None], g, 0.0)
        try:
            step = -np.linalg.solve(A, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # an exactly singular system: least-norm steps
            step = -(np.linalg.pinv(A) @ g[:, :, None])[:, :, 0]
    return np.where(np.isfinite(step), step, 0.0)


def _gradient(J: np.ndarray, r: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        gradient: np.ndarray = (J.transpose(0, 2, 1) @ r[:, :, None])[:, :, 0]
    return gradient


def _blocked(g: np.ndarray, x: np.ndarray, lower: np.ndarray, upper: np.ndarray
             ) -> np.ndarray:
    """Parameters at a bound that a descent step (along ``-g``) would leave the box by."""
    return ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))


def solve_least_squares(model: Residuals, x0: np.ndarray, lower: np.ndarray,
                        upper: np.ndarray, max_nfev: int) -> BatchSolution:
    """Minimise every problem's sum of squared residuals within its box (module
    docstring).  ``x0``, ``lower`` and ``upper`` are ``(m, p)``; ``x0`` is clipped into
    the box first.  ``model`` is called only with the rows still being solved."""
    m = x0.shape[0]
    x = np.clip(x0, lower, upper)
    rows = np.arange(m)
    r, J = model(x, rows)
    cost = _cost(r)
    nfev = np.ones(m, dtype=np.int64)
    damping = np.full(m, _DAMPING_START)
    converged = np.zeros(m, dtype=bool)
    active = np.isfinite(cost)
    while True:
        idx = np.flatnonzero(active & (nfev < max_nfev))
        if idx.size == 0:
            break
        xi, ci = x[idx], cost[idx]
        g = _gradient(J[idx], r[idx])
        blocked = _blocked(g, xi, lower[idx], upper[idx])
        small_g = np.max(np.abs(np.where(blocked, 0.0, g)), axis=1) <= GTOL * np.maximum(ci, 1e-300)
        trial = np.clip(xi + _steps(J[idx], g, damping[idx], blocked),
                        lower[idx], upper[idx])
        r_new, J_new = model(trial, idx)
        nfev[idx] += 1
        cost_new = _cost(r_new)
        tiny_step = (np.linalg.norm(trial - xi, axis=1)
                     <= XTOL * (XTOL + np.linalg.norm(xi, axis=1)))
        better = cost_new < ci
        small_drop = better & (ci - cost_new <= FTOL * ci)
        ok = idx[better]
        x[ok], r[ok], J[ok], cost[ok] = trial[better], r_new[better], J_new[better], cost_new[better]
        damping[idx] = np.where(better, damping[idx] * _DAMPING_DOWN,
                                np.minimum(damping[idx] * _DAMPING_UP, _DAMPING_MAX))
        stuck = damping[idx] >= _DAMPING_MAX
        done = small_g | small_drop | tiny_step | stuck
        converged[idx[done & ~stuck]] = True
        active[idx[done]] = False
    return BatchSolution(x, np.where(np.isfinite(cost), cost, np.nan), nfev, converged)
