"""Linear support vector machine (hinge loss) by dual coordinate descent, as liblinear.

The primal problem, with labels y_i in {-1, +1} and x_i extended by a constant 1 so the
bias b is the last entry of w (so, as in liblinear, the bias is penalized too):

    minimize over w   1/2 ||w||^2 + C sum_i max(0, 1 - y_i w . x_i)

The hinge loss has a kink, so Newton's method does not apply. Its Lagrange dual is a
smooth quadratic in one variable alpha_i per training sample, with box constraints:

    minimize over alpha   1/2 alpha^T Q alpha - sum_i alpha_i,   0 <= alpha_i <= C,
    Q_ij = y_i y_j x_i . x_j,          and at the optimum  w = sum_i alpha_i y_i x_i.

Samples with alpha_i > 0 are the support vectors: the ones on or inside the margin.

Dual coordinate descent (Hsieh et al., ICML 2008, the algorithm in liblinear) minimizes
over one alpha_i at a time with the others fixed. The one-variable problem is a parabola
with curvature Q_ii = x_i . x_i and slope G_i = (Q alpha)_i - 1 = y_i w . x_i - 1, so its
minimizer on [0, C] is

    alpha_i <- clip(alpha_i - G_i / Q_ii, 0, C),      then  w += (change in alpha_i) y_i x_i.

Keeping w up to date makes each step cost O(n_features): Q is never formed. The samples
are visited in a fresh random order every epoch. The projected gradient PG_i (G_i, except
0 where the box stops alpha_i from moving downhill) is zero for every i exactly at the
optimum; like liblinear, training stops when max_i PG_i - min_i PG_i <= tol over an epoch.

``dual_coordinate_descent_plain`` is exactly that loop. ``dual_coordinate_descent`` adds
liblinear's shrinking, which gives the same solution with far less work; LinearSVM uses it.
"""

import warnings

import numpy as np

from ._base import Classifier, ConvergenceWarning


def dual_coordinate_descent_plain(X, y, C, max_iter, tol, rng):
    """Solve the hinge-loss SVM dual for one binary problem: every sample, every epoch.

    ``X`` (n, d) holds the (already bias-extended) samples and ``y`` (n,) the labels in
    {-1, +1}. Returns (w (d,), number of epochs, whether ``tol`` was met).
    """
    w, alpha = np.zeros(X.shape[1]), np.zeros(len(X))
    curvature = np.einsum("ij,ij->i", X, X)                  # Q_ii = x_i . x_i
    for epoch in range(1, max_iter + 1):
        pg_max, pg_min = -np.inf, np.inf
        for i in rng.permutation(len(X)):
            G = y[i] * (w @ X[i]) - 1.0
            PG = min(G, 0.0) if alpha[i] == 0 else max(G, 0.0) if alpha[i] == C else G
            pg_max, pg_min = max(pg_max, PG), min(pg_min, PG)
            if PG != 0 and curvature[i] > 0:
                new = min(max(alpha[i] - G / curvature[i], 0.0), C)
                w += (new - alpha[i]) * y[i] * X[i]
                alpha[i] = new
        if pg_max - pg_min <= tol:
            return w, epoch, True
    return w, max_iter, False


def dual_coordinate_descent(X, y, C, max_iter, tol, rng):
    """The same solver with liblinear's shrinking; same arguments and result as the plain one.

    Shrinking is what makes it fast: most samples end far outside the margin with
    alpha_i = 0 (or stuck at alpha_i = C), and a sample whose gradient pushes it against its
    bound harder than the largest violation seen in the previous epoch is unlikely to move
    again. It is dropped from the active set, so later epochs only visit the few samples
    near the margin. When the active set has converged, all samples are put back for one
    more check, so shrinking never changes the solution, only the work.
    """
    n = len(X)
    rows, labels = list(X), y.tolist()            # Python objects: cheaper to index one by one
    curvature = np.einsum("ij,ij->i", X, X).tolist()   # Q_ii = x_i . x_i
    alpha = [0.0] * n
    w = np.zeros(X.shape[1])
    active = np.arange(n)
    n_active = n
    pg_max_old, pg_min_old = np.inf, -np.inf
    for epoch in range(1, max_iter + 1):
        pg_max, pg_min = -np.inf, np.inf
        rng.shuffle(active[:n_active])
        s = 0
        while s < n_active:
            i = active[s]
            G = labels[i] * float(w @ rows[i]) - 1.0
            PG = G                                  # projected gradient
            if alpha[i] == 0.0:
                if G > pg_max_old:                  # pinned at 0 well outside the margin: shrink
                    n_active -= 1
                    active[s], active[n_active] = active[n_active], active[s]
                    continue
                PG = min(G, 0.0)
            elif alpha[i] == C:
                if G < pg_min_old:                  # pinned at C well inside the margin: shrink
                    n_active -= 1
                    active[s], active[n_active] = active[n_active], active[s]
                    continue
                PG = max(G, 0.0)
            pg_max, pg_min = max(pg_max, PG), min(pg_min, PG)
            if abs(PG) > 1e-12 and curvature[i] > 0.0:
                new = min(max(alpha[i] - G / curvature[i], 0.0), C)
                w += ((new - alpha[i]) * labels[i]) * rows[i]
                alpha[i] = new
            s += 1
        if pg_max - pg_min <= tol:
            if n_active == n:
                return w, epoch, True
            n_active = n                            # converged on the active set: recheck all
            pg_max_old, pg_min_old = np.inf, -np.inf
            continue
        pg_max_old = pg_max if pg_max > 0 else np.inf
        pg_min_old = pg_min if pg_min < 0 else -np.inf
    return w, max_iter, False


class LinearSVM(Classifier):
    """Linear SVM with the hinge loss, trained by dual coordinate descent (see module docs).

    Two classes: one binary problem with y = +1 for ``classes_[1]``. More classes: one-vs-
    rest, one binary problem per class (that class +1, all others -1), and ``predict``
    takes the class with the largest score. This is scikit-learn's
    ``LinearSVC(loss="hinge", dual=True)``; with ``fit_intercept`` the bias is learned as
    the weight of a constant feature 1 and is therefore penalized, as in liblinear.

    ``random_state`` seeds the order in which samples are visited.

    Attributes: ``classes_``, ``coef_`` (1, p) or (K, p), ``intercept_`` (1,) or (K,),
    ``n_iter_`` (epochs until every problem met ``tol``).
    """

    def __init__(self, C=1.0, max_iter=1000, tol=1e-4, fit_intercept=True, random_state=0):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    def fit(self, X, y):
        """Train the binary or one-vs-rest SVM by dual coordinate descent."""
        if not self.C > 0:
            raise ValueError(f"LinearSVM.fit: C must be > 0, got {self.C!r}")
        X, y_index = self._check_X_y(X, y)
        Xa = np.hstack([X, np.ones((len(X), 1))]) if self.fit_intercept else X
        rng = np.random.default_rng(self.random_state)
        # one binary problem, or one per class (that class +1, the rest -1) for one-vs-rest
        positives = [1] if len(self.classes_) == 2 else range(len(self.classes_))
        W, epochs, converged = [], [], True
        for k in positives:
            w, n_epochs, ok = dual_coordinate_descent(
                Xa, np.where(y_index == k, 1.0, -1.0), self.C, self.max_iter, self.tol, rng
            )
            W.append(w)
            epochs.append(n_epochs)
            converged &= ok
        W, self.n_iter_ = np.array(W), max(epochs)
        if not converged:
            warnings.warn(
                f"LinearSVM: dual coordinate descent did not reach tol={self.tol} in "
                f"max_iter={self.max_iter} epochs; increase max_iter or scale the features",
                ConvergenceWarning,
                stacklevel=2,
            )
        if self.fit_intercept:
            self.coef_, self.intercept_ = W[:, :-1], W[:, -1]
        else:
            self.coef_, self.intercept_ = W, np.zeros(len(W))
        return self

    def decision_function(self, X):
        """Scores w . x + b: shape (n,) for binary, (n, n_classes) for one-vs-rest."""
        X = self._check_X(X, "decision_function")
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def _predict_index(self, X):
        scores = X @ self.coef_.T + self.intercept_
        return (scores[:, 0] > 0).astype(int) if len(self.classes_) == 2 else scores.argmax(axis=1)
