"""Activations and the softmax family, with PyTorch's names, signatures and gradients.

Elementwise: relu, leaky_relu, hardtanh, elu, selu, sigmoid, logsigmoid, softplus,
silu, softsign, tanh, gelu (and erf, which gelu is built on). logsigmoid, silu and
gelu are written with other ops, which give their gradients; the rest are Functions.
Along a dim: softmax, log_softmax, logsumexp.

Numerical stability is the theme. exp overflows float32 above ~88, so:
- sigmoid uses exp(-|x|), which is at most 1, on both sides of zero;
- softplus is max(z, 0) + log1p(exp(-|z|)), whose exponent is never
  positive, and logsigmoid is -softplus(-x);
- elu exponentiates min(x, 0), never a large positive x;
- softmax and logsumexp subtract the row maximum first (the result is the
  same, since softmax(x) = softmax(x - c), and the largest exponent is 0);
- log_softmax is x - logsumexp(x), never log(softmax(x)), which would take
  the log of an underflowed 0.
With these, inputs of +-1e4 give finite values and finite gradients.

At a kink the gradient is PyTorch's choice: relu has slope 0 at 0,
leaky_relu negative_slope at 0, hardtanh 0 at both bounds, elu alpha at 0
(the slope from the left), softplus the sigmoid at exactly the threshold.
The second derivatives there are PyTorch's too (see ELU and Softplus).

relu, softmax and log_softmax, in every training step, run on fused kernels from
the kernel table (kernels/fused.py), each a single pass or two over the data. Their
backwards are ops of their own (ReLUBackward, SoftmaxBackward, LogSoftmaxBackward)
with a fused kernel as forward and a backward in tensor ops, so the second
derivatives still come from the ops.

`inplace=True`, where PyTorch has it, overwrites the input with the result and
returns it, recorded in the graph as Tensor.mul_ is (minidl/functional/inplace.py).
"""
import math
import warnings

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .elementwise import cast, exp, where
from .inplace import change
from .reduce import sum
from .shape import reshape

# Klambauer et al. (2017), "Self-Normalizing Neural Networks"; the digits PyTorch uses
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ----------------------------------------------------------------------------
# piecewise linear: relu, leaky_relu, hardtanh
# ----------------------------------------------------------------------------
class ReLU(Function):
    def forward(self, a):
        return backend.kernels_for(a).relu_forward(a)

    def backward(self, gy):
        return ReLUBackward()(gy, self.inputs[0])


class ReLUBackward(Function):
    """relu's gradient, gy where x > 0, else 0 (PyTorch's rule: exactly 0 where x <= 0,
    even where gy is NaN or inf, and gy where x is NaN), fused in one pass. It is linear
    in gy, so its own gradient is itself; x only chooses, and gets no gradient."""

    def forward(self, gy, x):
        return backend.kernels_for(gy).relu_backward(gy, x)

    def backward(self, ggx):
        return ReLUBackward()(ggx, self.inputs[1]), None


class LeakyReLU(Function):
    def __init__(self, slope):
        self.slope = slope

    def forward(self, a):
        return self.xp.where(a > 0, a, a * self.slope)

    def backward(self, gy):
        a = self.inputs[0].data
        return gy * Tensor(self.xp.where(a > 0, 1, self.slope).astype(gy.dtype))


class Hardtanh(Function):
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside, 0 at the bounds
    and beyond (unlike clamp, whose gradient is 1 at the bounds)."""

    def __init__(self, min_val, max_val):
        self.min_val, self.max_val = min_val, max_val

    def forward(self, a):
        return self.xp.clip(a, self.min_val, self.max_val)

    def backward(self, gy):
        a = self.inputs[0].data
        return where((a > self.min_val) & (a < self.max_val), gy, 0)


# ----------------------------------------------------------------------------
# smooth: elu and selu, sigmoid, softplus, softsign, tanh, erf
# ----------------------------------------------------------------------------
class ELU(Function):
    """scale * x for x > 0, scale * alpha * (e^x - 1) otherwise (selu is scale != 1).

    The slope, scale * (1 or alpha) * e^min(x, 0), is written so that its own
    derivative is PyTorch's: scale * alpha * e^x for x < 0 and 0 from x = 0 on.
    """

    def __init__(self, alpha, scale=1.0):
        self.alpha, self.scale = alpha, scale

    def forward(self, a):
        xp = self.xp
        negative = self.scale * self.alpha * xp.expm1(xp.minimum(a, 0))
        return xp.where(a > 0, self.scale * a, negative)

    def backward(self, gy):
        x = self.inputs[0]
        xp = self.xp
        factor = xp.where(x.data > 0, self.scale, self.scale * self.alpha).astype(gy.dtype)
        return gy * Tensor(factor) * exp(where(x.data < 0, x, 0.0))


class Sigmoid(Function):
    """1 / (1 + e^-x), computed from e^-|x| so that no exponent is positive."""
    reads_inputs = False  # its backward reads its output

    def forward(self, a):
        xp = self.xp
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, gy):
        return SigmoidBackward()(gy, self.output())


class SigmoidBackward(Function):
    """gy * y (1 - y), the gradient of sigmoid from its output y, as one op (one pass,
    one node in the graph, instead of three); its own gradient is written with ops."""

    def forward(self, gy, y):
        return gy * y * (1 - y)

    def backward(self, ggx):
        gy, y = self.inputs
        g_gy = SigmoidBackward()(ggx, y) if self.needs_input_grad[0] else None
        g_y = ggx * gy * (1 - 2 * y) if self.needs_input_grad[1] else None
        return g_gy, g_y


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and x itself where beta * x > threshold.

    With z = beta * x, log(1 + e^z) is computed as max(z, 0) + log1p(e^-|z|):
    equal, but no positive number is exponentiated, so it cannot overflow.
    The slope is sigmoid(z) (1 past the threshold), differentiable again; as
    in PyTorch, the second derivative is cut off from the threshold itself on.
    """

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, a):
        xp = self.xp
        z = a * self.beta
        curved = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / self.beta
        return xp.where(z > self.threshold, a, curved)

    def backward(self, gy):
        x = self.inputs[0]
        z = x.data * self.beta
        # x again, but with its gradient cut off from the threshold on
        below = where(z < self.threshold, x, x.detach())
        return gy * where(z > self.threshold, 1.0, sigmoid(below * self.beta))


class Softsign(Function):
    """x / (1 + |x|). Its slope 1 / (1 + |x|)^2 is computed as that (the slope of the
    quotient written out would be a difference of two nearly equal terms for large |x|)."""

    def forward(self, a):
        return a / (1 + self.xp.abs(a))

    def backward(self, gy):
        d = 1 + abs(self.inputs[0])
        return gy / (d * d)


class Tanh(Function):
    reads_inputs = False  # its backward reads its output

    def forward(self, a):
        return self.xp.tanh(a)

    def backward(self, gy):
        return TanhBackward()(gy, self.output())


class TanhBackward(Function):
    """gy * (1 - y^2), the gradient of tanh from its output y, as one op (as
    SigmoidBackward); its own gradient is written with ops."""

    def forward(self, gy, y):
        return gy * (1 - y * y)

    def backward(self, ggx):
        gy, y = self.inputs
        g_gy = TanhBackward()(ggx, y) if self.needs_input_grad[0] else None
        g_y = -2 * ggx * gy * y if self.needs_input_grad[1] else None
        return g_gy, g_y


class Erf(Function):
    """The Gauss error function; d/dx erf(x) = 2/sqrt(pi) exp(-x^2)."""

    def forward(self, a):
        if self.xp is backend.np:
            from scipy.special import erf
        else:
            from cupyx.scipy.special import erf
        return erf(a)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))


# ----------------------------------------------------------------------------
# the elementwise functional names
# ----------------------------------------------------------------------------
def _in_place(input, inplace, op, fn):
    """fn(input); with inplace=True, input's values are replaced by it and input is
    returned (PyTorch's meaning; recorded in the graph as in Tensor.mul_)."""
    if not inplace:
        return fn(input)
    return change(input, op, fn, reads_self=True)


def relu(input, inplace=False):  # noqa: A002 (PyTorch's argument names)
    """max(x, 0); the gradient at 0 is 0."""
    return _in_place(input, inplace, "relu", lambda x: ReLU()(x))


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x for x > 0, negative_slope * x otherwise (also at 0, for the gradient)."""
    return _in_place(input, inplace, "leaky_relu", lambda x: LeakyReLU(negative_slope)(x))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """x clipped to [min_val, max_val]; the gradient is 0 at the bounds."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than "
                         f"max_val ({max_val})")
    return _in_place(input, inplace, "hardtanh", lambda x: Hardtanh(min_val, max_val)(x))


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, alpha * (e^x - 1) otherwise; the gradient at 0 is alpha."""
    return _in_place(input, inplace, "elu", lambda x: ELU(alpha)(x))


def selu(input, inplace=False):  # noqa: A002
    """SELU_SCALE * elu(x, SELU_ALPHA): the self-normalizing activation."""
    return _in_place(input, inplace, "selu", lambda x: ELU(SELU_ALPHA, SELU_SCALE)(x))


def sigmoid(input):
    return Sigmoid()(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, a smooth relu; x itself where beta * x > threshold.

    threshold=math.inf gives the exact formula everywhere (the logistic losses use it).
    """
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero (the formula divides by it)")
    return Softplus(beta, threshold)(input)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), exact everywhere (no threshold)."""
    return -softplus(-input, 1.0, math.inf)


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x) (also called swish)."""
    return _in_place(input, inplace, "silu", lambda x: x * sigmoid(x))


def softsign(input):
    """x / (1 + |x|)."""
    return Softsign()(input)


def tanh(input):
    return Tanh()(input)


def erf(input):
    return Erf()(input)


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF; approximate="tanh" uses the tanh formula."""
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1 + tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
    return 0.5 * input * (1 + erf(input * (1 / math.sqrt(2))))


# ----------------------------------------------------------------------------
# the softmax family, along a dim
# ----------------------------------------------------------------------------
def _slice_max(a, axis):
    """The maximum of each slice along axis, dims kept; -inf for an empty slice."""
    if a.size == 0:
        return backend.get_array_module(a).full_like(a.sum(axis=axis, keepdims=True), -math.inf)
    return a.max(axis=axis, keepdims=True)


def logsumexp_array(a, axis, keepdims=False):
    """log(sum(exp(a))) along axis (None, int or tuple) of a raw array, without overflow.

    The maximum is subtracted first. A slice that is all -inf gives -inf (as in
    PyTorch), not the NaN of -inf - -inf: its maximum is replaced by 0 before
    the subtraction. This is also the logsumexp of minidl.classic.
    """
    xp = backend.get_array_module(a)
    m = _slice_max(a, axis)
    m = xp.where(xp.isfinite(m), m, 0)
    with backend.np.errstate(divide="ignore"):  # log(0) = -inf is the answer, not an accident
        out = xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.squeeze(axis=axis)


class Softmax(Function):
    """exp(x - max) / sum(exp(x - max)) along axis, one fused kernel each way
    (kernels/fused.py); the backward is SoftmaxBackward, itself differentiable."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return backend.kernels_for(a).softmax_forward(a, self.axis)

    def backward(self, gy):
        return SoftmaxBackward(self.axis)(gy, self.output())


class SoftmaxBackward(Function):
    """gx = y * (gy - sum(gy * y)) from (gy, y): dy_i/dx_j = y_i (delta_ij - y_j).

    Its gradient: gx is linear in gy with a symmetric matrix, so the gradient for gy is
    this same op applied to ggx; for y, ggx * (gy - sum(gy * y)) - gy * sum(ggx * y).
    """

    def __init__(self, axis):
        self.axis = axis

    def forward(self, gy, y):
        return backend.kernels_for(gy).softmax_backward(gy, y, self.axis)

    def backward(self, ggx):
        gy, y = self.inputs
        g_gy = g_y = None
        if self.needs_input_grad[0]:
            g_gy = SoftmaxBackward(self.axis)(ggx, y)
        if self.needs_input_grad[1]:
            g_y = (ggx * (gy - sum(gy * y, self.axis, keepdims=True))
                   - gy * sum(ggx * y, self.axis, keepdims=True))
        return g_gy, g_y


class LogSoftmax(Function):
    """x - logsumexp(x) along axis, one fused kernel each way (kernels/fused.py); the
    backward is LogSoftmaxBackward, itself differentiable."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return backend.kernels_for(a).log_softmax_forward(a, self.axis)

    def backward(self, gy):
        return LogSoftmaxBackward(self.axis)(gy, self.output())


class LogSoftmaxBackward(Function):
    """gx = gy - exp(y) * sum(gy) from (gy, y): y = x - lse(x), so dy_i/dx_j =
    delta_ij - softmax(x)_j, and softmax(x) = exp(y).

    Its gradient: for gy, ggx - sum(ggx * exp(y)) (the transposed matrix); for y,
    -ggx * exp(y) * sum(gy).
    """

    def __init__(self, axis):
        self.axis = axis

    def forward(self, gy, y):
        return backend.kernels_for(gy).log_softmax_backward(gy, y, self.axis)

    def backward(self, ggx):
        gy, y = self.inputs
        p = exp(y)
        g_gy = g_y = None
        if self.needs_input_grad[0]:
            g_gy = ggx - sum(ggx * p, self.axis, keepdims=True)
        if self.needs_input_grad[1]:
            g_y = -(ggx * p) * sum(gy, self.axis, keepdims=True)
        return g_gy, g_y


class LogSumExp(Function):
    """The gradient is softmax(x) = exp(x - y); for an all -inf slice that is
    exp(-inf + inf) = NaN, which is also PyTorch's gradient there."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return logsumexp_array(a, self.axes, self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        kept = tuple(1 if i in self.axes else n for i, n in enumerate(x.shape))
        y = reshape(self.output(), kept)
        return reshape(gy, kept) * exp(x - y)


def _dim_or_axis(dim, axis, op):
    """PyTorch's dim or NumPy's name for it, axis (not both)."""
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r}; pass one "
                        "(axis is NumPy's name for dim)")
    return axis


def _check_dim(dim, x, op):
    """dim as a non-negative int, with PyTorch's range: -n..n-1 (-1..0 for a 0-d input)."""
    n = max(x.ndim, 1)
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for an input of shape {x.shape} "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return int(dim) % n


def _float_input(input, dtype, op):
    """input cast to dtype (if given); it must be floating point."""
    if dtype is not None:
        input = cast(input, dtype)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {input.dtype}; "
                        "pass dtype= to cast it first")
    return input


def _softmax_axis(input, dim, axis, dtype, op, stacklevel):
    """The (cast) input and the array axis to work along (None for a 0-d input).

    Without a dim, PyTorch's deprecated rule picks one, with a warning: dim 0
    for 0-d, 1-d and 3-d inputs, else 1. stacklevel counts as PyTorch's does
    (3: the warning points at the caller of softmax).
    """
    input = _float_input(input, dtype, op)
    dim = _dim_or_axis(dim, axis, op)
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(f"{op}: implicit dimension choice is deprecated (as in PyTorch); "
                      f"dim={dim} was used for this {input.ndim}-d input. Pass dim=X.",
                      UserWarning, stacklevel=stacklevel)
    dim = _check_dim(dim, input, op)
    return input, (dim if input.ndim else None)


def softmax(input, dim=None, dtype=None, *, axis=None, _stacklevel=3):
    """exp(x) / sum(exp(x)) along dim: each slice along it sums to 1.

    dim=None picks a dim by PyTorch's deprecated rule, with a warning; dtype
    casts the input first. A slice of all -inf gives NaN, as in PyTorch.
    """
    input, axis = _softmax_axis(input, dim, axis, dtype, "softmax", _stacklevel)
    return Softmax(axis)(input)


def log_softmax(input, dim=None, dtype=None, *, axis=None, _stacklevel=3):
    """log(softmax(x)) along dim, computed as x - logsumexp(x); arguments as softmax."""
    input, axis = _softmax_axis(input, dim, axis, dtype, "log_softmax", _stacklevel)
    return LogSoftmax(axis)(input)


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(x))) over dim, an int or a tuple of ints (required, as in PyTorch).

    An all -inf slice gives -inf; an integer input is cast to the default dtype.
    """
    dim = _dim_or_axis(dim, axis, "logsumexp")
    keepdim = keepdim if keepdims is None else keepdims
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if dim is None or not dims:
        raise TypeError(f"logsumexp: missing dim, the dim or tuple of dims to reduce over "
                        f"(got {dim!r}; PyTorch has no default)")
    if input.dtype.kind != "f":
        input = cast(input, backend.default_dtype())
    axes = tuple(sorted(_check_dim(d, input, "logsumexp") for d in dims))
    if len(set(axes)) != len(axes):
        raise ValueError(f"logsumexp: dim {dims} names a dim more than once "
                         f"(input shape {input.shape})")
    return LogSumExp(axes if input.ndim else (), keepdim)(input)
