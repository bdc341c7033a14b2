"""Convolution: conv2d on (N, C, H, W) images and conv1d on (N, C, L) sequences.

Shapes: input x (N, C, H, W), weight w (O, C / groups, KH, KW), output (N, O, OH, OW) with

    OH = (H + 2 * padding - dilation * (KH - 1) - 1) // stride + 1     (same for OW)

Unbatched inputs (C, H, W) and (C, L) are accepted too, as in PyTorch.

groups splits the channels into that many independent convolutions: input
channels g*C/G ... and output channels g*O/G ... of group g only meet each other
(groups = C with O = k*C is the depthwise convolution).

padding is a number per side, or a string: "valid" (no padding) or "same" (the
output as long as the input; stride 1 only). "same" needs dilation * (K - 1)
elements of padding along each axis; when that is odd (an even kernel), the
extra one goes after (bottom, right), as in PyTorch. The kernels pad the same
amount on both sides, so that extra row or column is added first by F.pad.

The arithmetic runs in the kernel table (kernels/table.py): kernels/conv.py on
the CPU, in the setting chosen by `mdl.set_kernels`, kernels/gpu.py on the GPU.
This file checks the arguments and wires the kernels into autograd; the bias
is added by the forward kernel, on its way through the output. conv1d is
conv2d on images one row high.

Differentiating twice. A convolution is linear in x and linear in w, so
each of its two gradients is again a linear map, and the adjoint of a
linear map made of convolutions is a convolution:
    Conv2d(x, w)             -> y
    Conv2dGradInput(gy, w)   -> gx     (the "transposed convolution")
    Conv2dGradWeight(gy, x)  -> gw
The backward of each of these three ops is made of the other ones (with the
same stride, padding, dilation and groups), so a convolution can be
differentiated as many times as one likes.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from ..kernels.geometry import check_conv
from .dtypes import check_input_dtype
from .pad import pad as pad_fn
from .reduce import sum
from .shape import reshape, squeeze, unsqueeze


# ----------------------------------------------------------------------------
# argument checks (shared with pooling)
# ----------------------------------------------------------------------------
def as_tuple(value, n, name, op):
    """An int or n ints -> a tuple of n ints."""
    items = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != n or not all(isinstance(v, (int, np.integer)) for v in items):
        what = "an int or a pair of ints" if n == 2 else f"an int or {n} int(s)"
        raise ValueError(f"{op}: {name} must be {what}, got {value!r}")
    return tuple(int(v) for v in items)


def as_pair(value, name, op):
    """An int or a pair of ints -> (int, int)."""
    return as_tuple(value, 2, name, op)


def check_batched(op, x, spatial, what="input"):
    """x must be (N, C, *spatial dims) or, unbatched, (C, *spatial dims).
    Returns whether it is unbatched."""
    names = {1: "L", 2: "H, W"}[spatial]
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{op}: {what} must be {spatial + 1}-D (C, {names}) or "
                         f"{spatial + 2}-D (N, C, {names}), got shape {x.shape}")
    return x.ndim == spatial + 1


def contiguous(xp, *arrays):
    """The kernels get C-contiguous arrays: gradients arriving from the graph can be
    broadcast views with zero strides."""
    return [xp.ascontiguousarray(a) for a in arrays]


def _check_conv(op, x, weight, bias, groups, spatial):
    """Weight (O, C / groups, *kernel), bias (O,), one dtype: else a clear error."""
    if weight.ndim != spatial + 2:
        raise ValueError(f"{op}: weight must be {spatial + 2}-D (out_channels, "
                         f"in_channels / groups, {'kH, kW' if spatial == 2 else 'kL'}), "
                         f"got shape {weight.shape}")
    check_input_dtype(op, x, weight, bias)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias has shape {bias.shape}, expected ({weight.shape[0]},)")


def _padding_amounts(op, padding, kernel, stride, dilation):
    """padding (ints, "valid" or "same") -> (both, extra): `both` zeros on each side of
    each spatial axis, and `extra` (0 or 1, "same" only) more after."""
    n = len(kernel)
    if not isinstance(padding, str):
        return as_tuple(padding, n, "padding", op), (0,) * n
    if padding == "valid":
        return (0,) * n, (0,) * n
    if padding != "same":
        raise ValueError(f"{op}: padding must be an int, {n} int(s), 'valid' or 'same', "
                         f"got {padding!r}")
    if any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                         f"(stride={stride}); use stride 1 or pad by numbers")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple(t // 2 for t in total), tuple(t % 2 for t in total)


# ----------------------------------------------------------------------------
# convolution: three ops that are each other's gradients
# ----------------------------------------------------------------------------
class _ConvOp(Function):
    """Holds the geometry (stride, padding, dilation, groups) shared by the three conv ops."""

    def __init__(self, stride, padding, dilation, groups=1, shape=None):
        self.geometry = (stride, padding, dilation, groups)
        self.shape = shape  # the shape of x (GradInput) or of w (GradWeight)

    def flops(self, inputs, outputs):
        """For the profiler: each of the three ops does the forward's multiply-adds, 2
        each: one per weight of a filter (C / groups * KH * KW) per output value."""
        y_size, w_shape = self.sizes(inputs, outputs)
        return 2 * y_size * int(np.prod(w_shape[1:]))


class Conv2d(_ConvOp):
    """y = conv(x, w) (+ b, per output channel). Backward: gx = Conv2dGradInput(gy, w),
    gw = Conv2dGradWeight(gy, x), gb = the sum of gy over everything but the channels."""

    def forward(self, x, w, b=None):
        kernels = backend.kernels_for(x)
        x, w = contiguous(self.xp, x, w)
        return kernels.conv2d_forward(x, w, *self.geometry, bias=b)

    def sizes(self, inputs, outputs):
        """(the number of values of y, the shape of w), for flops()."""
        return outputs[0].size, inputs[1].shape

    def backward(self, gy):
        x, w = self.inputs[:2]
        need = self.needs_input_grad
        gx = Conv2dGradInput(*self.geometry, x.shape)(gy, w) if need[0] else None
        gw = Conv2dGradWeight(*self.geometry, w.shape)(gy, x) if need[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, sum(gy, (0, 2, 3)) if need[2] else None


class Conv2dGradInput(_ConvOp):
    """gx = the gradient of conv(x, w) with respect to x, for output gradient gy.

    Linear in gy and in w: the gradient for gy is conv(ggx, w) and the
    gradient for w is Conv2dGradWeight(gy, ggx).
    """

    def forward(self, gy, w):
        kernels = backend.kernels_for(gy)
        gy, w = contiguous(self.xp, gy, w)
        return kernels.conv2d_backward_input(gy, w, self.shape, *self.geometry)

    def sizes(self, inputs, outputs):
        return inputs[0].size, inputs[1].shape

    def backward(self, ggx):
        gy, w = self.inputs
        g_gy = Conv2d(*self.geometry)(ggx, w) if self.needs_input_grad[0] else None
        g_w = (Conv2dGradWeight(*self.geometry, w.shape)(gy, ggx)
               if self.needs_input_grad[1] else None)
        return g_gy, g_w


class Conv2dGradWeight(_ConvOp):
    """gw = the gradient of conv(x, w) with respect to w, for output gradient gy.

    Linear in gy and in x: the gradient for gy is conv(x, ggw) and the
    gradient for x is Conv2dGradInput(gy, ggw).
    """

    def forward(self, gy, x):
        kernels = backend.kernels_for(gy)
        gy, x = contiguous(self.xp, gy, x)
        return kernels.conv2d_backward_weight(gy, x, self.shape, *self.geometry)

    def sizes(self, inputs, outputs):
        return inputs[0].size, self.shape

    def backward(self, ggw):
        gy, x = self.inputs
        g_gy = Conv2d(*self.geometry)(x, ggw) if self.needs_input_grad[0] else None
        g_x = (Conv2dGradInput(*self.geometry, x.shape)(gy, ggw)
               if self.needs_input_grad[1] else None)
        return g_gy, g_x


def _convolve(op, x, weight, bias, stride, padding, dilation, groups):
    """Conv2d plus bias on 4-D x and weight, after "same"'s extra padding and the checks
    of the window."""
    both, extra = _padding_amounts(op, padding, weight.shape[2:], stride, dilation)
    if any(extra):  # "same" with an odd total: the extra row and column after
        x = pad_fn(x, (0, extra[1], 0, extra[0]))
    check_conv(op, x.shape, weight.shape, stride, both, dilation, groups)
    geometry = (stride, both, dilation, groups)
    return Conv2d(*geometry)(x, weight) if bias is None else Conv2d(*geometry)(x, weight, bias)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of input (N, C, H, W) with weight (O, C / groups, KH, KW),
    plus bias (O,). padding: int, pair, "valid" or "same"."""
    op = "conv2d"
    unbatched = check_batched(op, input, 2)
    x = unsqueeze(input, 0) if unbatched else input
    _check_conv(op, x, weight, bias, groups, 2)
    if not isinstance(padding, str):
        padding = as_pair(padding, "padding", op)
    y = _convolve(op, x, weight, bias, as_pair(stride, "stride", op), padding,
                  as_pair(dilation, "dilation", op), groups)
    return squeeze(y, 0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of input (N, C, L) with weight (O, C / groups, K), plus bias
    (O,): conv2d on (N, C, 1, L) with a (O, C / groups, 1, K) kernel."""
    op = "conv1d"
    unbatched = check_batched(op, input, 1)
    x = unsqueeze(input, 0) if unbatched else input
    _check_conv(op, x, weight, bias, groups, 1)
    stride, dilation = as_tuple(stride, 1, "stride", op), as_tuple(dilation, 1, "dilation", op)
    if not isinstance(padding, str):
        padding = as_tuple(padding, 1, "padding", op)
    both, extra = _padding_amounts(op, padding, weight.shape[2:], stride, dilation)
    if extra[0]:  # "same" with an odd total: the extra element on the right
        x = pad_fn(x, (0, 1))
    check_conv(op, x.shape, weight.shape, stride, both, dilation, groups)
    y = _convolve(op, unsqueeze(x, 2), unsqueeze(weight, 2), bias, (1,) + stride,
                  (0,) + both, (1,) + dilation, groups)
    y = squeeze(y, 2)
    return squeeze(y, 0) if unbatched else y
