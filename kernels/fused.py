"""Fused elementwise and row kernels: relu, where, softmax, log_softmax, cross-entropy
with class indices and layer norm, forward and backward.

These are the ops that come right after the matrix products in a training step. Written
with NumPy, each is several passes over the data with a temporary array per pass (softmax
is max, subtract, exp, sum, divide); the numba versions do one or two passes per row and
allocate only the result.

Every kernel works along one axis ("the row"): softmax and log_softmax along `axis`, cross-
entropy along the class axis 1 of (N, C, d1, ...), layer norm over the last dims. The numba
versions see a C-contiguous (rows, n) array; an input whose row is not its last,
contiguous axis is copied into that layout first (`_rows`), and the result is given back in
the input's layout as a view.

Semantics, the same in both versions:
- relu_backward passes gy where x > 0 or x is NaN, and gives exactly 0 where x <= 0, even
  where gy is NaN or inf (PyTorch's rule; a masked multiply would give NaN there).
- softmax subtracts each row's maximum first; a row holding -inf only, +inf or NaN gives
  NaN. log_softmax uses a maximum of 0 for a row whose maximum is not finite, so an all
  -inf row gives NaN and a row with +inf gives -inf and NaN (as logsumexp does).
- cross_entropy_forward returns each position's loss -sum_c T_c log p_c, with target
  weights T as the module docstring of functional/loss.py says: (1 - eps) w[y] at the
  target class plus eps/C w_c at every class; 0 at an ignored position. Its backward is
  g * (p * sum_c T_c - T), p the softmax; 0 at ignored positions.
- layer_norm standardizes each row with its mean and biased variance, then applies the
  weight and bias (when given); it returns mean and 1/sqrt(var + eps) for the backward.

Two versions of each: `*_numpy` (NumPy, or CuPy: they ask for the array module; the plain
reference) and `*_numba` (the fast one).
"""
import math
from decimal import Decimal, localcontext

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .. import backend
from . import compiling  # noqa: F401 (the first compilation says so)

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# The numba kernels below use error_model="numpy": a division by zero gives inf or NaN,
# as in NumPy, instead of raising (an empty row sums to 0).


# ----------------------------------------------------------------------------
# numpy: the plain versions, one array operation per step of the formula
# ----------------------------------------------------------------------------
def relu_forward_numpy(x):
    return backend.get_array_module(x).maximum(x, 0)


def relu_backward_numpy(gy, x):
    xp = backend.get_array_module(gy)
    return xp.where(x <= 0, xp.zeros((), dtype=gy.dtype), gy)


def where_numpy(condition, a, b):
    return backend.get_array_module(a).where(condition, a, b)


def _row_max_numpy(x, axis):
    """The maximum along axis, kept as a size-1 dim; -inf for an empty row."""
    xp = backend.get_array_module(x)
    if x.shape[axis] == 0:
        return xp.full(x.shape[:axis] + (1,) + x.shape[axis + 1:], -np.inf, dtype=x.dtype)
    return x.max(axis=axis, keepdims=True)


def _shift_and_log_sum(x, axis):
    """(m, log(sum(exp(x - m)))) along axis (kept): m the maximum, or 0 where it is not
    finite. log_softmax is (x - m) - log_sum and logsumexp m + log_sum, each exact to
    rounding also at +-1e4 (x - (m + log_sum) would round m + log_sum first)."""
    xp = backend.get_array_module(x)
    m = _row_max_numpy(x, axis)
    m = xp.where(xp.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):   # log(0) = -inf for an all -inf row
        return m, xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))


def _axis(x, axis):
    """A 0-d input has one row of one element: it is made 1-d, along axis 0."""
    return (x.reshape(1), 0) if axis is None else (x, axis)


def softmax_forward_numpy(x, axis):
    x1, axis1 = _axis(x, axis)
    e = backend.get_array_module(x).exp(x1 - _row_max_numpy(x1, axis1))
    return (e / e.sum(axis=axis1, keepdims=True)).reshape(x.shape)


def softmax_backward_numpy(gy, y, axis):
    """y * (gy - sum(gy * y)): dy_i/dx_j = y_i (delta_ij - y_j)."""
    (gy1, axis1), (y1, _) = _axis(gy, axis), _axis(y, axis)
    return (y1 * (gy1 - (gy1 * y1).sum(axis=axis1, keepdims=True))).reshape(gy.shape)


def log_softmax_forward_numpy(x, axis):
    x1, axis1 = _axis(x, axis)
    m, log_sum = _shift_and_log_sum(x1, axis1)
    return ((x1 - m) - log_sum).reshape(x.shape)


def log_softmax_backward_numpy(gy, y, axis):
    """gy - softmax(x) * sum(gy), with softmax(x) = exp(y)."""
    (gy1, axis1), (y1, _) = _axis(gy, axis), _axis(y, axis)
    xp = backend.get_array_module(gy)
    return (gy1 - xp.exp(y1) * gy1.sum(axis=axis1, keepdims=True)).reshape(gy.shape)


def cross_entropy_target_weights(labels, classes, class_weight, ignore_index,
                                 label_smoothing, dtype):
    """T (N, C, d1, ...): how much each log-probability counts in each position's loss
    (module docstring), for class indices `labels` (N, d1, ...)."""
    xp = backend.get_array_module(labels)
    valid = labels != ignore_index
    w = xp.ones(classes, dtype=dtype) if class_weight is None else class_weight.astype(dtype)
    per_class = w.reshape((1, classes) + (1,) * (labels.ndim - 1))     # broadcasts along 1
    one_hot = xp.expand_dims(xp.where(valid, labels, 0), 1) == xp.arange(classes).reshape(
        per_class.shape)
    valid = xp.expand_dims(valid, 1)
    smoothing = label_smoothing / classes
    return (((1 - label_smoothing) * one_hot + smoothing) * valid * per_class).astype(dtype)


def cross_entropy_forward_numpy(x, labels, class_weight, ignore_index, label_smoothing):
    """(losses (N, d1, ...), lse (N, d1, ...)) for logits x (N, C, d1, ...): each
    position's loss and the logsumexp of its logits (for the backward)."""
    xp = backend.get_array_module(x)
    classes, valid = x.shape[1], labels != ignore_index
    w = xp.ones(classes, dtype=x.dtype) if class_weight is None else class_weight
    m, log_sum = _shift_and_log_sum(x, 1)
    logp, lse = (x - m) - log_sum, m + log_sum
    safe = xp.where(valid, labels, 0)
    picked = xp.take_along_axis(logp, xp.expand_dims(safe, 1), axis=1).squeeze(1)
    losses = -(1 - label_smoothing) * w[safe] * picked
    if label_smoothing:   # the uniform part: a sum over every class
        per_class = w.reshape((1, classes) + (1,) * (labels.ndim - 1))
        losses = losses - label_smoothing / classes * (per_class * logp).sum(axis=1)
    zero = xp.zeros((), dtype=x.dtype)
    return xp.where(valid, losses, zero).astype(x.dtype), lse.squeeze(1)


def cross_entropy_backward_numpy(g, x, lse, labels, class_weight, ignore_index,
                                 label_smoothing):
    """g * (softmax(x) * sum_c T_c - T) along the class axis 1; g (a 0-d array or one value
    per position) is the gradient of each position's loss."""
    xp = backend.get_array_module(x)
    weights = cross_entropy_target_weights(labels, x.shape[1], class_weight, ignore_index,
                                           label_smoothing, x.dtype)
    p = xp.exp(x - xp.expand_dims(lse, 1))
    g = xp.asarray(g, dtype=x.dtype)
    gx = (p * weights.sum(axis=1, keepdims=True) - weights) * (
        xp.expand_dims(g, 1) if g.ndim else g)
    return xp.where(xp.expand_dims(labels != ignore_index, 1), gx, xp.zeros((), dtype=x.dtype))


def layer_norm_forward_numpy(x, normalized_ndim, weight, bias, eps):
    """(y, mean, rstd): x standardized over its last normalized_ndim dims, times weight,
    plus bias (either may be None); mean and rstd = 1/sqrt(var + eps) have x's leading
    shape."""
    xp = backend.get_array_module(x)
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    rstd = 1 / xp.sqrt((centered * centered).mean(axis=axes, keepdims=True) + eps)
    y = centered * rstd
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    lead = x.shape[:x.ndim - normalized_ndim]
    return y, mean.reshape(lead), rstd.reshape(lead)


def layer_norm_backward_numpy(gy, x, mean, rstd, weight):
    """(gx, gw, gb). With xhat = (x - mean) * rstd and g = gy * weight:
    gx = rstd * (g - mean(g) - xhat * mean(g * xhat)) over each row, gw = sum of
    gy * xhat and gb = sum of gy over the leading dims."""
    k = x.ndim - mean.ndim
    axes, lead = tuple(range(mean.ndim, x.ndim)), tuple(range(mean.ndim))
    mean, rstd = mean.reshape(mean.shape + (1,) * k), rstd.reshape(rstd.shape + (1,) * k)
    xhat = (x - mean) * rstd
    g = gy if weight is None else gy * weight
    gx = rstd * (g - g.mean(axis=axes, keepdims=True)
                 - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    return gx, (gy * xhat).sum(axis=lead), gy.sum(axis=lead)


# ----------------------------------------------------------------------------
# numba: exp, written so that it vectorizes
# ----------------------------------------------------------------------------
# numba's np.exp calls the C library once per element: LLVM cannot vectorize the call
# (NumPy's own exp is vectorized, which made it beat a numba loop). This exp is plain
# arithmetic, which LLVM does vectorize: write x = k ln2 + r with k an integer and
# |r| <= ln2 / 2, then exp(x) = 2^k exp(r), exp(r) from its Taylor polynomial (degree 7
# for float32, 13 for float64: the first term left out is below half an ulp) and 2^k
# made from its exponent bits. ln2 is split in two parts, the first with few enough
# bits that k * LN2_HI is exact, so r keeps its digits.
def _ln2_split(hi_bits):
    with localcontext() as context:
        context.prec = 50
        ln2 = Decimal(2).ln()
    hi = math.ldexp(math.floor(math.ldexp(float(ln2), hi_bits)), -hi_bits)
    return hi, float(ln2 - Decimal(hi))


def _taylor(degree, dtype):
    """1/degree!, ..., 1/1!, 1/0!: the coefficients for Horner's rule."""
    return tuple(dtype(1 / math.factorial(n)) for n in range(degree, -1, -1))


LN2_HI32, LN2_LO32 = (np.float32(v) for v in _ln2_split(9))
LN2_HI64, LN2_LO64 = _ln2_split(32)
INV_LN2_32, INV_LN2_64 = np.float32(1 / math.log(2)), 1 / math.log(2)
TAYLOR32, TAYLOR64 = _taylor(7, np.float32), _taylor(13, np.float64)
# exp overflows above the first bound and is 0 below the second
EXP_RANGE32 = (np.float32(-103.97208), np.float32(88.72284))
EXP_RANGE64 = (-745.1332191019412, 709.782712893384)


@njit(fastmath={"contract"}, cache=True)
def _exp32(x):
    low, high = EXP_RANGE32
    clipped = min(max(x, low), high) if x == x else np.float32(0)
    k = np.floor(clipped * INV_LN2_32 + np.float32(0.5))
    r = (clipped - k * LN2_HI32) - k * LN2_LO32
    p = np.float32(0)
    for c in TAYLOR32:
        p = p * r + c
    n = np.int32(k)
    half = n >> 1   # 2^k in two factors: 2^128 (x near the top) has no float32 exponent
    y = p * np.int32((half + 127) << 23).view(np.float32) \
        * np.int32((n - half + 127) << 23).view(np.float32)
    y = np.float32(np.inf) if x > high else y
    y = np.float32(0) if x < low else y
    return x if x != x else y


@njit(fastmath={"contract"}, cache=True)
def _exp64(x):
    low, high = EXP_RANGE64
    clipped = min(max(x, low), high) if x == x else 0.0
    k = np.floor(clipped * INV_LN2_64 + 0.5)
    r = (clipped - k * LN2_HI64) - k * LN2_LO64
    p = 0.0
    for c in TAYLOR64:
        p = p * r + c
    n = np.int64(k)
    half = n >> 1
    y = p * np.int64((half + 1023) << 52).view(np.float64) \
        * np.int64((n - half + 1023) << 52).view(np.float64)
    y = np.inf if x > high else y
    y = 0.0 if x < low else y
    return x if x != x else y


def vexp(x):
    """exp(x) for a float32 or float64 scalar inside a numba kernel (in Python: np.exp)."""
    return np.exp(x)


@overload(vexp)
def _vexp_for(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    return lambda x: _exp64(x)


# ----------------------------------------------------------------------------
# numba: sums and maxima along a row
# ----------------------------------------------------------------------------
# A sum in a fixed order cannot be vectorized (each add waits for the one before);
# "reassoc" lets LLVM keep several partial sums, which changes only the rounding. The
# sums are kept in float64, also for float32 rows.
@njit(fastmath={"reassoc"}, cache=True)
def _sum(row):
    s = 0.0
    for c in range(row.shape[0]):
        s += row[c]
    return s


@njit(fastmath={"reassoc"}, cache=True)
def _dot(a, b):
    s = 0.0
    for c in range(a.shape[0]):
        s += np.float64(a[c]) * b[c]
    return s


@njit(fastmath={"reassoc"}, cache=True)
def _dot3(a, b, c):
    s = 0.0
    for i in range(a.shape[0]):
        s += np.float64(a[i]) * b[i] * c[i]
    return s


@njit(fastmath={"reassoc"}, cache=True)
def _dot_shifted(w, row, shift):
    """sum(w * (row - shift))."""
    s = 0.0
    for c in range(row.shape[0]):
        s += w[c] * (np.float64(row[c]) - shift)
    return s


@njit(fastmath={"reassoc"}, cache=True)
def _sum_exp(row, shift):
    """sum(exp(row - shift))."""
    s = 0.0
    for c in range(row.shape[0]):
        s += vexp(row[c] - shift)
    return s


@njit(fastmath={"reassoc"}, cache=True)
def _sum_squared_deviation(row, mean):
    s = 0.0
    for c in range(row.shape[0]):
        d = row[c] - mean
        s += d * d
    return s


@njit(cache=True)
def _max(row):
    """The row's maximum; -inf for an empty row. A NaN may or may not be picked: a row
    with a NaN gives NaN through the sum of exponentials either way."""
    m = row.dtype.type(-np.inf)
    for c in range(row.shape[0]):
        m = row[c] if row[c] > m else m
    return m


# ----------------------------------------------------------------------------
# numba: the (rows, n) layout
# ----------------------------------------------------------------------------
def _ready(a, dtype=None):
    """a as a C-contiguous, writable array of dtype: a itself if it is one, else a copy.
    (numba compiles a kernel anew for each other layout, and for read-only arrays such
    as np.broadcast_to's, so that the kernels compiled ahead would not serve.)"""
    a = np.asarray(a, dtype=dtype)
    if a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(a, order="C")


def _rows(x, axis):
    """(rows, back): x as a C-contiguous (rows, n) array whose rows run along axis (None:
    one row), and a function giving an array of that layout back in x's layout.

    Along the last axis of a contiguous array this is a reshape; along another axis the
    axis is moved last and copied."""
    if axis is None or x.ndim == 0:
        return _ready(x).reshape(1, -1), lambda r: r.reshape(x.shape)
    n = x.shape[axis]
    moved = x if axis == x.ndim - 1 else np.moveaxis(x, axis, -1)
    rows = _ready(moved).reshape(math.prod(moved.shape[:-1]), n)
    if moved is x:
        return rows, lambda r: r.reshape(x.shape)
    return rows, lambda r: np.moveaxis(r.reshape(moved.shape), -1, axis)


def _numba_can(*arrays):
    """The numba kernels take float32 and float64 NumPy arrays of one dtype."""
    dtype = arrays[0].dtype
    return dtype in FLOATS and all(type(a) is np.ndarray and a.dtype == dtype for a in arrays)


# ----------------------------------------------------------------------------
# numba: relu and where, one pass without branches
# ----------------------------------------------------------------------------
# np.where branches on each element, and a random mask (relu's) makes the branch
# unpredictable; these loops select without branching, and vectorize.
@njit(parallel=True, cache=True, error_model="numpy")
def _relu_forward(x, y):
    for i in prange(x.shape[0]):
        y[i] = 0 if x[i] <= 0 else x[i]


@njit(parallel=True, cache=True, error_model="numpy")
def _relu_backward(gy, x, gx):
    for i in prange(gy.shape[0]):
        gx[i] = 0 if x[i] <= 0 else gy[i]


@njit(parallel=True, cache=True, error_model="numpy")
def _where(condition, a, b, out):
    """a and b each hold out's size, or one value to use everywhere."""
    n = out.shape[0]
    if a.shape[0] == n and b.shape[0] == n:
        for i in prange(n):
            out[i] = a[i] if condition[i] else b[i]
    elif a.shape[0] == n:
        b0 = b[0]
        for i in prange(n):
            out[i] = a[i] if condition[i] else b0
    elif b.shape[0] == n:
        a0 = a[0]
        for i in prange(n):
            out[i] = a0 if condition[i] else b[i]
    else:
        a0, b0 = a[0], b[0]
        for i in prange(n):
            out[i] = a0 if condition[i] else b0


def _flat(a):
    return a.reshape(-1)


def relu_forward_numba(x):
    if not _numba_can(x):
        return relu_forward_numpy(x)
    x = _ready(x)
    y = np.empty_like(x)
    _relu_forward(_flat(x), _flat(y))
    return y


def relu_backward_numba(gy, x):
    if not (_numba_can(gy, x) and gy.shape == x.shape):
        return relu_backward_numpy(gy, x)
    gy, x = _ready(gy), _ready(x)
    gx = np.empty_like(gy)
    _relu_backward(_flat(gy), _flat(x), _flat(gx))
    return gx


def where_numba(condition, a, b):
    """np.where(condition, a, b); numba for a boolean condition and a and b of its shape
    or single values, of one float dtype."""
    if not (type(condition) is np.ndarray and condition.dtype == np.bool_ and _numba_can(a, b)
            and all(v.shape == condition.shape or v.ndim == 0 for v in (a, b))):
        return where_numpy(condition, a, b)
    out = np.empty(condition.shape, dtype=a.dtype)
    _where(_flat(_ready(condition)), _flat(_ready(a)), _flat(_ready(b)), _flat(out))
    return out


# ----------------------------------------------------------------------------
# numba: softmax and log_softmax, one row at a time
# ----------------------------------------------------------------------------
@njit(parallel=True, cache=True, error_model="numpy")
def _row_maxima(x, finite):
    """Each row's maximum; with finite=True, 0 for a maximum that is not finite (the
    shift of logsumexp). In a loop of its own: with the maximum and the exponentials in
    one loop body, LLVM compiled the exponentials to much slower code."""
    maxima = np.empty(x.shape[0], dtype=x.dtype)
    for r in prange(x.shape[0]):
        m = _max(x[r])
        maxima[r] = 0 if finite and not np.isfinite(m) else m
    return maxima


@njit(parallel=True, cache=True, error_model="numpy")
def _softmax_forward(x, y):
    maxima = _row_maxima(x, False)
    for r in prange(x.shape[0]):
        xr, yr, m = x[r], y[r], maxima[r]
        for c in range(xr.shape[0]):
            yr[c] = vexp(xr[c] - m)
        scale = yr.dtype.type(1 / _sum(yr))
        for c in range(xr.shape[0]):
            yr[c] *= scale


@njit(parallel=True, cache=True, error_model="numpy")
def _softmax_backward(gy, y, gx):
    for r in prange(gy.shape[0]):
        gyr, yr, gxr = gy[r], y[r], gx[r]
        s = gyr.dtype.type(_dot(gyr, yr))
        for c in range(gyr.shape[0]):
            gxr[c] = yr[c] * (gyr[c] - s)


@njit(parallel=True, cache=True, error_model="numpy")
def _log_softmax_forward(x, y):
    maxima = _row_maxima(x, True)
    for r in prange(x.shape[0]):
        xr, yr, m = x[r], y[r], maxima[r]
        log_sum = xr.dtype.type(np.log(_sum_exp(xr, m)))
        for c in range(xr.shape[0]):
            yr[c] = (xr[c] - m) - log_sum


@njit(parallel=True, cache=True, error_model="numpy")
def _log_softmax_backward(gy, y, gx):
    for r in prange(gy.shape[0]):
        gyr, yr, gxr = gy[r], y[r], gx[r]
        s = gyr.dtype.type(_sum(gyr))
        for c in range(gyr.shape[0]):
            gxr[c] = gyr[c] - vexp(yr[c]) * s


def _row_kernel(kernel, reference):
    """The numba version of a softmax-like kernel (arrays..., axis) -> array, run on the
    (rows, n) layout; arrays numba does not take go to the reference."""
    def run(*args):
        *arrays, axis = args
        if not _numba_can(*arrays):
            return reference(*args)
        rows = [_rows(a, axis) for a in arrays]
        out = np.empty_like(rows[0][0])
        kernel(*[r for r, _ in rows], out)
        return rows[0][1](out)
    run.__name__ = kernel.__name__.lstrip("_") + "_numba"
    return run


softmax_forward_numba = _row_kernel(_softmax_forward, softmax_forward_numpy)
softmax_backward_numba = _row_kernel(_softmax_backward, softmax_backward_numpy)
log_softmax_forward_numba = _row_kernel(_log_softmax_forward, log_softmax_forward_numpy)
log_softmax_backward_numba = _row_kernel(_log_softmax_backward, log_softmax_backward_numpy)


# ----------------------------------------------------------------------------
# numba: cross-entropy with class indices, one row (position) at a time
# ----------------------------------------------------------------------------
@njit(parallel=True, cache=True, error_model="numpy")
def _cross_entropy_forward(x, labels, w, ignore_index, eps, losses, lse):
    """Per row: the logsumexp, then -(1 - eps) w[y] log p_y - eps/C sum_c w_c log p_c
    from it, with log p_c = x_c - lse."""
    n, classes = x.shape
    w_sum = _sum(w)
    maxima = _row_maxima(x, True)
    for r in prange(n):
        xr, y, m = x[r], labels[r], maxima[r]
        log_sum = np.log(_sum_exp(xr, m))
        lse[r] = m + log_sum
        if y == ignore_index:
            losses[r] = 0
            continue
        loss = (1 - eps) * w[y] * (log_sum - (xr[y] - m))
        if eps != 0:
            loss += eps / classes * (log_sum * w_sum - _dot_shifted(w, xr, m))
        losses[r] = loss


@njit(parallel=True, cache=True, error_model="numpy")
def _cross_entropy_backward(g, x, lse, labels, w, ignore_index, eps, gx):
    """Per row: g * (p_c sum(T) - T_c), T_c = eps/C w_c + (1 - eps) w[y] at c = y."""
    n, classes = x.shape
    smooth = eps / classes
    w_sum = _sum(w)
    for r in prange(n):
        xr, gxr, y = x[r], gx[r], labels[r]
        if y == ignore_index:
            gxr[:] = 0
            continue
        target = (1 - eps) * w[y]
        total = target + smooth * w_sum
        scale = g[r]
        for c in range(classes):
            gxr[c] = scale * (vexp(xr[c] - lse[r]) * total - smooth * w[c])
        gxr[y] -= scale * target


def _cross_entropy_arguments(x, labels, class_weight, ignore_index, label_smoothing):
    """x as (rows, C), labels as int64 rows, the class weights (ones if None), and the
    function giving a (rows, C) result back in x's layout."""
    rows, back = _rows(x, 1)
    labels = _ready(labels, np.int64).reshape(-1)
    w = (np.ones(x.shape[1], dtype=x.dtype) if class_weight is None
         else _ready(class_weight, x.dtype))
    return rows, labels, w, int(ignore_index), float(label_smoothing), back


def cross_entropy_forward_numba(x, labels, class_weight, ignore_index, label_smoothing):
    if not _numba_can(x):
        return cross_entropy_forward_numpy(x, labels, class_weight, ignore_index,
                                           label_smoothing)
    rows, labels_, w, ignore, eps, _ = _cross_entropy_arguments(
        x, labels, class_weight, ignore_index, label_smoothing)
    losses, lse = np.empty(len(rows), dtype=x.dtype), np.empty(len(rows), dtype=x.dtype)
    _cross_entropy_forward(rows, labels_, w, ignore, eps, losses, lse)
    return losses.reshape(labels.shape), lse.reshape(labels.shape)


def cross_entropy_backward_numba(g, x, lse, labels, class_weight, ignore_index,
                                 label_smoothing):
    if not _numba_can(x, lse):
        return cross_entropy_backward_numpy(g, x, lse, labels, class_weight, ignore_index,
                                            label_smoothing)
    rows, labels_, w, ignore, eps, back = _cross_entropy_arguments(
        x, labels, class_weight, ignore_index, label_smoothing)
    g = _ready(np.broadcast_to(np.asarray(g, dtype=x.dtype), labels.shape))
    gx = np.empty_like(rows)
    _cross_entropy_backward(g.reshape(-1), rows, _ready(lse).reshape(-1),
                            labels_, w, ignore, eps, gx)
    return back(gx)


# ----------------------------------------------------------------------------
# numba: layer norm, one row at a time
# ----------------------------------------------------------------------------
ROWS_PER_TASK = 64   # layer_norm_backward's rows per parallel task (and partial sum)


# Both compute each element in float64 (also for float32 rows) from the float64 mean and
# rstd: where the variance is tiny, rstd is large and would magnify float32 rounding.
@njit(parallel=True, cache=True, error_model="numpy")
def _layer_norm_forward(x, w, b, eps, y, mean, rstd):
    for r in prange(x.shape[0]):
        xr, yr = x[r], y[r]
        k = xr.shape[0]
        mu = _sum(xr) / k
        inv = 1 / np.sqrt(_sum_squared_deviation(xr, mu) / k + eps)
        mean[r], rstd[r] = mu, inv
        for c in range(k):
            yr[c] = (xr[c] - mu) * inv * w[c] + b[c]


@njit(parallel=True, cache=True, error_model="numpy")
def _layer_norm_backward(gy, x, mean, rstd, w, gx, gw_parts, gb_parts):
    """gx row by row; gw and gb as one partial sum per task of ROWS_PER_TASK rows (a
    fixed split, so the rounding does not depend on the number of threads)."""
    n, k = x.shape
    for task in prange(gw_parts.shape[0]):
        gw, gb = gw_parts[task], gb_parts[task]
        gw[:] = 0
        gb[:] = 0
        for r in range(task * ROWS_PER_TASK, min(n, (task + 1) * ROWS_PER_TASK)):
            xr, gyr, gxr = x[r], gy[r], gx[r]
            mu, inv = np.float64(mean[r]), np.float64(rstd[r])
            for c in range(k):         # gx holds xhat for now
                gxr[c] = (xr[c] - mu) * inv
            g_mean = _dot(gyr, w) / k
            g_xhat_mean = _dot3(gyr, w, gxr) / k
            for c in range(k):
                xhat = np.float64(gxr[c])
                gw[c] += gyr[c] * xhat
                gb[c] += gyr[c]
                gxr[c] = inv * (np.float64(gyr[c]) * w[c] - g_mean - xhat * g_xhat_mean)


def _affine(p, k, value, dtype):
    """A layer norm weight or bias as a flat array; `value` everywhere if it is None."""
    if p is None:
        return np.full(k, value, dtype=dtype)
    return _ready(p, dtype).reshape(k)


def layer_norm_forward_numba(x, normalized_ndim, weight, bias, eps):
    if not _numba_can(x):
        return layer_norm_forward_numpy(x, normalized_ndim, weight, bias, eps)
    lead = x.shape[:x.ndim - normalized_ndim]
    k = math.prod(x.shape[x.ndim - normalized_ndim:])
    rows = _ready(x).reshape(math.prod(lead), k)
    y = np.empty_like(rows)
    mean, rstd = np.empty(len(rows), dtype=x.dtype), np.empty(len(rows), dtype=x.dtype)
    _layer_norm_forward(rows, _affine(weight, k, 1, x.dtype), _affine(bias, k, 0, x.dtype),
                        float(eps), y, mean, rstd)
    return y.reshape(x.shape), mean.reshape(lead), rstd.reshape(lead)


def layer_norm_backward_numba(gy, x, mean, rstd, weight):
    if not _numba_can(gy, x, mean, rstd):
        return layer_norm_backward_numpy(gy, x, mean, rstd, weight)
    normalized = x.shape[mean.ndim:]
    n, k = math.prod(mean.shape), math.prod(normalized)
    rows = _ready(x).reshape(n, k)
    gx = np.empty_like(rows)
    tasks = -(-n // ROWS_PER_TASK)
    gw_parts, gb_parts = np.empty((tasks, k)), np.empty((tasks, k))
    _layer_norm_backward(_ready(gy).reshape(n, k), rows, _ready(mean).reshape(n),
                         _ready(rstd).reshape(n),
                         _affine(weight, k, 1, x.dtype), gx, gw_parts, gb_parts)
    gw = gw_parts.sum(axis=0).astype(x.dtype).reshape(normalized)
    gb = gb_parts.sum(axis=0).astype(x.dtype).reshape(normalized)
    return gx.reshape(x.shape), gw, gb
