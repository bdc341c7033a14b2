"""Small models solved exactly: least squares, ridge, and logistic regression by Newton.

Least squares minimizes ||y - X w - b||^2. With A = [X | 1] and theta = (w, b) its
gradient -2 A^T (y - A theta) is zero where

    A^T A theta = A^T y                                  (the normal equations)

Ridge adds alpha ||w||^2 (b not penalized). Centering X and y removes b; then

    (Xc^T Xc + alpha I) w = Xc^T yc,    b = mean(y) - mean(X) w

Both are solved as linear systems (np.linalg.solve), never by inverting a matrix.

Logistic regression has no closed form, but Newton's method gets there in a few steps:
theta <- theta - H^{-1} g, with g and H the gradient and Hessian of the loss. Here
both come from minidl's autograd: the loss is written once, with Tensor ops.
"""
import numpy as np

import minidl as mdl
import minidl.functional as F
from minidl.autograd.functional import hessian


def least_squares(X, y):
    """(w, b) minimizing ||y - X w - b||^2, by the normal equations."""
    # BEGIN SOLUTION
    A = np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)])
    theta = np.linalg.solve(A.T @ A, A.T @ y)
    return theta[:-1], theta[-1]
    # END SOLUTION


def ridge(X, y, alpha):
    """(w, b) minimizing ||y - X w - b||^2 + alpha ||w||^2 (b not penalized)."""
    # BEGIN SOLUTION
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc, yc = X - x_mean, y - y_mean
    w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ yc)
    return w, y_mean - x_mean @ w
    # END SOLUTION


def logistic_loss(theta, X, t, l2):
    """sum_n -log P(t_n | x_n) + l2/2 ||w||^2 for theta = (w..., b), a float64 Tensor:
    P(1 | x) = sigmoid(x w + b). X and t are arrays; t holds 0s and 1s."""
    w, b = theta[:-1], theta[-1]
    z = mdl.tensor(X) @ w + b
    nll = F.binary_cross_entropy_with_logits(z, mdl.tensor(t, dtype=np.float64),
                                             reduction="sum")
    return nll + 0.5 * l2 * (w * w).sum()


def newton_step(theta, X, t, l2):
    """theta - H^{-1} g, with g and H of logistic_loss at theta computed by autograd;
    theta is a float64 array (p + 1,), and so is the result."""
    # BEGIN SOLUTION
    point = mdl.tensor(theta, requires_grad=True)
    g, = mdl.grad(logistic_loss(point, X, t, l2), [point])
    H = hessian(lambda th: logistic_loss(th, X, t, l2), point)
    return theta - np.linalg.solve(H.numpy(), g.numpy())
    # END SOLUTION


def fit_logistic(X, t, l2, steps=8):
    """theta after `steps` Newton steps from zero."""
    theta = np.zeros(X.shape[1] + 1)
    for _ in range(steps):
        theta = newton_step(theta, X, t, l2)
    return theta
