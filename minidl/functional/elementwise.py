"""Elementwise arithmetic: + - * / ** and exp, log, sqrt, abs, maximum, minimum, where, clip.

Binary ops broadcast like NumPy. Their backward first computes the gradient
at the broadcast shape, then `sum_to` adds it back down to each input's own
shape: an input that was repeated along an axis collects the gradient from
every copy.
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .shape import sum_to


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Sub(Function):
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

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


class Pow(Function):
    """a ** b. d/da = b a^(b-1); d/db = a^b log a (only computed when b needs it)."""

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b * a ** (b - 1), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * self.output() * log(a), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Exp(Function):
    def forward(self, a):
        return backend.get_array_module(a).exp(a)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    def forward(self, a):
        return backend.get_array_module(a).log(a)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    def forward(self, a):
        return backend.get_array_module(a).sqrt(a)

    def backward(self, gy):
        return gy / (2 * self.output())


class Abs(Function):
    def forward(self, a):
        return backend.get_array_module(a).abs(a)

    def backward(self, gy):
        a = self.inputs[0].data
        return gy * Tensor(backend.get_array_module(a).sign(a))


class Maximum(Function):
    """Elementwise max. Where a == b the gradient is split half and half."""

    def forward(self, a, b):
        return backend.get_array_module(a).maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        share_a = Tensor((a.data > b.data) + 0.5 * (a.data == b.data)).astype(gy.dtype)
        return sum_to(gy * share_a, a.shape), sum_to(gy * (1 - share_a), b.shape)


class Minimum(Function):
    """Elementwise min. Where a == b the gradient is split half and half."""

    def forward(self, a, b):
        return backend.get_array_module(a).minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        share_a = Tensor((a.data < b.data) + 0.5 * (a.data == b.data)).astype(gy.dtype)
        return sum_to(gy * share_a, a.shape), sum_to(gy * (1 - share_a), b.shape)


class Where(Function):
    """where(condition, a, b): condition is a constant boolean array."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        return backend.get_array_module(a).where(self.condition, a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = Tensor(backend.get_array_module(gy.data).zeros((), dtype=gy.dtype))
        ga = sum_to(where(self.condition, gy, zero), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(where(self.condition, zero, gy), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Clip(Function):
    """Clamp into [low, high]; the gradient passes only where the value was inside."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, a):
        return backend.get_array_module(a).clip(a, self.low, self.high)

    def backward(self, gy):
        a = self.inputs[0].data
        inside = backend.get_array_module(a).ones(a.shape, dtype=bool)
        if self.low is not None:
            inside &= a >= self.low
        if self.high is not None:
            inside &= a <= self.high
        return gy * Tensor(inside.astype(gy.dtype))


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        return a.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.inputs[0].dtype)


class ToDevice(Function):
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
def add(a, b): return Add()(a, b)
def sub(a, b): return Sub()(a, b)
def mul(a, b): return Mul()(a, b)
def div(a, b): return Div()(a, b)
def neg(a): return Neg()(a)
def pow(a, b): return Pow()(a, b)  # noqa: A001 (the operator's name)
def exp(a): return Exp()(a)
def log(a): return Log()(a)
def sqrt(a): return Sqrt()(a)
def abs(a): return Abs()(a)  # noqa: A001
def maximum(a, b): return Maximum()(a, b)
def minimum(a, b): return Minimum()(a, b)
def clip(a, min=None, max=None): return Clip(min, max)(a)  # noqa: A002
def cast(a, dtype): return a if a.dtype == dtype else Cast(dtype)(a)
def to_device(a, device): return ToDevice(backend.check_device(device))(a)


def where(condition, a, b):
    """Pick from a where condition is true, else from b (condition: bool tensor or array)."""
    if isinstance(condition, Tensor):
        condition = condition.data
    return Where(condition)(a, b)


def compare(op, a, b):
    """a < b and friends: boolean tensors, outside the graph."""
    a = a.data if isinstance(a, Tensor) else a
    b = b.data if isinstance(b, Tensor) else b
    try:
        result = {"lt": a.__lt__, "le": a.__le__, "gt": a.__gt__, "ge": a.__ge__,
                  "eq": a.__eq__, "ne": a.__ne__}[op](b)
    except ValueError as exc:
        raise ValueError(f"{op}: shapes {getattr(a, 'shape', ())} and "
                         f"{getattr(b, 'shape', ())} do not broadcast") from exc
    return Tensor(result)
