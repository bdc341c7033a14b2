"""Elementwise arithmetic: + - * / ** and exp, log, sqrt, abs, maximum, minimum, where, clip.

Binary ops broadcast like NumPy. Their backward first computes the gradient
at the broadcast shape, then `sum_to` adds it back down to each input's own
shape: an input that was repeated along an axis collects the gradient from
every copy.
"""
import operator

import numpy as np

from .. import backend
from ..autograd import Function, as_tensors
from ..tensor import Tensor
from .shape import sum_to


class Add(Function):
    reads_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Sub(Function):
    reads_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def inputs_read(self):  # a's gradient needs b and b's needs a
        return [i for i in (0, 1) if self.needs_input_grad[1 - i]]

    def backward(self, gy):
        a, b = self.inputs
        # BEGIN SOLUTION (exercise 03)
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb
        # END SOLUTION


class Div(Function):
    def forward(self, a, b):
        return a / b

    def inputs_read(self):  # both gradients need b; only b's needs a
        return [1, 0] if self.needs_input_grad[1] else [1]

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    reads_inputs = False

    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


class Pow(Function):
    """a ** b. d/da = b a^(b-1); d/db = a^b log a (only computed when b needs it).

    Two corners, taken as PyTorch takes them: where b = 0 the derivative for a
    is 0, even at a = 0 (where a^(b-1) is infinite); where a = 0 and b >= 0 the
    derivative for b is 0 (a^b log a -> 0). Both are computed with a base of 1
    in those places, not by masking an infinity afterwards, so that the second
    derivative is finite there too.
    """

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:
            base = where(b.data == 0, 1, a)
            ga = sum_to(gy * b * base ** (b - 1), a.shape)
        if self.needs_input_grad[1]:
            base = where((a.data == 0) & (b.data >= 0), 1, a)
            gb = sum_to(gy * self.output() * log(base), b.shape)
        return ga, gb


class Exp(Function):
    reads_inputs = False  # its backward reads its output

    def forward(self, a):
        return self.xp.exp(a)

    def backward(self, gy):
        # BEGIN SOLUTION (exercise 03)
        return gy * self.output()
        # END SOLUTION


class Log(Function):
    def forward(self, a):
        return self.xp.log(a)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    reads_inputs = False  # its backward reads its output

    def forward(self, a):
        return self.xp.sqrt(a)

    def backward(self, gy):
        return gy / (2 * self.output())


class Abs(Function):
    def forward(self, a):
        return self.xp.abs(a)

    def backward(self, gy):
        a = self.inputs[0].data
        return gy * Tensor(self.xp.sign(a))


class Maximum(Function):
    """Elementwise max. Where a == b the gradient is split half and half."""

    def forward(self, a, b):
        return self.xp.maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        share_a = Tensor((a.data > b.data) + 0.5 * (a.data == b.data)).astype(gy.dtype)
        return sum_to(gy * share_a, a.shape), sum_to(gy * (1 - share_a), b.shape)


class Minimum(Function):
    """Elementwise min. Where a == b the gradient is split half and half."""

    def forward(self, a, b):
        return self.xp.minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        share_a = Tensor((a.data < b.data) + 0.5 * (a.data == b.data)).astype(gy.dtype)
        return sum_to(gy * share_a, a.shape), sum_to(gy * (1 - share_a), b.shape)


class Where(Function):
    """where(condition, a, b): condition is a constant boolean array. The kernel table's
    where is np.where, or a branch-free numba loop where the shapes allow
    (kernels/fused.py)."""
    reads_inputs = False

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        return backend.kernels_for(a).where(self.condition, a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = Tensor(self.xp.zeros((), dtype=gy.dtype))
        ga = sum_to(where(self.condition, gy, zero), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(where(self.condition, zero, gy), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Clip(Function):
    """Clamp into [low, high]; the gradient passes only where the value was inside."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, a):
        return self.xp.clip(a, self.low, self.high)

    def backward(self, gy):
        a = self.inputs[0].data
        inside = self.xp.ones(a.shape, dtype=bool)
        if self.low is not None:
            inside &= a >= self.low
        if self.high is not None:
            inside &= a <= self.high
        return gy * Tensor(inside.astype(gy.dtype))


class Clone(Function):
    """A copy with its own memory; the gradient passes through unchanged."""
    reads_inputs = False

    def forward(self, a):
        return a.copy()

    def backward(self, gy):
        return gy


class RoundedDiv(Function):
    """a / b rounded toward zero ("trunc") or down ("floor"). A step function: its
    gradient is zero (PyTorch's value everywhere, even at the jumps)."""
    reads_inputs = False

    def __init__(self, rounding_mode):
        self.rounding_mode = rounding_mode

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        q = xp.true_divide(a, b)
        q = xp.trunc(q) if self.rounding_mode == "trunc" else xp.floor(q)
        kind = xp.result_type(a, b)
        return q.astype(kind) if kind.kind in "iu" else q

    def backward(self, gy):
        xp = backend.get_array_module(gy.data)
        return tuple(Tensor(xp.zeros(x.shape, dtype=gy.dtype)) if needed else None
                     for x, needed in zip(self.inputs, self.needs_input_grad))


class Cast(Function):
    reads_inputs = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        return a.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.inputs[0].dtype)


class ToDevice(Function):
    reads_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, a):
        self.source = backend.device_of(a)
        return backend.to_device(a, self.device)

    def backward(self, gy):
        return to_device(gy, self.source)


# ----------------------------------------------------------------------------
# the functional names
# ----------------------------------------------------------------------------
def add(input, other, *, alpha=1):  # noqa: A002 (PyTorch's argument names)
    """input + alpha * other."""
    return Add()(input, other if alpha == 1 else mul(other, alpha))


def sub(input, other, *, alpha=1):  # noqa: A002
    """input - alpha * other."""
    return Sub()(input, other if alpha == 1 else mul(other, alpha))


def mul(input, other): return Mul()(input, other)  # noqa: A002, E704


def div(input, other, *, rounding_mode=None):  # noqa: A002
    """input / other; rounding_mode "trunc" or "floor" rounds the quotient (its gradient
    is zero)."""
    if rounding_mode is None:
        return Div()(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', "
                         f"not {rounding_mode!r}")
    return RoundedDiv(rounding_mode)(input, other)


def true_divide(input, other): return div(input, other)  # noqa: A002, E704
def neg(input): return Neg()(input)  # noqa: A002, E704
def pow(input, exponent): return Pow()(input, exponent)  # noqa: A001, A002, E704
def exp(input): return Exp()(input)  # noqa: A002, E704
def log(input): return Log()(input)  # noqa: A002, E704
def sqrt(input): return Sqrt()(input)  # noqa: A002, E704
def abs(input): return Abs()(input)  # noqa: A001, A002, E704
def square(input): return mul(input, input)  # noqa: A002, E704
def maximum(input, other): return Maximum()(input, other)  # noqa: A002, E704
def minimum(input, other): return Minimum()(input, other)  # noqa: A002, E704


def clamp(input, min=None, max=None):  # noqa: A001, A002
    """Limit every element to [min, max] (either may be None); the gradient passes only
    where the value was inside (both ends included, as in PyTorch)."""
    bounds = []
    for name, bound in (("min", min), ("max", max)):
        if isinstance(bound, Tensor):
            if bound.requires_grad:
                raise NotImplementedError(f"clamp: a {name} bound that requires grad is not "
                                          "supported; use maximum/minimum")
            bound = bound.data
        bounds.append(bound)
    if bounds[0] is None and bounds[1] is None:
        raise RuntimeError("clamp: at least one of min and max must be given")
    return Clip(*bounds)(input)


clip = clamp


def clone(input): return Clone()(input)  # noqa: A002, E704
def cast(a, dtype):
    """a as dtype. A cast to an integer or boolean dtype is outside the graph (its
    result cannot require grad), as in PyTorch."""
    dtype = np.dtype(dtype)
    if a.dtype == dtype:
        return a
    if dtype.kind not in "fc":
        return Tensor(a.data.astype(dtype))
    return Cast(dtype)(a)



def to_device(a, device): return ToDevice(backend.check_device(device))(a)  # noqa: E704


def where(condition, input, other):  # noqa: A002
    """Pick from input where condition is true, else from other (condition: bool tensor or array)."""
    if isinstance(condition, Tensor):
        condition = condition.data
    return Where(condition)(input, other)


def masked_fill(input, mask, value):  # noqa: A002
    """input with `value` wherever the boolean `mask` is True."""
    return where(mask, value, input)


# comparisons give boolean tensors, outside the graph
def _compare(compare, name, a, b):
    a, b = as_tensors((a, b), name)
    try:
        return Tensor(compare(a.data, b.data))
    except ValueError:
        raise RuntimeError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast") from None


def lt(input, other): return _compare(operator.lt, "lt", input, other)  # noqa: A002, E704
def le(input, other): return _compare(operator.le, "le", input, other)  # noqa: A002, E704
def gt(input, other): return _compare(operator.gt, "gt", input, other)  # noqa: A002, E704
def ge(input, other): return _compare(operator.ge, "ge", input, other)  # noqa: A002, E704
def eq(input, other): return _compare(operator.eq, "eq", input, other)  # noqa: A002, E704
def ne(input, other): return _compare(operator.ne, "ne", input, other)  # noqa: A002, E704
