"""Reductions: sum, mean, amax / amin, max / min, var, std, argmax over dims or everything.

Each output element came from a group of input elements. Backward of sum
copies the output gradient back to every member of its group (a broadcast);
backward of amax sends it only to the members that were the maximum (shared
equally when several tie).

PyTorch's `max` is three functions in one, and so is this one:
    max(x)                 the largest element (ties share the gradient, as amax)
    max(x, dim, keepdim)   (values, indices) along dim; the gradient goes to the
                           element whose index is returned (the first maximum)
    max(x, other)          the elementwise maximum
"""
import builtins
from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .elementwise import maximum, minimum
from .shape import (
    broadcast_to, dim_alias, keepdim_alias, normalize_axis, one_dim, reshape, squeeze,
    take_along_dim,
)

# what max(x, dim) and min(x, dim) return, as torch.return_types.max does
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _kept_shape(shape, axes):
    """The shape of the reduction with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    reads_inputs = False

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        shape = self.inputs[0].shape
        return broadcast_to(reshape(gy, _kept_shape(shape, self.axes)), shape)


class _Extreme(Function):
    """amax or amin: the gradient goes to the elements equal to the result, shared equally."""
    reduce_name = None

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return getattr(a, self.reduce_name)(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        a = self.inputs[0]
        kept = _kept_shape(a.shape, self.axes)
        hit = a.data == self.output(0).data.reshape(kept)
        share = hit / hit.sum(axis=self.axes, keepdims=True)
        return broadcast_to(reshape(gy, kept), a.shape) * Tensor(share.astype(gy.dtype))


class Amax(_Extreme):
    reduce_name = "max"


class Amin(_Extreme):
    reduce_name = "min"


def _reduce(cls, a, dim, keepdim, op):
    axes = normalize_axis(dim, a.ndim, op)
    if a.ndim == 0:
        return a
    return cls(axes, keepdim)(a)


def _all_dims(dim):
    """PyTorch's amax/amin take dim=() for 'every dim'."""
    return None if dim == () or dim == [] else dim


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None,  # noqa: A001, A002
        keepdims=None):
    dim, keepdim = dim_alias(dim, axis, "sum"), keepdim_alias(keepdim, keepdims, "sum")
    if dtype is not None:
        input = input.astype(dtype)
    return _reduce(Sum, input, dim, keepdim, "sum")


def amax(input, dim=(), keepdim=False, *, axis=None, keepdims=None):  # noqa: A002
    dim = _all_dims(dim_alias(dim, axis, "amax", default=()))
    _check_not_empty(input, dim, "amax")
    return _reduce(Amax, input, dim, keepdim_alias(keepdim, keepdims, "amax"), "amax")


def amin(input, dim=(), keepdim=False, *, axis=None, keepdims=None):  # noqa: A002
    dim = _all_dims(dim_alias(dim, axis, "amin", default=()))
    _check_not_empty(input, dim, "amin")
    return _reduce(Amin, input, dim, keepdim_alias(keepdim, keepdims, "amin"), "amin")


def _check_not_empty(a, dim, op):
    if any(a.shape[i] == 0 for i in normalize_axis(dim, a.ndim, op)):
        raise ValueError(f"{op}: cannot reduce an empty dim of shape {a.shape}")


def _extreme(a, dim, keepdim, axis, keepdims, op):
    """max / min in PyTorch's three forms (see the module docstring)."""
    dim, keepdim = dim_alias(dim, axis, op), keepdim_alias(keepdim, keepdims, op)
    if isinstance(dim, Tensor):  # max(x, other)
        return (maximum if op == "max" else minimum)(a, dim)
    if dim is None:
        return amax(a) if op == "max" else amin(a)
    dim = one_dim(dim, builtins.max(a.ndim, 1), op)
    if a.ndim == 0:
        return (MaxResult if op == "max" else MinResult)(a, Tensor(np.asarray(0)))
    _check_not_empty(a, dim, op)
    pick = a.data.argmax if op == "max" else a.data.argmin
    indices = pick(axis=dim, keepdims=True)
    values = take_along_dim(a, indices, dim)
    if not keepdim:
        values, indices = squeeze(values, dim), indices.squeeze(axis=dim)
    return (MaxResult if op == "max" else MinResult)(values, Tensor(indices))


def max(input, dim=None, keepdim=False, *, other=None, axis=None,  # noqa: A001, A002
        keepdims=None):
    if other is not None:   # max(x, other=y)
        return maximum(input, other)
    return _extreme(input, dim, keepdim, axis, keepdims, "max")


def min(input, dim=None, keepdim=False, *, other=None, axis=None,  # noqa: A001, A002
        keepdims=None):
    if other is not None:
        return minimum(input, other)
    return _extreme(input, dim, keepdim, axis, keepdims, "min")


def _count(a, dims):
    count = 1
    for i in normalize_axis(dims, a.ndim):
        count *= a.shape[i]
    return count


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):  # noqa: A002
    dim, keepdim = dim_alias(dim, axis, "mean"), keepdim_alias(keepdim, keepdims, "mean")
    if dtype is not None:
        input = input.astype(dtype)
    if input.dtype.kind not in "fc":
        raise ValueError(f"mean: input dtype must be floating point, got {input.dtype}; "
                           "pass dtype= or cast it first")
    return sum(input, dim, keepdim) / _count(input, dim)


def _correction(unbiased, correction, op):
    """PyTorch spells the divisor N - correction two ways: unbiased=True/False or correction=."""
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None):  # noqa: A002
    """Variance: sum((x - mean)^2) / (N - correction); correction = 1 (the unbiased
    estimate) by default, as in PyTorch; unbiased=False or correction=0 gives the
    population variance."""
    if isinstance(dim, bool):  # var(x, False): the old positional unbiased
        dim, unbiased = None, dim
    dim, keepdim = dim_alias(dim, axis, "var"), keepdim_alias(keepdim, keepdims, "var")
    divisor = _count(input, dim) - _correction(unbiased, correction, "var")
    centered = input - mean(input, dim, keepdim=True)
    total = sum(centered * centered, dim, keepdim)
    return total / divisor if divisor > 0 else total * float("nan")


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None):  # noqa: A002
    """Standard deviation, the square root of var (unbiased by default, as in PyTorch)."""
    return var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
               keepdims=keepdims) ** 0.5


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A002
    """Index of the largest element (over the flattened tensor when dim is None)."""
    dim, keepdim = dim_alias(dim, axis, "argmax"), keepdim_alias(keepdim, keepdims, "argmax")
    return _arg(input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A002
    dim, keepdim = dim_alias(dim, axis, "argmin"), keepdim_alias(keepdim, keepdims, "argmin")
    return _arg(input, dim, keepdim, "argmin")


def _arg(a, dim, keepdim, op):
    if dim is None:
        index = getattr(a.data, op)()
        return Tensor(index.reshape((1,) * a.ndim) if keepdim else index)
    dim = one_dim(dim, builtins.max(a.ndim, 1), op)
    return Tensor(getattr(a.data, op)(axis=dim if a.ndim else None, keepdims=keepdim))
