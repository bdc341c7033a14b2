"""Max and average pooling on NCHW arrays, forward and backward.

Window (oh, ow) of plane x[n, c] starts at row oh*SH - PH and column ow*SW - PW
and takes KH x KW elements, DH rows and DW columns apart (dilation; max pooling
only). kernel = (KH, KW), stride = (SH, SW), padding = (PH, PW). The number of
windows along an axis follows PyTorch (`pooled_size`):

    OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1              (the same for OW)

or, with ceil_mode, the division rounded up, so that a last, shorter window
covers the rows that are left over, as long as it starts inside the input or
its top padding.

Max pooling never picks padding and also returns `argmax`, an int64 array
shaped like the output: for each output, the flat index row * W + column into
its (n, c) plane of the *unpadded* input (PyTorch's `return_indices`).
Backward sends each output gradient to that pixel; when windows overlap, a
pixel that is the maximum of several windows receives the sum. The numpy and
numba versions use this same convention, so they are interchangeable. As in
PyTorch, a NaN in a window is its maximum. Ties go to the first element in the
window's row-major order, which is what PyTorch's CPU kernel picks too.

Average pooling divides each window's sum by (PyTorch's rules, `_divisors`):
divisor_override if given; else, with count_include_pad (the default), the
number of its elements inside the padded input (padding counts as zeros, but
the part of a ceil_mode window past the padding does not count); else the
number inside the input itself. Backward spreads each gradient over its
window's pixels, divided the same way.

Three versions: `*_reference` (plain loops, for tests), `*_numpy` (one
vectorized operation per kernel offset, KH*KW of them) and `*_numba` (one
parallel task per (n, c) plane, compiled loops).
"""
import numpy as np
from numba import njit, prange, uint64

from . import compiling  # noqa: F401 (the first compilation says so)
from .geometry import check_grad_shape, check_pool


# ----------------------------------------------------------------------------
# argument checks (the window arithmetic is in geometry.py)
# ----------------------------------------------------------------------------
def _check(op, x_shape, kernel, stride, padding, dilation, ceil_mode, dtype):
    """Raise a ValueError naming op unless the pooling of a float (N, C, H, W) input is
    defined; return (OH, OW)."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"{op}: input must be float32 or float64, got {np.dtype(dtype)}")
    return check_pool(op, x_shape, kernel, stride, padding, dilation, ceil_mode)


def _check_grad(op, gy, x_shape, oh, ow):
    check_grad_shape(op, gy.shape, tuple(x_shape[:2]) + (oh, ow))


def _divisors(x_shape, kernel, stride, padding, out, count_include_pad, divisor_override,
              dtype):
    """(OH, OW): what average pooling divides each window's sum by (module docstring).
    A window's count is its count of rows times its count of columns."""
    if divisor_override is not None:
        return np.full(out, divisor_override, dtype=dtype)
    counts = []
    for a in range(2):
        start = np.arange(out[a]) * stride[a] - padding[a]
        end = np.minimum(start + kernel[a], x_shape[2 + a] + padding[a])  # in the padded input
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, x_shape[2 + a])
        counts.append(end - start)
    return np.outer(*counts).astype(dtype)


# ----------------------------------------------------------------------------
# reference: plain loops
# ----------------------------------------------------------------------------
def max_pool2d_reference(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """(y, argmax) by scanning each window. Small sizes only."""
    x = np.asarray(x)
    oh_, ow_ = _check("max_pool2d_reference", x.shape, kernel, stride, padding, dilation,
                      ceil_mode, x.dtype)
    n_, c_, h_, w_ = x.shape
    y = np.empty((n_, c_, oh_, ow_), dtype=x.dtype)
    argmax = np.empty((n_, c_, oh_, ow_), dtype=np.int64)
    for n in range(n_):
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    best, where = -np.inf, -1
                    for i in range(kernel[0]):
                        for j in range(kernel[1]):
                            r = oh * stride[0] - padding[0] + i * dilation[0]
                            s = ow * stride[1] - padding[1] + j * dilation[1]
                            if 0 <= r < h_ and 0 <= s < w_:
                                v = x[n, c, r, s]
                                if where < 0 or v > best or (np.isnan(v) and not np.isnan(best)):
                                    best, where = v, r * w_ + s
                    y[n, c, oh, ow], argmax[n, c, oh, ow] = best, where
    return y, argmax


def avg_pool2d_reference(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True,
                         divisor_override=None):
    """The mean of each window, divided as the module docstring says. Small sizes only."""
    x = np.asarray(x)
    oh_, ow_ = _check("avg_pool2d_reference", x.shape, kernel, stride, padding, (1, 1),
                      ceil_mode, x.dtype)
    n_, c_, h_, w_ = x.shape
    y = np.zeros((n_, c_, oh_, ow_))
    for n in range(n_):
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    total, in_input, in_padded = 0.0, 0, 0
                    for i in range(kernel[0]):
                        for j in range(kernel[1]):
                            r = oh * stride[0] - padding[0] + i
                            s = ow * stride[1] - padding[1] + j
                            if -padding[0] <= r < h_ + padding[0] and \
                                    -padding[1] <= s < w_ + padding[1]:
                                in_padded += 1
                            if 0 <= r < h_ and 0 <= s < w_:
                                total += x[n, c, r, s]
                                in_input += 1
                    divisor = in_padded if count_include_pad else in_input
                    if divisor_override is not None:
                        divisor = divisor_override
                    y[n, c, oh, ow] = total / divisor
    return y.astype(x.dtype)


# ----------------------------------------------------------------------------
# numpy: one strided view per kernel offset (i, j)
# ----------------------------------------------------------------------------
def _padded(x, kernel, stride, padding, dilation, out, value):
    """x with `padding` rows/columns of `value` on each side, and more at the bottom and
    right if ceil_mode's last window reaches further."""
    widths = [(0, 0), (0, 0)]
    for a in range(2):
        reach = (out[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
        after = max(padding[a], reach - x.shape[2 + a] - padding[a])
        widths.append((padding[a], after))
    return np.pad(x, widths, constant_values=value)


def _offset_views(padded, kernel, stride, dilation, out):
    """For each kernel offset (i, j): i, j and the (N, C, OH, OW) view of `padded`
    holding element (i, j) of every window. KH*KW views, no copies."""
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, padded[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                               j * dw:j * dw + sw * (ow - 1) + 1:sw]


def _offset_index(i, j, x_shape, stride, padding, dilation, out):
    """For kernel offset (i, j), two (OH, OW) arrays: the unpadded flat index
    row * W + column that each window reads there, and whether it is inside x."""
    rows = np.arange(out[0])[:, None] * stride[0] - padding[0] + i * dilation[0]
    cols = np.arange(out[1])[None, :] * stride[1] - padding[1] + j * dilation[1]
    inside = (rows >= 0) & (rows < x_shape[2]) & (cols >= 0) & (cols < x_shape[3])
    return rows * x_shape[3] + cols, inside


def max_pool2d_forward_numpy(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """Running maximum over the KH*KW offset views, remembering where it came from."""
    out = _check("max_pool2d_forward_numpy", x.shape, kernel, stride, padding, dilation,
                 ceil_mode, x.dtype)
    y = np.full(x.shape[:2] + out, -np.inf, dtype=x.dtype)
    argmax = np.full(y.shape, -1, dtype=np.int64)
    padded = _padded(x, kernel, stride, padding, dilation, out, -np.inf)
    for i, j, view in _offset_views(padded, kernel, stride, dilation, out):
        flat, inside = _offset_index(i, j, x.shape, stride, padding, dilation, out)
        # the first pixel inside the image seeds each window; after that strictly
        # greater wins (ties keep the first), and a NaN takes over and stays
        better = inside & ((argmax < 0) | (view > y) | (np.isnan(view) & ~np.isnan(y)))
        y = np.where(better, view, y)
        argmax = np.where(better, flat, argmax)
    return y, argmax


def max_pool2d_backward_numpy(gy, argmax, x_shape, kernel, stride, padding, dilation=(1, 1),
                              ceil_mode=False):
    """dx[n, c].flat[argmax] += gy, with repeated indices adding up (np.add.at)."""
    oh, ow = _check("max_pool2d_backward_numpy", x_shape, kernel, stride, padding, dilation,
                    ceil_mode, gy.dtype)
    _check_grad("max_pool2d_backward_numpy", gy, x_shape, oh, ow)
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dtype=gy.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, argmax.reshape(n * c, oh * ow)), gy.reshape(n * c, oh * ow))
    return dx.reshape(x_shape)


def avg_pool2d_forward_numpy(x, kernel, stride, padding, ceil_mode=False,
                             count_include_pad=True, divisor_override=None):
    """Sum of the KH*KW offset views of the zero-padded input, divided per window."""
    out = _check("avg_pool2d_forward_numpy", x.shape, kernel, stride, padding, (1, 1),
                 ceil_mode, x.dtype)
    total = np.zeros(x.shape[:2] + out, dtype=x.dtype)
    padded = _padded(x, kernel, stride, padding, (1, 1), out, 0)
    for _, _, view in _offset_views(padded, kernel, stride, (1, 1), out):
        total += view
    return total / _divisors(x.shape, kernel, stride, padding, out, count_include_pad,
                             divisor_override, x.dtype)


def avg_pool2d_backward_numpy(gy, x_shape, kernel, stride, padding, ceil_mode=False,
                              count_include_pad=True, divisor_override=None):
    """Add gy / divisor into each offset view of a padded zero image, then crop."""
    out = _check("avg_pool2d_backward_numpy", x_shape, kernel, stride, padding, (1, 1),
                 ceil_mode, gy.dtype)
    _check_grad("avg_pool2d_backward_numpy", gy, x_shape, *out)
    ph, pw = padding
    dxp = _padded(np.zeros(x_shape, dtype=gy.dtype), kernel, stride, padding, (1, 1), out, 0)
    share = gy / _divisors(x_shape, kernel, stride, padding, out, count_include_pad,
                           divisor_override, gy.dtype)
    for _, _, view in _offset_views(dxp, kernel, stride, (1, 1), out):
        view += share
    return np.ascontiguousarray(dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]])


# ----------------------------------------------------------------------------
# numba: one parallel task per (n, c) plane
# ----------------------------------------------------------------------------
# Three things make these loops fast (measured one at a time, one thread, on 2x2 max
# pooling of 64x8x26x26: together about 4x faster than the plain loops they replaced):
# - No data-dependent branch in max pooling. "Is this tap the new maximum?" is a
#   coin toss on real data, and a mispredicted branch costs more than the
#   comparison. `_better` combines its comparisons with & and | (which evaluate
#   both sides), not `and`/`or` (which jump), so LLVM selects the new maximum
#   without a branch. The largest gain of the three.
# - No division per window: which taps of each window lie inside the input is
#   worked out once per call, per axis, with NumPy (`_tap_ranges`), not in the loops.
# - Flat, unsigned indices: numba tests each signed index for being negative
#   (Python's a[-1]); unsigned ones need no test.
def _tap_ranges(out, k, stride, padding, dilation, size):
    """(out, 2) int64: for each window along an axis, the range [lo, hi) of its taps i whose
    position start + i * dilation lies inside [0, size) (start = window * stride - padding)."""
    start = np.arange(out) * stride - padding
    lo = np.maximum(0, -(start // dilation))                # ceil(-start / dilation)
    hi = np.minimum(k, -((start - size) // dilation))       # ceil((size - start) / dilation)
    return np.stack([lo, np.maximum(lo, hi)], axis=1).astype(np.int64)


def _window_taps(x_shape, kernel, stride, padding, dilation, out):
    """The (rows, cols) tables of _tap_ranges for both axes."""
    return tuple(_tap_ranges(out[a], kernel[a], stride[a], padding[a], dilation[a],
                             x_shape[2 + a]) for a in range(2))


@njit(inline="always", cache=True)
def _better(v, best):
    """Whether the tap value v takes over the window's maximum so far: strictly greater (a tie
    keeps the first), or the first NaN (which then stays). A value to select with."""
    return (v > best) | ((v != v) & (best == best))


@njit(parallel=True, cache=True)
def _max_pool_planes(x, y, argmax, rows, cols, sh, sw, ph, pw, dh, dw):
    """y, argmax of each window, over its taps inside x: rows[r] and cols[s] (_tap_ranges)."""
    n_, c_, h_, w_ = x.shape
    oh, ow = y.shape[2], y.shape[3]
    xf, yf, af = x.reshape(-1), y.reshape(-1), argmax.reshape(-1)
    for task in prange(n_ * c_):
        plane, out = uint64(task * h_ * w_), uint64(task * oh * ow)
        for r in range(oh):
            top = r * sh - ph
            for s in range(ow):
                left = s * sw - pw
                where = uint64((top + rows[r, 0] * dh) * w_ + left + cols[s, 0] * dw)
                best = xf[plane + where]  # the first tap inside starts the scan
                for i in range(rows[r, 0], rows[r, 1]):
                    for j in range(cols[s, 0], cols[s, 1]):
                        at = uint64((top + i * dh) * w_ + left + j * dw)
                        v = xf[plane + at]
                        better = _better(v, best)
                        best = v if better else best
                        where = at if better else where
                yf[out + uint64(r * ow + s)] = best
                af[out + uint64(r * ow + s)] = where


@njit(parallel=True, cache=True)
def _max_unpool_planes(gy, argmax, dx):
    """dx[n, c].flat[argmax[n, c]] += gy[n, c], plane by plane."""
    n_, c_, h_, w_ = dx.shape
    per_plane = gy.shape[2] * gy.shape[3]
    gf, af, df = gy.reshape(-1), argmax.reshape(-1), dx.reshape(-1)
    for task in prange(n_ * c_):
        plane = uint64(task * h_ * w_)
        for t in range(uint64(task * per_plane), uint64((task + 1) * per_plane)):
            df[plane + uint64(af[t])] += gf[t]


@njit(parallel=True, cache=True)
def _avg_pool_planes(x, y, divisors, rows, cols, sh, sw, ph, pw):
    """y = the sum of each window's taps inside x (rows[r], cols[s]) / its divisor."""
    n_, c_, h_, w_ = x.shape
    oh, ow = y.shape[2], y.shape[3]
    xf, yf = x.reshape(-1), y.reshape(-1)
    for task in prange(n_ * c_):
        plane, out = uint64(task * h_ * w_), uint64(task * oh * ow)
        for r in range(oh):
            for s in range(ow):
                left, width = s * sw - pw + cols[s, 0], uint64(cols[s, 1] - cols[s, 0])
                total = 0.0
                for i in range(rows[r, 0], rows[r, 1]):
                    at = plane + uint64((r * sh - ph + i) * w_ + left)
                    for j in range(width):
                        total += xf[at + j]
                yf[out + uint64(r * ow + s)] = total / divisors[r, s]


@njit(parallel=True, cache=True)
def _avg_unpool_planes(gy, dx, divisors, rows, cols, sh, sw, ph, pw):
    """dx += gy / divisor on every tap inside x of each window."""
    n_, c_, h_, w_ = dx.shape
    oh, ow = gy.shape[2], gy.shape[3]
    gf, df = gy.reshape(-1), dx.reshape(-1)
    for task in prange(n_ * c_):
        plane, out = uint64(task * h_ * w_), uint64(task * oh * ow)
        for r in range(oh):
            for s in range(ow):
                left, width = s * sw - pw + cols[s, 0], uint64(cols[s, 1] - cols[s, 0])
                share = gf[out + uint64(r * ow + s)] / divisors[r, s]
                for i in range(rows[r, 0], rows[r, 1]):
                    at = plane + uint64((r * sh - ph + i) * w_ + left)
                    for j in range(width):
                        df[at + j] += share


def max_pool2d_forward_numba(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """(y, argmax) as max_pool2d_forward_numpy, compiled and parallel over planes."""
    out = _check("max_pool2d_forward_numba", x.shape, kernel, stride, padding, dilation,
                 ceil_mode, x.dtype)
    y = np.empty(x.shape[:2] + out, dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int64)
    taps = _window_taps(x.shape, kernel, stride, padding, dilation, out)
    _max_pool_planes(np.ascontiguousarray(x), y, argmax, *taps, *stride, *padding, *dilation)
    return y, argmax


def max_pool2d_backward_numba(gy, argmax, x_shape, kernel, stride, padding, dilation=(1, 1),
                              ceil_mode=False):
    """dx with each gy added at its argmax pixel (overlapping windows add up)."""
    oh, ow = _check("max_pool2d_backward_numba", x_shape, kernel, stride, padding, dilation,
                    ceil_mode, gy.dtype)
    _check_grad("max_pool2d_backward_numba", gy, x_shape, oh, ow)
    dx = np.zeros(tuple(x_shape), dtype=gy.dtype)
    _max_unpool_planes(np.ascontiguousarray(gy), np.ascontiguousarray(argmax, dtype=np.int64),
                       dx)
    return dx


def avg_pool2d_forward_numba(x, kernel, stride, padding, ceil_mode=False,
                             count_include_pad=True, divisor_override=None):
    """Window sums divided per window, compiled and parallel over planes."""
    out = _check("avg_pool2d_forward_numba", x.shape, kernel, stride, padding, (1, 1),
                 ceil_mode, x.dtype)
    y = np.empty(x.shape[:2] + out, dtype=x.dtype)
    divisors = _divisors(x.shape, kernel, stride, padding, out, count_include_pad,
                         divisor_override, x.dtype)
    taps = _window_taps(x.shape, kernel, stride, padding, (1, 1), out)
    _avg_pool_planes(np.ascontiguousarray(x), y, divisors, *taps, *stride, *padding)
    return y


def avg_pool2d_backward_numba(gy, x_shape, kernel, stride, padding, ceil_mode=False,
                              count_include_pad=True, divisor_override=None):
    """dx with gy / divisor added to every pixel of each window."""
    out = _check("avg_pool2d_backward_numba", x_shape, kernel, stride, padding, (1, 1),
                 ceil_mode, gy.dtype)
    _check_grad("avg_pool2d_backward_numba", gy, x_shape, *out)
    dx = np.zeros(tuple(x_shape), dtype=gy.dtype)
    divisors = _divisors(x_shape, kernel, stride, padding, out, count_include_pad,
                         divisor_override, gy.dtype)
    taps = _window_taps(x_shape, kernel, stride, padding, (1, 1), out)
    _avg_unpool_planes(np.ascontiguousarray(gy), dx, divisors, *taps, *stride, *padding)
    return dx
