"""Loss functions, with PyTorch's arguments and semantics.

Regression: mse_loss, l1_loss. Classification: cross_entropy (logits),
nll_loss (log-probabilities), binary_cross_entropy (probabilities) and
binary_cross_entropy_with_logits.

Each loss is written with tensor ops, so its gradient (and the gradient of
that) comes from the ops; cross_entropy with class indices, the loss of most
classifiers, is one op instead (CrossEntropy: a fused kernel each way, the
backward in tensor ops when a graph is recorded). The numerically delicate parts are:
- cross_entropy uses log_softmax (x - logsumexp x), never log(softmax x);
- the logistic losses use softplus(z) = log(1 + e^z) (see activation.py),
  computed as max(z, 0) + log1p(e^-|z|), where the exponent is never
  positive, and exact everywhere (threshold=inf: no switch to z itself);
- binary_cross_entropy clamps each log at -100, as PyTorch does, so a
  probability of exactly 0 or 1 gives a large but finite loss, and takes
  PyTorch's gradient (p - t) / max(p (1 - p), 1e-12), finite there too.
So logits of +-1e4 give finite losses and finite gradients.

`reduction` is "mean" (default), "sum" or "none" (one loss per element).
PyTorch's deprecated size_average= and reduce= are taken too, and turned into
a reduction as PyTorch turns them (with its warning).
"""
import math
import warnings

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from .activation import log_softmax, softmax, softplus
from .elementwise import abs, clip, log, where
from .reduce import mean, sum
from .shape import permute, reshape

REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average, reduce, reduction, op):  # noqa: A002 (PyTorch's names)
    """The reduction PyTorch's deprecated size_average and reduce stand for: any of them
    given overrides `reduction` (none when reduce is False, else sum when size_average is
    False, else mean)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = "none" if not reduce else "mean" if size_average else "sum"
    warnings.warn(f"{op}: size_average and reduce are deprecated (as in PyTorch); use "
                  f"reduction={legacy!r} instead", UserWarning, stacklevel=3)
    return legacy


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, not {reduction!r}")


def _check_same_shape(x, target, op):
    # broadcasting (N, 1) against (N,) would silently give an (N, N) loss
    if x.shape != target.shape:
        raise ValueError(f"{op}: input shape {x.shape} and target shape {target.shape} "
                         "differ; reshape one of them")


def _constant(value, like):
    """A target or weight given as a Tensor, array or number, as a Tensor on like's device."""
    if isinstance(value, Tensor):
        return value
    return Tensor(backend.get_array_module(like.data).asarray(value, dtype=like.dtype))


# ----------------------------------------------------------------------------
# regression
# ----------------------------------------------------------------------------
def _weighted(loss, weight, reduction, op):
    """loss * weight (one weight per element), "mean" divided by the sum of the weights."""
    if weight is None:
        return _reduce(loss, reduction, op)
    weight = _constant(weight, loss)
    if weight.shape != loss.shape:
        raise ValueError(f"{op}: weight must have the input's shape {loss.shape}, got "
                         f"{weight.shape}")
    loss = loss * weight
    if reduction == "mean":
        return sum(loss) / sum(weight)
    return _reduce(loss, reduction, op)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
             weight=None):
    """(input - target)^2 (times weight, per element), averaged (or summed) over every
    element; with a weight, "mean" divides by the sum of the weights."""
    reduction = legacy_reduction(size_average, reduce, reduction, "mse_loss")
    target = _constant(target, input)
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _weighted(diff * diff, weight, reduction, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
            weight=None):
    """|input - target| (times weight, per element), averaged (or summed) over every
    element; with a weight, "mean" divides by the sum of the weights."""
    reduction = legacy_reduction(size_average, reduce, reduction, "l1_loss")
    target = _constant(target, input)
    _check_same_shape(input, target, "l1_loss")
    return _weighted(abs(input - target), weight, reduction, "l1_loss")


# ----------------------------------------------------------------------------
# classification over C classes
# ----------------------------------------------------------------------------
def _classes_last(t):
    """(N, C, d1, ...) -> (N, d1, ..., C): the class scores of each position last."""
    if t.ndim <= 2:
        return t
    return permute(t, (0,) + tuple(range(2, t.ndim)) + (1,))


def _index_target(target, input, ignore_index, op):
    """Check integer class targets against input (N, C, d1, ...); return them as an array."""
    xp = backend.get_array_module(input.data)
    data = xp.asarray(target.data if isinstance(target, Tensor) else target)
    expected = input.shape[:1] + input.shape[2:]
    if data.shape != expected:
        raise ValueError(f"{op}: input of shape {input.shape} needs class indices of shape "
                         f"{expected}, got target shape {data.shape}")
    classes = input.shape[1]
    bad = (data != ignore_index) & ((data < 0) | (data >= classes))
    if bool(bad.any()):
        raise IndexError(f"{op}: target {int(data[bad].reshape(-1)[0])} is out of range for "
                         f"{classes} classes (ignore_index={ignore_index})")
    return data


def _class_weight(weight, input, op):
    if weight is None:
        return None
    w = _constant(weight, input).data.astype(input.dtype, copy=False)
    if w.shape != (input.shape[1],):
        raise ValueError(f"{op}: weight must have one entry per class ({input.shape[1]},), "
                         f"got shape {w.shape}")
    return w


def _target_weights(labels, classes, class_weight, ignore_index, label_smoothing, dtype, xp):
    """(N, d1, ..., C): how much each log-probability counts in each position's loss.

    Without smoothing it is one-hot: class_weight[y] in column y, 0 elsewhere.
    Label smoothing mixes in the uniform target eps / C, each class weighted
    by its own class_weight (PyTorch's rule). Ignored positions are all 0.
    The loss is then -sum over classes of (these weights * log p): a product
    with a constant, whose gradient needs no indexing.
    """
    valid = (labels != ignore_index)[..., None]
    per_class = xp.ones(classes, dtype=dtype) if class_weight is None else class_weight
    one_hot = (xp.where(valid[..., 0], labels, 0)[..., None] == xp.arange(classes))
    weights = (one_hot * valid) * per_class
    if label_smoothing:
        weights = (1 - label_smoothing) * weights + (label_smoothing / classes) * (valid * per_class)
    return weights.astype(dtype)


def _batched(input, target, op):
    """Unbatched (C,) input with a scalar target becomes a batch of one."""
    if input.ndim == 0:
        raise ValueError(f"{op}: input must be (C,), (N, C) or (N, C, d1, ...), got a scalar")
    if input.ndim == 1:
        target_data = target.data if isinstance(target, Tensor) else target
        xp = backend.get_array_module(input.data)
        return input.reshape(1, -1), xp.asarray(target_data)[None], True
    return input, target, False


def _nll_loss(logp, target, weight, ignore_index, reduction, label_smoothing, op):
    """The loss of log-probabilities `logp` against class indices; see nll_loss."""
    logp, target, unbatched = _batched(logp, target, op)
    xp = backend.get_array_module(logp.data)
    labels = _index_target(target, logp, ignore_index, op)
    w = _class_weight(weight, logp, op)
    classes = logp.shape[1]
    weights = _target_weights(labels, classes, w, ignore_index, label_smoothing, logp.dtype, xp)
    losses = -sum(_classes_last(logp) * Tensor(weights), axis=-1)
    if unbatched:
        losses = losses.reshape(())
    if reduction == "mean":
        if not (labels != ignore_index).any():
            # every target ignored: NaN (0/0) with zero gradients, as PyTorch
            return sum(losses) * 0.0 + math.nan
        return sum(losses) / _total_weight(labels, w, ignore_index, logp.dtype)
    return _reduce(losses, reduction, op)


def _total_weight(labels, class_weight, ignore_index, dtype):
    """What "mean" divides by: the summed class weights of the targets that are not
    ignored (their count when unweighted), a 0-d array of dtype."""
    xp = backend.get_array_module(labels)
    valid = labels != ignore_index
    if class_weight is None:
        return valid.sum().astype(dtype)
    return class_weight[xp.where(valid, labels, 0)][valid].sum().astype(dtype)


class CrossEntropy(Function):
    """Softmax cross-entropy of logits x (N, C, d1, ...) against class indices, reduced:
    log_softmax, the loss of each position and the reduction in one op, whose kernel
    makes one pass over each position's logits and keeps their logsumexp (lse).

    With T the target weights (_target_weights) and p = softmax(x) along the classes,
    the gradient is g * (p * sum_c T_c - T), g each position's share of the output
    gradient: gy / total weight for "mean" (0 when every target is ignored, as in
    PyTorch: the loss is then NaN, 0/0, but the gradients are 0), gy for "sum", gy at
    the position for "none". Under no_grad (a plain backward) one fused kernel computes
    it from x and lse. When a graph is recorded (create_graph) the same formula is
    written in tensor ops, softmax being differentiable, so that the gradient can be
    differentiated again.
    """

    def __init__(self, labels, class_weight, ignore_index, label_smoothing, reduction):
        self.labels, self.class_weight = labels, class_weight
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        self.reduction = reduction

    def forward(self, x):
        losses, self.lse = backend.kernels_for(x).cross_entropy_forward(
            x, self.labels, self.class_weight, self.ignore_index, self.label_smoothing)
        if self.reduction == "none":
            return losses
        if self.reduction == "sum":
            return losses.sum()
        self.all_ignored = not (self.labels != self.ignore_index).any()
        self.total_weight = _total_weight(self.labels, self.class_weight, self.ignore_index,
                                          x.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return losses.sum() / self.total_weight   # 0/0 = NaN if all are ignored

    def _share(self, gy):
        """g, each position's share of gy (a Tensor, or an array under no_grad), shaped to
        broadcast against the positions (N, d1, ...)."""
        if self.reduction != "mean":
            return gy
        if self.all_ignored:
            return gy * 0.0
        with np.errstate(divide="ignore"):   # targets of weight 0 only: inf, NaN gradients
            return gy * (1 / self.total_weight)

    def backward(self, gy):
        x = self.inputs[0]
        if is_grad_enabled():
            return self._backward_in_tensor_ops(x, gy)
        gx = backend.kernels_for(x.data).cross_entropy_backward(
            self._share(gy.data), x.data, self.lse, self.labels, self.class_weight,
            self.ignore_index, self.label_smoothing)
        return Tensor(gx)

    def _backward_in_tensor_ops(self, x, gy):
        xp = backend.get_array_module(x.data)
        weights = _target_weights(self.labels, x.shape[1], self.class_weight, self.ignore_index,
                                  self.label_smoothing, x.dtype, xp)
        weights = xp.moveaxis(weights, -1, 1)                 # classes back to axis 1
        g = self._share(gy)
        if self.reduction == "none":
            g = reshape(g, g.shape[:1] + (1,) + g.shape[1:])  # broadcasts along the classes
        p = softmax(x, 1)
        return (p * Tensor(weights.sum(axis=1, keepdims=True)) - Tensor(weights)) * g


def _cross_entropy_indices(input, target, weight, ignore_index, reduction,  # noqa: A002
                           label_smoothing):
    """cross_entropy with class indices: one CrossEntropy op (a batch of one for (C,))."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, "
                         f"not {reduction!r}")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input (the logits) must be floating point, got "
                        f"{input.dtype}")
    input, target, unbatched = _batched(input, target, "cross_entropy")
    labels = _index_target(target, input, ignore_index, "cross_entropy")
    w = _class_weight(weight, input, "cross_entropy")
    loss = CrossEntropy(labels, w, ignore_index, label_smoothing, reduction)(input)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
             reduce=None, reduction="mean"):
    """Negative log-likelihood: -weight[y] * input[y] for log-probabilities `input`.

    input (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) class
    indices. Positions whose target is `ignore_index` add nothing; "mean"
    divides by the summed weights of the other targets, as in PyTorch (NaN
    with zero gradients when every target is ignored).
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "nll_loss")
    return _nll_loss(input, target, weight, ignore_index, reduction, 0.0, "nll_loss")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits `input` (N, C) or (N, C, d1, ...).

    `target` is either class indices (N,) / (N, d1, ...), or class
    probabilities with the same shape as input. label_smoothing = eps mixes
    the target with the uniform distribution: (1 - eps) * target + eps / C.
    Ignored targets and "mean" as in nll_loss.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], "
                         f"got {label_smoothing}")
    target_dtype = target.dtype if hasattr(target, "dtype") else np.asarray(target).dtype
    if target_dtype.kind == "f":
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    return _cross_entropy_indices(input, target, weight, ignore_index, reduction,
                                  label_smoothing)


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing):
    """-sum_c weight_c * target_c * log softmax(input)_c; "mean" divides by the number
    of positions (N * d1 * ...), not by the weights."""
    target = _constant(target, input)
    _check_same_shape(input, target, "cross_entropy")
    unbatched = input.ndim == 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1, -1)
    classes = input.shape[1]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = _classes_last(log_softmax(input, axis=1) * target)
    w = _class_weight(weight, input, "cross_entropy")
    if w is not None:
        terms = terms * Tensor(w)
    losses = -sum(terms, axis=-1)
    if unbatched:
        losses = losses.reshape(())
    return _reduce(losses, reduction, "cross_entropy")


# ----------------------------------------------------------------------------
# binary classification
# ----------------------------------------------------------------------------
def _clamped_log(p):
    """log(p), but at least -100 (PyTorch's clamp): log(0) gives -100, not -inf.

    The log is taken of 1 where p is 0, and that value is then replaced, so
    neither the value nor the gradient ever sees an infinity."""
    positive = p.data > 0
    safe_log = log(where(positive, p, 1.0))
    return clip(where(positive, safe_log, -100.0), min=-100.0)


class BinaryCrossEntropy(Function):
    """-(t log p + (1 - t) log(1 - p)), each log clamped at -100.

    Backward is PyTorch's: (p - t) / max(p (1 - p), 1e-12) for p, the
    derivative of the unclamped loss wherever p (1 - p) > 1e-12, and finite at
    p = 0 and 1 (0 where p = t there); log(1 - p) - log(p), clamped, for t.
    """

    def forward(self, p, t):
        xp = backend.get_array_module(p)
        with np.errstate(divide="ignore"):
            log_p, log_q = xp.maximum(xp.log(p), -100), xp.maximum(xp.log(1 - p), -100)
        return -(t * log_p + (1 - t) * log_q)

    def backward(self, gy):
        p, t = self.inputs
        gp = gt = None
        if self.needs_input_grad[0]:
            gp = gy * (p - t) / clip(p * (1 - p), min=1e-12)
        if self.needs_input_grad[1]:
            gt = gy * (_clamped_log(1 - p) - _clamped_log(p))
        return gp, gt


def binary_cross_entropy(input, target, weight=None, size_average=None,  # noqa: A002
                         reduce=None, reduction="mean"):
    """-weight * (t log p + (1 - t) log(1 - p)) for probabilities p = input in [0, 1]."""
    reduction = legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy")
    target = _constant(target, input)
    _check_same_shape(input, target, "binary_cross_entropy")
    low, high = (float(input.data.min()), float(input.data.max())) if input.numel() else (0, 0)
    if low < 0 or high > 1:
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got "
                         f"values from {low} to {high}; use binary_cross_entropy_with_logits "
                         "for logits")
    loss = BinaryCrossEntropy()(input, target)
    if weight is not None:
        loss = loss * _constant(weight, input)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of sigmoid(input), computed from the logits directly.

    With log sigmoid(x) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x):
        loss = pos_weight * t * softplus(-x) + (1 - t) * softplus(x)
    which for pos_weight = 1 is max(x, 0) - x t + log1p(e^-|x|). pos_weight
    (one value per class, broadcast over the last dim) weighs the positives.
    """
    reduction = legacy_reduction(size_average, reduce, reduction,
                                 "binary_cross_entropy_with_logits")
    target = _constant(target, input)
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    positives = target * softplus(-input, threshold=math.inf)
    if pos_weight is not None:
        positives = positives * _constant(pos_weight, input)
    loss = positives + (1 - target) * softplus(input, threshold=math.inf)
    if weight is not None:
        loss = loss * _constant(weight, input)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


# What each classification loss expects the model to output, declared as the loss modules
# of minidl.nn declare it (see nn.loss._Loss): fit() reads it to threshold a single output.
cross_entropy.model_outputs = "logits"
nll_loss.model_outputs = "log_probabilities"
binary_cross_entropy.model_outputs = "probabilities"
binary_cross_entropy_with_logits.model_outputs = "logits"
