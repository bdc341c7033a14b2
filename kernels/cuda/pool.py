"""Max and average pooling on the GPU, forward and backward, with PyTorch's options.

The meaning is that of kernels/pool.py (its module docstring has the window
arithmetic): window (oh, ow) of plane x[n, c] starts at row oh*SH - PH and
column ow*SW - PW and takes KH x KW taps, DH rows and DW columns apart
(dilation, max pooling only); ceil_mode only changes how many windows there
are (OH, OW, worked out on the host by kernels/geometry.py), as the kernels
test every tap against the input's edges anyway. Max pooling returns argmax,
the flat index row * W + column of each window's maximum in its input plane;
a NaN is its window's maximum, and ties go to the first tap in row-major
order. Average pooling divides each window's sum by divisor_override if given,
else by its count of taps inside the padded input (count_include_pad) or
inside the input itself.

Which thread handles which data:

forward (both): one thread per output element y[n, c, oh, ow], numbered in y's
  row-major order (ow fastest). The thread scans its window and writes one
  number (and, for max pooling, its argmax). Neighbouring threads read
  neighbouring windows, SW columns apart: cached reads.

backward (both): one thread per input element gx[n, c, h, w] (a gather, as in
  conv.py's col2im). The windows that contain pixel (h, w) are found by
  solving h = oh*SH - PH + i*DH for each tap row i (oh must be a whole number in
  [0, OH)), and the same for the columns. Max pooling adds the output gradient
  of each such window whose argmax is this pixel; average pooling adds each
  window's gradient divided by its divisor. Each thread writes only its own
  pixel: no atomics, and the same sum on every run.
"""
import numba
from numba import cuda

from ... import backend
from .checks import (averaging, check_argmax, check_arrays, check_gradient, check_pool2d,
                     contiguous)
from .launch import THREADS, blocks_for, launch


# ----------------------------------------------------------------------------
# the kernels
# ----------------------------------------------------------------------------
@cuda.jit
def max_pool2d_forward_kernel(x, y, argmax, kh, kw, sh, sw, ph, pw, dh, dw):
    index = cuda.grid(1)
    if index >= y.size:
        return
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    oh, ow = y.shape[2], y.shape[3]
    s = index % ow
    rest = index // ow
    r = rest % oh
    rest //= oh
    c = rest % c_
    n = rest // c_

    best = x.dtype.type(0)
    best_at = -1  # no tap seen yet: every window has one inside (geometry.check_pool)
    for i in range(kh):
        row = r * sh - ph + i * dh
        if row < 0 or row >= h_:
            continue
        for j in range(kw):
            col = s * sw - pw + j * dw
            if col < 0 or col >= w_:
                continue
            v = x[n, c, row, col]
            nan_over_number = v != v and best == best  # only NaN differs from itself
            if best_at < 0 or v > best or nan_over_number:
                best = v
                best_at = row * w_ + col
    y[n, c, r, s] = best
    argmax[n, c, r, s] = best_at


@cuda.jit
def max_pool2d_backward_kernel(gy, argmax, gx, kh, kw, sh, sw, ph, pw, dh, dw):
    index = cuda.grid(1)
    if index >= gx.size:
        return
    c_, h_, w_ = gx.shape[1], gx.shape[2], gx.shape[3]
    oh, ow = gy.shape[2], gy.shape[3]
    w = index % w_
    rest = index // w_
    h = rest % h_
    rest //= h_
    c = rest % c_
    n = rest // c_

    total = gx.dtype.type(0)
    for i in range(kh):
        r_strided = h + ph - i * dh  # = r * SH when tap row i of window r is at h
        if r_strided < 0 or r_strided % sh != 0 or r_strided // sh >= oh:
            continue
        r = r_strided // sh
        for j in range(kw):
            s_strided = w + pw - j * dw
            if s_strided < 0 or s_strided % sw != 0 or s_strided // sw >= ow:
                continue
            s = s_strided // sw
            if argmax[n, c, r, s] == h * w_ + w:
                total += gy[n, c, r, s]
    gx[n, c, h, w] = total


@cuda.jit
def avg_pool2d_forward_kernel(x, y, kh, kw, sh, sw, ph, pw, count_include_pad,
                              divisor_override):
    index = cuda.grid(1)
    if index >= y.size:
        return
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    oh, ow = y.shape[2], y.shape[3]
    s = index % ow
    rest = index // ow
    r = rest % oh
    rest //= oh
    c = rest % c_
    n = rest // c_

    total = x.dtype.type(0)
    for i in range(kh):
        row = r * sh - ph + i
        if row < 0 or row >= h_:
            continue
        for j in range(kw):
            col = s * sw - pw + j
            if 0 <= col < w_:
                total += x[n, c, row, col]
    # the divisor: divisor_override, or the window's taps inside the padded input
    # (count_include_pad) or inside the input. Written out in both average pooling
    # kernels: a device function could not be compiled to PTX without a GPU present.
    divisor = divisor_override
    if divisor == 0:
        top, left = r * sh - ph, s * sw - pw
        bottom, right = min(top + kh, h_ + ph), min(left + kw, w_ + pw)
        if not count_include_pad:
            top, bottom = max(top, 0), min(bottom, h_)
            left, right = max(left, 0), min(right, w_)
        divisor = (bottom - top) * (right - left)
    y[n, c, r, s] = total / x.dtype.type(divisor)


@cuda.jit
def avg_pool2d_backward_kernel(gy, gx, kh, kw, sh, sw, ph, pw, count_include_pad,
                               divisor_override):
    index = cuda.grid(1)
    if index >= gx.size:
        return
    c_, h_, w_ = gx.shape[1], gx.shape[2], gx.shape[3]
    oh, ow = gy.shape[2], gy.shape[3]
    w = index % w_
    rest = index // w_
    h = rest % h_
    rest //= h_
    c = rest % c_
    n = rest // c_

    total = gx.dtype.type(0)
    for i in range(kh):
        r_strided = h + ph - i
        if r_strided < 0 or r_strided % sh != 0 or r_strided // sh >= oh:
            continue
        r = r_strided // sh
        for j in range(kw):
            s_strided = w + pw - j
            if s_strided < 0 or s_strided % sw != 0 or s_strided // sw >= ow:
                continue
            s = s_strided // sw
            # the divisor: divisor_override, or the window's taps inside the padded input
            # (count_include_pad) or inside the input. Written out in both average pooling
            # kernels: a device function could not be compiled to PTX without a GPU present.
            divisor = divisor_override
            if divisor == 0:
                top, left = r * sh - ph, s * sw - pw
                bottom, right = min(top + kh, h_ + ph), min(left + kw, w_ + pw)
                if not count_include_pad:
                    top, bottom = max(top, 0), min(bottom, h_)
                    left, right = max(left, 0), min(right, w_)
                divisor = (bottom - top) * (right - left)
            total += gy[n, c, r, s] / gx.dtype.type(divisor)
    gx[n, c, h, w] = total


def signatures(dtype):
    """Each kernel with the argument types launch() gives it for arrays of dtype."""
    image = numba.types.Array(numba.from_dtype(dtype), 4, "C")
    index = numba.types.Array(numba.types.int64, 4, "C")
    i64, boolean = numba.types.int64, numba.types.boolean
    geometry_and_division = (i64,) * 6 + (boolean, i64)
    return {
        max_pool2d_forward_kernel: (image, image, index) + (i64,) * 8,
        max_pool2d_backward_kernel: (image, index, image) + (i64,) * 8,
        avg_pool2d_forward_kernel: (image, image) + geometry_and_division,
        avg_pool2d_backward_kernel: (image, image) + geometry_and_division,
    }


# ----------------------------------------------------------------------------
# the callers: the kernel table's pooling fields
# ----------------------------------------------------------------------------
def max_pool2d_forward_cuda(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """(y, argmax): each window's maximum, and its flat index h*W + w in the input plane."""
    op = "max_pool2d_forward_cuda"
    check_arrays(op, x)
    out = check_pool2d(op, x.shape, kernel, stride, padding, dilation, ceil_mode)
    x, = contiguous(x)
    xp = backend.get_array_module(x)
    y = xp.empty(x.shape[:2] + out, dtype=x.dtype)
    argmax = xp.empty(y.shape, dtype=xp.int64)
    launch(max_pool2d_forward_kernel, blocks_for(y.size), THREADS, x, y, argmax,
           *kernel, *stride, *padding, *dilation)
    return y, argmax


def max_pool2d_backward_cuda(gy, argmax, x_shape, kernel, stride, padding, dilation=(1, 1),
                             ceil_mode=False):
    """gx (x_shape): each output gradient goes to the input element that was its maximum
    (a pixel that is the maximum of several windows gets the sum)."""
    op = "max_pool2d_backward_cuda"
    check_arrays(op, gy)
    out = check_pool2d(op, x_shape, kernel, stride, padding, dilation, ceil_mode)
    check_gradient(op, gy, tuple(x_shape[:2]) + out)
    check_argmax(op, argmax, gy)
    xp = backend.get_array_module(gy)
    gy, = contiguous(gy)
    argmax = xp.ascontiguousarray(argmax, dtype=xp.int64)
    gx = xp.empty(tuple(x_shape), dtype=gy.dtype)
    launch(max_pool2d_backward_kernel, blocks_for(gx.size), THREADS, gy, argmax, gx,
           *kernel, *stride, *padding, *dilation)
    return gx


def avg_pool2d_forward_cuda(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True,
                            divisor_override=None):
    """The mean of each window, divided as the module docstring says."""
    op = "avg_pool2d_forward_cuda"
    check_arrays(op, x)
    out = check_pool2d(op, x.shape, kernel, stride, padding, (1, 1), ceil_mode)
    division = averaging(op, count_include_pad, divisor_override)
    x, = contiguous(x)
    y = backend.get_array_module(x).empty(x.shape[:2] + out, dtype=x.dtype)
    launch(avg_pool2d_forward_kernel, blocks_for(y.size), THREADS, x, y,
           *kernel, *stride, *padding, *division)
    return y


def avg_pool2d_backward_cuda(gy, x_shape, kernel, stride, padding, ceil_mode=False,
                             count_include_pad=True, divisor_override=None):
    """gx (x_shape): each output gradient spread over its window, divided the same way."""
    op = "avg_pool2d_backward_cuda"
    check_arrays(op, gy)
    out = check_pool2d(op, x_shape, kernel, stride, padding, (1, 1), ceil_mode)
    check_gradient(op, gy, tuple(x_shape[:2]) + out)
    division = averaging(op, count_include_pad, divisor_override)
    gy, = contiguous(gy)
    gx = backend.get_array_module(gy).empty(tuple(x_shape), dtype=gy.dtype)
    launch(avg_pool2d_backward_kernel, blocks_for(gx.size), THREADS, gy, gx,
           *kernel, *stride, *padding, *division)
    return gx
