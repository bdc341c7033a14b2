"""The closed-form / Newton models of minidl.classic against the same models trained by autograd.

Each classic model minimizes a documented objective exactly (a linear solve, or Newton's
method with the hand-derived Hessian). Here the same objective is written with minidl
tensors - an nn.Linear layer, a loss from minidl.functional, the same L2 penalty - and
minimized by gradient descent with minidl.optim. Both must land on the same parameters:

- LogisticRegression (binary and multinomial) vs nn.Linear + cross-entropy + 1/(2C)||W||^2;
- LogisticRegression's Hessian vs the one autograd gets by differentiating the gradient;
- LinearRegression vs nn.Linear + squared error, Ridge vs the same + alpha ||W||^2.

Gradient descent runs on the objective divided by the number of samples (a mean loss), which
has the same minimizer and a step size that does not depend on n. Everything is float64,
so the only differences left are how far gradient descent got; every test first checks that
the layer started far from the answer, so agreement is not there by construction.
"""

import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from minidl.classic import LinearRegression, LogisticRegression, Ridge
from minidl.data import load_diabetes, load_digits, standardize

C = 0.1          # logistic regression's inverse penalty strength: weights shrink visibly
ALPHA = 50.0     # ridge's penalty: about a tenth of X^T X's diagonal (n = 442, standardized X)
LOGISTIC_STEPS = 400


@pytest.fixture(autouse=True, scope="module")
def blas_matmul():
    """Run matmul with NumPy's BLAS here. These tests do thousands of matmuls of a few
    thousand multiply-adds each, where starting the threads of numba's parallel GEMM costs
    more than the arithmetic; that kernel is checked in test_kernels.py."""
    previous = mdl.get_kernels()
    mdl.set_kernels("numpy")
    yield
    mdl.set_kernels(previous)


# ----------------------------------------------------------------------------
# data: real data sets, standardized, float64
# ----------------------------------------------------------------------------
def digits_subset(classes):
    """Digits of the given classes, constant pixels dropped, standardized; labels 0, 1, ..."""
    X, y = load_digits(dtype=np.float64)
    keep = np.isin(y, classes)
    X, y = X[keep], y[keep]
    X = standardize(X[:, X.std(axis=0) > 0])
    return X, np.searchsorted(classes, y)


@pytest.fixture(scope="module")
def fours_and_nines():
    return digits_subset([4, 9])          # the hardest pair: not separable, so C matters


@pytest.fixture(scope="module")
def threes_fives_eights():
    return digits_subset([3, 5, 8])


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(dtype=np.float64)
    return standardize(X), y


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def float64_linear(in_features, out_features):
    """nn.Linear with its usual random initialization, cast to float64."""
    mdl.manual_seed(0)
    return nn.Linear(in_features, out_features).double()


def nesterov(layer, lr):
    """Full-batch gradient descent with Nesterov momentum 0.9: on a convex quadratic of
    condition number k it needs about sqrt(k) times fewer steps than plain GD."""
    return optim.SGD(layer.parameters(), lr=lr, momentum=0.9, nesterov=True)


def descend(objective, layer, optimizer, steps):
    """Full-batch gradient descent: `steps` updates of `layer`'s parameters on objective()."""
    for _ in range(steps):
        optimizer.zero_grad()
        objective().backward()
        optimizer.step()


def layer_parameters(layer):
    """(weight, bias) as arrays: the layout of coef_ (out, in) and intercept_ (out,)."""
    return layer.weight.numpy().copy(), layer.bias.numpy().copy()


def max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def relative_difference(a, b):
    """Largest entry of |a - b| relative to the largest entry of |b|."""
    return max_difference(a, b) / float(np.max(np.abs(b)))


def logistic_objective(layer, X, y, n_classes):
    """LogisticRegression's objective divided by n, written with minidl ops.

    sum_n -log P(y_n | x_n) is the cross-entropy summed over samples (the binary model has
    one logit per sample and uses the sigmoid form); the penalty 1/(2C) ||W||^2 leaves the
    bias out, as LogisticRegression does."""
    X = mdl.tensor(X)
    binary = n_classes == 2
    target = mdl.tensor(y[:, None].astype(np.float64)) if binary else y

    def objective():
        scores = layer(X)
        if binary:
            data_term = F.binary_cross_entropy_with_logits(scores, target, reduction="sum")
        else:
            data_term = F.cross_entropy(scores, target, reduction="sum")
        penalty = (layer.weight * layer.weight).sum() / (2 * C)
        return (data_term + penalty) / len(y)
    return objective


def squared_error_objective(layer, X, y, alpha):
    """||y - X w - b||^2 + alpha ||w||^2 (Ridge's objective; alpha = 0 is least squares),
    divided by n: mse_loss's mean plus alpha / n ||w||^2."""
    X, target = mdl.tensor(X), mdl.tensor(y[:, None])

    def objective():
        penalty = (layer.weight * layer.weight).sum() * (alpha / len(y))
        return F.mse_loss(layer(X), target) + penalty
    return objective


# ----------------------------------------------------------------------------
# logistic regression: Newton vs gradient descent
# ----------------------------------------------------------------------------
# With Xa = [X, 1], the mean objective's curvature is at most 1/4 (binary; 1/2 for softmax)
# of the largest eigenvalue of Xa^T Xa / n, plus 1/(C n): at most 3.7 and 4.3 for these two
# sets (reached at theta = 0, where every p is 1/2), so lr = 0.25 is below 1/L everywhere.
# 400 Nesterov steps reach about 1e-9 where Newton takes 7.

def test_binary_logistic_regression_newton_equals_gradient_descent(fours_and_nines):
    X, y = fours_and_nines
    newton = LogisticRegression(C=C).fit(X, y)
    layer = float64_linear(X.shape[1], 1)
    assert max_difference(layer.weight.numpy(), newton.coef_) > 0.1   # starts far away

    descend(logistic_objective(layer, X, y, 2), layer, nesterov(layer, lr=0.25), LOGISTIC_STEPS)

    weight, bias = layer_parameters(layer)
    # what is left is GD's error after its steps (measured ~1e-9, as close as Newton's tol)
    assert max_difference(weight, newton.coef_) < 1e-6
    assert max_difference(bias, newton.intercept_) < 1e-6
    with mdl.no_grad():
        p_gd = F.sigmoid(layer(mdl.tensor(X))).numpy()[:, 0]
    assert max_difference(p_gd, newton.predict_proba(X)[:, 1]) < 1e-6
    assert newton.n_iter_ <= 15                               # Newton: a handful of steps


def test_multinomial_logistic_regression_newton_equals_gradient_descent(threes_fives_eights):
    X, y = threes_fives_eights
    newton = LogisticRegression(C=C).fit(X, y)
    layer = float64_linear(X.shape[1], 3)
    assert max_difference(layer.weight.numpy(), newton.coef_) > 0.1
    start_bias_sum = float(layer.bias.numpy().sum())

    descend(logistic_objective(layer, X, y, 3), layer, nesterov(layer, lr=0.25), LOGISTIC_STEPS)

    weight, bias = layer_parameters(layer)
    assert max_difference(weight, newton.coef_) < 1e-6
    # Adding c to every intercept changes no probability, so the gradients of the biases sum
    # to zero and GD keeps their starting sum, while Newton's sum to zero: compare centered.
    assert abs(bias.sum() - start_bias_sum) < 1e-10          # rounding only
    assert abs(newton.intercept_.sum()) < 1e-10
    assert max_difference(bias - bias.mean(), newton.intercept_) < 1e-6
    with mdl.no_grad():
        p_gd = F.softmax(layer(mdl.tensor(X)), axis=1).numpy()
    assert max_difference(p_gd, newton.predict_proba(X)) < 1e-6


# ----------------------------------------------------------------------------
# logistic regression: the hand-derived Hessian vs autograd's
# ----------------------------------------------------------------------------
def autograd_hessian(f, theta):
    """Row i of the Hessian is the gradient of g_i = df/dtheta_i: differentiate the
    gradient (built with create_graph=True) once per row."""
    g, = mdl.grad(f, [theta], create_graph=True)
    rows = [mdl.grad(g[i], [theta], retain_graph=True)[0].numpy() for i in range(len(theta))]
    return g.numpy(), np.stack(rows)


def flat_logistic_objective(theta, X, y, n_classes):
    """LogisticRegression's objective (not divided by n) at a flat parameter vector theta in
    its documented layout: the rows [w_k, b_k] of [coef_ | intercept_], one after another."""
    Xa = mdl.tensor(np.hstack([X, np.ones((len(X), 1))]))
    rows = theta.reshape(1 if n_classes == 2 else n_classes, X.shape[1] + 1)
    weights = np.ones(rows.shape)
    weights[:, -1] = 0.0                                      # intercepts are not penalized
    penalty = (mdl.tensor(weights) * rows * rows).sum() / (2 * C)
    scores = Xa @ rows.T
    if n_classes == 2:
        target = mdl.tensor(y[:, None].astype(np.float64))
        return F.binary_cross_entropy_with_logits(scores, target, reduction="sum") + penalty
    return F.cross_entropy(scores, y, reduction="sum") + penalty


@pytest.mark.parametrize("classes", [[4, 9], [3, 5, 8]], ids=["binary", "multinomial"])
def test_newton_hessian_equals_autograd_second_derivative(classes):
    X, y = digits_subset(classes)
    X, y = X[::3], y[::3]       # a third of the samples keeps the 59 or 165 backward passes quick
    n_classes = len(classes)
    model = LogisticRegression(C=C)
    # a point away from the minimum, where the probabilities are spread over (0, 1)
    n_params = (1 if n_classes == 2 else n_classes) * (X.shape[1] + 1)
    theta = 0.1 * np.random.default_rng(0).standard_normal(n_params)

    theta_t = mdl.tensor(theta, requires_grad=True)
    g_auto, H_auto = autograd_hessian(flat_logistic_objective(theta_t, X, y, n_classes), theta_t)
    H_newton = model.hessian(X, y, theta)

    assert H_newton.shape == H_auto.shape == (len(theta), len(theta))
    # the same float64 sums over 120-180 samples in another order: rounding only (~1e-15)
    assert relative_difference(g_auto, model.gradient(X, y, theta)) < 1e-12
    assert relative_difference(H_auto, H_newton) < 1e-12
    # the weights p (1 - p) depend on theta: the check is not of the Hessian at zero only
    assert relative_difference(model.hessian(X, y, np.zeros(n_params)), H_newton) > 0.05


# ----------------------------------------------------------------------------
# least squares and ridge: a linear solve vs gradient descent
# ----------------------------------------------------------------------------
# The mean objective's Hessian is 2 Xa^T Xa / n (+ 2 alpha / n on the weights). On the
# standardized diabetes features its eigenvalues run from 0.017 to 8.05 (condition number
# 470: blood-serum columns are strongly correlated), so lr = 0.1 is below 1/L. Plain GD would
# need 1 / (0.1 * 0.017) ~ 600 steps per factor e of error; Nesterov takes about 50 (measured).
# The ridge penalty lifts the smallest eigenvalue to 0.24: about 16 Nesterov steps per factor e.

def test_linear_regression_solve_equals_gradient_descent(diabetes):
    X, y = diabetes
    exact = LinearRegression().fit(X, y)
    layer = float64_linear(X.shape[1], 1)
    assert relative_difference(layer.weight.numpy()[0], exact.coef_) > 0.5

    descend(squared_error_objective(layer, X, y, alpha=0.0), layer, nesterov(layer, lr=0.1),
            steps=800)

    weight, bias = layer_parameters(layer)
    assert relative_difference(weight[0], exact.coef_) < 1e-6   # GD's remaining error, ~6e-8
    assert abs(bias[0] - exact.intercept_) < 1e-6 * abs(exact.intercept_)


def test_ridge_solve_equals_gradient_descent_on_the_penalized_loss(diabetes):
    X, y = diabetes
    exact = Ridge(alpha=ALPHA).fit(X, y)
    # the penalty matters: ridge's answer is far from least squares' (s1's weight -38 -> -4)
    assert relative_difference(exact.coef_, LinearRegression().fit(X, y).coef_) > 0.5
    layer = float64_linear(X.shape[1], 1)
    assert relative_difference(layer.weight.numpy()[0], exact.coef_) > 0.5

    descend(squared_error_objective(layer, X, y, alpha=ALPHA), layer, nesterov(layer, lr=0.1),
            steps=300)

    weight, bias = layer_parameters(layer)
    assert relative_difference(weight[0], exact.coef_) < 1e-8   # GD's remaining error, ~4e-10
    # the intercept is not penalized: with centered features it is mean(y) for both
    assert abs(bias[0] - exact.intercept_) < 1e-8 * abs(exact.intercept_)
