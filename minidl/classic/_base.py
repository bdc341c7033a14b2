"""Shared plumbing for the small models: input checks, the fitted-state guard, scoring.

Every model in minidl.classic follows the scikit-learn conventions: hyper-parameters go to
``__init__`` and are stored unchanged; ``fit(X, y)`` learns attributes whose names end in an
underscore (``coef_``, ``classes_``, ...) and returns ``self``. The two base classes here add
``score`` (accuracy for classifiers, R^2 for regressors) and ``parameter_count()``, so a
tutorial can put a small model's size beside a neural net's.

The checks turn bad input into one clear ``ValueError`` that names the model and the
problem, instead of a NumPy traceback from deep inside the algorithm.
"""

import inspect

import numpy as np

from ..backend import to_numpy

# log(sum(exp(a))) along an axis without overflow; one implementation for all of minidl
from ..functional.activation import logsumexp_array as logsumexp  # noqa: F401 (re-exported)


def as_matrix(X, where):
    """``X`` as a finite float64 array (n_samples, n_features); ``where`` names the caller."""
    X = to_numpy(X)
    try:
        X = X.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: X must be numeric, got dtype {X.dtype}") from None
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{where}: X has no samples (shape {X.shape})")
    if not np.isfinite(X).all():
        raise ValueError(f"{where}: X contains NaN or inf")
    return X


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before meeting its tolerance."""


class BaseModel:
    """What every small model shares: input checks, the fitted guard, repr, parameter count.

    Subclasses list the attributes that make up their fitted parameters in
    ``_fitted_params``; ``parameter_count()`` adds up their sizes, and ``_check_fitted``
    uses the first one to tell whether ``fit`` has run.
    """

    _fitted_params = ("coef_", "intercept_")

    @property
    def _name(self):
        return type(self).__name__

    def __repr__(self):
        names = inspect.signature(type(self).__init__).parameters
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names if n != "self")
        return f"{self._name}({args})"

    def parameter_count(self):
        """Number of fitted numbers the model stores (e.g. ``coef_.size + intercept_.size``).

        An intercept fixed at zero (``fit_intercept=False``) is not counted.
        """
        self._check_fitted("parameter_count")
        names = [n for n in self._fitted_params
                 if not (n == "intercept_" and getattr(self, "fit_intercept", True) is False)]
        return int(sum(np.size(getattr(self, name)) for name in names))

    # -- checks ---------------------------------------------------------------------------

    def _check_fitted(self, method):
        if not hasattr(self, self._fitted_params[0]):
            raise ValueError(f"{self._name}: call fit() before {method}()")

    def _check_X(self, X, method="fit"):
        """``X`` as a finite float64 matrix; outside ``fit`` also check it matches the model."""
        if method != "fit":
            self._check_fitted(method)
        X = as_matrix(X, f"{self._name}.{method}")
        if method != "fit":
            self._check_n_features(X, method)
        return X

    def _check_n_features(self, X, method):
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{self._name}.{method}: X has {X.shape[1]} features but the model "
                f"was fitted with {self.n_features_in_}"
            )

    def _check_X_y(self, X, y):
        """Check ``X`` (see ``_check_X``) and that ``y`` has one entry per row of ``X``."""
        X = self._check_X(X, "fit")
        y = to_numpy(y)
        if y.ndim == 0 or len(y) != X.shape[0]:
            n_y = "a scalar" if y.ndim == 0 else f"{len(y)} samples"
            raise ValueError(f"{self._name}.fit: X has {X.shape[0]} samples but y has {n_y}")
        self.n_features_in_ = X.shape[1]
        return X, y


class Regressor(BaseModel):
    """A model whose ``predict`` returns real numbers; ``score`` is R^2."""

    def _check_X_y(self, X, y):
        X, y = super()._check_X_y(X, y)
        if y.ndim > 2:
            raise ValueError(f"{self._name}.fit: y must be 1-D or 2-D, got shape {y.shape}")
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{self._name}.fit: y must be numeric, got dtype {y.dtype}") from None
        if not np.isfinite(y).all():
            raise ValueError(f"{self._name}.fit: y contains NaN or inf")
        return X, y

    def score(self, X, y):
        """Coefficient of determination R^2 = 1 - SS_res / SS_tot (averaged over targets).

        1 is a perfect fit; 0 is what always predicting the mean of ``y`` scores.
        """
        self._check_fitted("score")
        y = to_numpy(y).astype(np.float64)
        prediction = self.predict(X)
        ss_res = ((y - prediction) ** 2).sum(axis=0)
        ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1.0 - ss_res / ss_tot))


class Classifier(BaseModel):
    """A model that predicts one of the labels seen in ``fit``; ``score`` is accuracy."""

    def _check_X_y(self, X, y):
        """Also set ``classes_`` (sorted labels) and return ``y`` as indices into it."""
        X, y = super()._check_X_y(X, y)
        if y.ndim != 1:
            raise ValueError(
                f"{self._name}.fit: y must be 1-D (one label per sample), got shape {y.shape}"
            )
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{self._name}.fit: y has a single class ({self.classes_[0]!r}); "
                "a classifier needs at least two"
            )
        return X, y_index

    def predict(self, X):
        """The most likely class for each row of ``X``."""
        X = self._check_X(X, "predict")
        return self.classes_[self._predict_index(X)]

    def score(self, X, y):
        """Accuracy: the fraction of rows of ``X`` whose predicted label equals ``y``."""
        self._check_fitted("score")
        return float(np.mean(self.predict(X) == to_numpy(y)))


def softmax(a):
    """Row-wise softmax of a 2-D array, shifted by the row maximum so exp never overflows."""
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
