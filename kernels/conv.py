"""2-D convolution (cross-correlation, as in PyTorch) on NCHW arrays, forward and backward.

    x (N, C, H, W)  *  w (O, C, KH, KW)  ->  y (N, O, OH, OW)
    y[n, o, oh, ow] = sum_{c, i, j} w[o, c, i, j] * xp[n, c, oh*SH + i*DH, ow*SW + j*DW]
    OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1        (the same for OW)

where xp is x with PH rows and PW columns of zeros added on each side, and
stride = (SH, SW), padding = (PH, PW), dilation = (DH, DW). Bias is not part of
these kernels: the caller adds it.

Groups. With groups = G the C input and O output channels are cut into G
equal blocks, and output block g sees only input block g: w is (O, C/G, KH, KW)
and output channel o, of block g = o // (O/G), reads input channels
g*C/G ... (g+1)*C/G - 1. G = 1 is the ordinary convolution; G = C with O = k*C
is the "depthwise" one (each channel filtered on its own by k filters).

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
  With groups, the rows of cols come grouped by channel, so the rows of group
  g are one contiguous block: cols.reshape(N, G, C/G*KH*KW, OH*OW). The product
  becomes one batched matmul over (image, group) with w.reshape(G, O/G, C/G*KH*KW),
  and nothing else changes (im2col and col2im never look at the groups).
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


def _check(op, x_shape, w_shape, stride, padding, dilation, groups, dtypes):
    """Raise a ValueError naming op unless x (N,C,H,W) and w (O,C/groups,KH,KW) can be
    convolved. Returns (OH, OW)."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: input and weight must be 4-D (N, C, H, W) and (O, C, KH, KW), "
                         f"got shapes {tuple(x_shape)} and {tuple(w_shape)}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if w_shape[0] % groups:
        raise ValueError(f"{op}: weight has {w_shape[0]} output channels, which groups={groups} "
                         f"does not divide (weight shape {tuple(w_shape)})")
    if x_shape[1] != w_shape[1] * groups:
        raise ValueError(f"{op}: input has {x_shape[1]} channels but weight expects "
                         f"{w_shape[1] * groups}" + (f" ({w_shape[1]} per group x groups={groups})"
                                                     if groups > 1 else "")
                         + f" (shapes {tuple(x_shape)} and {tuple(w_shape)})")
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
def conv2d_reference(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """The definition, one multiply-add at a time (float64 sums). Small sizes only."""
    x, w = np.asarray(x), np.asarray(w)
    oh_, ow_ = _check("conv2d_reference", x.shape, w.shape, stride, padding, dilation, groups,
                      (x.dtype, w.dtype))
    n_, _, h_, w_ = x.shape
    o_, c_per_group, kh, kw = w.shape
    y = np.zeros((n_, o_, oh_, ow_))
    for n in range(n_):
        for o in range(o_):
            first_channel = o // (o_ // groups) * c_per_group  # of this output's group
            for oh in range(oh_):
                for ow in range(ow_):
                    total = 0.0
                    for c in range(c_per_group):
                        for i in range(kh):
                            for j in range(kw):
                                r = oh * stride[0] - padding[0] + i * dilation[0]
                                s = ow * stride[1] - padding[1] + j * dilation[1]
                                if 0 <= r < h_ and 0 <= s < w_:  # outside: a padding zero
                                    total += w[o, c, i, j] * x[n, first_channel + c, r, s]
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


def _grouped(w, groups):
    """w (O, C/G, KH, KW) -> (G, O/G, C/G*KH*KW): row block g multiplies cols block g."""
    return w.reshape(groups, w.shape[0] // groups, w[0].size)


def conv2d_forward_numpy(x, w, stride, padding, dilation, groups=1):
    """y = conv2d(x, w) as im2col + one matrix product batched over images and groups."""
    oh, ow = _check("conv2d_forward_numpy", x.shape, w.shape, stride, padding, dilation, groups,
                    (x.dtype, w.dtype))
    n, o, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    cols = im2col(x, kh, kw, stride, padding, dilation).reshape(n, groups, w[0].size, oh * ow)
    y = np.matmul(_grouped(w, groups), cols)  # (G, O/G, K) @ (N, G, K, L) -> (N, G, O/G, L)
    return y.reshape(n, o, oh, ow)


def conv2d_backward_input_numpy(gy, w, x_shape, stride, padding, dilation, groups=1):
    """dx for y = conv2d(x, w): col2im(W^T @ dy[n]), group by group."""
    oh, ow = _check("conv2d_backward_input_numpy", x_shape, w.shape, stride, padding, dilation,
                    groups, (gy.dtype, w.dtype))
    n, o, kh, kw = x_shape[0], w.shape[0], w.shape[2], w.shape[3]
    _check_grad("conv2d_backward_input_numpy", gy, n, o, oh, ow)
    dcols = np.matmul(_grouped(w, groups).transpose(0, 2, 1),
                      gy.reshape(n, groups, o // groups, oh * ow))  # (N, G, K, L)
    return col2im(dcols, x_shape, kh, kw, stride, padding, dilation)


def conv2d_backward_weight_numpy(gy, x, w_shape, stride, padding, dilation, groups=1):
    """dw for y = conv2d(x, w): sum over images of dy[n] @ cols[n]^T, group by group."""
    oh, ow = _check("conv2d_backward_weight_numpy", x.shape, w_shape, stride, padding,
                    dilation, groups, (gy.dtype, x.dtype))
    n, o, kh, kw = x.shape[0], w_shape[0], w_shape[2], w_shape[3]
    _check_grad("conv2d_backward_weight_numpy", gy, n, o, oh, ow)
    k = w_shape[1] * kh * kw  # rows of cols per group
    cols = im2col(x, kh, kw, stride, padding, dilation).reshape(n, groups, k, oh * ow)
    dw = np.matmul(gy.reshape(n, groups, o // groups, oh * ow), cols.transpose(0, 1, 3, 2))
    return dw.sum(axis=0).reshape(w_shape)  # (N, G, O/G, K) summed over images


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


def _per_item(w_grouped, n):
    """The grouped weights (G, O/G, K) as the A operand of a GEMM batched over
    (image, group). One group: the batch of 1 that gemm shares with every image.
    Several: repeated for each image, as gemm shares only a batch of 1 (a copy of
    N*O*K numbers, small next to cols' N*C*KH*KW*OH*OW)."""
    if w_grouped.shape[0] == 1:
        return w_grouped
    repeated = np.broadcast_to(w_grouped, (n,) + w_grouped.shape)
    return np.ascontiguousarray(repeated).reshape((n * w_grouped.shape[0],) + w_grouped.shape[1:])


def conv2d_forward_numba(x, w, stride, padding, dilation, groups=1):
    """y[n, g] = W[g] (O/G, C/G*KH*KW) @ cols[n, g] with the numba im2col and GEMM."""
    oh, ow = _check("conv2d_forward_numba", x.shape, w.shape, stride, padding, dilation, groups,
                    (x.dtype, w.dtype))
    n, o, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    cols = _im2col_numba(x, kh, kw, stride, padding, dilation, oh, ow)
    y = gemm(_per_item(_grouped(w, groups), n), cols.reshape(n * groups, w[0].size, oh * ow))
    return y.reshape(n, o, oh, ow)


def conv2d_backward_input_numba(gy, w, x_shape, stride, padding, dilation, groups=1):
    """dx = col2im(W[g]^T @ dy[n, g]) with the numba GEMM and col2im."""
    oh, ow = _check("conv2d_backward_input_numba", x_shape, w.shape, stride, padding, dilation,
                    groups, (gy.dtype, w.dtype))
    n, o, kh, kw = x_shape[0], w.shape[0], w.shape[2], w.shape[3]
    _check_grad("conv2d_backward_input_numba", gy, n, o, oh, ow)
    # W[g]^T as a transposed view: the GEMM reads a transposed A in place
    wt = _per_item(_grouped(w, groups), n).transpose(0, 2, 1)
    dcols = gemm(wt, np.ascontiguousarray(gy).reshape(n * groups, o // groups, oh * ow))
    dx = np.zeros(tuple(x_shape), dtype=gy.dtype)
    dcols = dcols.reshape(n, x_shape[1] * kh * kw, oh * ow)
    _col2im(dcols, dx, kh, kw, *stride, *padding, *dilation, oh, ow)
    return dx


def conv2d_backward_weight_numba(gy, x, w_shape, stride, padding, dilation, groups=1):
    """dW[g] = sum_n dy[n, g] @ cols[n, g]^T. cols[n, g]^T is passed as a transposed view,
    which the GEMM's packing reads in place. (Writing cols in transposed layout instead
    scattered im2col's stores and made this slower.)"""
    oh, ow = _check("conv2d_backward_weight_numba", x.shape, w_shape, stride, padding,
                    dilation, groups, (gy.dtype, x.dtype))
    n, o, kh, kw = x.shape[0], w_shape[0], w_shape[2], w_shape[3]
    _check_grad("conv2d_backward_weight_numba", gy, n, o, oh, ow)
    k = w_shape[1] * kh * kw  # rows of cols per group
    cols = _im2col_numba(x, kh, kw, stride, padding, dilation, oh, ow)
    per_item = gemm(np.ascontiguousarray(gy).reshape(n * groups, o // groups, oh * ow),
                    cols.reshape(n * groups, k, oh * ow).transpose(0, 2, 1))  # (N*G, O/G, K)
    return per_item.reshape(n, groups, o // groups, k).sum(axis=0).reshape(w_shape)
