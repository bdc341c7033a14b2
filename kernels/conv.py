"""2-D convolution (cross-correlation, as in PyTorch) on NCHW arrays, forward and backward.

    x (N, C, H, W)  *  w (O, C, KH, KW)  ->  y (N, O, OH, OW)
    y[n, o, oh, ow] = sum_{c, i, j} w[o, c, i, j] * xp[n, c, oh*SH + i*DH, ow*SW + j*DW]
    OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1        (the same for OW)

where xp is x with PH rows and PW columns of zeros added on each side, and
stride = (SH, SW), padding = (PH, PW), dilation = (DH, DW). Bias is not part of
these kernels: the caller adds it.

Three versions, the same signatures:
- `conv2d_reference`: the seven nested loops of the formula (tests only, tiny sizes).
- `*_numpy`: im2col + np.matmul. im2col copies every window of x into a column,

      cols[n, (c, i, j), (oh, ow)] = xp[n, c, oh*SH + i*DH, ow*SW + j*DW]

  a (C*KH*KW, OH*OW) matrix per image (the row index is c*KH*KW + i*KW + j, the
  column index oh*OW + ow), so the convolution is one matrix product per image:
  y[n] = w.reshape(O, C*KH*KW) @ cols[n]. BLAS then does the arithmetic.
  The backward passes are matrix products too:
      d cols[n] = W^T @ dy[n], scattered back onto the pixels by col2im (the
                  adjoint of im2col: overlapping windows add up);
      dW        = sum_n dy[n] @ cols[n]^T.
- `*_numba`: the same plan with numba: a parallel im2col/col2im and the blocked
  GEMM from kernels/matmul.py. Measured (benchmarks/kernels.py) against a direct
  seven-loop numba convolution it is several times faster: the direct loop's
  innermost loop runs over only OW (28) outputs, too short to vectorize well,
  while the GEMM's innermost loop runs over OH*OW (784) columns.
"""
import numpy as np
from numba import njit, prange

from .matmul import FMA, gemm


# ----------------------------------------------------------------------------
# shapes and argument checks
# ----------------------------------------------------------------------------
def output_size(size, k, stride, padding, dilation):
    """Output length along one axis for input length `size` and kernel length `k`."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _out_hw(x_shape, kh, kw, stride, padding, dilation):
    return (output_size(x_shape[2], kh, stride[0], padding[0], dilation[0]),
            output_size(x_shape[3], kw, stride[1], padding[1], dilation[1]))


def _check(op, x_shape, w_shape, stride, padding, dilation, dtypes):
    """Raise a ValueError naming op unless x (N,C,H,W) and w (O,C,KH,KW) can be convolved.
    Returns (OH, OW)."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: input and weight must be 4-D (N, C, H, W) and (O, C, KH, KW), "
                         f"got shapes {tuple(x_shape)} and {tuple(w_shape)}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"{op}: input has {x_shape[1]} channels but weight expects "
                         f"{w_shape[1]} (shapes {tuple(x_shape)} and {tuple(w_shape)})")
    if len(set(dtypes)) != 1 or dtypes[0] not in (np.float32, np.float64):
        raise ValueError(f"{op}: arrays must all be float32 or all float64, got "
                         f"{', '.join(str(np.dtype(d)) for d in dtypes)}")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: need stride >= 1, dilation >= 1, padding >= 0, got "
                         f"stride={stride}, padding={padding}, dilation={dilation}")
    oh, ow = _out_hw(x_shape, w_shape[2], w_shape[3], stride, padding, dilation)
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: kernel {tuple(w_shape[2:])} with dilation {dilation} does not "
                         f"fit in input {tuple(x_shape[2:])} with padding {padding}")
    return oh, ow


def _check_grad(op, gy, n, o, oh, ow):
    if gy.shape != (n, o, oh, ow):
        raise ValueError(f"{op}: output gradient has shape {gy.shape}, expected {(n, o, oh, ow)}")


# ----------------------------------------------------------------------------
# reference: the formula as loops
# ----------------------------------------------------------------------------
def conv2d_reference(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """The definition, one multiply-add at a time (float64 sums). Small sizes only."""
    x, w = np.asarray(x), np.asarray(w)
    oh_, ow_ = _check("conv2d_reference", x.shape, w.shape, stride, padding, dilation,
                      (x.dtype, w.dtype))
    n_, c_, h_, w_ = x.shape
    o_, _, kh, kw = w.shape
    y = np.zeros((n_, o_, oh_, ow_))
    for n in range(n_):
        for o in range(o_):
            for oh in range(oh_):
                for ow in range(ow_):
                    total = 0.0
                    for c in range(c_):
                        for i in range(kh):
                            for j in range(kw):
                                r = oh * stride[0] - padding[0] + i * dilation[0]
                                s = ow * stride[1] - padding[1] + j * dilation[1]
                                if 0 <= r < h_ and 0 <= s < w_:  # outside: a padding zero
                                    total += w[o, c, i, j] * x[n, c, r, s]
                    y[n, o, oh, ow] = total
    return y.astype(x.dtype)


# ----------------------------------------------------------------------------
# numpy: im2col + matmul
# ----------------------------------------------------------------------------
def _windows_view(xp, kh, kw, stride, dilation, oh, ow):
    """A (N, C, KH, KW, OH, OW) view of the padded input xp, no copy:
    view[n, c, i, j, r, s] = xp[n, c, r*SH + i*DH, s*SW + j*DW]. Each index moves
    through memory by a fixed step, so as_strided can express it."""
    sn, sc, sh, sw = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, shape=xp.shape[:2] + (kh, kw, oh, ow),
        strides=(sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
        writeable=False)


def _pad(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def im2col(x, kh, kw, stride, padding, dilation):
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW): the window under output (oh, ow)
    is column oh*OW + ow of image n's matrix (layout in the module docstring)."""
    n, c = x.shape[:2]
    oh, ow = _out_hw(x.shape, kh, kw, stride, padding, dilation)
    view = _windows_view(_pad(x, padding), kh, kw, stride, dilation, oh, ow)
    return view.reshape(n, c * kh * kw, oh * ow)  # the one copy


def col2im(cols, x_shape, kh, kw, stride, padding, dilation):
    """The adjoint of im2col: dx[n, c, h, w] = sum of the cols entries that im2col
    copied from x[n, c, h, w] (a pixel under several windows gets several)."""
    n, c, h, w = x_shape
    ph, pw = padding
    oh, ow = _out_hw(x_shape, kh, kw, stride, padding, dilation)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    # one vectorized add per kernel offset: writes within an offset never overlap
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation[0], j * dilation[1]
            dxp[:, :, top:top + stride[0] * (oh - 1) + 1:stride[0],
                left:left + stride[1] * (ow - 1) + 1:stride[1]] += cols[:, :, i, j]
    return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + w])


def conv2d_forward_numpy(x, w, stride, padding, dilation):
    """y = conv2d(x, w) as im2col + one batched matrix product."""
    oh, ow = _check("conv2d_forward_numpy", x.shape, w.shape, stride, padding, dilation,
                    (x.dtype, w.dtype))
    o, _, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, padding, dilation)
    y = np.matmul(w.reshape(o, -1), cols)  # (O, K) @ (N, K, L) -> (N, O, L)
    return y.reshape(x.shape[0], o, oh, ow)


def conv2d_backward_input_numpy(gy, w, x_shape, stride, padding, dilation):
    """dx for y = conv2d(x, w): col2im(W^T @ dy[n])."""
    oh, ow = _check("conv2d_backward_input_numpy", x_shape, w.shape, stride, padding, dilation,
                    (gy.dtype, w.dtype))
    o, _, kh, kw = w.shape
    _check_grad("conv2d_backward_input_numpy", gy, x_shape[0], o, oh, ow)
    dcols = np.matmul(w.reshape(o, -1).T, gy.reshape(x_shape[0], o, oh * ow))
    return col2im(dcols, x_shape, kh, kw, stride, padding, dilation)


def conv2d_backward_weight_numpy(gy, x, w_shape, stride, padding, dilation):
    """dw for y = conv2d(x, w): sum over images of dy[n] @ cols[n]^T."""
    oh, ow = _check("conv2d_backward_weight_numpy", x.shape, w_shape, stride, padding,
                    dilation, (gy.dtype, x.dtype))
    o, _, kh, kw = w_shape
    _check_grad("conv2d_backward_weight_numpy", gy, x.shape[0], o, oh, ow)
    cols = im2col(x, kh, kw, stride, padding, dilation)
    dw = np.matmul(gy.reshape(x.shape[0], o, oh * ow), cols.transpose(0, 2, 1)).sum(axis=0)
    return dw.reshape(w_shape)


# ----------------------------------------------------------------------------
# numba: parallel im2col / col2im around the blocked GEMM
# ----------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _im2col_into(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """cols[n, c*KH*KW + i*KW + j, r*OW + s] = x[n, c, r*SH - PH + i*DH, s*SW - PW + j*DW],
    or 0 where that falls in the padding. No padded copy of x is made: the bounds test
    replaces it. One task per (image, channel)."""
    n_, c_, h_, w_ = x.shape
    for task in prange(n_ * c_):
        n, c = task // c_, task % c_
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                for r in range(oh):
                    y = r * sh - ph + i * dh
                    for s in range(ow):
                        xx = s * sw - pw + j * dw
                        inside = 0 <= y < h_ and 0 <= xx < w_
                        cols[n, row, r * ow + s] = x[n, c, y, xx] if inside else 0.0


@njit(inline="always", cache=True)
def _inside(size, out, stride, offset):
    """The range [lo, hi) of output positions s whose input position s*stride + offset
    lies in [0, size): the loops below run over it with no bounds test per element."""
    lo = max(0, (-offset + stride - 1) // stride)
    hi = min(out, (size - offset + stride - 1) // stride)
    return lo, max(lo, hi)


@njit(parallel=True, fastmath=FMA, cache=True)
def _col2im(cols, dx, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """dx[n, c] += every entry of cols that im2col copied from it. One task per
    (image, channel) plane, so no two threads write the same pixel. The rows and
    columns that fall in the padding are skipped by range, not tested one by one."""
    n_, c_, h_, w_ = dx.shape
    for task in prange(n_ * c_):
        n, c = task // c_, task % c_
        for i in range(kh):
            r_lo, r_hi = _inside(h_, oh, sh, i * dh - ph)
            for j in range(kw):
                row = cols[n, (c * kh + i) * kw + j]
                s_lo, s_hi = _inside(w_, ow, sw, j * dw - pw)
                x0 = s_lo * sw + j * dw - pw  # >= 0: the first column inside
                for r in range(r_lo, r_hi):
                    target = dx[n, c, r * sh + i * dh - ph, x0:]
                    source = row[r * ow + s_lo:]
                    for t in range(s_hi - s_lo):
                        target[t * sw] += source[t]


def _im2col_numba(x, kh, kw, stride, padding, dilation, oh, ow):
    """cols (N, C*KH*KW, OH*OW), C-contiguous."""
    n, c = x.shape[:2]
    cols = np.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    _im2col_into(np.ascontiguousarray(x), cols, kh, kw, *stride, *padding, *dilation, oh, ow)
    return cols


def conv2d_forward_numba(x, w, stride, padding, dilation):
    """y[n] = W (O, C*KH*KW) @ cols[n] with the numba im2col and GEMM."""
    oh, ow = _check("conv2d_forward_numba", x.shape, w.shape, stride, padding, dilation,
                    (x.dtype, w.dtype))
    o, _, kh, kw = w.shape
    cols = _im2col_numba(x, kh, kw, stride, padding, dilation, oh, ow)
    y = gemm(w.reshape(1, o, -1), cols)  # one W shared by all images
    return y.reshape(x.shape[0], o, oh, ow)


def conv2d_backward_input_numba(gy, w, x_shape, stride, padding, dilation):
    """dx = col2im(W^T @ dy[n]) with the numba GEMM and col2im."""
    oh, ow = _check("conv2d_backward_input_numba", x_shape, w.shape, stride, padding, dilation,
                    (gy.dtype, w.dtype))
    o, _, kh, kw = w.shape
    n = x_shape[0]
    _check_grad("conv2d_backward_input_numba", gy, n, o, oh, ow)
    wt = w.reshape(o, -1).T[None]  # (1, C*KH*KW, O): the GEMM reads a transposed A in place
    dcols = gemm(wt, np.ascontiguousarray(gy).reshape(n, o, oh * ow))
    dx = np.zeros(tuple(x_shape), dtype=gy.dtype)
    _col2im(dcols, dx, kh, kw, *stride, *padding, *dilation, oh, ow)
    return dx


def conv2d_backward_weight_numba(gy, x, w_shape, stride, padding, dilation):
    """dW = sum_n dy[n] @ cols[n]^T. cols[n]^T is passed as a transposed view: its
    columns are contiguous rows of cols, which the GEMM's inner-product kernel reads
    directly. (Writing cols in transposed layout instead scattered im2col's stores and
    made this 2.4x slower: 24 ms against 10 ms for x 64x16x28x28, w 32x16x3x3.)"""
    oh, ow = _check("conv2d_backward_weight_numba", x.shape, w_shape, stride, padding,
                    dilation, (gy.dtype, x.dtype))
    o, _, kh, kw = w_shape
    n = x.shape[0]
    _check_grad("conv2d_backward_weight_numba", gy, n, o, oh, ow)
    cols = _im2col_numba(x, kh, kw, stride, padding, dilation, oh, ow)
    per_image = gemm(np.ascontiguousarray(gy).reshape(n, o, oh * ow),
                     cols.transpose(0, 2, 1))  # (N, O, C*KH*KW)
    return per_image.sum(axis=0).reshape(w_shape)
