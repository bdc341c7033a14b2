"""Logistic regression (binary and multinomial) fitted by Newton's method, a.k.a. IRLS.

The objective is scikit-learn's, so at the same C the two give the same model:

    f(theta) = sum_n log_loss(y_n, z_n) + 1/(2C) ||W||^2        (intercepts not penalized)

where z_n = W x_n + b are the scores (logits) of sample n. The loss is convex and smooth,
so Newton's method, which uses the exact Hessian, reaches the minimum to machine precision
in a handful of iterations, where gradient descent would need thousands. The
``loss``/``gradient``/``hessian`` methods expose the objective at any parameter vector, so
the hand-derived Hessian can be checked against one computed by automatic differentiation.
"""

import warnings

import numpy as np

from ..backend import to_numpy
from ._base import Classifier, ConvergenceWarning, as_matrix, logsumexp, softmax


def _sigmoid(z):
    """1 / (1 + exp(-z)), written as exp(-log(1 + exp(-z))) so neither tail overflows."""
    return np.exp(-np.logaddexp(0.0, -z))


class _BinaryObjective:
    """f(theta) = sum_n [log(1 + exp(z_n)) - t_n z_n] + 1/2 sum_j reg_j theta_j^2.

    ``Xa`` is X with a column of ones appended when there is an intercept, ``z = Xa theta``,
    ``t`` is 1 for the positive class and 0 otherwise, and ``reg_j`` is 1/C for weights and
    0 for the intercept. With p = sigmoid(z):

        gradient = Xa^T (p - t) + reg * theta
        Hessian  = Xa^T diag(p (1 - p)) Xa + diag(reg)
    """

    def __init__(self, Xa, y_index, reg):
        self.Xa, self.t, self.reg = Xa, y_index.astype(np.float64), reg
        self.n_params = Xa.shape[1]

    def loss(self, theta):
        z = self.Xa @ theta
        return np.sum(np.logaddexp(0.0, z) - self.t * z) + 0.5 * np.sum(self.reg * theta**2)

    def gradient(self, theta):
        p = _sigmoid(self.Xa @ theta)
        return self.Xa.T @ (p - self.t) + self.reg * theta

    def hessian(self, theta):
        p = _sigmoid(self.Xa @ theta)
        return self.Xa.T @ ((p * (1.0 - p))[:, None] * self.Xa) + np.diag(self.reg)

    def flat_directions(self):
        """Directions along which f is constant for every theta: none for a binary model."""
        return 0.0


class _SoftmaxObjective:
    """f(Theta) = sum_n [logsumexp(z_n) - z_{n, y_n}] + 1/2 sum_k sum_j reg_j Theta_kj^2.

    ``Theta`` is (n_classes, n_columns) with row k = [w_k, b_k], flattened row by row into
    ``theta``, and ``z_n = Theta xa_n``. With P = softmax(Z) and T the one-hot labels:

        gradient, block k      = Xa^T (P_k - T_k) + reg * Theta_k
        Hessian, block (k, l)  = Xa^T diag(P_k (delta_kl - P_l)) Xa + delta_kl diag(reg)
    """

    def __init__(self, Xa, y_index, reg, n_classes):
        self.Xa, self.y, self.reg, self.K = Xa, y_index, reg, n_classes
        self.T = np.eye(n_classes)[y_index]
        self.n_params = n_classes * Xa.shape[1]

    def _scores(self, theta):
        return self.Xa @ theta.reshape(self.K, -1).T

    def loss(self, theta):
        Z = self._scores(theta)
        data_term = np.sum(logsumexp(Z, axis=1) - Z[np.arange(len(Z)), self.y])
        return data_term + 0.5 * np.sum(self.reg * theta.reshape(self.K, -1) ** 2)

    def gradient(self, theta):
        P = softmax(self._scores(theta))
        return ((P - self.T).T @ self.Xa + self.reg * theta.reshape(self.K, -1)).ravel()

    def hessian(self, theta):
        P = softmax(self._scores(theta))
        K, d = self.K, self.Xa.shape[1]
        H = np.empty((K, d, K, d))
        for k in range(K):
            for l in range(k, K):   # the Hessian is symmetric: fill block (l, k) from (k, l)
                weight = P[:, k] * (float(k == l) - P[:, l])
                H[k, :, l, :] = H[l, :, k, :] = self.Xa.T @ (weight[:, None] * self.Xa)
            H[k, :, k, :] += np.diag(self.reg)
        return H.reshape(K * d, K * d)

    def flat_directions(self):
        """Projector onto the directions along which f never changes.

        Softmax probabilities do not change when the same vector is added to every class's
        parameters. The penalty rules that out for penalized weights, but not for the
        intercepts: adding c to every b_k leaves f unchanged, so the Hessian is singular
        along that direction. Adding this projector to the Hessian makes the Newton system
        solvable and the step's component along it zero, so the intercepts keep summing to
        zero (as they do in scikit-learn's solution).
        """
        unpenalized = np.diag((self.reg == 0).astype(np.float64))
        return np.kron(np.full((self.K, self.K), 1.0 / self.K), unpenalized)


class LogisticRegression(Classifier):
    """Logistic regression, binary or multinomial (softmax), fitted by Newton's method.

    Model. For two classes, P(y = classes_[1] | x) = sigmoid(w . x + b). For K > 2 classes
    each class has its own (w_k, b_k) and P(y = k | x) = softmax(W x + b)_k. The parameters
    minimize the negative log-likelihood plus an L2 penalty on the weights,

        f = sum_n -log P(y_n | x_n) + 1/(2C) ||W||^2,

    scikit-learn's objective exactly (the intercepts are not penalized; ``penalty=None`` or
    ``C=inf`` drops the penalty).

    Newton's method. Near theta, f is approximated by its second-order Taylor expansion
    f(theta + d) ~ f + g . d + 1/2 d^T H d, whose minimizer is the Newton step d = -H^{-1} g
    (solved as a linear system, never by inverting H). Because f is convex, H is positive
    semi-definite and d always points downhill; a backtracking line search halves the step
    until f decreases enough (the Armijo rule), which makes the method converge from the
    starting point theta = 0, and near the minimum the full step is taken and the number of
    correct digits doubles at every iteration (quadratic convergence).

    Why it is also called IRLS. For the binary model g = X^T (p - t) + R theta and
    H = X^T S X + R with S = diag(p (1 - p)). The Newton update theta + d solves
    (X^T S X + R) theta_new = X^T S u with u = X theta + S^{-1} (t - p): a ridge-like
    weighted least-squares problem whose weights S are recomputed from the current
    probabilities at each iteration - iteratively reweighted least squares.

    Parameter layout for ``loss``/``gradient``/``hessian`` (see ``flat_parameters``): the
    rows of the matrix [coef_ | intercept_] one after the other. Binary: theta has p + 1
    entries, the p weights then b. Multinomial: theta has K (p + 1) entries, class 1's p
    weights and b_1, then class 2's, and so on. Without an intercept the b entries are absent.

    Stopping: when the largest entry of the gradient of the *mean* loss, max|g| / n, is at
    most ``tol``, or after ``max_iter`` Newton steps (with a ConvergenceWarning; unpenalized
    models on separable data have no finite minimum and end this way). ``n_iter_`` counts
    the Newton steps.

    Attributes: ``classes_``, ``coef_`` (1, p) for binary or (K, p), ``intercept_`` (1,) or
    (K,), ``n_iter_``.
    """

    def __init__(self, C=1.0, penalty="l2", fit_intercept=True, max_iter=100, tol=1e-8):
        self.C = C
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X, y):
        """Minimize the objective over the parameters by damped Newton steps from zero."""
        self._check_hyper_parameters()
        X, y_index = self._check_X_y(X, y)
        objective = self._objective(X, y_index, len(self.classes_))
        theta, self.n_iter_ = self._newton(objective, len(X))
        self._unpack(theta)
        return self

    def _check_hyper_parameters(self):
        if self.penalty not in ("l2", None):
            raise ValueError(
                f"LogisticRegression: penalty must be 'l2' or None, got {self.penalty!r}"
            )
        if not self.C > 0:
            raise ValueError(f"LogisticRegression: C must be > 0, got {self.C!r}")

    def _objective(self, X, y_index, n_classes):
        """The objective for this data, on X with a column of ones when there is an intercept."""
        Xa = np.hstack([X, np.ones((len(X), 1))]) if self.fit_intercept else X
        penalized = self.penalty == "l2" and np.isfinite(self.C)
        reg = np.full(Xa.shape[1], 1.0 / self.C if penalized else 0.0)
        if self.fit_intercept:
            reg[-1] = 0.0
        if n_classes == 2:
            return _BinaryObjective(Xa, y_index, reg)
        return _SoftmaxObjective(Xa, y_index, reg, n_classes)

    def _newton(self, objective, n_samples):
        """Damped Newton's method from theta = 0; returns (theta, number of steps)."""
        theta = np.zeros(objective.n_params)
        for step in range(self.max_iter + 1):
            grad = objective.gradient(theta)
            if np.max(np.abs(grad)) <= self.tol * n_samples:
                return theta, step
            if step == self.max_iter:
                break
            direction = self._newton_direction(objective, objective.hessian(theta), grad)
            theta, moved = self._line_search(objective, theta, grad, direction)
            if not moved:   # no decrease left at floating-point precision: this is the minimum
                return theta, step + 1
        warnings.warn(
            f"LogisticRegression: Newton's method did not reach tol={self.tol} in "
            f"max_iter={self.max_iter} steps (largest gradient entry of the mean loss "
            f"{np.max(np.abs(grad)) / n_samples:.3g}); if the classes are separable, use a "
            "penalty (penalty='l2', finite C)",
            ConvergenceWarning,
            stacklevel=3,
        )
        return theta, self.max_iter

    @staticmethod
    def _newton_direction(objective, hessian, grad):
        """Solve H d = -g.

        With a penalty, H plus the projector onto the flat directions is positive definite
        and ``solve`` (LU) is exact. Without one, H can be singular in many directions
        (constant features, the softmax redundancy), so use ``lstsq``: the minimum-norm step.
        """
        if not np.any(objective.reg):
            return np.linalg.lstsq(hessian, -grad, rcond=None)[0]
        return np.linalg.solve(hessian + objective.flat_directions(), -grad)

    @staticmethod
    def _line_search(objective, theta, grad, direction, max_halvings=40):
        """Backtracking: the largest step 1, 1/2, 1/4, ... that decreases f enough (Armijo)."""
        f0, slope = objective.loss(theta), grad @ direction
        step = 1.0
        for _ in range(max_halvings):
            candidate = theta + step * direction
            if objective.loss(candidate) <= f0 + 1e-4 * step * slope:
                return candidate, True
            step /= 2
        return theta, False

    def _unpack(self, theta):
        """Split the flat parameter vector into ``coef_`` and ``intercept_``."""
        rows = theta.reshape(1 if len(self.classes_) == 2 else len(self.classes_), -1)
        if self.fit_intercept:
            self.coef_, self.intercept_ = rows[:, :-1].copy(), rows[:, -1].copy()
        else:
            self.coef_, self.intercept_ = rows.copy(), np.zeros(len(rows))

    def flat_parameters(self):
        """The fitted ``coef_`` and ``intercept_`` as one vector, in the documented layout."""
        self._check_fitted("flat_parameters")
        if not self.fit_intercept:
            return self.coef_.ravel().copy()
        return np.hstack([self.coef_, self.intercept_[:, None]]).ravel()

    # -- prediction -------------------------------------------------------------------------

    def decision_function(self, X):
        """Scores z = X coef_^T + intercept_: shape (n,) for binary, (n, n_classes) otherwise."""
        X = self._check_X(X, "decision_function")
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        X = self._check_X(X, "predict_proba")
        scores = X @ self.coef_.T + self.intercept_
        if len(self.classes_) == 2:
            p = _sigmoid(scores[:, 0])
            return np.column_stack([1.0 - p, p])
        return softmax(scores)

    def predict_log_proba(self, X):
        """Natural log of ``predict_proba``."""
        return np.log(self.predict_proba(X))

    def _predict_index(self, X):
        scores = X @ self.coef_.T + self.intercept_
        return (scores[:, 0] > 0).astype(int) if len(self.classes_) == 2 else scores.argmax(axis=1)

    # -- the objective, for checking and teaching ---------------------------------------------

    def loss(self, X, y, theta=None):
        """The objective f at ``theta`` (default: the fitted parameters) on data X, y."""
        objective, theta = self._objective_at(X, y, theta, "loss")
        return float(objective.loss(theta))

    def gradient(self, X, y, theta=None):
        """Gradient of the objective at ``theta`` (default: fitted), shape (n_params,)."""
        objective, theta = self._objective_at(X, y, theta, "gradient")
        return objective.gradient(theta)

    def hessian(self, X, y, theta=None):
        """Hessian of the objective at ``theta`` (default: fitted), shape (n_params, n_params).

        This is the exact matrix each Newton step solves with; see the class docstring for
        the parameter layout.
        """
        objective, theta = self._objective_at(X, y, theta, "hessian")
        return objective.hessian(theta)

    def _objective_at(self, X, y, theta, method):
        """The objective on (X, y) and theta as a float vector of the right length.

        Before ``fit``, a ``theta`` must be given and the classes are read from ``y``.
        """
        where = f"LogisticRegression.{method}"
        fitted = hasattr(self, "coef_")
        if theta is None:
            self._check_fitted(method)
            theta = self.flat_parameters()
        self._check_hyper_parameters()
        X, y = as_matrix(X, where), to_numpy(y)
        if fitted:
            self._check_n_features(X, method)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"{where}: X has {len(X)} samples but y has shape {y.shape}")
        classes = self.classes_ if fitted else np.unique(y)
        y_index = np.searchsorted(classes, y).clip(0, len(classes) - 1)
        if not np.all(classes[y_index] == y):
            raise ValueError(f"{where}: y has labels that are not among the classes {classes}")
        objective = self._objective(X, y_index, len(classes))
        theta = to_numpy(theta).astype(np.float64).ravel()
        if theta.size != objective.n_params:
            raise ValueError(
                f"{where}: theta has {theta.size} entries but the model has "
                f"{objective.n_params} parameters"
            )
        return objective, theta
