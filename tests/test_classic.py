"""minidl.classic against scikit-learn on the same real data, plus the input checks.

scikit-learn ships the data sets used here (diabetes, digits, breast cancer, iris), so
nothing is downloaded. Each model is fitted by both libraries and compared: closed-form
models to 1e-6, logistic regression's probabilities to 1e-4 (scikit-learn's L-BFGS is run
to a tight tolerance so both are at the same minimum), the SVM's accuracy to one point.
"""

import warnings

import numpy as np
import pytest
from helpers import require

sklearn = require("sklearn")
from sklearn import datasets, linear_model, naive_bayes, svm  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import minidl  # noqa: E402
from minidl.classic import (  # noqa: E402
    ConvergenceWarning,
    GaussianNB,
    LinearRegression,
    LinearSVM,
    LogisticRegression,
    MultinomialNB,
    Ridge,
)
from minidl.classic.svm import dual_coordinate_descent, dual_coordinate_descent_plain  # noqa: E402

SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])


@pytest.fixture(scope="module")
def diabetes():
    return datasets.load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    return datasets.load_digits(return_X_y=True)      # pixel values 0..16: counts


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    return datasets.load_iris(return_X_y=True)


def sklearn_logistic(C, X, y):
    """scikit-learn's L-BFGS logistic regression run to convergence (C=inf: no penalty)."""
    if np.isinf(C) and SKLEARN_VERSION < (1, 8):
        model = linear_model.LogisticRegression(penalty=None, tol=1e-10, max_iter=10_000)
    else:
        model = linear_model.LogisticRegression(C=C, tol=1e-10, max_iter=10_000)
    return model.fit(X, y)


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


# -- linear regression and ridge ---------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_regression_matches_sklearn(diabetes, fit_intercept):
    X, y = diabetes
    ours = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    ref = linear_model.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    assert ours.coef_.shape == ref.coef_.shape
    assert max_diff(ours.coef_, ref.coef_) < 1e-6
    assert abs(ours.intercept_ - ref.intercept_) < 1e-6
    assert abs(ours.score(X, y) - ref.score(X, y)) < 1e-12
    assert max_diff(ours.predict(X), ref.predict(X)) < 1e-6


def test_linear_regression_multi_target_and_rank_deficient(diabetes):
    X, y = diabetes
    X = np.hstack([X, X[:, :2]])                    # duplicated columns: X^T X is singular
    Y = np.column_stack([y, np.sqrt(y)])
    ours, ref = LinearRegression().fit(X, Y), linear_model.LinearRegression().fit(X, Y)
    assert ours.coef_.shape == (2, 12)
    assert ours.rank_ == 10
    assert max_diff(ours.coef_, ref.coef_) < 1e-6      # both the minimum-norm solution
    assert max_diff(ours.intercept_, ref.intercept_) < 1e-6


@pytest.mark.parametrize("alpha", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_matches_sklearn(diabetes, alpha, fit_intercept):
    X, y = diabetes
    ours = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, y)
    ref = linear_model.Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, y)
    assert max_diff(ours.coef_, ref.coef_) < 1e-6
    assert abs(ours.intercept_ - ref.intercept_) < 1e-6
    assert abs(ours.score(X, y) - ref.score(X, y)) < 1e-12


def test_ridge_does_not_penalize_the_intercept(diabetes):
    X, y = diabetes
    base, shifted = Ridge(alpha=10.0).fit(X, y), Ridge(alpha=10.0).fit(X, y + 1000.0)
    assert max_diff(base.coef_, shifted.coef_) < 1e-9
    assert abs(shifted.intercept_ - base.intercept_ - 1000.0) < 1e-6


def test_ridge_shrinks_and_alpha_zero_is_least_squares(diabetes):
    X, y = diabetes
    norms = [np.linalg.norm(Ridge(alpha=a).fit(X, y).coef_) for a in (0.0, 0.1, 1.0, 10.0)]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    assert max_diff(Ridge(alpha=0.0).fit(X, y).coef_, LinearRegression().fit(X, y).coef_) < 1e-6


# -- logistic regression -------------------------------------------------------------------------


@pytest.mark.parametrize("C", [1.0, 0.1])
def test_binary_logistic_matches_sklearn(breast_cancer, C):
    X, y = breast_cancer
    ours, ref = LogisticRegression(C=C).fit(X, y), sklearn_logistic(C, X, y)
    assert ours.coef_.shape == (1, 30) and ours.intercept_.shape == (1,)
    assert max_diff(ours.predict_proba(X), ref.predict_proba(X)) < 1e-4
    assert max_diff(ours.decision_function(X), ref.decision_function(X)) < 1e-3
    assert (ours.predict(X) == ref.predict(X)).all()
    assert ours.n_iter_ <= 15                       # Newton: a handful of steps


def test_multinomial_logistic_matches_sklearn(iris):
    X, y = iris
    ours, ref = LogisticRegression(C=1.0).fit(X, y), sklearn_logistic(1.0, X, y)
    assert ours.coef_.shape == (3, 4) and ours.intercept_.shape == (3,)
    assert max_diff(ours.predict_proba(X), ref.predict_proba(X)) < 1e-4
    assert max_diff(ours.coef_, ref.coef_) < 1e-3
    assert abs(ours.intercept_.sum()) < 1e-8          # intercepts fixed to sum to zero
    assert ours.n_iter_ <= 15


def test_unpenalized_logistic_matches_sklearn(diabetes):
    X, target = diabetes
    y = (target > np.median(target)).astype(int)    # not separable, so a finite minimum exists
    ours, ref = LogisticRegression(penalty=None).fit(X, y), sklearn_logistic(np.inf, X, y)
    assert max_diff(ours.predict_proba(X), ref.predict_proba(X)) < 1e-4
    assert max_diff(LogisticRegression(C=np.inf).fit(X, y).coef_, ours.coef_) < 1e-9


def test_logistic_string_labels_and_probabilities(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression().fit(X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.predict(X[:1])[0] == "setosa"
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.allclose(model.predict_log_proba(X), np.log(proba))
    assert model.score(X, names) > 0.95


def numeric_gradient(f, theta, h=1e-5):
    steps = np.eye(len(theta)) * h
    return np.array([(f(theta + e) - f(theta - e)) / (2 * h) for e in steps])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_gradient_and_hessian_match_finite_differences(iris, n_classes):
    X, y = iris
    keep = y < n_classes
    X, y = X[keep], y[keep]
    model = LogisticRegression(C=0.5)
    theta = np.random.default_rng(0).normal(scale=0.3, size=n_classes * 5 if n_classes > 2 else 5)
    grad, hess = model.gradient(X, y, theta), model.hessian(X, y, theta)
    assert grad.shape == theta.shape and hess.shape == (theta.size, theta.size)
    assert max_diff(grad, numeric_gradient(lambda t: model.loss(X, y, t), theta)) < 1e-4
    assert max_diff(hess, numeric_gradient(lambda t: model.gradient(X, y, t), theta)) < 1e-4
    assert max_diff(hess, hess.T) < 1e-12


def test_logistic_fitted_parameters_are_a_stationary_point(breast_cancer):
    X, y = breast_cancer
    model = LogisticRegression(C=1.0).fit(X, y)
    theta = model.flat_parameters()
    assert max_diff(theta, np.append(model.coef_, model.intercept_)) == 0
    assert np.max(np.abs(model.gradient(X, y))) < 1e-8 * len(X)
    assert np.linalg.eigvalsh(model.hessian(X, y)).min() > 0     # a strict minimum
    assert model.loss(X, y) < model.loss(X, y, theta * 1.01)


def test_logistic_without_intercept(breast_cancer):
    X, y = breast_cancer
    model = LogisticRegression(fit_intercept=False).fit(X, y)
    ref = linear_model.LogisticRegression(fit_intercept=False, tol=1e-10, max_iter=10_000).fit(X, y)
    assert max_diff(model.predict_proba(X), ref.predict_proba(X)) < 1e-4
    assert model.flat_parameters().shape == (30,)
    assert model.parameter_count() == 30


def test_logistic_warns_when_newton_cannot_converge(iris):
    X, y = iris
    separable = y < 2                               # setosa vs versicolor: no finite minimum
    with pytest.warns(ConvergenceWarning, match="LogisticRegression"):
        LogisticRegression(penalty=None, max_iter=5).fit(X[separable], y[separable])


# -- naive Bayes ------------------------------------------------------------------------------


@pytest.mark.parametrize("var_smoothing", [1e-9, 1e-2])
def test_gaussian_nb_matches_sklearn(iris, digits, var_smoothing):
    for X, y in (iris, digits):
        ours = GaussianNB(var_smoothing=var_smoothing).fit(X, y)
        ref = naive_bayes.GaussianNB(var_smoothing=var_smoothing).fit(X, y)
        for name in ("class_count_", "class_prior_", "theta_", "var_", "epsilon_"):
            assert max_diff(getattr(ours, name), getattr(ref, name)) < 1e-6, name
        assert max_diff(ours.predict_proba(X), ref.predict_proba(X)) < 1e-6
        assert ours.score(X, y) == ref.score(X, y)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_multinomial_nb_matches_sklearn_on_digit_pixel_counts(digits, alpha):
    X, y = digits
    ours = MultinomialNB(alpha=alpha).fit(X, y)
    ref = naive_bayes.MultinomialNB(alpha=alpha).fit(X, y)
    for name in ("class_count_", "class_log_prior_", "feature_count_", "feature_log_prob_"):
        assert max_diff(getattr(ours, name), getattr(ref, name)) < 1e-6, name
    assert max_diff(ours.predict_proba(X), ref.predict_proba(X)) < 1e-6
    assert ours.score(X, y) == ref.score(X, y)


# -- linear SVM --------------------------------------------------------------------------------


def fit_both_svms(X, y, C):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    ours = LinearSVM(C=C).fit(X_train, y_train)
    ref = svm.LinearSVC(C=C, loss="hinge", dual=True, random_state=0).fit(X_train, y_train)
    return ours, ref, X_test, y_test


def test_binary_svm_matches_linear_svc(breast_cancer):
    ours, ref, X_test, y_test = fit_both_svms(*breast_cancer, C=0.1)
    assert abs(ours.score(X_test, y_test) - ref.score(X_test, y_test)) <= 0.01
    assert ours.coef_.shape == (1, 30) and ours.decision_function(X_test).shape == (len(X_test),)
    assert max_diff(ours.coef_, ref.coef_) < 1e-2      # same optimum, to the solver's tolerance


def test_one_vs_rest_svm_matches_linear_svc(iris):
    X, y = iris
    ours, ref, X_test, y_test = fit_both_svms(StandardScaler().fit_transform(X), y, C=0.1)
    assert abs(ours.score(X_test, y_test) - ref.score(X_test, y_test)) <= 0.01
    assert ours.coef_.shape == (3, 4) and ours.decision_function(X_test).shape == (len(X_test), 3)
    best = ours.decision_function(X_test).argmax(axis=1)
    assert (ours.predict(X_test) == ours.classes_[best]).all()


def test_svm_shrinking_gives_the_plain_solution(breast_cancer):
    X, y = breast_cancer
    Xa, labels = np.hstack([X, np.ones((len(X), 1))])[:300], np.where(y == 1, 1.0, -1.0)[:300]
    plain = dual_coordinate_descent_plain(Xa, labels, 0.1, 2000, 1e-6, np.random.default_rng(0))
    fast = dual_coordinate_descent(Xa, labels, 0.1, 2000, 1e-6, np.random.default_rng(1))
    assert plain[2] and fast[2]
    assert max_diff(plain[0], fast[0]) < 1e-5


def test_svm_warns_when_not_converged(breast_cancer):
    with pytest.warns(ConvergenceWarning, match="LinearSVM"):
        LinearSVM(C=1.0, max_iter=3).fit(*breast_cancer)


# -- common API ---------------------------------------------------------------------------------


def test_parameter_counts(iris, digits):
    X, y = iris
    assert LogisticRegression().fit(X, y).parameter_count() == 3 * 4 + 3
    assert LogisticRegression().fit(X, y == 0).parameter_count() == 4 + 1
    assert LinearSVM(C=0.1).fit(StandardScaler().fit_transform(X), y).parameter_count() == 3 * 4 + 3
    assert LinearRegression().fit(X, y).parameter_count() == 4 + 1
    assert Ridge(fit_intercept=False).fit(X, y).parameter_count() == 4
    assert GaussianNB().fit(X, y).parameter_count() == 3 * 4 * 2 + 3
    assert MultinomialNB().fit(*digits).parameter_count() == 10 * 64 + 10


def test_inputs_may_be_lists_and_tensors(iris):
    X, y = iris
    reference = LogisticRegression().fit(X, y).predict_proba(X)
    from_lists = LogisticRegression().fit(X.tolist(), y.tolist()).predict_proba(X.tolist())
    X_t, y_t = minidl.tensor(X), minidl.tensor(y)
    from_tensors = LogisticRegression().fit(X_t, y_t).predict_proba(X_t)
    assert max_diff(from_lists, reference) == 0
    assert max_diff(from_tensors, reference) < 1e-4     # the tensors hold float32 copies


def test_fit_returns_self_and_repr(iris):
    X, y = iris
    model = Ridge(alpha=2.0)
    assert model.fit(X, y) is model
    assert repr(model) == "Ridge(alpha=2.0, fit_intercept=True)"


ALL_MODELS = [LinearRegression, Ridge, LogisticRegression, GaussianNB, MultinomialNB, LinearSVM]
CLASSIFIERS = [LogisticRegression, GaussianNB, MultinomialNB, LinearSVM]


@pytest.mark.parametrize("Model", ALL_MODELS)
def test_bad_inputs_raise_clear_errors(Model):
    name = Model.__name__
    X, y = np.abs(np.random.default_rng(0).normal(size=(20, 3))), np.arange(20) % 2
    with pytest.raises(ValueError, match=f"{name}: call fit\\(\\) before predict\\(\\)"):
        Model().predict(X)
    with pytest.raises(ValueError, match=f"{name}.*20 samples but y has 19"):
        Model().fit(X, y[:-1])
    with pytest.raises(ValueError, match=f"{name}.*X must be 2-D.*\\(20,\\)"):
        Model().fit(X[:, 0], y)
    for bad in (np.nan, np.inf):
        X_bad = X.copy()
        X_bad[3, 1] = bad
        with pytest.raises(ValueError, match=f"{name}.*NaN or inf"):
            Model().fit(X_bad, y)
    model = Model().fit(X, y)
    with pytest.raises(ValueError, match=f"{name}.predict: X has 2 features but .* fitted with 3"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match=f"{name}.predict.*NaN or inf"):
        model.predict(np.full((1, 3), np.nan))


@pytest.mark.parametrize("Model", CLASSIFIERS)
def test_classifiers_need_two_classes(Model):
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match=f"{Model.__name__}.*single class"):
        Model().fit(X, [7, 7, 7, 7, 7])


def test_multinomial_nb_rejects_negative_counts():
    X, y = np.array([[1.0, 2.0], [0.0, -1.0]]), [0, 1]
    with pytest.raises(ValueError, match="MultinomialNB.fit: X has negative counts"):
        MultinomialNB().fit(X, y)
    model = MultinomialNB().fit(np.abs(X), y)
    with pytest.raises(ValueError, match="MultinomialNB.*negative counts"):
        model.predict(X)


def test_bad_hyper_parameters_and_objective_arguments(iris):
    X, y = iris
    with pytest.raises(ValueError, match="LogisticRegression: penalty must be 'l2' or None"):
        LogisticRegression(penalty="l1").fit(X, y)
    with pytest.raises(ValueError, match="Ridge.fit: alpha must be >= 0"):
        Ridge(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="LinearSVM.fit: C must be > 0"):
        LinearSVM(C=0.0).fit(X, y)
    with pytest.raises(ValueError, match="call fit\\(\\) before hessian\\(\\)"):
        LogisticRegression().hessian(X, y)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="theta has 3 entries but the model has 15 parameters"):
        model.gradient(X, y, np.zeros(3))
    with pytest.raises(ValueError, match="labels that are not among the classes"):
        model.loss(X, y + 5)


def test_predict_before_fit_for_every_method():
    with pytest.raises(ValueError, match=r"LogisticRegression: call fit\(\) before predict_proba"):
        LogisticRegression().predict_proba(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"LinearSVM: call fit\(\) before decision_function"):
        LinearSVM().decision_function(np.ones((2, 2)))
    with pytest.raises(ValueError, match="GaussianNB: call fit\\(\\) before parameter_count\\(\\)"):
        GaussianNB().parameter_count()
    with pytest.raises(ValueError, match="Ridge: call fit\\(\\) before score\\(\\)"):
        Ridge().score(np.ones((2, 2)), [1, 2])


def test_no_warnings_on_well_posed_problems(breast_cancer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression().fit(*breast_cancer)
        LinearSVM(C=0.1).fit(*breast_cancer)
