"""Loss layers: modules that hold a loss's options and call minidl.functional.

`criterion = nn.CrossEntropyLoss(label_smoothing=0.1)` once, then
`loss = criterion(logits, target)` in the training loop. See
minidl/functional/loss.py for the formulas.
"""
from .. import functional as F
from ..creation import as_tensor
from .module import Module


class _Loss(Module):
    """Keeps `reduction`; a class weight given as an array is a buffer, so `.to()` moves it.

    `model_outputs` says what a classification loss expects the model to output: "logits",
    "probabilities" or "log_probabilities" (None for the others). minidl.train.fit reads it
    to know when a single output means class 1 (above 0 for a logit, 0.5 for a probability).
    """

    model_outputs = None

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        reduction = F.loss.legacy_reduction(size_average, reduce, reduction, type(self).__name__)
        if reduction not in F.loss.REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{F.loss.REDUCTIONS}, not {reduction!r}")
        self.reduction = reduction

    def _register_weight(self, name, value):
        self.register_buffer(name, None if value is None else as_tensor(value))

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error (input - target)^2."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |input - target|."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C, ...) against class indices or probabilities."""

    model_outputs = "logits"

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(size_average, reduce, reduction)
        self._register_weight("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C, ...) (after LogSoftmax)."""

    model_outputs = "log_probabilities"

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self._register_weight("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] (after Sigmoid)."""

    model_outputs = "probabilities"

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self._register_weight("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits: sigmoid and log fused, stable at any logit."""

    model_outputs = "logits"

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self._register_weight("weight", weight)
        self._register_weight("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
