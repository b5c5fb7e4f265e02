"""The batched bounded Levenberg-Marquardt solver on problems with known answers."""
from __future__ import annotations

import numpy as np

from solas.features.least_squares import solve_least_squares


def line_model(t: np.ndarray, y: np.ndarray):
    """Residuals of y = a + b t for every problem (rows of ``t`` and ``y``)."""
    def model(x, rows):
        tt = t[rows]
        r = x[:, :1] + x[:, 1:2] * tt - y[rows]
        return r, np.stack((np.ones_like(tt), tt), axis=-1)
    return model


def test_linear_problems_solved_exactly_and_independently():
    rng = np.random.default_rng(1)
    t = np.tile(np.linspace(0, 10, 20), (50, 1))
    truth = rng.normal(0, 5, (50, 2))
    y = truth[:, :1] + truth[:, 1:2] * t + rng.normal(0, 0.1, t.shape)
    inf = np.full((50, 2), np.inf)
    sol = solve_least_squares(line_model(t, y), np.zeros((50, 2)), -inf, inf, 50)
    for i in range(50):
        expected = np.polynomial.polynomial.polyfit(t[i], y[i], 1)
        np.testing.assert_allclose(sol.x[i], expected, rtol=1e-6, atol=1e-8)
    assert sol.converged.all()
    np.testing.assert_allclose(sol.rss, ((line_model(t, y)(sol.x, np.arange(50))[0]) ** 2).sum(1))


def test_bound_holds_and_free_parameter_is_optimal_given_it():
    t = np.linspace(0, 1, 30)[None, :]
    y = 2.0 - 3.0 * t  # slope -3, but the slope is bounded below by -1
    lower, upper = np.array([[-np.inf, -1.0]]), np.array([[np.inf, np.inf]])
    sol = solve_least_squares(line_model(t, y), np.zeros((1, 2)), lower, upper, 100)
    assert sol.converged[0]
    assert sol.x[0, 1] == -1.0
    # with the slope fixed at -1, the best intercept is the mean of y + t
    assert sol.x[0, 0] == np.float64(np.mean(y + t)).item() or abs(
        sol.x[0, 0] - np.mean(y + t)) < 1e-8


def test_budget_exhausted_is_not_converged():
    def rosenbrock(x, rows):
        a, b = x[:, 0], x[:, 1]
        r = np.stack((1 - a, 10 * (b - a ** 2)), axis=1)
        jac = np.stack((np.stack((-np.ones_like(a), np.zeros_like(a)), -1),
                        np.stack((-20 * a, 10 * np.ones_like(a)), -1)), axis=1)
        return r, jac
    inf = np.full((1, 2), np.inf)
    short = solve_least_squares(rosenbrock, np.array([[-1.2, 1.0]]), -inf, inf, 3)
    assert not short.converged[0] and short.nfev[0] == 3
    full = solve_least_squares(rosenbrock, np.array([[-1.2, 1.0]]), -inf, inf, 500)
    assert full.converged[0]
    np.testing.assert_allclose(full.x[0], [1.0, 1.0], atol=1e-6)


def test_non_finite_start_is_reported_not_raised():
    def broken(x, rows):
        return np.full((rows.size, 3), np.nan), np.zeros((rows.size, 3, 1))
    sol = solve_least_squares(broken, np.zeros((2, 1)), np.full((2, 1), -1.0),
                              np.full((2, 1), 1.0), 10)
    assert not sol.converged.any() and np.isnan(sol.rss).all()


def test_non_finite_or_singular_jacobians_do_not_stop_the_other_problems():
    t = np.tile(np.linspace(0, 10, 20), (3, 1))
    y = 1.0 + 2.0 * t
    line = line_model(t, y)

    def model(x, rows):
        r, jac = line(x, rows)
        jac = jac.copy()
        jac[rows == 1] = np.inf  # overflowed derivatives
        jac[rows == 2] = 0.0     # a Jacobian with no information at all
        return r, jac
    inf = np.full((3, 2), np.inf)
    sol = solve_least_squares(model, np.zeros((3, 2)), -inf, inf, 50)
    np.testing.assert_allclose(sol.x[0], [1.0, 2.0], atol=1e-8)
    assert sol.converged[0]
    assert np.isfinite(sol.x).all()
