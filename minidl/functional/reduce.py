"""Reductions: sum, mean, max, min, var over an axis, a tuple of axes, or everything.

Each output element came from a group of input elements. Backward of sum
copies the output gradient back to every member of its group (a broadcast);
backward of max sends it only to the members that were the maximum (shared
equally when several tie).
"""
from ..autograd import Function
from ..tensor import Tensor
from .shape import broadcast_to, normalize_axis, reshape


def _kept_shape(shape, axes):
    """The shape of the reduction with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        shape = self.inputs[0].shape
        return broadcast_to(reshape(gy, _kept_shape(shape, self.axes)), shape)


class _Extreme(Function):
    """max or min: the gradient goes to the elements equal to the result."""
    reduce_name = None

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return getattr(a, self.reduce_name)(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        a = self.inputs[0]
        kept = _kept_shape(a.shape, self.axes)
        hit = a.data == self.output_data[0].reshape(kept)
        share = hit / hit.sum(axis=self.axes, keepdims=True)
        return broadcast_to(reshape(gy, kept), a.shape) * Tensor(share.astype(gy.dtype))


class Max(_Extreme):
    reduce_name = "max"


class Min(_Extreme):
    reduce_name = "min"


def _reduce(cls, a, axis, keepdims):
    axes = normalize_axis(axis, a.ndim, cls.__name__.lower())
    if a.ndim == 0:
        return a
    if cls in (Max, Min) and any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"{cls.__name__.lower()}: cannot reduce an empty axis of shape {a.shape}")
    return cls(axes, keepdims)(a)


def sum(a, axis=None, keepdims=False):  # noqa: A001 (PyTorch's name)
    return _reduce(Sum, a, axis, keepdims)


def max(a, axis=None, keepdims=False):  # noqa: A001
    return _reduce(Max, a, axis, keepdims)


def min(a, axis=None, keepdims=False):  # noqa: A001
    return _reduce(Min, a, axis, keepdims)


def _count(a, axis):
    count = 1
    for i in normalize_axis(axis, a.ndim):
        count *= a.shape[i]
    return count


def mean(a, axis=None, keepdims=False):
    return sum(a, axis, keepdims) / _count(a, axis)


def var(a, axis=None, keepdims=False, ddof=0):
    """Variance, NumPy's convention: divides by N - ddof (ddof=1 for the unbiased estimate)."""
    centered = a - mean(a, axis, keepdims=True)
    return sum(centered * centered, axis, keepdims) / (_count(a, axis) - ddof)


def std(a, axis=None, keepdims=False, ddof=0):
    return var(a, axis, keepdims, ddof) ** 0.5


def argmax(a, axis=None):
    return Tensor(a.data.argmax(axis=axis))


def argmin(a, axis=None):
    return Tensor(a.data.argmin(axis=axis))
