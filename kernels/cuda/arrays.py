"""The "cuda" row's kernels written with array operations only (no hand-written kernel).

The kernel table gives device arrays these where numba cannot launch a kernel on
them: the test stand-in for CuPy (tests/fake_cupy.py) outside numba's simulator,
whose arrays live in the computer's memory and so must not be handed to the GPU.
They would run on real CuPy arrays too, and compute what the kernels in conv.py and
pool.py compute, with the same arguments and the same checks. Every operation is
called on `xp`, the arrays' own module (cupy, or the stand-in), never on NumPy:
only the few small index tables (average pooling's divisors) are made on the host
and copied over.

matmul here is the "cuda" row's in both cases: CuPy's own, which calls cuBLAS.

The plan is that of the CPU's "numpy" versions (kernels/conv.py, kernels/pool.py):
conv2d is im2col + one batched matmul, with im2col and col2im as one strided slice
per kernel offset (i, j); pooling takes each offset's (N, C, OH, OW) slice of the
padded input in turn. Max pooling's backward gathers instead of scattering: for
each offset, the windows whose argmax is that offset's pixel add their gradient
into it (within one offset no two windows share a pixel, so a slice += is exact).
"""
import numpy as np

from ... import backend
from .checks import (averaging, check_argmax, check_arrays, check_conv2d, check_gradient,
                     check_pool2d, contiguous)


def matmul(a, b):
    """a @ b, by CuPy's matmul (cuBLAS on a GPU): the "cuda" row's matmul, with or
    without the numba kernels."""
    return backend.get_array_module(a).matmul(a, b)


# ----------------------------------------------------------------------------
# the windows of a padded input, one slice per kernel offset
# ----------------------------------------------------------------------------
def _padded(x, kernel, stride, padding, dilation, out, value=0):
    """x with `padding` rows/columns of `value` on each side, and more at the bottom and
    right where ceil_mode's last window reaches further."""
    widths = [(0, 0), (0, 0)]
    for a in range(2):
        reach = (out[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
        widths.append((padding[a], max(padding[a], reach - x.shape[2 + a] - padding[a])))
    return backend.get_array_module(x).pad(x, widths, constant_values=value)


def _offsets(padded, kernel, stride, dilation, out):
    """For each kernel offset (i, j): i, j and the (N, C, OH, OW) slice of `padded` that
    holds tap (i, j) of every window (a view: writing into it writes into padded)."""
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, padded[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                               j * dw:j * dw + sw * (ow - 1) + 1:sw]


def _cropped(padded, padding, x_shape):
    ph, pw = padding
    xp = backend.get_array_module(padded)
    return xp.ascontiguousarray(padded[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]])


# ----------------------------------------------------------------------------
# conv2d: im2col + matmul
# ----------------------------------------------------------------------------
def _grouped(w, groups):
    """w (O, C/G, KH, KW) -> (G, O/G, C/G*KH*KW): row block g multiplies cols block g."""
    return w.reshape(groups, w.shape[0] // groups, -1)


def im2col(x, kh, kw, stride, padding, dilation, out):
    """cols (N, C*KH*KW, OH*OW), the layout of conv.py's im2col kernel."""
    n, c = x.shape[:2]
    xp = backend.get_array_module(x)
    cols = xp.empty((n, c, kh, kw) + tuple(out), dtype=x.dtype)
    padded = _padded(x, (kh, kw), stride, padding, dilation, out)
    for i, j, window_taps in _offsets(padded, (kh, kw), stride, dilation, out):
        cols[:, :, i, j] = window_taps
    return cols.reshape(n, c * kh * kw, out[0] * out[1])


def col2im(cols, x_shape, kh, kw, stride, padding, dilation, out):
    """The adjoint of im2col: each column entry added back onto its input pixel."""
    n, c = x_shape[:2]
    xp = backend.get_array_module(cols)
    cols = cols.reshape((n, c, kh, kw) + tuple(out))
    padded = _padded(xp.zeros(tuple(x_shape), dtype=cols.dtype), (kh, kw), stride, padding,
                     dilation, out)
    for i, j, window_taps in _offsets(padded, (kh, kw), stride, dilation, out):
        window_taps += cols[:, :, i, j]
    return _cropped(padded, padding, x_shape)


def conv2d_forward_arrays(x, w, stride, padding, dilation, groups=1):
    """conv.py's conv2d_forward_cuda, with im2col as array slices."""
    op = "conv2d_forward_arrays"
    check_arrays(op, x, w)
    oh, ow = check_conv2d(op, x.shape, w.shape, stride, padding, dilation, groups)
    x, w = contiguous(x, w)
    n, o, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    cols = im2col(x, kh, kw, stride, padding, dilation, (oh, ow))
    y = backend.get_array_module(x).matmul(_grouped(w, groups),
                                           cols.reshape(n, groups, -1, oh * ow))
    return y.reshape(n, o, oh, ow)


def conv2d_backward_input_arrays(gy, w, x_shape, stride, padding, dilation, groups=1):
    """conv.py's conv2d_backward_input_cuda, with col2im as array slices."""
    op = "conv2d_backward_input_arrays"
    check_arrays(op, gy, w)
    oh, ow = check_conv2d(op, x_shape, w.shape, stride, padding, dilation, groups)
    n, o, kh, kw = x_shape[0], w.shape[0], w.shape[2], w.shape[3]
    check_gradient(op, gy, (n, o, oh, ow))
    gy, w = contiguous(gy, w)
    gcols = backend.get_array_module(gy).matmul(
        _grouped(w, groups).transpose(0, 2, 1), gy.reshape(n, groups, o // groups, oh * ow))
    return col2im(gcols, x_shape, kh, kw, stride, padding, dilation, (oh, ow))


def conv2d_backward_weight_arrays(gy, x, w_shape, stride, padding, dilation, groups=1):
    """conv.py's conv2d_backward_weight_cuda, with im2col as array slices."""
    op = "conv2d_backward_weight_arrays"
    check_arrays(op, gy, x)
    oh, ow = check_conv2d(op, x.shape, w_shape, stride, padding, dilation, groups)
    n, o, kh, kw = x.shape[0], w_shape[0], w_shape[2], w_shape[3]
    check_gradient(op, gy, (n, o, oh, ow))
    gy, x = contiguous(gy, x)
    cols = im2col(x, kh, kw, stride, padding, dilation, (oh, ow))
    per_image = backend.get_array_module(x).matmul(
        gy.reshape(n, groups, o // groups, oh * ow),
        cols.reshape(n, groups, -1, oh * ow).transpose(0, 1, 3, 2))
    return per_image.sum(axis=0).reshape(tuple(w_shape))


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------
def _offset_pixel(xp, i, j, x_shape, stride, padding, dilation, out):
    """For kernel offset (i, j), two (OH, OW) device arrays: the flat index row * W + column
    of the pixel each window reads there, and whether that pixel is inside the input."""
    rows = xp.arange(out[0])[:, None] * stride[0] - padding[0] + i * dilation[0]
    cols = xp.arange(out[1])[None, :] * stride[1] - padding[1] + j * dilation[1]
    inside = (rows >= 0) & (rows < x_shape[2]) & (cols >= 0) & (cols < x_shape[3])
    return rows * x_shape[3] + cols, inside


def _divisors(xp, x_shape, kernel, stride, padding, out, count_include_pad, divisor_override,
              dtype):
    """(OH, OW): what average pooling divides each window's sum by, made on the host (a
    small table) and copied to the device."""
    if divisor_override:
        return xp.full(out, divisor_override, dtype=dtype)
    counts = []
    for a in range(2):
        start = np.arange(out[a]) * stride[a] - padding[a]
        end = np.minimum(start + kernel[a], x_shape[2 + a] + padding[a])
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, x_shape[2 + a])
        counts.append(end - start)
    return xp.asarray(np.outer(*counts).astype(dtype))


def max_pool2d_forward_arrays(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """(y, argmax) as pool.py's kernel: a running maximum over the offsets, remembering
    where it came from (a NaN wins and stays; ties keep the first)."""
    op = "max_pool2d_forward_arrays"
    check_arrays(op, x)
    out = check_pool2d(op, x.shape, kernel, stride, padding, dilation, ceil_mode)
    xp = backend.get_array_module(x)
    y = xp.full(x.shape[:2] + out, -xp.inf, dtype=x.dtype)
    argmax = xp.full(y.shape, -1, dtype=xp.int64)
    padded = _padded(x, kernel, stride, padding, dilation, out, -np.inf)
    for i, j, taps in _offsets(padded, kernel, stride, dilation, out):
        flat, inside = _offset_pixel(xp, i, j, x.shape, stride, padding, dilation, out)
        better = inside & ((argmax < 0) | (taps > y) | (xp.isnan(taps) & ~xp.isnan(y)))
        y = xp.where(better, taps, y)
        argmax = xp.where(better, flat, argmax)
    return y, argmax


def max_pool2d_backward_arrays(gy, argmax, x_shape, kernel, stride, padding, dilation=(1, 1),
                               ceil_mode=False):
    """gx: for each offset, the windows whose maximum is that offset's pixel add their
    gradient into it."""
    op = "max_pool2d_backward_arrays"
    check_arrays(op, gy)
    out = check_pool2d(op, x_shape, kernel, stride, padding, dilation, ceil_mode)
    check_gradient(op, gy, tuple(x_shape[:2]) + out)
    check_argmax(op, argmax, gy)
    xp = backend.get_array_module(gy)
    padded = _padded(xp.zeros(tuple(x_shape), dtype=gy.dtype), kernel, stride, padding,
                     dilation, out)
    for i, j, taps in _offsets(padded, kernel, stride, dilation, out):
        flat, inside = _offset_pixel(xp, i, j, x_shape, stride, padding, dilation, out)
        taps += xp.where(inside & (argmax == flat), gy, 0)
    return _cropped(padded, padding, x_shape)


def avg_pool2d_forward_arrays(x, kernel, stride, padding, ceil_mode=False,
                              count_include_pad=True, divisor_override=None):
    """The sum of the offsets' slices of the zero-padded input, divided per window."""
    op = "avg_pool2d_forward_arrays"
    check_arrays(op, x)
    out = check_pool2d(op, x.shape, kernel, stride, padding, (1, 1), ceil_mode)
    count_include_pad, divisor_override = averaging(op, count_include_pad, divisor_override)
    xp = backend.get_array_module(x)
    total = xp.zeros(x.shape[:2] + out, dtype=x.dtype)
    for _, _, taps in _offsets(_padded(x, kernel, stride, padding, (1, 1), out), kernel,
                               stride, (1, 1), out):
        total += taps
    return total / _divisors(xp, x.shape, kernel, stride, padding, out, count_include_pad,
                             divisor_override, x.dtype)


def avg_pool2d_backward_arrays(gy, x_shape, kernel, stride, padding, ceil_mode=False,
                               count_include_pad=True, divisor_override=None):
    """gy / divisor added into every offset's slice of a padded zero image, then cropped."""
    op = "avg_pool2d_backward_arrays"
    check_arrays(op, gy)
    out = check_pool2d(op, x_shape, kernel, stride, padding, (1, 1), ceil_mode)
    check_gradient(op, gy, tuple(x_shape[:2]) + out)
    count_include_pad, divisor_override = averaging(op, count_include_pad, divisor_override)
    xp = backend.get_array_module(gy)
    share = gy / _divisors(xp, x_shape, kernel, stride, padding, out, count_include_pad,
                           divisor_override, gy.dtype)
    padded = _padded(xp.zeros(tuple(x_shape), dtype=gy.dtype), kernel, stride, padding,
                     (1, 1), out)
    for _, _, taps in _offsets(padded, kernel, stride, (1, 1), out):
        taps += share
    return _cropped(padded, padding, x_shape)
