"""Naive Bayes classifiers: Gaussian (real-valued features) and multinomial (counts).

Bayes' rule gives the probability of class k after seeing features x:

    P(k | x) = P(k) P(x | k) / P(x),

and the "naive" assumption is that the features are independent within a class, so
P(x | k) = prod_j P(x_j | k). Each factor is a one-dimensional distribution whose
maximum-likelihood fit is a closed-form average over the training rows of class k, so
fitting is a single pass over the data: no iterations, no learning rate.

Everything is computed in log space: a product of hundreds of small probabilities
underflows to 0 in floating point, while the sum of their logarithms does not. The
normalizer P(x) is the same for all classes, so prediction takes the argmax of the joint
log-likelihood log P(k) + sum_j log P(x_j | k), and probabilities come from a softmax
(log-sum-exp) of it.
"""

import numpy as np

from ._base import Classifier, logsumexp


class _NaiveBayes(Classifier):
    """Prediction from the joint log-likelihood that each subclass computes."""

    def predict_log_proba(self, X):
        """log P(k | x) for each row of X, shape (n_samples, n_classes)."""
        jll = self._joint_log_likelihood(self._check_X(X, "predict_log_proba"))
        return jll - logsumexp(jll, axis=1)[:, None]

    def predict_proba(self, X):
        """P(k | x) for each row of X, shape (n_samples, n_classes), columns as ``classes_``."""
        return np.exp(self.predict_log_proba(X))

    def _predict_index(self, X):
        return self._joint_log_likelihood(X).argmax(axis=1)

    def _class_counts(self, y_index):
        return np.bincount(y_index, minlength=len(self.classes_)).astype(np.float64)


class GaussianNB(_NaiveBayes):
    """Naive Bayes with a normal distribution per class and feature.

    Fit (maximum likelihood, per class k and feature j, over the n_k rows of class k):

        class_prior_[k] = n_k / n
        theta_[k, j]    = mean of x_j over class k
        var_[k, j]      = mean of (x_j - theta_[k, j])^2 over class k   + epsilon_

    ``epsilon_ = var_smoothing * (largest variance of any feature over all data)`` keeps a
    feature that is constant within a class from giving a zero variance (and a division by
    zero); it is scikit-learn's rule.

    Predict: log P(k) + sum_j log N(x_j; theta_kj, var_kj), where
    log N(x; mu, s2) = -1/2 log(2 pi s2) - (x - mu)^2 / (2 s2).

    ``parameter_count()`` counts theta_, var_ and class_prior_.
    """

    _fitted_params = ("theta_", "var_", "class_prior_")

    def __init__(self, var_smoothing=1e-9):
        self.var_smoothing = var_smoothing

    def fit(self, X, y):
        """Estimate per-class priors, means and variances."""
        if not self.var_smoothing >= 0:
            raise ValueError(
                f"GaussianNB.fit: var_smoothing must be >= 0, got {self.var_smoothing!r}"
            )
        X, y_index = self._check_X_y(X, y)
        self.class_count_ = self._class_counts(y_index)
        self.class_prior_ = self.class_count_ / len(X)
        self.epsilon_ = self.var_smoothing * X.var(axis=0).max()
        rows_of = [X[y_index == k] for k in range(len(self.classes_))]
        self.theta_ = np.array([rows.mean(axis=0) for rows in rows_of])
        self.var_ = np.array([rows.var(axis=0) for rows in rows_of]) + self.epsilon_
        return self

    def _joint_log_likelihood(self, X):
        log_normalizer = -0.5 * np.log(2.0 * np.pi * self.var_).sum(axis=1)          # (K,)
        squared = ((X[:, None, :] - self.theta_[None]) ** 2 / self.var_[None]).sum(axis=2)
        return np.log(self.class_prior_) + log_normalizer - 0.5 * squared


class MultinomialNB(_NaiveBayes):
    """Naive Bayes for counts (word counts, pixel intensities) with Laplace smoothing.

    Each class k has a distribution p_k over the features ("which word comes next"); a row x
    of counts has log-likelihood sum_j x_j log p_kj plus a term that does not depend on k.

    Fit: with N_kj the total count of feature j over the rows of class k,

        p_kj = (N_kj + alpha) / (sum_j' N_kj' + alpha * n_features).

    With alpha = 0 this is the maximum-likelihood estimate, but then a word never seen in
    class k gets probability 0, and one such word in a test document rules the class out
    entirely (log 0 = -inf). Adding alpha to every count (Laplace smoothing for alpha = 1)
    is the posterior mean of p_k under a symmetric Dirichlet(alpha) prior; it keeps every
    probability positive.

    Attributes (scikit-learn's names): ``class_count_``, ``class_log_prior_`` (log n_k / n),
    ``feature_count_`` (N), ``feature_log_prob_`` (log p). ``parameter_count()`` counts
    feature_log_prob_ and class_log_prior_.
    """

    _fitted_params = ("feature_log_prob_", "class_log_prior_")

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        """Count features per class and turn the smoothed counts into log-probabilities."""
        if not self.alpha >= 0:
            raise ValueError(f"MultinomialNB.fit: alpha must be >= 0, got {self.alpha!r}")
        X, y_index = self._check_X_y(X, y)
        self._check_counts(X, "fit")
        one_hot = np.eye(len(self.classes_))[y_index]                  # (n, K)
        self.class_count_ = one_hot.sum(axis=0)
        self.feature_count_ = one_hot.T @ X                            # (K, n_features)
        self.class_log_prior_ = np.log(self.class_count_) - np.log(self.class_count_.sum())
        smoothed = self.feature_count_ + self.alpha
        self.feature_log_prob_ = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        return self

    def _check_counts(self, X, method):
        if X.min() < 0:
            raise ValueError(
                f"MultinomialNB.{method}: X has negative counts (min {X.min():g}); "
                "it expects counts or frequencies, such as a bag-of-words matrix"
            )

    def _joint_log_likelihood(self, X):
        self._check_counts(X, "predict")
        return X @ self.feature_log_prob_.T + self.class_log_prior_
