"""2-D convolution and pooling on NCHW images: conv2d, max_pool2d, avg_pool2d.

Shapes: input x (N, C, H, W), weight w (O, C, KH, KW), output (N, O, OH, OW) with

    OH = (H + 2 * padding - dilation * (KH - 1) - 1) // stride + 1     (same for OW)

The arithmetic runs in minidl.kernels: on the CPU in kernels/conv.py and
kernels/pool.py, the "numpy" (im2col + matmul) or the "numba" version as
chosen by `mdl.set_kernels`; on the GPU in kernels/gpu.py (CUDA). This file
checks the arguments and wires the kernels into autograd.

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


def _check_geometry(op, x_shape, kernel, stride, padding, dilation=(1, 1)):
    """Raise a clear error unless the window fits in the padded input."""
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be >= 1 and padding >= 0, got "
                         f"stride={stride}, padding={padding}, dilation={dilation}")
    reach = tuple(dilation[i] * (kernel[i] - 1) + 1 for i in range(2))  # the window's span
    if any(x_shape[2 + i] + 2 * padding[i] < reach[i] for i in range(2)):
        raise ValueError(f"{op}: a {reach[0]}x{reach[1]} window (kernel {kernel}, dilation "
                         f"{dilation}) does not fit in the {x_shape[2]}x{x_shape[3]} input "
                         f"with padding {padding} (input shape {tuple(x_shape)})")


def _check_image(x, op, what="input"):
    if x.ndim != 4:
        raise ValueError(f"{op}: {what} must be 4-D (N, C, H, W), got shape {x.shape}"
                         + ("; add a batch dim with x.unsqueeze(0)" if x.ndim == 3 else ""))


# ----------------------------------------------------------------------------
# choosing the implementation
# ----------------------------------------------------------------------------
def _run(name, *args):
    """Call kernel `name` (e.g. "conv2d_forward") for the arrays' device.

    CPU: `<name>_numpy` or `<name>_numba` from kernels/conv.py or kernels/pool.py,
    as chosen by `mdl.set_kernels`. GPU: `<name>_cuda` from kernels/gpu.py.
    The kernels get C-contiguous arrays: gradients arriving from the graph
    can be broadcast views with zero strides. (Imported here, not at the top,
    so that `import minidl` does not wait for numba.)
    """
    xp = backend.get_array_module(args[0])
    args = [xp.ascontiguousarray(a) if hasattr(a, "dtype") else a for a in args]
    if xp is not np:
        from ..kernels import gpu
        return getattr(gpu, f"{name}_cuda")(*args)
    if name.startswith("conv"):
        from ..kernels import conv as kernels
    else:
        from ..kernels import pool as kernels
    return getattr(kernels, f"{name}_{backend.get_kernels()}")(*args)


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
