"""minidl.metrics against scikit-learn on random and edge-case labels."""

import warnings

import numpy as np
import pytest
from helpers import require

import minidl
from minidl import metrics

sk = require("sklearn.metrics")

AVERAGED = ("micro", "macro", "weighted")
SCORES = ("precision_score", "recall_score", "f1_score")


def _both(name, *args, **kwargs):
    """(ours, scikit-learn's) result of the metric `name`, warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(metrics, name)(*args, **kwargs), getattr(sk, name)(*args, **kwargs)


def _assert_same(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float),
                               rtol=1e-12, atol=0, equal_nan=True)


def _random_cases(n_cases=40, seed=0):
    """Label pairs of varied sizes and class counts, some classes never predicted."""
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        n = int(rng.integers(1, 40))
        k = int(rng.integers(2, 6))
        y_true = rng.integers(0, k, size=n)
        y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, k, size=n))
        yield y_true, y_pred


def test_accuracy_matches_sklearn():
    for y_true, y_pred in _random_cases():
        _assert_same(*_both("accuracy_score", y_true, y_pred))
        _assert_same(*_both("accuracy_score", y_true, y_pred, normalize=False))


@pytest.mark.parametrize("name", SCORES)
@pytest.mark.parametrize("average", AVERAGED + (None,))
@pytest.mark.parametrize("zero_division", ["warn", 0, 1, np.nan])
def test_multiclass_scores_match_sklearn(name, average, zero_division):
    for y_true, y_pred in _random_cases():
        _assert_same(*_both(name, y_true, y_pred, average=average, zero_division=zero_division))


@pytest.mark.parametrize("name", SCORES)
@pytest.mark.parametrize("zero_division", ["warn", 0, 1, np.nan])
def test_binary_scores_match_sklearn(name, zero_division):
    rng = np.random.default_rng(1)
    for _ in range(25):
        n = int(rng.integers(1, 30))
        y_true, y_pred = rng.integers(0, 2, size=n), rng.integers(0, 2, size=n)
        for pos_label in (1, 0):
            _assert_same(*_both(name, y_true, y_pred, pos_label=pos_label,
                                zero_division=zero_division))


@pytest.mark.parametrize("name", SCORES)
def test_explicit_labels_match_sklearn(name):
    for y_true, y_pred in _random_cases(12, seed=2):
        for labels in ([0, 1], [1, 0, 7], [2]):
            for average in AVERAGED + (None,):
                _assert_same(*_both(name, y_true, y_pred, labels=labels, average=average))


EDGE_CASES = [
    ([1, 1, 1], [1, 1, 1]),           # one class, all right
    ([0, 0, 0], [0, 0, 0]),           # only the negative class: binary scores are 0/0
    ([0, 0, 0], [1, 1, 1]),           # never right
    ([0, 1, 0, 1], [0, 0, 0, 0]),     # positive class never predicted
    ([0, 0, 0, 0], [0, 1, 0, 1]),     # positive class never true
    ([2, 2, 0], [1, 1, 1]),           # a predicted class that is never true
]


@pytest.mark.parametrize("y_true, y_pred", EDGE_CASES)
@pytest.mark.parametrize("zero_division", ["warn", 0, 1, np.nan])
def test_edge_cases_match_sklearn(y_true, y_pred, zero_division):
    binary = len(set(y_true) | set(y_pred)) <= 2
    for name in SCORES:
        for average in (("binary",) if binary else ()) + AVERAGED + (None,):
            _assert_same(*_both(name, y_true, y_pred, average=average, zero_division=zero_division))


def test_string_labels_and_pos_label():
    y_true = ["spam", "ham", "ham", "spam", "ham"]
    y_pred = ["spam", "spam", "ham", "ham", "ham"]
    for name in SCORES:
        _assert_same(*_both(name, y_true, y_pred, pos_label="spam"))
        _assert_same(*_both(name, y_true, y_pred, average="macro"))
    ours, theirs = _both("confusion_matrix", y_true, y_pred)
    np.testing.assert_array_equal(ours, theirs)


def test_undefined_scores_warn_only_with_warn():
    with pytest.warns(metrics.UndefinedMetricWarning, match="precision"):
        assert metrics.precision_score([0, 1, 1], [0, 0, 0]) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.precision_score([0, 1, 1], [0, 0, 0], zero_division=1) == 1.0
        assert metrics.recall_score([0, 1, 1], [0, 0, 0]) == 0.0       # recall is defined here


def test_confusion_matrix_matches_sklearn():
    for y_true, y_pred in _random_cases(15, seed=3):
        for labels in (None, [0, 1, 5], [3, 1, 0, 9]):
            if labels is not None and not np.isin(labels, y_true).any():
                with pytest.raises(ValueError, match="none of labels"):
                    metrics.confusion_matrix(y_true, y_pred, labels=labels)
                continue
            for normalize in (None, "true", "pred", "all"):
                ours, theirs = _both("confusion_matrix", y_true, y_pred, labels=labels,
                                     normalize=normalize)
                assert ours.shape == theirs.shape and ours.dtype.kind == theirs.dtype.kind
                np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_confusion_matrix_by_hand():
    # rows: true 0, 1, 2; columns: predicted 0, 1, 2
    np.testing.assert_array_equal(metrics.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 0]),
                                  [[1, 0, 0], [1, 0, 1], [0, 0, 2]])


@pytest.mark.parametrize("kwargs", [
    {}, {"digits": 4}, {"target_names": ["zero", "one", "two", "a-longer-name"]},
    {"labels": [0, 2]}, {"zero_division": 0},
])
def test_classification_report_is_sklearns_table(kwargs):
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 4, size=50)
    y_pred = np.where(rng.random(50) < 0.6, y_true, rng.integers(0, 4, size=50))
    ours, theirs = _both("classification_report", y_true, y_pred, **kwargs)
    assert ours == theirs


def test_inputs_may_be_lists_or_tensors():
    y_true = minidl.tensor([0, 1, 2, 2])
    y_pred = minidl.tensor([0, 2, 2, 2])
    assert metrics.accuracy_score(y_true, y_pred) == 0.75
    assert metrics.f1_score([0, 1, 2, 2], y_pred, average="micro") == 0.75


def test_errors_are_clear():
    with pytest.raises(ValueError, match="multiclass"):
        metrics.precision_score([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="pos_label=2"):
        metrics.recall_score([0, 1], [1, 0], pos_label=2)
    with pytest.raises(ValueError, match="3 labels but y_pred has 2"):
        metrics.accuracy_score([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="argmax"):
        metrics.accuracy_score([0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="none of labels"):
        metrics.confusion_matrix([0, 1], [1, 1], labels=[2, 3])
    with pytest.raises(ValueError, match="average must be"):
        metrics.f1_score([0, 1], [0, 1], average="samples")


# ---------------------------------------------------------------- regression
REGRESSION = ("mean_squared_error", "mean_absolute_error", "r2_score")


def _regression_cases(seed=5):
    """(y_true, y_pred, sample_weight) of varied shapes: 1-D, one column, several columns,
    some with a constant column, with and without (some negative or zero) weights."""
    rng = np.random.default_rng(seed)
    for shape in [(2,), (7,), (30,), (5, 1), (12, 3), (40, 4)]:
        y_true = rng.normal(size=shape)
        y_pred = y_true + rng.normal(scale=0.5, size=shape)
        yield y_true, y_pred, None
        yield y_true, y_pred, rng.uniform(0, 3, size=shape[0])
        weights = rng.uniform(-0.5, 3, size=shape[0])
        weights[0] = 0.0
        yield y_true, y_pred, weights
        if len(shape) == 2:
            y_const = y_true.copy()
            y_const[:, 0] = 1.5
            yield y_const, y_pred, None
            yield y_const, np.where(np.arange(shape[1]) == 0, 1.5, y_pred), None


def _multioutputs(name, y_true):
    options = ["raw_values", "uniform_average"]
    if name == "r2_score":
        options.append("variance_weighted")
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        options.append(np.arange(1.0, y_true.shape[1] + 1))
    return options


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_metrics_match_sklearn(name):
    for y_true, y_pred, weights in _regression_cases():
        for multioutput in _multioutputs(name, y_true):
            kwargs = dict(sample_weight=weights, multioutput=multioutput)
            forces = (True, False) if name == "r2_score" else (None,)
            for force_finite in forces:
                if force_finite is not None:
                    kwargs["force_finite"] = force_finite
                with np.errstate(divide="ignore", invalid="ignore"):
                    ours, theirs = _both(name, y_true, y_pred, **kwargs)
                assert isinstance(ours, np.ndarray) == isinstance(theirs, np.ndarray)
                assert np.shape(ours) == np.shape(theirs)
                np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("y_pred, force_finite, expected", [
    ([2.0, 2.0, 2.0], True, 1.0), ([2.0, 2.0, 3.0], True, 0.0),
    ([2.0, 2.0, 2.0], False, np.nan), ([2.0, 2.0, 3.0], False, -np.inf)])
def test_r2_of_a_constant_target_matches_sklearn(y_pred, force_finite, expected):
    with np.errstate(divide="ignore", invalid="ignore"):
        ours, theirs = _both("r2_score", [2.0, 2.0, 2.0], y_pred, force_finite=force_finite)
    _assert_same(ours, theirs)
    _assert_same(ours, expected)


def test_regression_metrics_by_hand():
    y_true, y_pred = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    assert metrics.mean_squared_error(y_true, y_pred) == pytest.approx(0.375)
    assert metrics.mean_absolute_error(y_true, y_pred) == pytest.approx(0.5)
    # total = sum of (y - 2.875)^2 = 29.1875, residual = 1.5
    assert metrics.r2_score(y_true, y_pred) == pytest.approx(1 - 1.5 / 29.1875)
    assert metrics.mean_squared_error(y_true, y_pred, sample_weight=[0, 0, 1, 1]) == 0.5
    assert metrics.mean_absolute_error(minidl.tensor(y_true), minidl.tensor(y_pred)) == 0.5


def test_r2_of_one_sample_is_nan_with_a_warning():
    with pytest.warns(metrics.UndefinedMetricWarning, match="fewer than two samples"):
        assert np.isnan(metrics.r2_score([1.0], [2.0]))


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_metrics_reject_bad_input(name):
    f = getattr(metrics, name)
    with pytest.raises(ValueError, match=f"{name}: y_true has 2 samples but y_pred has 3"):
        f([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="y_true has 2 outputs but y_pred has 3"):
        f(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"y_true must be .* got shape \(2, 2, 2\)"):
        f(np.ones((2, 2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="y_pred contains NaN or infinity"):
        f([1.0, 2.0], [1.0, np.inf])
    with pytest.raises(ValueError, match=r"multioutput weights have shape \(3,\)"):
        f(np.ones((2, 2)), np.ones((2, 2)), multioutput=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="multioutput weights need several outputs"):
        f([1.0, 2.0], [1.0, 2.0], multioutput=[1.0])
    with pytest.raises(ValueError, match="multioutput must be one of"):
        f([1.0, 2.0], [1.0, 2.0], multioutput="average")
    with pytest.raises(ValueError, match=r"sample_weight must be one number per sample \(2,\)"):
        f([1.0, 2.0], [1.0, 2.0], sample_weight=[1.0])
    with pytest.raises(ValueError, match="sample_weight is all zeros"):
        f([1.0, 2.0], [1.0, 2.0], sample_weight=[0.0, 0.0])
    with pytest.raises(ValueError, match="y_true has no values"):
        f([], [])


def test_variance_weighted_is_only_for_r2():
    with pytest.raises(ValueError, match="mean_squared_error: multioutput must be one of"):
        metrics.mean_squared_error(np.ones((2, 2)), np.ones((2, 2)),
                                   multioutput="variance_weighted")


# ---------------------------------------------------------------- metrics of model outputs
def test_accuracy_of_outputs_takes_the_argmax_or_thresholds_one_output():
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 0.5, 3.0], [1.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    labels = np.array([0, 2, 2, 2])
    assert metrics.accuracy_of_outputs(labels, scores) == 0.75
    one_hot = np.eye(3)[labels]
    assert metrics.accuracy_of_outputs(one_hot, scores) == 0.75
    single = np.array([[-1.0], [0.3], [0.7], [2.0]])
    assert metrics.accuracy_of_outputs(np.array([0, 1, 1, 1]), single) == 1.0       # logits
    assert metrics.accuracy_of_outputs(np.array([0, 0, 1, 1]), single, threshold=0.5) == 1.0
    with pytest.raises(ValueError, match="accuracy: the targets are not class labels"):
        metrics.accuracy_of_outputs(np.array([0.5, 1.0, 1.0, 1.0]), single)
    with pytest.raises(ValueError, match="accuracy: 4 predictions for 2 targets"):
        metrics.accuracy_of_outputs(np.array([0, 1]), single)


def test_mae_of_outputs_is_the_mean_absolute_error_of_every_value():
    rng = np.random.default_rng(6)
    y = rng.normal(size=(10, 2, 3)).astype(np.float32)
    out = y + rng.normal(size=(10, 2, 3)).astype(np.float32)
    assert metrics.mae_of_outputs(y, out) == pytest.approx(np.mean(np.abs(out - y)), rel=1e-6)
    column = rng.normal(size=10)
    _assert_same(metrics.mae_of_outputs(column, column[:, None] + 1.5), 1.5)
    _assert_same(*_both("mean_absolute_error", column, column[:, None] + out[:, 0, :1]))


def test_fit_knows_the_output_metrics_by_name():
    assert metrics.OUTPUT_METRICS == {"accuracy": metrics.accuracy_of_outputs,
                                      "mae": metrics.mae_of_outputs}
