"""Keras's losses: functions loss(y_true, y_pred) -> one loss per sample, and classes.

Note the order: Keras writes (y_true, y_pred), PyTorch (input, target). A loss function
averages over the last axis (a sample's outputs) and returns one number per sample; a
loss object (CategoricalCrossentropy(), or the string given to compile) then averages
those over the batch (reduction "sum_over_batch_size").

Cross-entropy of probabilities clips them to [1e-7, 1 - 1e-7], as Keras does, so a
probability of 0 costs about 16, not infinity. But when the probabilities are the output
of a softmax (or sigmoid) activation, Keras computes the loss from the logits underneath,
stably and without clipping; so does minidl.keras (minidl/keras/activations.py leaves the
logits on the softmax's output). The gradient is then the familiar softmax(z) - y.
"""
import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .backend import epsilon


def _as_tensor(y, like):
    if isinstance(y, Tensor):
        return y
    array = np.asarray(y)
    return Tensor(array.astype(like.dtype) if array.dtype.kind in "fbiu" else array)


def _aligned(y_true, y_pred):
    """y_true with y_pred's rank where one size-1 axis is the difference (labels (n,) for
    outputs (n, 1)), as Keras squeezes or expands them."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return F.unsqueeze(y_true, -1)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return F.squeeze(y_true, -1)
    return y_true


def _same_shape(y_true, y_pred, hint=""):
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"Shapes {tuple(y_true.shape)} and {tuple(y_pred.shape)} are "
                         f"incompatible{hint}")


def _logits(y_pred, from_logits):
    """(tensor, from_logits): the logits under a softmax/sigmoid output when there are some."""
    logits = getattr(y_pred, "_keras_logits", None)
    if not from_logits and logits is not None:
        return logits, True
    return y_pred, from_logits


# ---------------------------------------------------------------- per-sample functions
def mean_squared_error(y_true, y_pred):
    y_true = _aligned(_as_tensor(y_true, y_pred), y_pred)
    _same_shape(y_true, y_pred)
    return F.mean((y_pred - y_true) ** 2, -1)


def mean_absolute_error(y_true, y_pred):
    y_true = _aligned(_as_tensor(y_true, y_pred), y_pred)
    _same_shape(y_true, y_pred)
    return F.mean(F.abs(y_pred - y_true), -1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """-(y log p + (1 - y) log(1 - p)) averaged over the last axis, p = y_pred (clipped),
    or p = sigmoid(logits)."""
    y_true = _aligned(_as_tensor(y_true, y_pred), y_pred)
    _same_shape(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    y_pred, from_logits = _logits(y_pred, from_logits)
    if from_logits:
        return F.mean(F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none"), -1)
    eps = epsilon()
    p = F.clamp(y_pred, eps, 1.0 - eps)
    losses = y_true * F.log(p + eps) + (1.0 - y_true) * F.log(1.0 - p + eps)
    return -F.mean(losses, -1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """-sum(y log p) over the last axis; y one-hot (or any distribution) of y_pred's shape.
    Probabilities are rescaled to add up to 1, then clipped."""
    y_true = _as_tensor(y_true, y_pred)
    _same_shape(y_true, y_pred, "; categorical_crossentropy wants one-hot targets (see "
                "keras.utils.to_categorical), sparse_categorical_crossentropy class indices")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    y_pred, from_logits = _logits(y_pred, from_logits)
    if from_logits:
        log_p = F.log_softmax(y_pred, -1)
    else:
        eps = epsilon()
        log_p = F.log(F.clamp(y_pred / F.sum(y_pred, -1, True), eps, 1.0 - eps))
    return -F.sum(y_true * log_p, -1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """-log p[label]: y_true holds class indices, (n,) or (n, 1) for y_pred (n, classes)."""
    labels = np.asarray(y_true.numpy() if isinstance(y_true, Tensor) else y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != tuple(y_pred.shape[:-1]):
        raise ValueError(f"sparse_categorical_crossentropy: labels of shape {labels.shape} do "
                         f"not fit outputs of shape {tuple(y_pred.shape)}; give one class "
                         "index per output row")
    labels = labels.astype(np.int64)
    classes = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels.max() if labels.max() >= classes else labels.min()
        raise ValueError(f"Received a label value of {bad} which is outside the valid range "
                         f"of [0, {classes})")
    y_pred, from_logits = _logits(y_pred, from_logits)
    if from_logits:
        log_p = F.log_softmax(y_pred, -1)
    else:
        eps = epsilon()
        log_p = F.log_softmax(F.log(F.clamp(y_pred, eps, 1.0 - eps)), -1)
    picked = F.take_along_dim(log_p, labels[..., None], -1)
    return -F.squeeze(picked, -1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# ---------------------------------------------------------------- loss objects
class Loss:
    """A per-sample loss reduced over the batch: "sum_over_batch_size" (the mean, Keras's
    default), "sum" or "none"."""

    def __init__(self, function, reduction="sum_over_batch_size", name=None, **options):
        if reduction not in ("sum_over_batch_size", "sum", "none", "auto"):
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}")
        self.function, self.options = function, options
        self.reduction = "sum_over_batch_size" if reduction == "auto" else reduction
        self.name = name or function.__name__

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = self.function(y_true, y_pred, **self.options)
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=losses.dtype)
            trailing = (1,) * (losses.ndim - weights.ndim)   # one weight per sample
            losses = losses * Tensor(weights.reshape(weights.shape + trailing))
        if self.reduction == "none":
            return losses
        total = F.sum(losses)
        return total if self.reduction == "sum" else total / max(losses.numel(), 1)


class MeanSquaredError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(mean_squared_error, reduction, name)


class MeanAbsoluteError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction, name)


class BinaryCrossentropy(Loss):
    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        super().__init__(binary_crossentropy, reduction, name, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(Loss):
    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        super().__init__(categorical_crossentropy, reduction, name, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(Loss):
    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, reduction, name,
                         from_logits=from_logits)


FUNCTIONS = {f.__name__: f for f in (mean_squared_error, mean_absolute_error, binary_crossentropy,
                                     categorical_crossentropy, sparse_categorical_crossentropy)}
FUNCTIONS.update(mse=mean_squared_error, mae=mean_absolute_error)
CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                                   CategoricalCrossentropy, SparseCategoricalCrossentropy)}


def get(identifier):
    """A Loss object from a name ('categorical_crossentropy', 'CategoricalCrossentropy',
    'mse'), a Loss, or a function loss(y_true, y_pred) -> per-sample losses."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in CLASSES:
            return CLASSES[identifier]()
        if identifier in FUNCTIONS:
            return Loss(FUNCTIONS[identifier], name=identifier)
        raise ValueError(f"Unknown loss function: {identifier!r}; the known ones are "
                         f"{sorted(FUNCTIONS) + sorted(CLASSES)}")
    if callable(identifier):
        return Loss(identifier, name=getattr(identifier, "__name__", "loss"))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
