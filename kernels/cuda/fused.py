"""The fused row kernels on the GPU: softmax and log_softmax along an axis, softmax
cross-entropy with class indices, forward and backward; and relu, forward and backward.
The kernel table's "cuda" row for those fields.

The meaning and the arguments are those of kernels/fused.py (its module docstring has
the rules for -inf, +inf and NaN, label smoothing and class weights, which these
follow): each row is shifted by its maximum before exp, so logits of +-1e4 give
neither inf nor NaN; log_softmax and cross-entropy use a shift of 0 where the maximum
is not finite, as logsumexp does.

Which thread handles which data: ONE THREAD PER ROW. An array is seen as (outer, n,
inner): the row is the n numbers along the axis (for cross-entropy, the C classes of
x (N, C, d1, ...)), and there are outer * inner rows, one thread each, numbered
o * inner + i (i fastest). The thread makes the CPU kernel's passes over its row one
after the other (the maximum, the sum of exponentials, the writes), keeping the sums
in registers.

Why a thread per row rather than a block per row. A block per row would share each
row's sums among its threads: a reduction in shared memory with syncthreads between
its levels, worth having for rows of thousands of numbers that are few. The rows minidl
meets are the classes of a classifier or the keys of an attention, tens to hundreds of
numbers, and there are many of them (one per example, per position, per head): enough
rows to fill the GPU with one thread each. A thread per row keeps each kernel the plain
loop of the CPU version, and it needs no copy for any axis: the (outer, n, inner) view
is a reshape of a C-contiguous array. Along an axis that is not the last (inner > 1,
e.g. cross-entropy's classes of (N, C, H, W)), neighbouring threads read neighbouring
numbers: coalesced. Along the last axis (inner = 1) they read numbers a row apart,
which the cache serves less well; that is the price of the plain loop.

relu: one thread per element, in the arrays' flat order.

The sums are kept in the arrays' dtype (float32 for float32: the GPU computes float64
many times slower), the small constants are made in that dtype, and label_smoothing is
passed as a number of that dtype. Arrays of dtypes other than float32 and float64 go
to the plain versions of kernels/fused.py, as on the CPU.
"""
import math

import numba
import numpy as np
from numba import cuda

from ... import backend
from .. import fused as plain
from .checks import check_arrays, contiguous
from .launch import THREADS, blocks_for, launch

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ----------------------------------------------------------------------------
# the kernels: softmax and log_softmax, x and y seen as (outer, n, inner)
# ----------------------------------------------------------------------------
@cuda.jit
def softmax_forward_kernel(x, y):
    index = cuda.grid(1)
    outer, n, inner = x.shape
    if index >= outer * inner:
        return
    o, i = index // inner, index % inner

    m = x.dtype.type(-math.inf)
    for c in range(n):
        if x[o, c, i] > m:
            m = x[o, c, i]  # a NaN is never picked: it makes the sum NaN anyway
    total = x.dtype.type(0)
    for c in range(n):
        e = math.exp(x[o, c, i] - m)
        y[o, c, i] = e
        total += e
    scale = x.dtype.type(1) / total
    for c in range(n):
        y[o, c, i] *= scale


@cuda.jit
def softmax_backward_kernel(gy, y, gx):
    index = cuda.grid(1)
    outer, n, inner = gy.shape
    if index >= outer * inner:
        return
    o, i = index // inner, index % inner

    s = gy.dtype.type(0)  # sum(gy * y)
    for c in range(n):
        s += gy[o, c, i] * y[o, c, i]
    for c in range(n):
        gx[o, c, i] = y[o, c, i] * (gy[o, c, i] - s)


@cuda.jit
def log_softmax_forward_kernel(x, y):
    index = cuda.grid(1)
    outer, n, inner = x.shape
    if index >= outer * inner:
        return
    o, i = index // inner, index % inner

    m = x.dtype.type(-math.inf)
    for c in range(n):
        if x[o, c, i] > m:
            m = x[o, c, i]
    if m - m != 0:  # m is +-inf (only they and NaN give m - m != 0): shift by 0
        m = x.dtype.type(0)
    total = x.dtype.type(0)
    for c in range(n):
        total += math.exp(x[o, c, i] - m)
    log_sum = math.log(total)
    for c in range(n):
        y[o, c, i] = (x[o, c, i] - m) - log_sum


@cuda.jit
def log_softmax_backward_kernel(gy, y, gx):
    index = cuda.grid(1)
    outer, n, inner = gy.shape
    if index >= outer * inner:
        return
    o, i = index // inner, index % inner

    s = gy.dtype.type(0)  # sum(gy)
    for c in range(n):
        s += gy[o, c, i]
    for c in range(n):
        gx[o, c, i] = gy[o, c, i] - math.exp(y[o, c, i]) * s


# ----------------------------------------------------------------------------
# the kernels: cross-entropy, x seen as (N, C, D), one thread per position (n, d)
# ----------------------------------------------------------------------------
@cuda.jit
def cross_entropy_forward_kernel(x, labels, w, ignore_index, eps, losses, lse):
    """Per position: the logsumexp, then -(1 - eps) w[y] log p_y - eps/C sum_c w_c log p_c
    from it, with log p_c = (x_c - m) - log_sum."""
    index = cuda.grid(1)
    count, classes, positions = x.shape
    if index >= count * positions:
        return
    n, d = index // positions, index % positions
    one = x.dtype.type(1)

    m = x.dtype.type(-math.inf)
    for c in range(classes):
        if x[n, c, d] > m:
            m = x[n, c, d]
    if m - m != 0:  # m is +-inf: shift by 0
        m = x.dtype.type(0)
    total = x.dtype.type(0)
    for c in range(classes):
        total += math.exp(x[n, c, d] - m)
    log_sum = math.log(total)
    lse[n, d] = m + log_sum

    y = labels[n, d]
    if y == ignore_index:
        losses[n, d] = 0
        return
    loss = (one - eps) * w[y] * (log_sum - (x[n, y, d] - m))
    if eps != 0:  # the uniform part: every class, weighted
        w_sum = x.dtype.type(0)
        w_dot = x.dtype.type(0)  # sum_c w_c (x_c - m)
        for c in range(classes):
            w_sum += w[c]
            w_dot += w[c] * (x[n, c, d] - m)
        loss += eps / x.dtype.type(classes) * (log_sum * w_sum - w_dot)
    losses[n, d] = loss


@cuda.jit
def cross_entropy_backward_kernel(g, x, lse, labels, w, ignore_index, eps, gx):
    """Per position: g * (p_c sum(T) - T_c), T_c = eps/C w_c + (1 - eps) w[y] at c = y."""
    index = cuda.grid(1)
    count, classes, positions = x.shape
    if index >= count * positions:
        return
    n, d = index // positions, index % positions

    y = labels[n, d]
    if y == ignore_index:
        for c in range(classes):
            gx[n, c, d] = 0
        return
    smooth = eps / x.dtype.type(classes)
    target = (x.dtype.type(1) - eps) * w[y]
    w_sum = x.dtype.type(0)
    if eps != 0:
        for c in range(classes):
            w_sum += w[c]
    weight_total = target + smooth * w_sum
    scale, shift = g[n, d], lse[n, d]
    for c in range(classes):
        gx[n, c, d] = scale * (math.exp(x[n, c, d] - shift) * weight_total - smooth * w[c])
    gx[n, y, d] -= scale * target


# ----------------------------------------------------------------------------
# the kernels: relu, one thread per element of the flat arrays
# ----------------------------------------------------------------------------
@cuda.jit
def relu_forward_kernel(x, y):
    index = cuda.grid(1)
    if index < x.size:
        y[index] = x.dtype.type(0) if x[index] <= 0 else x[index]  # NaN stays NaN


@cuda.jit
def relu_backward_kernel(gy, x, gx):
    index = cuda.grid(1)
    if index < x.size:
        gx[index] = gy.dtype.type(0) if x[index] <= 0 else gy[index]  # NaN x passes gy


def signatures(dtype):
    """Each kernel with the argument types launch() gives it for arrays of dtype."""
    f = numba.from_dtype(dtype)
    rows, positions, flat = (numba.types.Array(f, ndim, "C") for ndim in (3, 2, 1))
    labels = numba.types.Array(numba.types.int64, 2, "C")
    i64 = numba.types.int64
    return {
        softmax_forward_kernel: (rows, rows),
        softmax_backward_kernel: (rows, rows, rows),
        log_softmax_forward_kernel: (rows, rows),
        log_softmax_backward_kernel: (rows, rows, rows),
        cross_entropy_forward_kernel: (rows, labels, flat, i64, f, positions, positions),
        cross_entropy_backward_kernel: (positions, rows, positions, labels, flat, i64, f,
                                        rows),
        relu_forward_kernel: (flat, flat),
        relu_backward_kernel: (flat, flat, flat),
    }


# ----------------------------------------------------------------------------
# the callers: the kernel table's fused fields (kernels/fused.py's arguments)
# ----------------------------------------------------------------------------
def _kernels_take(*arrays):
    """The kernels take float32 and float64 arrays of one dtype; the rest go to the plain
    versions (as the CPU's numba versions send them)."""
    return all(np.dtype(a.dtype) == np.dtype(arrays[0].dtype) for a in arrays) and \
        np.dtype(arrays[0].dtype) in FLOATS


def _as_rows(op, x, axis):
    """x (C-contiguous) as (outer, n, inner), its rows along axis (None: one row of all)."""
    if axis is None or x.ndim == 0:
        return x.reshape(1, x.size, 1)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for an array of shape "
                         f"{tuple(x.shape)}")
    axis %= x.ndim
    return x.reshape(math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:]))


def _row_count(rows):
    """How many threads a (outer, n, inner) array needs: one per row; none for empty rows,
    which have nothing to compute."""
    return rows.shape[0] * rows.shape[2] if rows.size else 0


def _rows_forward(op, kernel, x, axis):
    check_arrays(op, x)
    shape = x.shape  # (ascontiguousarray makes a 0-d array 1-d)
    x, = contiguous(x)
    rows = _as_rows(op, x.reshape(shape), axis)
    y = backend.get_array_module(x).empty_like(rows)
    launch(kernel, blocks_for(_row_count(rows)), THREADS, rows, y)
    return y.reshape(shape)


def _rows_backward(op, kernel, gy, y, axis):
    check_arrays(op, gy, y)
    if tuple(gy.shape) != tuple(y.shape):
        raise ValueError(f"{op}: gy and y must have one shape, got {tuple(gy.shape)} and "
                         f"{tuple(y.shape)}")
    shape = gy.shape
    gy, y = contiguous(gy, y)
    gy_rows, y_rows = (_as_rows(op, a.reshape(shape), axis) for a in (gy, y))
    gx = backend.get_array_module(gy).empty_like(gy_rows)
    launch(kernel, blocks_for(_row_count(gx)), THREADS, gy_rows, y_rows, gx)
    return gx.reshape(shape)


def softmax_forward_cuda(x, axis):
    """exp(x - max) / sum(exp(x - max)) along axis."""
    if not _kernels_take(x):
        return plain.softmax_forward_numpy(x, axis)
    return _rows_forward("softmax_forward_cuda", softmax_forward_kernel, x, axis)


def softmax_backward_cuda(gy, y, axis):
    """y * (gy - sum(gy * y)) along axis."""
    if not _kernels_take(gy, y):
        return plain.softmax_backward_numpy(gy, y, axis)
    return _rows_backward("softmax_backward_cuda", softmax_backward_kernel, gy, y, axis)


def log_softmax_forward_cuda(x, axis):
    """(x - m) - log(sum(exp(x - m))) along axis, m the maximum (0 where not finite)."""
    if not _kernels_take(x):
        return plain.log_softmax_forward_numpy(x, axis)
    return _rows_forward("log_softmax_forward_cuda", log_softmax_forward_kernel, x, axis)


def log_softmax_backward_cuda(gy, y, axis):
    """gy - exp(y) * sum(gy) along axis."""
    if not _kernels_take(gy, y):
        return plain.log_softmax_backward_numpy(gy, y, axis)
    return _rows_backward("log_softmax_backward_cuda", log_softmax_backward_kernel, gy, y,
                          axis)


def _cross_entropy_arguments(op, x, labels, class_weight, ignore_index, label_smoothing):
    """x as (N, C, D), labels as int64 (N, D), the class weights (ones if None) and
    ignore_index and label_smoothing as the kernels take them. The labels must be in
    [0, C) or ignore_index: functional/loss.py checks them before the op runs."""
    xp = backend.get_array_module(x)
    if x.ndim < 2 or tuple(labels.shape) != (x.shape[0],) + tuple(x.shape[2:]):
        raise ValueError(f"{op}: logits (N, C, d1, ...) and labels (N, d1, ...) do not "
                         f"match: shapes {tuple(x.shape)} and {tuple(labels.shape)}")
    if np.dtype(labels.dtype).kind not in "iu":
        raise TypeError(f"{op}: labels must be integers, got {labels.dtype}")
    count, classes = x.shape[:2]
    w = (xp.ones(classes, dtype=x.dtype) if class_weight is None
         else xp.ascontiguousarray(class_weight, dtype=x.dtype))
    if tuple(w.shape) != (classes,):
        raise ValueError(f"{op}: class_weight must have shape ({classes},), one weight per "
                         f"class, got {tuple(w.shape)}")
    check_arrays(op, x, w)
    x, = contiguous(x)
    labels = xp.ascontiguousarray(labels, dtype=xp.int64).reshape(count, -1)
    rows = x.reshape(count, classes, labels.shape[1])
    return rows, labels, w, int(ignore_index), x.dtype.type(label_smoothing)


def cross_entropy_forward_cuda(x, labels, class_weight, ignore_index, label_smoothing):
    """(losses, lse), each shaped like labels: each position's loss (0 where ignored) and
    the logsumexp of its logits, for the backward."""
    op = "cross_entropy_forward_cuda"
    if not _kernels_take(x):
        return plain.cross_entropy_forward_numpy(x, labels, class_weight, ignore_index,
                                                 label_smoothing)
    arguments = _cross_entropy_arguments(op, x, labels, class_weight, ignore_index,
                                         label_smoothing)
    positions = arguments[1]
    xp = backend.get_array_module(x)
    losses = xp.empty(positions.shape, dtype=x.dtype)
    lse = xp.empty(positions.shape, dtype=x.dtype)
    launch(cross_entropy_forward_kernel, blocks_for(positions.size), THREADS, *arguments,
           losses, lse)
    return losses.reshape(labels.shape), lse.reshape(labels.shape)


def cross_entropy_backward_cuda(g, x, lse, labels, class_weight, ignore_index,
                                label_smoothing):
    """gx (x's shape) = g * (softmax(x) sum_c T_c - T) along the classes, 0 where
    ignored; g is one number for every position or one per position (labels' shape)."""
    op = "cross_entropy_backward_cuda"
    if not _kernels_take(x, lse):
        return plain.cross_entropy_backward_numpy(g, x, lse, labels, class_weight,
                                                  ignore_index, label_smoothing)
    rows, positions, w, ignore, eps = _cross_entropy_arguments(
        op, x, labels, class_weight, ignore_index, label_smoothing)
    xp = backend.get_array_module(x)
    check_arrays(op, lse)
    if tuple(lse.shape) != tuple(labels.shape):
        raise ValueError(f"{op}: lse must have the labels' shape {tuple(labels.shape)}, got "
                         f"{tuple(lse.shape)}")
    share = xp.empty(positions.shape, dtype=x.dtype)  # g, one number per position
    share.reshape(labels.shape)[...] = g
    lse = xp.ascontiguousarray(lse).reshape(positions.shape)
    gx = xp.empty_like(rows)
    launch(cross_entropy_backward_kernel, blocks_for(positions.size), THREADS, share, rows,
           lse, positions, w, ignore, eps, gx)
    return gx.reshape(x.shape)


def relu_forward_cuda(x):
    """max(x, 0), NaN kept."""
    if not _kernels_take(x):
        return plain.relu_forward_numpy(x)
    check_arrays("relu_forward_cuda", x)
    shape = x.shape
    x, = contiguous(x)
    y = backend.get_array_module(x).empty_like(x)
    launch(relu_forward_kernel, blocks_for(x.size), THREADS, x.reshape(-1), y.reshape(-1))
    return y.reshape(shape)


def relu_backward_cuda(gy, x):
    """gy where x > 0 or x is NaN, exactly 0 elsewhere (even where gy is NaN or inf)."""
    if not (_kernels_take(gy, x) and tuple(gy.shape) == tuple(x.shape)):
        return plain.relu_backward_numpy(gy, x)   # other dtypes, or broadcasting
    check_arrays("relu_backward_cuda", gy, x)
    shape = gy.shape
    gy, x = contiguous(gy, x)
    gx = backend.get_array_module(gy).empty_like(gy)
    launch(relu_backward_kernel, blocks_for(x.size), THREADS, gy.reshape(-1), x.reshape(-1),
           gx.reshape(-1))
    return gx.reshape(shape)
