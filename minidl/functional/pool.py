"""Pooling: max and average over sliding windows of (N, C, H, W) images and (N, C, L)
sequences, and adaptive average pooling to a chosen output size.

The options and their meaning are PyTorch's (kernels/pool.py explains the
window arithmetic): stride defaults to kernel_size; padding is at most half the
kernel; ceil_mode keeps a last, shorter window; max pooling can dilate its
windows and return the index of each maximum (flat, row * W + column, in its
input plane); average pooling divides by the count of elements in the padded
window (count_include_pad=True), in the input only (False), or by
divisor_override. Unbatched inputs, (C, H, W) and (C, L), are accepted too.

Each pooling is a pair of ops, the pooling and its backward, each the
gradient of the other (both are linear in what they are given, once the max
pooling's choice of elements is fixed), so they can be differentiated twice
and more. The 1-D poolings are the 2-D ones on images one row high.

Adaptive average pooling picks its own windows: along an axis of length L
with `out` outputs, output i averages elements floor(i*L/out) ... ceil((i+1)*L/out) - 1.
Each axis' windows do not depend on the other's, so the pooling is a product
with a fixed averaging matrix on each side, and matmul supplies its gradients.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..kernels.geometry import check_pool
from .conv import as_tuple, check_batched, contiguous
from .linalg import matmul
from .shape import getitem, reshape, squeeze, swapaxes, unsqueeze


# ----------------------------------------------------------------------------
# the ops
# ----------------------------------------------------------------------------
class _PoolOp(Function):
    def __init__(self, geometry, x_shape=None, argmax=None):
        self.geometry = geometry  # the kernel's arguments after the arrays and x_shape
        self.x_shape, self.argmax = x_shape, argmax


class MaxPool2d(_PoolOp):
    """The maximum of each window; geometry = (kernel, stride, padding, dilation, ceil_mode).
    The kernel also returns, for each output, the flat index (row * W + column) of the
    input element that was the maximum: kept as self.argmax."""

    def forward(self, x):
        y, self.argmax = backend.kernels_for(x).max_pool2d_forward(
            *contiguous(self.xp, x), *self.geometry)
        return y

    def backward(self, gy):
        return MaxPool2dBackward(self.geometry, self.inputs[0].shape, self.argmax)(gy)


class MaxPool2dBackward(_PoolOp):
    """Send each output gradient to the input element that was the window's maximum.

    Linear in gy; its own gradient reads ggx back at those same elements."""

    def forward(self, gy):
        return backend.kernels_for(gy).max_pool2d_backward(
            *contiguous(self.xp, gy), self.argmax, self.x_shape, *self.geometry)

    def backward(self, ggx):
        n, c, h, w = self.x_shape
        xp = self.xp
        index = (xp.arange(n)[:, None, None], xp.arange(c)[None, :, None],
                 self.argmax.reshape(n, c, -1))
        picked = getitem(reshape(ggx, (n, c, h * w)), index)
        return reshape(picked, self.argmax.shape)


class AvgPool2d(_PoolOp):
    """The mean of each window; geometry = (kernel, stride, padding, ceil_mode,
    count_include_pad, divisor_override)."""

    def forward(self, x):
        return backend.kernels_for(x).avg_pool2d_forward(*contiguous(self.xp, x), *self.geometry)

    def backward(self, gy):
        return AvgPool2dBackward(self.geometry, self.inputs[0].shape)(gy)


class AvgPool2dBackward(_PoolOp):
    """Spread each output gradient over its window. Linear in gy; its own gradient
    is the average pooling of ggx."""

    def forward(self, gy):
        return backend.kernels_for(gy).avg_pool2d_backward(*contiguous(self.xp, gy), self.x_shape,
                                                            *self.geometry)

    def backward(self, ggx):
        return AvgPool2d(self.geometry)(ggx)


# ----------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------
def _window(op, x, spatial, kernel_size, stride, padding, dilation, ceil_mode):
    """(kernel, stride, padding, dilation) as tuples of `spatial` ints, after checking
    that every window has elements of the input x (.., C, *spatial dims)."""
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: input must be float32 or float64, got {x.dtype}")
    kernel = as_tuple(kernel_size, spatial, "kernel_size", op)
    stride = kernel if stride is None else as_tuple(stride, spatial, "stride", op)
    padding = as_tuple(padding, spatial, "padding", op)
    dilation = as_tuple(dilation, spatial, "dilation", op)
    lead = x.shape[:-spatial]  # (N, C) or, unbatched, (C,)
    check_pool(op, (1,) * (2 - len(lead)) + lead + x.shape[-spatial:], kernel, stride, padding,
               dilation, ceil_mode)
    return kernel, stride, padding, dilation


def _as_image(x, unbatched, spatial):
    """x as (N, C, H, W): a batch dim added if unbatched, a row dim if 1-D."""
    x = unsqueeze(x, 0) if unbatched else x
    return unsqueeze(x, 2) if spatial == 1 else x


def _from_image(y, unbatched, spatial):
    """The inverse of _as_image."""
    y = squeeze(y, 2) if spatial == 1 else y
    return squeeze(y, 0) if unbatched else y


def _rowed(values, spatial, fill):
    """2-D geometry from 1-D: the one row of a 1-D pooling has kernel, stride and
    dilation 1 (fill=1) and padding 0 (fill=0)."""
    return (fill,) * (2 - spatial) + values


# ----------------------------------------------------------------------------
# max and average pooling
# ----------------------------------------------------------------------------
def _max_pool(op, spatial, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    unbatched = check_batched(op, input, spatial)
    kernel, stride, padding, dilation = _window(op, input, spatial, kernel_size, stride,
                                                padding, dilation, ceil_mode)
    pool = MaxPool2d((_rowed(kernel, spatial, 1), _rowed(stride, spatial, 1),
                      _rowed(padding, spatial, 0), _rowed(dilation, spatial, 1),
                      bool(ceil_mode)))
    y = _from_image(pool(_as_image(input, unbatched, spatial)), unbatched, spatial)
    if not return_indices:
        return y
    # indices into the H*W plane; a 1-D pooling's plane is one row, so they index L
    return y, _from_image(Tensor(pool.argmax), unbatched, spatial)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over windows of input (N, C, H, W); stride defaults to kernel_size.
    With return_indices, also the int64 index (row * W + column) of each maximum."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over windows of input (N, C, L); stride defaults to kernel_size.
    With return_indices, also the int64 position of each maximum along L."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def _avg_pool(op, spatial, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    unbatched = check_batched(op, input, spatial)
    kernel, stride, padding, _ = _window(op, input, spatial, kernel_size, stride, padding, 1,
                                         ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a nonzero int, "
                         f"got {divisor_override!r}")
    pool = AvgPool2d((_rowed(kernel, spatial, 1), _rowed(stride, spatial, 1),
                      _rowed(padding, spatial, 0), bool(ceil_mode), bool(count_include_pad),
                      divisor_override))
    return _from_image(pool(_as_image(input, unbatched, spatial)), unbatched, spatial)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over windows of input (N, C, H, W); stride defaults to kernel_size."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of input (N, C, L); stride defaults to kernel_size."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


# ----------------------------------------------------------------------------
# adaptive average pooling
# ----------------------------------------------------------------------------
def _averaging_matrix(size, out, xp, dtype):
    """(size, out): column i holds 1 / (window length) on adaptive window i's rows."""
    m = np.zeros((size, out))
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[start:end, i] = 1.0 / (end - start)
    return xp.asarray(m, dtype=dtype)


def _average_last_axis(x, out):
    """x (..., L) -> (..., out), each output the mean of its adaptive window."""
    m = _averaging_matrix(x.shape[-1], out, backend.get_array_module(x.data), x.dtype)
    flat = matmul(reshape(x, (-1, x.shape[-1])), Tensor(m))
    return reshape(flat, x.shape[:-1] + (out,))


def _output_size(op, output_size, input_size):
    """output_size (an int, or one per spatial dim; None keeps that dim) -> ints."""
    n = len(input_size)
    sizes = (output_size,) * n if output_size is None or isinstance(
        output_size, (int, np.integer)) else tuple(output_size)
    if len(sizes) != n or not all(s is None or (isinstance(s, (int, np.integer)) and s >= 0)
                                  for s in sizes):
        raise ValueError(f"{op}: output_size must be an int >= 0 or {n} of them (None keeps "
                         f"the input's size), got {output_size!r}")
    return tuple(size if s is None else int(s) for s, size in zip(sizes, input_size))


def _adaptive_avg_pool(op, spatial, input, output_size):
    check_batched(op, input, spatial)
    if input.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: input must be float32 or float64, got {input.dtype}")
    if 0 in input.shape[-spatial - 1:]:
        raise ValueError(f"{op}: input of shape {input.shape} has an empty channel or "
                         "spatial dim")
    out = _output_size(op, output_size, input.shape[-spatial:])
    y = _average_last_axis(input, out[-1])
    if spatial == 2:
        y = swapaxes(_average_last_axis(swapaxes(y, -1, -2), out[0]), -1, -2)
    return y


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of input (N, C, H, W) or (C, H, W) to output_size (OH, OW)."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of input (N, C, L) or (C, L) to output_size positions."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)
