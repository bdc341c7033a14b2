"""Max and average pooling on NCHW arrays, forward and backward.

Window (oh, ow) of plane x[n, c] covers rows oh*SH - PH ... oh*SH - PH + KH - 1 and
columns ow*SW - PW ... ow*SW - PW + KW - 1, with kernel = (KH, KW), stride =
(SH, SW), padding = (PH, PW), and OH = (H + 2*PH - KH) // SH + 1 (the same for OW).

Max pooling pads with -inf (padding never wins) and also returns `argmax`, an int64
array shaped like the output: for each output, the flat index row * W + column
into its (n, c) plane of the *unpadded* input. Backward sends each output
gradient to that pixel; when windows overlap, a pixel that is the maximum of
several windows receives the sum. The numpy and numba versions use this same
convention, so they are interchangeable. As in PyTorch, a NaN in a window is its
maximum. Ties go to the first element in row-major order.

Average pooling divides every window by KH*KW, padding included (PyTorch's
default count_include_pad=True); backward spreads each gradient evenly.

Three versions: `*_reference` (plain loops, for tests), `*_numpy` (one
vectorized operation per kernel offset, KH*KW of them) and `*_numba` (one
parallel task per (n, c) plane, compiled loops).
"""
import numpy as np
from numba import njit, prange


# ----------------------------------------------------------------------------
# shapes and argument checks
# ----------------------------------------------------------------------------
def _check(op, x_shape, kernel, stride, padding, dtype):
    """Raise a ValueError naming op unless the pooling is defined; return (OH, OW)."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"{op}: input must be float32 or float64, got {np.dtype(dtype)}")
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: need kernel >= 1, stride >= 1, padding >= 0, got "
                         f"kernel={kernel}, stride={stride}, padding={padding}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    oh = (x_shape[2] + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (x_shape[3] + 2 * padding[1] - kernel[1]) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: kernel {kernel} does not fit in input {tuple(x_shape[2:])} "
                         f"with padding {padding}")
    return oh, ow


def _check_grad(op, gy, x_shape, oh, ow):
    expected = tuple(x_shape[:2]) + (oh, ow)
    if gy.shape != expected:
        raise ValueError(f"{op}: output gradient has shape {gy.shape}, expected {expected}")


# ----------------------------------------------------------------------------
# reference: plain loops
# ----------------------------------------------------------------------------
def max_pool2d_reference(x, kernel, stride, padding):
    """(y, argmax) by scanning each window. Small sizes only."""
    x = np.asarray(x)
    oh_, ow_ = _check("max_pool2d_reference", x.shape, kernel, stride, padding, x.dtype)
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
                            r = oh * stride[0] - padding[0] + i
                            s = ow * stride[1] - padding[1] + j
                            if 0 <= r < h_ and 0 <= s < w_:
                                v = x[n, c, r, s]
                                if where < 0 or v > best or (np.isnan(v) and not np.isnan(best)):
                                    best, where = v, r * w_ + s
                    y[n, c, oh, ow], argmax[n, c, oh, ow] = best, where
    return y, argmax


def avg_pool2d_reference(x, kernel, stride, padding):
    """The mean of each window, padding counted as zeros. Small sizes only."""
    x = np.asarray(x)
    oh_, ow_ = _check("avg_pool2d_reference", x.shape, kernel, stride, padding, x.dtype)
    n_, c_, h_, w_ = x.shape
    y = np.zeros((n_, c_, oh_, ow_))
    for n in range(n_):
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    for i in range(kernel[0]):
                        for j in range(kernel[1]):
                            r = oh * stride[0] - padding[0] + i
                            s = ow * stride[1] - padding[1] + j
                            if 0 <= r < h_ and 0 <= s < w_:
                                y[n, c, oh, ow] += x[n, c, r, s]
    return (y / (kernel[0] * kernel[1])).astype(x.dtype)


# ----------------------------------------------------------------------------
# numpy: one strided view per kernel offset (i, j)
# ----------------------------------------------------------------------------
def _offset_views(padded, kernel, stride, oh, ow):
    """For each kernel offset (i, j): i, j and the (N, C, OH, OW) view of `padded`
    holding element (i, j) of every window. KH*KW views, no copies."""
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, padded[:, :, i:i + stride[0] * (oh - 1) + 1:stride[0],
                               j:j + stride[1] * (ow - 1) + 1:stride[1]]


def _padded(x, padding, value):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _offset_index(i, j, x_shape, stride, padding, oh, ow):
    """For kernel offset (i, j), two (OH, OW) arrays: the unpadded flat index
    row * W + column that each window reads there, and whether it is inside x."""
    rows = np.arange(oh)[:, None] * stride[0] - padding[0] + i
    cols = np.arange(ow)[None, :] * stride[1] - padding[1] + j
    inside = (rows >= 0) & (rows < x_shape[2]) & (cols >= 0) & (cols < x_shape[3])
    return rows * x_shape[3] + cols, inside


def max_pool2d_forward_numpy(x, kernel, stride, padding):
    """Running maximum over the KH*KW offset views, remembering where it came from."""
    oh, ow = _check("max_pool2d_forward_numpy", x.shape, kernel, stride, padding, x.dtype)
    y = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=x.dtype)
    argmax = np.full(y.shape, -1, dtype=np.int64)
    for i, j, view in _offset_views(_padded(x, padding, -np.inf), kernel, stride, oh, ow):
        flat, inside = _offset_index(i, j, x.shape, stride, padding, oh, ow)
        # the first pixel inside the image seeds each window; after that strictly
        # greater wins (ties keep the first), and a NaN takes over and stays
        better = inside & ((argmax < 0) | (view > y) | (np.isnan(view) & ~np.isnan(y)))
        y = np.where(better, view, y)
        argmax = np.where(better, flat, argmax)
    return y, argmax


def max_pool2d_backward_numpy(gy, argmax, x_shape, kernel, stride, padding):
    """dx[n, c].flat[argmax] += gy, with repeated indices adding up (np.add.at)."""
    oh, ow = _check("max_pool2d_backward_numpy", x_shape, kernel, stride, padding, gy.dtype)
    _check_grad("max_pool2d_backward_numpy", gy, x_shape, oh, ow)
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dtype=gy.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, argmax.reshape(n * c, -1)), gy.reshape(n * c, -1))
    return dx.reshape(x_shape)


def avg_pool2d_forward_numpy(x, kernel, stride, padding):
    """Sum of the KH*KW offset views of the zero-padded input, divided by KH*KW."""
    oh, ow = _check("avg_pool2d_forward_numpy", x.shape, kernel, stride, padding, x.dtype)
    total = np.zeros(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for _, _, view in _offset_views(_padded(x, padding, 0), kernel, stride, oh, ow):
        total += view
    return total / x.dtype.type(kernel[0] * kernel[1])


def avg_pool2d_backward_numpy(gy, x_shape, kernel, stride, padding):
    """Add gy / (KH*KW) into each offset view of a padded zero image, then crop."""
    oh, ow = _check("avg_pool2d_backward_numpy", x_shape, kernel, stride, padding, gy.dtype)
    _check_grad("avg_pool2d_backward_numpy", gy, x_shape, oh, ow)
    n, c, h, w = x_shape
    ph, pw = padding
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)
    share = gy / gy.dtype.type(kernel[0] * kernel[1])
    for _, _, view in _offset_views(dxp, kernel, stride, oh, ow):
        view += share
    return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + w])


# ----------------------------------------------------------------------------
# numba: one parallel task per (n, c) plane
# ----------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _max_pool_planes(x, y, argmax, kh, kw, sh, sw, ph, pw):
    n_, c_, h_, w_ = x.shape
    for task in prange(n_ * c_):
        n, c = task // c_, task % c_
        for r in range(y.shape[2]):
            for s in range(y.shape[3]):
                best, where = -np.inf, -1
                for i in range(max(0, ph - r * sh), min(kh, h_ + ph - r * sh)):
                    row = r * sh - ph + i
                    for j in range(max(0, pw - s * sw), min(kw, w_ + pw - s * sw)):
                        v = x[n, c, row, s * sw - pw + j]
                        # the loops visit only pixels inside the image: no -inf needed
                        if where < 0 or v > best or (np.isnan(v) and not np.isnan(best)):
                            best, where = v, row * w_ + s * sw - pw + j
                y[n, c, r, s] = best
                argmax[n, c, r, s] = where


@njit(parallel=True, cache=True)
def _max_unpool_planes(gy, argmax, dx):
    n_, c_, h_, w_ = dx.shape
    for task in prange(n_ * c_):
        n, c = task // c_, task % c_
        for r in range(gy.shape[2]):
            for s in range(gy.shape[3]):
                k = argmax[n, c, r, s]
                dx[n, c, k // w_, k % w_] += gy[n, c, r, s]


@njit(parallel=True, cache=True)
def _avg_pool_planes(x, y, kh, kw, sh, sw, ph, pw):
    n_, c_, h_, w_ = x.shape
    for task in prange(n_ * c_):
        n, c = task // c_, task % c_
        for r in range(y.shape[2]):
            for s in range(y.shape[3]):
                total = 0.0
                for i in range(max(0, ph - r * sh), min(kh, h_ + ph - r * sh)):
                    for j in range(max(0, pw - s * sw), min(kw, w_ + pw - s * sw)):
                        total += x[n, c, r * sh - ph + i, s * sw - pw + j]
                y[n, c, r, s] = total / (kh * kw)


@njit(parallel=True, cache=True)
def _avg_unpool_planes(gy, dx, kh, kw, sh, sw, ph, pw):
    n_, c_, h_, w_ = dx.shape
    for task in prange(n_ * c_):
        n, c = task // c_, task % c_
        for r in range(gy.shape[2]):
            for s in range(gy.shape[3]):
                share = gy[n, c, r, s] / (kh * kw)
                for i in range(max(0, ph - r * sh), min(kh, h_ + ph - r * sh)):
                    for j in range(max(0, pw - s * sw), min(kw, w_ + pw - s * sw)):
                        dx[n, c, r * sh - ph + i, s * sw - pw + j] += share


def max_pool2d_forward_numba(x, kernel, stride, padding):
    """(y, argmax) as max_pool2d_forward_numpy, compiled and parallel over planes."""
    oh, ow = _check("max_pool2d_forward_numba", x.shape, kernel, stride, padding, x.dtype)
    y = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int64)
    _max_pool_planes(np.ascontiguousarray(x), y, argmax, *kernel, *stride, *padding)
    return y, argmax


def max_pool2d_backward_numba(gy, argmax, x_shape, kernel, stride, padding):
    """dx with each gy added at its argmax pixel (overlapping windows add up)."""
    oh, ow = _check("max_pool2d_backward_numba", x_shape, kernel, stride, padding, gy.dtype)
    _check_grad("max_pool2d_backward_numba", gy, x_shape, oh, ow)
    dx = np.zeros(tuple(x_shape), dtype=gy.dtype)
    _max_unpool_planes(np.ascontiguousarray(gy), np.ascontiguousarray(argmax, dtype=np.int64),
                       dx)
    return dx


def avg_pool2d_forward_numba(x, kernel, stride, padding):
    """Window means (padding counts as zeros), compiled and parallel over planes."""
    oh, ow = _check("avg_pool2d_forward_numba", x.shape, kernel, stride, padding, x.dtype)
    y = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    _avg_pool_planes(np.ascontiguousarray(x), y, *kernel, *stride, *padding)
    return y


def avg_pool2d_backward_numba(gy, x_shape, kernel, stride, padding):
    """dx with gy / (KH*KW) added to every pixel of each window."""
    oh, ow = _check("avg_pool2d_backward_numba", x_shape, kernel, stride, padding, gy.dtype)
    _check_grad("avg_pool2d_backward_numba", gy, x_shape, oh, ow)
    dx = np.zeros(tuple(x_shape), dtype=gy.dtype)
    _avg_unpool_planes(np.ascontiguousarray(gy), dx, *kernel, *stride, *padding)
    return dx
