"""Linear regression by least squares, and ridge regression, both in closed form.

Both models predict ``y_hat = X w + b``. Least squares picks the w that minimizes the sum
of squared errors; ridge adds a penalty ``alpha * ||w||^2`` that shrinks w towards zero.
Neither needs gradient descent: the minimizer is the solution of a linear system, which
these classes solve with an orthogonal factorization (SVD) rather than a matrix inverse.

The intercept b is handled by centering. Setting the derivative of either objective with
respect to b to zero gives ``b = mean(y) - mean(X) w``; substituting it back leaves the
same problem on centered data ``Xc = X - mean(X)``, ``yc = y - mean(y)`` with no intercept.
So b is never penalized, and ridge gives the same answer whatever constant ``y`` is
shifted by. This is also how scikit-learn fits these models.
"""

import numpy as np

from ._base import Regressor


def _center(X, y, fit_intercept):
    """Return centered X and y plus their column means (zeros when no intercept is fitted)."""
    if not fit_intercept:
        return X, y, np.zeros(X.shape[1]), np.zeros(y.shape[1:])
    X_mean, y_mean = X.mean(axis=0), y.mean(axis=0)
    return X - X_mean, y - y_mean, X_mean, y_mean


class _LinearModel(Regressor):
    """``predict`` for any model of the form ``X @ coef_.T + intercept_``."""

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_targets) as ``y`` in fit."""
        X = self._check_X(X, "predict")
        return X @ self.coef_.T + self.intercept_

    def _set_intercept(self, X_mean, y_mean):
        self.intercept_ = y_mean - X_mean @ self.coef_.T if self.fit_intercept else 0.0 * y_mean
        if np.ndim(self.intercept_) == 0:
            self.intercept_ = float(self.intercept_)


class LinearRegression(_LinearModel):
    """Ordinary least squares: minimize ``||y - X w - b||^2``.

    The normal equations. Write the loss as L(w) = ||y - X w||^2 = (y - Xw)^T (y - Xw)
    (on centered data, so there is no b). Its gradient is -2 X^T (y - X w); setting it to
    zero gives the normal equations

        X^T X w = X^T y,

    whose solution is the least-squares w (L is convex, so a stationary point is a minimum).

    Why not ``w = inv(X^T X) @ X^T @ y``. Forming X^T X squares the condition number of X:
    if X has condition number 1e6, X^T X has 1e12, and in float64 (about 16 digits) the
    answer keeps only about 4 correct digits instead of 10. When two columns are collinear
    X^T X is singular and has no inverse at all. An orthogonal factorization avoids both:
    with X = Q R (Q orthonormal columns, R upper-triangular), ||y - X w|| = ||Q^T y - R w||
    plus a constant, so R w = Q^T y is solved by back-substitution with the conditioning of
    X itself. This class calls ``np.linalg.lstsq``, which uses the SVD X = U S V^T and
    returns w = V S^+ U^T y; it has the same accuracy as QR and, when X is rank deficient,
    gives the minimum-norm w among all the minimizers.

    Attributes: ``coef_`` (n_features,) or (n_targets, n_features), ``intercept_``,
    ``rank_`` and ``singular_`` (rank and singular values of the centered X).
    """

    def __init__(self, fit_intercept=True):
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        """Solve the least-squares problem for ``X`` (n_samples, n_features) and ``y``."""
        X, y = self._check_X_y(X, y)
        Xc, yc, X_mean, y_mean = _center(X, y, self.fit_intercept)
        coef, _, self.rank_, self.singular_ = np.linalg.lstsq(Xc, yc, rcond=None)
        self.coef_ = coef.T
        self._set_intercept(X_mean, y_mean)
        return self


class Ridge(_LinearModel):
    """Ridge regression: minimize ``||y - X w - b||^2 + alpha * ||w||^2`` (b not penalized).

    Closed form. The gradient of the objective (centered data, no b) is
    -2 X^T (y - X w) + 2 alpha w; setting it to zero gives

        (X^T X + alpha I) w = X^T y.

    For alpha > 0 the matrix is positive definite, so the solution always exists and is
    unique, even with more features than samples or collinear columns.

    Solved through the SVD X = U S V^T, which never forms X^T X (see LinearRegression):
    substituting it gives V (S^2 + alpha I) V^T w = V S U^T y, so

        w = V diag(s / (s^2 + alpha)) U^T y.

    This also shows what ridge does: along the i-th singular direction the least-squares
    solution is multiplied by the shrinkage factor s_i^2 / (s_i^2 + alpha), close to 1 for
    strong directions (s_i^2 >> alpha) and close to 0 for weak, noisy ones.
    With ``alpha=0`` this is least squares (minimum-norm where X is rank deficient).
    """

    def __init__(self, alpha=1.0, fit_intercept=True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        """Solve the ridge problem for ``X`` (n_samples, n_features) and ``y``."""
        if not self.alpha >= 0:
            raise ValueError(f"Ridge.fit: alpha must be >= 0, got {self.alpha!r}")
        X, y = self._check_X_y(X, y)
        Xc, yc, X_mean, y_mean = _center(X, y, self.fit_intercept)
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        nonzero = s > 1e-15 * max(s.max(), 1.0)   # s = 0 directions stay 0 when alpha = 0
        shrink = np.zeros_like(s)
        shrink[nonzero] = s[nonzero] / (s[nonzero] ** 2 + self.alpha)
        coef = Vt.T @ (shrink[:, None] * (U.T @ yc.reshape(len(yc), -1)))
        self.coef_ = coef.T.reshape(y.shape[1:] + (X.shape[1],))
        self._set_intercept(X_mean, y_mean)
        return self
