"""Keras's metrics: what compile(metrics=[...]) reports besides the loss.

A Metric keeps running totals over the batches of an epoch (update_state), gives the
number so far (result) and starts again (reset_state). Most are the mean of a per-sample
function, such as binary_accuracy. They work on NumPy arrays: the outputs leave the graph.

"accuracy" (or "acc") means a different function for different outputs, chosen as Keras
chooses it from the shapes of the targets and outputs (`resolve`):
    one output per sample (a sigmoid)      binary_accuracy: output > 0.5 is class 1
    class indices for several outputs      sparse_categorical_accuracy
    one-hot targets                        categorical_accuracy: argmax against argmax
binary_accuracy thresholds at 0.5 whatever the loss, as in Keras: a model with a linear
output trained with from_logits=True should pass BinaryAccuracy(threshold=0.0).
"""
import numpy as np

from .backend import snake_case


def _aligned(y_true, y_pred):
    """Targets with the outputs' rank when they differ by a last axis of size 1."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true, y_pred


# ---------------------------------------------------------------- per-sample functions
def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _aligned(y_true, y_pred)
    return np.mean(y_true == (y_pred > threshold), axis=-1)


def categorical_accuracy(y_true, y_pred):
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim:
        y_true = y_true[..., 0]
    return (y_true == np.argmax(y_pred, -1)).astype(np.float64)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _aligned(y_true, y_pred)
    return np.mean((y_pred - y_true) ** 2, axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _aligned(y_true, y_pred)
    return np.mean(np.abs(y_pred - y_true), axis=-1)


# ---------------------------------------------------------------- Metric objects
class Metric:
    """Base class: update_state(y_true, y_pred), result(), reset_state()."""

    def __init__(self, name=None):
        self.name = name or snake_case(type(self).__name__)
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class MeanMetricWrapper(Metric):
    """The mean over all samples seen of function(y_true, y_pred)."""

    def __init__(self, function, name=None, **options):
        self.function, self.options = function, options
        super().__init__(name or function.__name__)

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred):
        values = self.function(y_true, y_pred, **self.options)
        values = np.asarray(values.numpy() if hasattr(values, "numpy") else values, np.float64)
        self.total += float(values.sum())
        self.count += values.size

    def result(self):
        return self.total / self.count if self.count else 0.0


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(binary_accuracy, name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name)


class _Counts(Metric):
    """Counts of true and false positives and negatives over all outputs, at a threshold."""

    def __init__(self, name=None, thresholds=None):
        self.threshold = 0.5 if thresholds is None else thresholds
        super().__init__(name)

    def reset_state(self):
        self.tp = self.fp = self.fn = 0

    def update_state(self, y_true, y_pred):
        y_true, y_pred = _aligned(y_true, y_pred)
        truth, predicted = y_true.astype(bool), y_pred > self.threshold
        self.tp += int(np.sum(truth & predicted))
        self.fp += int(np.sum(~truth & predicted))
        self.fn += int(np.sum(truth & ~predicted))


class Precision(_Counts):
    """Of the outputs above the threshold, the share that are positive (0 when none)."""

    def result(self):
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0


class Recall(_Counts):
    """Of the positives, the share whose output is above the threshold (0 when none)."""

    def result(self):
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


FUNCTIONS = {f.__name__: f for f in (binary_accuracy, categorical_accuracy,
                                     sparse_categorical_accuracy, mean_squared_error,
                                     mean_absolute_error)}
FUNCTIONS.update(mse=mean_squared_error, mae=mean_absolute_error)
CLASSES = {c.__name__: c for c in (BinaryAccuracy, CategoricalAccuracy,
                                   SparseCategoricalAccuracy, MeanSquaredError,
                                   MeanAbsoluteError, Precision, Recall)}


def check(identifier):
    """Raise now, at compile(), for a metric that resolve() would not know."""
    if isinstance(identifier, str) and identifier not in ("accuracy", "acc", *FUNCTIONS,
                                                          *CLASSES):
        raise ValueError(f"Unknown metric function: {identifier!r}; the known ones are "
                         f"{sorted(['accuracy', 'acc', *FUNCTIONS, *CLASSES])}")
    if not isinstance(identifier, (str, Metric)) and not callable(identifier):
        raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def resolve(identifier, y_true, y_pred):
    """A Metric object for what compile() was given, with the targets and outputs of a
    first batch at hand (they decide what "accuracy" means; see the module docstring)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
            if y_pred.shape[-1] == 1:
                function = binary_accuracy
            elif y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
                function = sparse_categorical_accuracy
            else:
                function = categorical_accuracy
            return MeanMetricWrapper(function, identifier)
        if identifier in CLASSES:
            return CLASSES[identifier]()
        check(identifier)
        return MeanMetricWrapper(FUNCTIONS[identifier], identifier)
    check(identifier)
    return MeanMetricWrapper(identifier, getattr(identifier, "__name__", "metric"))
