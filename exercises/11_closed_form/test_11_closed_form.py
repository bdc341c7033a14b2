"""Grader for exercise 11: least squares, ridge, and Newton's method for logistic regression."""
import numpy as np
import pytest

import grading
from minidl.classic import LinearRegression, LogisticRegression, Ridge
from minidl.data import load_diabetes, load_digits

student = grading.load(__file__, "closed_form")


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(dtype=np.float64)
    return X, y


@pytest.fixture(scope="module")
def threes():
    """The digits as 64 pixels in [0, 1], labelled 1 for a three, 0 otherwise."""
    images, digits = load_digits(dtype=np.float64)
    return images[:600] / 16.0, (digits[:600] == 3).astype(np.float64)


def test_least_squares_equals_the_classic_model(diabetes):
    X, y = diabetes
    w, b = student.least_squares(X, y)
    model = LinearRegression().fit(X, y)
    np.testing.assert_allclose(w, model.coef_, rtol=1e-8, atol=1e-8)
    assert b == pytest.approx(model.intercept_, rel=1e-10)


@pytest.mark.parametrize("alpha", [0.1, 10.0, 1000.0])
def test_ridge_equals_the_classic_model(diabetes, alpha):
    X, y = diabetes
    w, b = student.ridge(X, y, alpha)
    model = Ridge(alpha=alpha).fit(X, y)
    np.testing.assert_allclose(w, model.coef_, rtol=1e-8, atol=1e-8)
    assert b == pytest.approx(model.intercept_, rel=1e-10)


def test_ridge_shrinks_the_weights_but_not_the_intercept(diabetes):
    X, y = diabetes
    norms = [np.linalg.norm(student.ridge(X, y, alpha)[0]) for alpha in (0.01, 1.0, 100.0)]
    assert norms[0] > norms[1] > norms[2]
    _, b = student.ridge(X, y, 1e12)          # all weights ~0: b is the mean of y
    assert b == pytest.approx(y.mean(), rel=1e-6)


def formula_newton_step(theta, X, t, l2):
    """theta - (X1^T S X1 + R)^{-1} g, the Hessian by hand (the grader's own)."""
    X1 = np.hstack([X, np.ones((len(X), 1))])
    p = 1.0 / (1.0 + np.exp(-(X1 @ theta)))
    R = l2 * np.eye(len(theta))
    R[-1, -1] = 0.0                           # the intercept is not penalized
    g = X1.T @ (p - t) + R @ theta
    H = X1.T @ (X1 * (p * (1 - p))[:, None]) + R
    return theta - np.linalg.solve(H, g)


@pytest.mark.parametrize("start", ["zero", "random"])
def test_one_newton_step_equals_the_formula(threes, start):
    X, t = threes
    X, t = X[:200], t[:200]
    theta = np.zeros(65) if start == "zero" else np.random.default_rng(0).normal(0, 0.1, 65)
    ours = student.newton_step(theta, X, t, 1.0)
    np.testing.assert_allclose(ours, formula_newton_step(theta, X, t, 1.0), rtol=1e-7,
                               atol=1e-9)


def test_newton_reaches_the_classic_logistic_regression(threes):
    X, t = threes
    theta = student.fit_logistic(X, t, l2=1.0, steps=10)
    model = LogisticRegression(C=1.0).fit(X, t)
    np.testing.assert_allclose(theta[:-1], model.coef_[0], rtol=1e-5, atol=1e-6)
    assert theta[-1] == pytest.approx(model.intercept_[0], rel=1e-5, abs=1e-6)


def test_newton_converges_quadratically(threes):
    X, t = threes
    theta, sizes = np.zeros(65), []
    for _ in range(9):
        new = student.newton_step(theta, X, t, 1.0)
        sizes.append(np.abs(new - theta).max())
        theta = new
    assert sizes[0] > 0.1 and sizes[-1] < 1e-8   # from a long first step to a tiny one
    assert sizes[-1] < sizes[-2] ** 1.5           # the number of correct digits grows fast
