"""How good are the predictions: accuracy, precision, recall, F1, confusion matrix, report
for classes; mean squared and absolute error and R^2 for values; and the metrics that
minidl.train.fit reports each epoch from a model's raw outputs.

The functions take the true and the predicted class labels or values (numpy arrays, lists,
or minidl Tensors) and follow scikit-learn's definitions, including what happens when a
ratio is 0/0.

For one class c, counting over the samples:
    tp = true c and predicted c, predicted = predicted c, actual = true c
    precision = tp / predicted   (of the samples called c, how many are c)
    recall    = tp / actual      (of the samples that are c, how many were found)
    f1        = 2 tp / (predicted + actual), the harmonic mean of precision and recall

`average` says how the classes combine: "binary" reports only the class pos_label;
"macro" takes the plain mean over classes, "weighted" the mean weighted by each class's
number of true samples; "micro" adds up tp, predicted and actual over all classes first
(for single-label data, micro precision = recall = F1 = accuracy); None returns one score
per class.
"""

import warnings

import numpy as np

AVERAGES = ("binary", "micro", "macro", "weighted", None)


class UndefinedMetricWarning(UserWarning):
    """A score was 0/0 (say, precision of a class never predicted) and was set to 0."""


def _labels_array(y, name, where):
    """y as a 1-D numpy array of labels (from a list, an array or a minidl Tensor)."""
    array = y.numpy() if hasattr(y, "numpy") else np.asarray(y)
    if array.ndim == 2 and name == "y_pred" and array.shape[1] > 1:
        raise ValueError(f"{where}: y_pred has shape {array.shape}; pass predicted class "
                         f"labels, e.g. scores.argmax(axis=1)")
    if array.ndim != 1:
        raise ValueError(f"{where}: {name} must be 1-D class labels, got shape {array.shape}")
    return array


def _check_pair(y_true, y_pred, where):
    y_true = _labels_array(y_true, "y_true", where)
    y_pred = _labels_array(y_pred, "y_pred", where)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{where}: y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    return y_true, y_pred


def accuracy_score(y_true, y_pred, normalize=True):
    """The fraction of samples predicted right (the number of them if normalize=False)."""
    y_true, y_pred = _check_pair(y_true, y_pred, "accuracy_score")
    correct = int(np.sum(y_true == y_pred))
    if not normalize:
        return correct
    if len(y_true) == 0:
        raise ValueError("accuracy_score: no samples")
    return correct / len(y_true)


def confusion_matrix(y_true, y_pred, labels=None, normalize=None):
    """C[i, j] = number of samples of true class labels[i] predicted as labels[j].

    labels defaults to every label seen in y_true or y_pred, sorted; samples whose labels
    are not in `labels` are left out. normalize: None (counts), "true" (each row sums to
    1), "pred" (each column sums to 1) or "all" (the whole matrix sums to 1).
    """
    y_true, y_pred = _check_pair(y_true, y_pred, "confusion_matrix")
    labels = np.union1d(y_true, y_pred) if labels is None else np.asarray(labels)
    if labels.size == 0:
        raise ValueError("confusion_matrix: labels is empty")
    if y_true.size and not np.isin(labels, y_true).any():
        raise ValueError(f"confusion_matrix: none of labels {labels.tolist()} occurs in y_true")
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"confusion_matrix: normalize must be None, 'true', 'pred' or 'all', "
                         f"got {normalize!r}")
    position = {label: i for i, label in enumerate(labels.tolist())}
    rows = np.array([position.get(label, -1) for label in y_true.tolist()], dtype=np.int64)
    cols = np.array([position.get(label, -1) for label in y_pred.tolist()], dtype=np.int64)
    both_known = (rows >= 0) & (cols >= 0)
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, (rows[both_known], cols[both_known]), 1)
    if normalize is None:
        return matrix
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = matrix / matrix.sum(axis=axis, keepdims=axis is not None)
    return np.nan_to_num(normalized)


# ---------------------------------------------------------------- precision, recall, F1

def _zero_division_value(zero_division, where):
    """The score given to a 0/0: 0 for "warn" (with a warning), else the value asked for."""
    if zero_division == "warn":
        return 0.0
    is_number = isinstance(zero_division, (int, float))
    if is_number and (zero_division in (0, 1) or np.isnan(zero_division)):
        return float(zero_division)
    raise ValueError(f"{where}: zero_division must be 'warn', 0, 1 or nan, got {zero_division!r}")


def _divide(numerator, denominator, zero_division, what, where, warn):
    """numerator / denominator per class, with the zero_division value where it is 0/0."""
    undefined = denominator == 0
    result = numerator / np.where(undefined, 1, denominator)
    result[undefined] = _zero_division_value(zero_division, where)
    if warn and zero_division == "warn" and undefined.any():
        warnings.warn(f"{where}: {what} is 0/0 for {int(undefined.sum())} label(s) and was set "
                      f"to 0.0; pass zero_division to choose the value", UndefinedMetricWarning,
                      stacklevel=4)
    return result


def _chosen_labels(y_true, y_pred, labels, average, pos_label, where):
    """The labels to score: [pos_label] for a binary average, else `labels` or all seen."""
    if average not in AVERAGES:
        raise ValueError(f"{where}: average must be one of {AVERAGES}, got {average!r}")
    present = np.union1d(y_true, y_pred)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(f"{where}: the labels are multiclass ({len(present)} classes) but "
                             f"average='binary'; choose 'macro', 'micro', 'weighted' or None")
        if pos_label not in present.tolist() and len(present) == 2:
            raise ValueError(f"{where}: pos_label={pos_label!r} is not a valid label; it should "
                             f"be one of {present.tolist()}")
        return np.asarray([pos_label])
    return present if labels is None else np.asarray(labels)


def _counts_per_label(y_true, y_pred, labels):
    """(tp, predicted, actual) for each label, as float arrays."""
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in labels], dtype=np.float64)
    predicted = np.array([np.sum(y_pred == c) for c in labels], dtype=np.float64)
    actual = np.array([np.sum(y_true == c) for c in labels], dtype=np.float64)
    return tp, predicted, actual


def _nan_average(scores, weights):
    """Average ignoring nan scores; weights that add up to zero count as equal weights."""
    keep = ~np.isnan(scores)
    if not keep.any():
        return float("nan")
    scores = scores[keep]
    weights = None if weights is None else weights[keep]
    if weights is None or weights.sum() == 0:
        return float(np.mean(scores))
    return float(np.average(scores, weights=weights))


def precision_recall_f1_support(y_true, y_pred, labels=None, pos_label=1, average=None,
                                zero_division="warn", where="precision_recall_f1_support",
                                warn_for=("precision", "recall", "f1")):
    """(precision, recall, f1, support): per label (average=None) or averaged floats.

    support is the number of true samples of each label (None once averaged). With
    zero_division="warn", a 0/0 in a score named in warn_for gives a warning.
    """
    y_true, y_pred = _check_pair(y_true, y_pred, where)
    labels = _chosen_labels(y_true, y_pred, labels, average, pos_label, where)
    tp, predicted, actual = _counts_per_label(y_true, y_pred, labels)
    if average == "micro":
        tp, predicted, actual = (counts.sum(keepdims=True) for counts in (tp, predicted, actual))
    precision = _divide(tp, predicted, zero_division, "precision (no predicted samples)", where,
                        "precision" in warn_for)
    recall = _divide(tp, actual, zero_division, "recall (no true samples)", where,
                     "recall" in warn_for)
    f1 = _divide(2 * tp, predicted + actual, zero_division, "F1 (no true nor predicted samples)",
                 where, "f1" in warn_for)
    if average is None:
        return precision, recall, f1, actual.astype(np.int64)
    weights = actual if average == "weighted" else None
    return (_nan_average(precision, weights), _nan_average(recall, weights),
            _nan_average(f1, weights), None)


def precision_score(y_true, y_pred, labels=None, pos_label=1, average="binary",
                    zero_division="warn"):
    """Of the samples predicted as a class, the fraction that truly are (see module doc)."""
    return precision_recall_f1_support(y_true, y_pred, labels, pos_label, average, zero_division,
                                       where="precision_score", warn_for=("precision",))[0]


def recall_score(y_true, y_pred, labels=None, pos_label=1, average="binary", zero_division="warn"):
    """Of the samples truly in a class, the fraction predicted as it (see module doc)."""
    return precision_recall_f1_support(y_true, y_pred, labels, pos_label, average, zero_division,
                                       where="recall_score", warn_for=("recall",))[1]


def f1_score(y_true, y_pred, labels=None, pos_label=1, average="binary", zero_division="warn"):
    """The harmonic mean of precision and recall (see module doc)."""
    return precision_recall_f1_support(y_true, y_pred, labels, pos_label, average, zero_division,
                                       where="f1_score", warn_for=("f1",))[2]


# ---------------------------------------------------------------- report

def classification_report(y_true, y_pred, labels=None, target_names=None, digits=2,
                          zero_division="warn"):
    """A table of precision, recall, F1 and support per class, then accuracy and the macro
    and weighted averages, laid out as scikit-learn's classification_report prints it.

    When `labels` leaves some classes out, the "accuracy" row becomes "micro avg".
    """
    where = "classification_report"
    y_true, y_pred = _check_pair(y_true, y_pred, where)
    present = np.union1d(y_true, y_pred)
    labels = present if labels is None else np.asarray(labels)
    if target_names is None:
        target_names = [str(label) for label in labels.tolist()]
    elif len(target_names) != len(labels):
        raise ValueError(f"{where}: {len(target_names)} target_names for {len(labels)} labels")

    per_class = precision_recall_f1_support(y_true, y_pred, labels, average=None,
                                            zero_division=zero_division, where=where)
    support_total = int(per_class[3].sum())
    micro_is_accuracy = set(labels.tolist()) == set(present.tolist())
    averages = [("accuracy" if micro_is_accuracy else "micro avg", "micro"),
                ("macro avg", "macro"), ("weighted avg", "weighted")]

    width = max(len("weighted avg"), digits, *(len(name) for name in target_names))
    headers = ("precision", "recall", "f1-score", "support")
    lines = [" " * width + " " + "".join(f" {h:>9}" for h in headers), ""]
    for i, name in enumerate(target_names):
        scores = "".join(f" {per_class[k][i]:>9.{digits}f}" for k in range(3))
        lines.append(f"{name:>{width}} {scores} {per_class[3][i]:>9}")
    lines.append("")
    for name, average in averages:
        precision, recall, f1, _ = precision_recall_f1_support(
            y_true, y_pred, labels, average=average, zero_division=zero_division, where=where)
        if name == "accuracy":
            lines.append(f"{name:>{width}}  {'':>9} {'':>9} {f1:>9.{digits}f} {support_total:>9}")
        else:
            scores = "".join(f" {s:>9.{digits}f}" for s in (precision, recall, f1))
            lines.append(f"{name:>{width}} {scores} {support_total:>9}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- regression

REGRESSION_AVERAGES = ("raw_values", "uniform_average")


def _values_array(y, name, where):
    """y as a float64 (n_samples, n_outputs) array; a 1-D y is one output."""
    array = np.asarray(y.numpy() if hasattr(y, "numpy") else y, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{where}: {name} must be (n_samples,) or (n_samples, n_outputs), "
                         f"got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{where}: {name} has no values (shape {array.shape})")
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: {name} contains NaN or infinity")
    return array


def _sample_weights(sample_weight, n_samples, where):
    """A float64 (n_samples,) array of weights, or None for equal weights."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(f"{where}: sample_weight must be one number per sample ({n_samples},), "
                         f"got shape {weights.shape}")
    if not np.isfinite(weights).all():
        raise ValueError(f"{where}: sample_weight contains NaN or infinity")
    if not weights.any():
        raise ValueError(f"{where}: sample_weight is all zeros; at least one must be non-zero")
    return weights


def _regression_inputs(y_true, y_pred, sample_weight, multioutput, averages, where):
    """(y_true, y_pred, sample_weight) checked and as float64 arrays (n_samples, n_outputs)."""
    y_true = _values_array(y_true, "y_true", where)
    y_pred = _values_array(y_pred, "y_pred", where)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{where}: y_true has {len(y_true)} samples but y_pred has "
                         f"{len(y_pred)}")
    if y_true.shape[1] != y_pred.shape[1]:
        raise ValueError(f"{where}: y_true has {y_true.shape[1]} outputs but y_pred has "
                         f"{y_pred.shape[1]}")
    if isinstance(multioutput, str):
        if multioutput not in averages:
            raise ValueError(f"{where}: multioutput must be one of {averages} or an array of "
                             f"weights, got {multioutput!r}")
    else:
        n_outputs, shape = y_true.shape[1], np.shape(multioutput)
        if n_outputs == 1:
            raise ValueError(f"{where}: multioutput weights need several outputs, but y_true "
                             "has one")
        if shape != (n_outputs,):
            raise ValueError(f"{where}: multioutput weights have shape {shape}; give one per "
                             f"output ({n_outputs},)")
    return y_true, y_pred, _sample_weights(sample_weight, len(y_true), where)


def _combine_outputs(scores, multioutput, variances=None):
    """One score per output combined as multioutput says: the array itself ("raw_values"),
    their mean ("uniform_average"), or a mean weighted by the given weights or by each
    output's variance ("variance_weighted"; equal weights if every output is constant)."""
    if not isinstance(multioutput, str):
        weights = np.asarray(multioutput, dtype=np.float64)
    elif multioutput == "raw_values":
        return scores
    elif multioutput == "variance_weighted" and variances.any():
        weights = variances
    else:
        weights = None
    return float(np.average(scores, weights=weights))


def mean_squared_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """The mean of (y_true - y_pred)^2 over the samples (weighted by sample_weight).

    With several outputs (columns), multioutput="raw_values" returns one error per
    output, "uniform_average" their mean, and an array of weights their weighted mean.
    """
    y_true, y_pred, weights = _regression_inputs(y_true, y_pred, sample_weight, multioutput,
                                                 REGRESSION_AVERAGES, "mean_squared_error")
    errors = np.average((y_true - y_pred) ** 2, axis=0, weights=weights)
    return _combine_outputs(errors, multioutput)


def mean_absolute_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """The mean of |y_true - y_pred| over the samples (weighted by sample_weight).

    multioutput combines several outputs as for mean_squared_error.
    """
    y_true, y_pred, weights = _regression_inputs(y_true, y_pred, sample_weight, multioutput,
                                                 REGRESSION_AVERAGES, "mean_absolute_error")
    errors = np.average(np.abs(y_true - y_pred), axis=0, weights=weights)
    return _combine_outputs(errors, multioutput)


def r2_score(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average",
             force_finite=True):
    """The coefficient of determination R^2 = 1 - residual / total, per output, where

        residual = sum of w (y_true - y_pred)^2
        total    = sum of w (y_true - mean of y_true)^2     (w: sample_weight, or 1)

    1 is a perfect fit; predicting the mean of y_true scores 0, and worse models score
    below 0. When y_true is constant (total = 0) R^2 is 0/0 (nan) for perfect predictions
    and -inf otherwise; force_finite=True gives 1.0 and 0.0 instead. multioutput also
    takes "variance_weighted": the outputs' mean weighted by their totals. With fewer than
    two samples R^2 is not defined: nan, with an UndefinedMetricWarning.
    """
    where = "r2_score"
    y_true, y_pred, weights = _regression_inputs(
        y_true, y_pred, sample_weight, multioutput,
        REGRESSION_AVERAGES + ("variance_weighted",), where)
    if len(y_true) < 2:
        warnings.warn(f"{where}: R^2 is not defined with fewer than two samples",
                      UndefinedMetricWarning, stacklevel=2)
        return float("nan")
    w = np.ones(len(y_true)) if weights is None else weights
    residual = (w[:, None] * (y_true - y_pred) ** 2).sum(axis=0)
    total = (w[:, None] * (y_true - np.average(y_true, axis=0, weights=w)) ** 2).sum(axis=0)
    scores = _r2_per_output(residual, total, force_finite)
    return _combine_outputs(scores, multioutput, variances=total)


def _r2_per_output(residual, total, force_finite):
    """1 - residual / total; with force_finite, constant outputs (total = 0) score 1.0 if
    predicted perfectly (residual = 0) and 0.0 if not, instead of nan and -inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = 1.0 - residual / total
    if force_finite:
        constant = total == 0
        scores[constant] = np.where(residual[constant] == 0, 1.0, 0.0)
    return scores


# ---------------------------------------------------------------- metrics of model outputs
# What fit() and evaluate() report each epoch: functions metric(y_true, outputs) of NumPy
# arrays, where outputs are what the model returned for the batch (class scores, a single
# score per sample, or predicted values), not predicted labels.

def accuracy_of_outputs(y_true, outputs, threshold=0.0):
    """The fraction classified right, from a model's outputs.

    outputs (N, C, ...) are scores per class along axis 1 (as for cross_entropy): the
    predicted class is the argmax. A single output per sample is class 1 when it is >
    threshold: 0 for a logit, 0.5 for a probability (fit and evaluate take 0.5 when the
    loss says its model outputs probabilities, as nn.BCELoss does). Targets are class
    labels, or one-hot/probability rows shaped like outputs.
    """
    if outputs.ndim >= 2 and outputs.shape[1] > 1:
        predicted = outputs.argmax(axis=1)
        if y_true.shape == outputs.shape:
            y_true = y_true.argmax(axis=1)
    else:
        predicted = (outputs > threshold).astype(np.int64)
    predicted, y_true = predicted.reshape(-1), y_true.reshape(-1)
    if predicted.shape != y_true.shape:
        raise ValueError(f"accuracy: {predicted.size} predictions for {y_true.size} targets "
                         f"(outputs {outputs.shape}); targets must be class labels")
    if y_true.dtype.kind == "f" and not np.all(y_true == np.round(y_true)):
        raise ValueError("accuracy: the targets are not class labels (they have fractional "
                         "values); for regression use metrics=('mae',) or metrics=()")
    return accuracy_score(y_true.astype(np.int64), predicted)


def mae_of_outputs(y_true, outputs):
    """mean_absolute_error of predicted values shaped like the targets (for regression):
    each value after the sample axis counts as one output."""
    n_samples = len(y_true)
    return mean_absolute_error(y_true.reshape(n_samples, -1), outputs.reshape(n_samples, -1))


# The metrics fit() and evaluate() know by name.
OUTPUT_METRICS = {"accuracy": accuracy_of_outputs, "mae": mae_of_outputs}
