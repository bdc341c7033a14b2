"""Closed-form and second-order "small" models with a scikit-learn-style API.

These are the traditional models the tutorials put beside neural nets on the same data.
Each is fitted exactly (a linear solve) or by a second-order / coordinate method, in NumPy
only, and each class docstring derives how it is solved.

    from minidl.classic import LinearRegression
    model = LinearRegression().fit(X_train, y_train)
    model.score(X_test, y_test), model.parameter_count()
"""

from ._base import ConvergenceWarning
from .linear import LinearRegression, Ridge
from .logistic import LogisticRegression
from .naive_bayes import GaussianNB, MultinomialNB
from .svm import LinearSVM

__all__ = [
    "ConvergenceWarning",
    "LinearRegression",
    "Ridge",
    "LogisticRegression",
    "GaussianNB",
    "MultinomialNB",
    "LinearSVM",
]
