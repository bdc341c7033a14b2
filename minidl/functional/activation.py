"""Activations and the softmax family: relu, leaky_relu, sigmoid, tanh, gelu,
softmax, log_softmax, logsumexp.

Numerical stability is the theme. exp overflows float32 above ~88, so:
- sigmoid uses exp(-|x|), which is at most 1, on both sides of zero;
- softmax and logsumexp subtract the row maximum first (the result is the
  same, since softmax(x) = softmax(x - c), and the largest exponent is 0);
- log_softmax is x - logsumexp(x), never log(softmax(x)), which would take
  the log of an underflowed 0.
With these, logits of +-1e4 give finite values and finite gradients.
"""
import math

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .elementwise import exp, where
from .reduce import sum
from .shape import normalize_axis, reshape


class ReLU(Function):
    def forward(self, a):
        return backend.get_array_module(a).maximum(a, 0)

    def backward(self, gy):
        return where(self.inputs[0].data > 0, gy, 0)


class LeakyReLU(Function):
    def __init__(self, slope):
        self.slope = slope

    def forward(self, a):
        return backend.get_array_module(a).where(a > 0, a, a * self.slope)

    def backward(self, gy):
        a = self.inputs[0].data
        return gy * Tensor(backend.get_array_module(a).where(a > 0, 1, self.slope).astype(gy.dtype))


class Sigmoid(Function):
    """1 / (1 + e^-x), computed from e^-|x| so that no exponent is positive."""

    def forward(self, a):
        xp = backend.get_array_module(a)
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, gy):
        y = self.output()
        return gy * y * (1 - y)


class Tanh(Function):
    def forward(self, a):
        return backend.get_array_module(a).tanh(a)

    def backward(self, gy):
        y = self.output()
        return gy * (1 - y * y)


class Erf(Function):
    """The Gauss error function; d/dx erf(x) = 2/sqrt(pi) exp(-x^2)."""

    def forward(self, a):
        if backend.get_array_module(a) is backend.np:
            from scipy.special import erf
        else:
            from cupyx.scipy.special import erf
        return erf(a)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))


class Softmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        xp = backend.get_array_module(a)
        e = xp.exp(a - a.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy):
        # dy_i/dx_j = y_i (delta_ij - y_j), so gx = y * (gy - sum(gy * y))
        y = self.output()
        return y * (gy - sum(gy * y, self.axis, keepdims=True))


class LogSoftmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return a - _logsumexp_array(a, self.axis, keepdims=True)

    def backward(self, gy):
        # y = x - lse(x), so gx = gy - softmax(x) * sum(gy), and softmax(x) = exp(y)
        return gy - exp(self.output()) * sum(gy, self.axis, keepdims=True)


class LogSumExp(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return _logsumexp_array(a, self.axes, self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        kept = tuple(1 if i in self.axes else n for i, n in enumerate(x.shape))
        y = reshape(self.output(), kept)
        return reshape(gy, kept) * exp(x - y)


def _logsumexp_array(a, axis, keepdims):
    xp = backend.get_array_module(a)
    m = a.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # a row of all -inf stays -inf, not NaN
    out = xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.squeeze(axis=axis)


# ----------------------------------------------------------------------------
# the functional names
# ----------------------------------------------------------------------------
def relu(a): return ReLU()(a)
def leaky_relu(a, negative_slope=0.01): return LeakyReLU(negative_slope)(a)
def sigmoid(a): return Sigmoid()(a)
def tanh(a): return Tanh()(a)
def erf(a): return Erf()(a)


def gelu(a, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF; approximate="tanh" uses the tanh formula."""
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)
        return 0.5 * a * (1 + tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
    return 0.5 * a * (1 + erf(a * (1 / math.sqrt(2))))


def softmax(a, axis=-1):
    return Softmax(normalize_axis(axis, a.ndim, "softmax")[0])(a)


def log_softmax(a, axis=-1):
    return LogSoftmax(normalize_axis(axis, a.ndim, "log_softmax")[0])(a)


def logsumexp(a, axis=None, keepdims=False):
    return LogSumExp(normalize_axis(axis, a.ndim, "logsumexp"), keepdims)(a)
