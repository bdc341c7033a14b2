"""2-D convolution and pooling on NCHW images: conv2d, max_pool2d, avg_pool2d.

Shapes: input x (N, C, H, W), weight w (O, C, KH, KW), output (N, O, OH, OW) with

    OH = (H + 2 * padding - dilation * (KH - 1) - 1) // stride + 1     (same for OW)

The arithmetic runs in kernels: on the CPU in minidl.kernels.conv / .pool,
the "numpy" (im2col + matmul) or the "numba" version as chosen by
`mdl.set_kernels`; on the GPU in the xp-generic im2col code at the end of
this file, which runs unchanged on CuPy.

Differentiating twice. A convolution is linear in x and linear in w, so
each of its two gradients is again a linear map, and the adjoint of a
linear map made of convolutions is a convolution:
    Conv2d(x, w)             -> y
    Conv2dGradInput(gy, w)   -> gx     (the "transposed convolution")
    Conv2dGradWeight(gy, x)  -> gw
The backward of each of these three ops is made of the other ones, so a
convolution can be differentiated as many times as one likes. Pooling does
the same with a pair of ops each: the pooling and its backward.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .shape import getitem, reshape


# ----------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------
def as_pair(value, name, op):
    """An int or a pair of ints -> (int, int)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _output_shape(x_shape, kernel, stride, padding, dilation=(1, 1)):
    """(OH, OW) for an input of shape (N, C, H, W)."""
    return tuple((x_shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1)
                 // stride[i] + 1 for i in range(2))


def _check_geometry(op, x_shape, kernel, stride, padding, dilation=(1, 1)):
    """Output (OH, OW), with a clear error when the window does not fit."""
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be >= 1 and padding >= 0, got "
                         f"stride={stride}, padding={padding}, dilation={dilation}")
    out = _output_shape(x_shape, kernel, stride, padding, dilation)
    if min(out) < 1:
        reach = tuple(dilation[i] * (kernel[i] - 1) + 1 for i in range(2))
        raise ValueError(f"{op}: a {reach[0]}x{reach[1]} window (kernel {kernel}, dilation "
                         f"{dilation}) does not fit in the {x_shape[2]}x{x_shape[3]} input "
                         f"with padding {padding} (input shape {tuple(x_shape)})")
    return out


def _check_image(x, op, what="input"):
    if x.ndim != 4:
        raise ValueError(f"{op}: {what} must be 4-D (N, C, H, W), got shape {x.shape}"
                         + ("; add a batch dim with x.unsqueeze(0)" if x.ndim == 3 else ""))


# ----------------------------------------------------------------------------
# choosing the implementation
# ----------------------------------------------------------------------------
def _run(name, *args):
    """Call kernel `name` (e.g. "conv2d_forward") on the arrays' device.

    The kernels get C-contiguous arrays: gradients arriving from the graph
    can be broadcast views with zero strides.
    """
    xp = backend.get_array_module(args[0])
    args = [xp.ascontiguousarray(a) if hasattr(a, "dtype") else a for a in args]
    if xp is np:
        if name.startswith("conv"):
            from ..kernels import conv as module
        else:
            from ..kernels import pool as module
        return getattr(module, f"{name}_{backend.get_kernels()}")(*args)
    return XP_KERNELS[name](*args)


# ----------------------------------------------------------------------------
# convolution: three ops that are each other's gradients
# ----------------------------------------------------------------------------
class _ConvOp(Function):
    """Holds the geometry (stride, padding, dilation) shared by the three conv ops."""

    def __init__(self, stride, padding, dilation, shape=None):
        self.geometry = (stride, padding, dilation)
        self.shape = shape  # the shape of x (GradInput) or of w (GradWeight)


class Conv2d(_ConvOp):
    """y = conv(x, w). Backward: gx = Conv2dGradInput(gy, w), gw = Conv2dGradWeight(gy, x)."""

    def forward(self, x, w):
        return _run("conv2d_forward", x, w, *self.geometry)

    def backward(self, gy):
        x, w = self.inputs
        gx = Conv2dGradInput(*self.geometry, x.shape)(gy, w) if self.needs_input_grad[0] else None
        gw = Conv2dGradWeight(*self.geometry, w.shape)(gy, x) if self.needs_input_grad[1] else None
        return gx, gw


class Conv2dGradInput(_ConvOp):
    """gx = the gradient of conv(x, w) with respect to x, for output gradient gy.

    Linear in gy and in w: the gradient for gy is conv(ggx, w) and the
    gradient for w is Conv2dGradWeight(gy, ggx).
    """

    def forward(self, gy, w):
        return _run("conv2d_backward_input", gy, w, self.shape, *self.geometry)

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
        return _run("conv2d_backward_weight", gy, x, self.shape, *self.geometry)

    def backward(self, ggw):
        gy, x = self.inputs
        g_gy = Conv2d(*self.geometry)(x, ggw) if self.needs_input_grad[0] else None
        g_x = (Conv2dGradInput(*self.geometry, x.shape)(gy, ggw)
               if self.needs_input_grad[1] else None)
        return g_gy, g_x


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D cross-correlation of x (N, C, H, W) with weight (O, C, KH, KW), plus bias (O,)."""
    op = "conv2d"
    _check_image(x, op)
    _check_image(weight, op, "weight")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: input has {x.shape[1]} channels but weight expects "
                         f"{weight.shape[1]} (input {x.shape}, weight {weight.shape})")
    if x.dtype != weight.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    geometry = (as_pair(stride, "stride", op), as_pair(padding, "padding", op),
                as_pair(dilation, "dilation", op))
    _check_geometry(op, x.shape, weight.shape[2:], *geometry)
    y = Conv2d(*geometry)(x, weight)
    if bias is None:
        return y
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
    return y + reshape(bias, (1, -1, 1, 1))


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------
class _PoolOp(Function):
    def __init__(self, kernel, stride, padding, x_shape=None, argmax=None):
        self.geometry = (kernel, stride, padding)
        self.x_shape, self.argmax = x_shape, argmax


class MaxPool2d(_PoolOp):
    """The maximum of each window. The kernel also returns, for each output, the
    flat index (row * W + column) of the input element that was the maximum."""

    def forward(self, x):
        y, self.argmax = _run("max_pool2d_forward", x, *self.geometry)
        return y

    def backward(self, gy):
        return MaxPool2dBackward(*self.geometry, self.inputs[0].shape, self.argmax)(gy)


class MaxPool2dBackward(_PoolOp):
    """Send each output gradient to the input element that was the window's maximum.

    Linear in gy; its own gradient reads ggx back at those same elements."""

    def forward(self, gy):
        return _run("max_pool2d_backward", gy, self.argmax, self.x_shape, *self.geometry)

    def backward(self, ggx):
        n, c, h, w = self.x_shape
        xp = backend.get_array_module(self.argmax)
        index = (xp.arange(n)[:, None, None], xp.arange(c)[None, :, None],
                 self.argmax.reshape(n, c, -1))
        picked = getitem(reshape(ggx, (n, c, h * w)), index)
        return reshape(picked, self.argmax.shape)


class AvgPool2d(_PoolOp):
    """The mean of each window; padding counts as zeros in the mean (PyTorch's
    count_include_pad=True), so every window divides by KH * KW."""

    def forward(self, x):
        return _run("avg_pool2d_forward", x, *self.geometry)

    def backward(self, gy):
        return AvgPool2dBackward(*self.geometry, self.inputs[0].shape)(gy)


class AvgPool2dBackward(_PoolOp):
    """Spread each output gradient evenly over its window. Linear in gy; its own
    gradient is the average pooling of ggx."""

    def forward(self, gy):
        return _run("avg_pool2d_backward", gy, self.x_shape, *self.geometry)

    def backward(self, ggx):
        return AvgPool2d(*self.geometry)(ggx)


def _pool_geometry(op, x, kernel_size, stride, padding):
    _check_image(x, op)
    kernel = as_pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else as_pair(stride, "stride", op)
    padding = as_pair(padding, "padding", op)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    _check_geometry(op, x.shape, kernel, stride, padding)
    return kernel, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum over kernel_size windows of x (N, C, H, W); stride defaults to kernel_size."""
    return MaxPool2d(*_pool_geometry("max_pool2d", x, kernel_size, stride, padding))(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over kernel_size windows of x (N, C, H, W); stride defaults to kernel_size."""
    return AvgPool2d(*_pool_geometry("avg_pool2d", x, kernel_size, stride, padding))(x)


# ----------------------------------------------------------------------------
# xp-generic kernels (NumPy or CuPy): im2col with one view per kernel offset
# ----------------------------------------------------------------------------
def _windows(padded, kernel, stride, dilation, out):
    """For each kernel offset (i, j): the strided view of `padded` that the offset
    sees from every output position, view[n, c, oh, ow] = padded[n, c,
    oh * stride + i * dilation, ow * stride + j * dilation]. KH * KW views, no copies."""
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            top, left = i * dilation[0], j * dilation[1]
            yield i, j, padded[:, :, top:top + stride[0] * (out[0] - 1) + 1:stride[0],
                               left:left + stride[1] * (out[1] - 1) + 1:stride[1]]


def _pad(x, padding, value=0):
    xp = backend.get_array_module(x)
    (ph, pw) = padding
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _unpad(padded, padding, shape):
    return padded[:, :, padding[0]:padding[0] + shape[2], padding[1]:padding[1] + shape[3]]


def _im2col(x, kernel, stride, padding, dilation):
    """(N, C, KH, KW, OH, OW): every window of x, one column per output position."""
    xp = backend.get_array_module(x)
    out = _output_shape(x.shape, kernel, stride, padding, dilation)
    views = [view for _, _, view in _windows(_pad(x, padding), kernel, stride, dilation, out)]
    return xp.stack(views, axis=2).reshape(x.shape[:2] + tuple(kernel) + out)


def _conv2d_forward_xp(x, w, stride, padding, dilation):
    cols = _im2col(x, w.shape[2:], stride, padding, dilation)
    y = backend.get_array_module(x).tensordot(w, cols, axes=([1, 2, 3], [1, 2, 3]))
    return y.transpose(1, 0, 2, 3).copy()  # (O, N, OH, OW) -> (N, O, OH, OW)


def _conv2d_backward_input_xp(gy, w, x_shape, stride, padding, dilation):
    xp = backend.get_array_module(gy)
    gcols = xp.tensordot(w, gy, axes=([0], [1]))  # (C, KH, KW, N, OH, OW)
    padded = xp.zeros(x_shape[:2] + (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]),
                      dtype=gy.dtype)
    for i, j, view in _windows(padded, w.shape[2:], stride, dilation, gy.shape[2:]):
        view += gcols[:, i, j].transpose(1, 0, 2, 3)  # col2im: add each column back
    return _unpad(padded, padding, x_shape).copy()


def _conv2d_backward_weight_xp(gy, x, w_shape, stride, padding, dilation):
    cols = _im2col(x, w_shape[2:], stride, padding, dilation)
    return backend.get_array_module(x).tensordot(gy, cols, axes=([0, 2, 3], [0, 4, 5]))


def _window_flat_index(i, j, x_shape, kernel, stride, padding, out):
    """The flat input index (row * W + column) that offset (i, j) of each window reads."""
    rows = np.arange(out[0])[:, None] * stride[0] - padding[0] + i
    cols = np.arange(out[1])[None, :] * stride[1] - padding[1] + j
    return rows * x_shape[3] + cols


def _max_pool2d_forward_xp(x, kernel, stride, padding):
    xp = backend.get_array_module(x)
    out = _output_shape(x.shape, kernel, stride, padding)
    windows = list(_windows(_pad(x, padding, -np.inf), kernel, stride, (1, 1), out))
    stacked = xp.stack([view for _, _, view in windows])  # (KH*KW, N, C, OH, OW)
    best = stacked.argmax(axis=0)
    y = xp.take_along_axis(stacked, best[None], axis=0)[0]
    flat = xp.stack([xp.asarray(_window_flat_index(i, j, x.shape, kernel, stride, padding, out))
                     for i, j, _ in windows])  # (KH*KW, OH, OW)
    return y, flat[best, xp.arange(out[0])[:, None], xp.arange(out[1])]


def _max_pool2d_backward_xp(gy, argmax, x_shape, kernel, stride, padding):
    xp = backend.get_array_module(gy)
    padded = xp.zeros(x_shape[:2] + (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]),
                      dtype=gy.dtype)
    out = gy.shape[2:]
    for i, j, view in _windows(padded, kernel, stride, (1, 1), out):
        here = xp.asarray(_window_flat_index(i, j, x_shape, kernel, stride, padding, out))
        view += gy * (argmax == here)
    return _unpad(padded, padding, x_shape).copy()


def _avg_pool2d_forward_xp(x, kernel, stride, padding):
    out = _output_shape(x.shape, kernel, stride, padding)
    total = sum(view for _, _, view in _windows(_pad(x, padding), kernel, stride, (1, 1), out))
    return total / (kernel[0] * kernel[1])


def _avg_pool2d_backward_xp(gy, x_shape, kernel, stride, padding):
    xp = backend.get_array_module(gy)
    padded = xp.zeros(x_shape[:2] + (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]),
                      dtype=gy.dtype)
    share = gy / (kernel[0] * kernel[1])
    for _, _, view in _windows(padded, kernel, stride, (1, 1), gy.shape[2:]):
        view += share
    return _unpad(padded, padding, x_shape).copy()


XP_KERNELS = {
    "conv2d_forward": _conv2d_forward_xp,
    "conv2d_backward_input": _conv2d_backward_input_xp,
    "conv2d_backward_weight": _conv2d_backward_weight_xp,
    "max_pool2d_forward": _max_pool2d_forward_xp,
    "max_pool2d_backward": _max_pool2d_backward_xp,
    "avg_pool2d_forward": _avg_pool2d_forward_xp,
    "avg_pool2d_backward": _avg_pool2d_backward_xp,
}
