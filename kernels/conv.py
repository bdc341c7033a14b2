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

Four versions, the same signatures:
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
- `*_fast` (the default setting): the numpy version's plan, a few images at a
  time, with numba moving the numbers and NumPy's BLAS multiplying them (why it
  is fast: the comment above those functions, at the end of this file).
- `*_numba`: the same plan with numba: a parallel im2col/col2im and the blocked
  GEMM from kernels/matmul.py. Measured (benchmarks/kernels.py) against a direct
  seven-loop numba convolution it is several times faster: the direct loop's
  innermost loop runs over only OW (28) outputs, too short to vectorize well,
  while the GEMM's innermost loop runs over OH*OW (784) columns.
"""
import numpy as np
from numba import njit, prange, uint64

from . import compiling  # noqa: F401 (the first compilation says so)
from .geometry import check_conv, check_grad_shape, conv_output_size
from .matmul import FMA, gemm


# ----------------------------------------------------------------------------
# argument checks (the window arithmetic is in geometry.py)
# ----------------------------------------------------------------------------
def _out_hw(x_shape, kh, kw, stride, padding, dilation):
    return tuple(conv_output_size(*axis) for axis in
                 zip(x_shape[2:], (kh, kw), stride, padding, dilation))


def _check(op, x_shape, w_shape, stride, padding, dilation, groups, dtypes):
    """Raise a ValueError naming op unless x (N,C,H,W) and w (O,C/groups,KH,KW), of one
    float dtype, can be convolved. Returns (OH, OW)."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: input and weight must be 4-D (N, C, H, W) and (O, C, KH, KW), "
                         f"got shapes {tuple(x_shape)} and {tuple(w_shape)}")
    if len(set(dtypes)) != 1 or dtypes[0] not in (np.float32, np.float64):
        raise ValueError(f"{op}: arrays must all be float32 or all float64, got "
                         f"{', '.join(str(np.dtype(d)) for d in dtypes)}")
    return check_conv(op, x_shape, w_shape, stride, padding, dilation, groups)


def _check_grad(op, gy, n, o, oh, ow):
    check_grad_shape(op, gy.shape, (n, o, oh, ow))


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
    """dW[g] = sum_n dy[n, g] @ cols[n, g]^T. cols[n, g]^T is passed as a transposed view:
    its columns are contiguous rows of cols, which the GEMM's inner-product kernel reads
    directly. (Writing cols in transposed layout instead scattered im2col's stores and
    made this slower.)"""
    oh, ow = _check("conv2d_backward_weight_numba", x.shape, w_shape, stride, padding,
                    dilation, groups, (gy.dtype, x.dtype))
    n, o, kh, kw = x.shape[0], w_shape[0], w_shape[2], w_shape[3]
    _check_grad("conv2d_backward_weight_numba", gy, n, o, oh, ow)
    k = w_shape[1] * kh * kw  # rows of cols per group
    cols = _im2col_numba(x, kh, kw, stride, padding, dilation, oh, ow)
    per_item = gemm(np.ascontiguousarray(gy).reshape(n * groups, o // groups, oh * ow),
                    cols.reshape(n * groups, k, oh * ow).transpose(0, 2, 1))  # (N*G, O/G, K)
    return per_item.reshape(n, groups, o // groups, k).sum(axis=0).reshape(w_shape)


# ----------------------------------------------------------------------------
# fast: numba moves the numbers, BLAS (through NumPy) multiplies them, a few
# images at a time
# ----------------------------------------------------------------------------
# The plan of the numpy version (cols (N, C*KH*KW, OH*OW), y[n, g] = W_g @ cols[n, g]),
# with four changes, each measured on the shapes of a small CNN (16 -> 32 channels,
# 3x3, 28x28 images, one thread):
#
# 1. Chunks of images. cols is KH*KW times as large as x. Built for the whole batch
#    it goes out to memory and the products read it back from there; built for a
#    few images at a time (about CHUNK_BYTES) into one buffer that every chunk
#    reuses, it stays in the core's L2 cache, where OpenBLAS runs these products
#    (a small O = 32 by a small K = 144) about 1.5x faster. A chunk's product
#    lands in NCHW order, y[n0:n1] (np.matmul batches over its images), so no pass
#    puts the output back in order. The weight gradient builds each chunk's cols
#    again rather than keeping the forward's: that is cheap in cache, while the
#    kept cols (9x the input for a 3x3 kernel) would be written to memory and read
#    back, which costs more, and be held from forward to backward.
# 2. im2col and col2im copy or add runs of contiguous numbers, not one number at
#    a time behind a bounds test: for each tap (i, j), `_inside` gives the output
#    rows and columns whose pixel lies in the image, the rest is zero-filled
#    (im2col) or skipped (col2im), and the inner loops are plain copies that LLVM
#    vectorizes. Their indices are unsigned: numba checks every signed index for
#    being negative (Python's a[-1]), and that check keeps loops from vectorizing.
# 3. With stride 1 and outputs as wide as the input ("same" padding), a tap's rows
#    follow each other in cols exactly as the pixels they read do in x, so the whole
#    tap is ONE run of about OH*OW numbers instead of OH runs of OW: im2col copies it
#    at once, then zeroes its padding columns (which received pixels of the next
#    row); col2im first zeroes those entries of its scratch cols, then adds the run
#    at once (adding 0 to a pixel leaves it as it is).
# 4. A 1x1 convolution with stride 1 and no padding needs no im2col: x (N, C, H*W)
#    is its cols, and each pass is one product.
# cols of about this many bytes at a time: well inside a core's L2 cache (chunks of
# 256 KiB to 1 MiB measured alike on the CNN's layers, 4 MiB slower)
CHUNK_BYTES = 1 << 20


@njit(inline="always", cache=True)
def _zero(a, start, stop):
    """a[start:stop] = 0 for a 1-D a."""
    for t in range(uint64(start), uint64(stop)):
        a[t] = 0.0


@njit(inline="always", cache=True)
def _copy_run(dst, d, src, s, count, step):
    """dst[d + t] = src[s + t * step] for t < count, for 1-D arrays."""
    d, s = uint64(d), uint64(s)
    if step == 1:
        for t in range(uint64(count)):
            dst[d + t] = src[s + t]
    else:
        for t in range(uint64(count)):
            dst[d + t] = src[s + t * uint64(step)]


@njit(inline="always", cache=True)
def _add_run(dst, d, src, s, count, step):
    """dst[d + t * step] += src[s + t] for t < count, for 1-D arrays."""
    d, s = uint64(d), uint64(s)
    if step == 1:
        for t in range(uint64(count)):
            dst[d + t] += src[s + t]
    else:
        for t in range(uint64(count)):
            dst[d + t * uint64(step)] += src[s + t]


@njit(parallel=True, cache=True)
def _im2col_runs(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """cols (N, C*KH*KW, OH*OW) of C-contiguous x (N, C, H, W), as `im2col`, run by run.
    One task per (image, channel)."""
    n_, c_, h_, w_ = x.shape
    xf, cf = x.reshape(-1), cols.reshape(-1)
    one_run = sh == 1 and sw == 1 and ow == w_  # a tap's rows follow each other as in x
    for task in prange(n_ * c_):
        for i in range(kh):
            r_lo, r_hi = _inside(h_, oh, sh, i * dh - ph)
            for j in range(kw):
                s_lo, s_hi = _inside(w_, ow, sw, j * dw - pw)
                row = (task * kh * kw + i * kw + j) * oh * ow  # tap (i, j) of this plane
                if r_lo == r_hi or s_lo == s_hi:  # every window has this tap in the padding
                    _zero(cf, row, row + oh * ow)
                    continue
                _zero(cf, row, row + r_lo * ow)                # rows above the image
                _zero(cf, row + r_hi * ow, row + oh * ow)      # rows below it
                pixel = task * h_ * w_ + (r_lo * sh + i * dh - ph) * w_ + s_lo * sw + j * dw - pw
                if one_run:
                    _copy_run(cf, row + r_lo * ow + s_lo, xf, pixel,
                              (r_hi - r_lo - 1) * ow + s_hi - s_lo, 1)
                for r in range(r_lo, r_hi):
                    out = row + r * ow
                    if not one_run:
                        _copy_run(cf, out + s_lo, xf, pixel + (r - r_lo) * sh * w_, s_hi - s_lo,
                                  sw)
                    _zero(cf, out, out + s_lo)                 # left padding
                    _zero(cf, out + s_hi, out + ow)            # right padding


@njit(parallel=True, cache=True)
def _col2im_runs(cols, dx, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """dx[n, c] += the entries of cols (N, C*KH*KW, OH*OW) that _im2col_runs copies from it.
    cols is scratch: the entries for the padding are set to 0 on the way. One task per
    (image, channel) plane, so no two threads write the same pixel."""
    n_, c_, h_, w_ = dx.shape
    df, cf = dx.reshape(-1), cols.reshape(-1)
    one_run = sh == 1 and sw == 1 and ow == w_
    for task in prange(n_ * c_):
        for i in range(kh):
            r_lo, r_hi = _inside(h_, oh, sh, i * dh - ph)
            for j in range(kw):
                s_lo, s_hi = _inside(w_, ow, sw, j * dw - pw)
                if r_lo == r_hi or s_lo == s_hi:
                    continue
                row = (task * kh * kw + i * kw + j) * oh * ow
                pixel = task * h_ * w_ + (r_lo * sh + i * dh - ph) * w_ + s_lo * sw + j * dw - pw
                if one_run:
                    for r in range(r_lo, r_hi):
                        _zero(cf, row + r * ow, row + r * ow + s_lo)
                        _zero(cf, row + r * ow + s_hi, row + (r + 1) * ow)
                    _add_run(df, pixel, cf, row + r_lo * ow + s_lo,
                             (r_hi - r_lo - 1) * ow + s_hi - s_lo, 1)
                    continue
                for r in range(r_lo, r_hi):
                    _add_run(df, pixel + (r - r_lo) * sh * w_, cf, row + r * ow + s_lo,
                             s_hi - s_lo, sw)


@njit(parallel=True, cache=True)
def _add_bias(y, bias):
    """y[n, o, :] += bias[o] for y (N, O, L): numba's loop beats NumPy's broadcast add."""
    n_, o_, l_ = y.shape
    yf = y.reshape(-1)
    for task in prange(n_ * o_):
        b, start = bias[task % o_], uint64(task * l_)
        for t in range(uint64(l_)):
            yf[start + t] += b


def _pointwise(kh, kw, stride, padding):
    """A 1x1 kernel with stride 1 and no padding: x itself is cols."""
    return (kh, kw) == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0)


def _chunk_size(n, per_image):
    """Images per chunk: their cols take about CHUNK_BYTES."""
    return max(1, min(n, CHUNK_BYTES // max(1, per_image)))


def _cols_by_chunk(x, kh, kw, stride, padding, dilation, oh, ow, groups):
    """Yield (start, stop, cols) for chunks of the images of x: cols (stop - start, G,
    C/G*KH*KW, OH*OW) is im2col(x[start:stop]) grouped, in one buffer reused by every chunk
    (use it before asking for the next)."""
    n, c = x.shape[:2]
    k, length = c * kh * kw, oh * ow
    if _pointwise(kh, kw, stride, padding):
        yield 0, n, x.reshape(n, groups, k // groups, length)
        return
    step = _chunk_size(n, k * length * x.itemsize)
    buffer = np.empty((step, k, length), dtype=x.dtype)
    for start in range(0, n, step):
        stop = min(n, start + step)
        cols = buffer[:stop - start]
        _im2col_runs(x[start:stop], cols, kh, kw, *stride, *padding, *dilation, oh, ow)
        yield start, stop, cols.reshape(stop - start, groups, k // groups, length)


def conv2d_forward_fast(x, w, stride, padding, dilation, groups=1, bias=None):
    """y (N, O, OH, OW) = conv2d(x, w) (+ bias), chunk by chunk: y[chunk] = W_g @ cols[chunk],
    the bias added while the chunk is in cache."""
    oh, ow = _check("conv2d_forward_fast", x.shape, w.shape, stride, padding, dilation, groups,
                    (x.dtype, w.dtype))
    n, o, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    y = np.empty((n, o, oh * ow), dtype=x.dtype)
    w_grouped = _grouped(w, groups)
    for start, stop, cols in _cols_by_chunk(np.ascontiguousarray(x), kh, kw, stride, padding,
                                            dilation, oh, ow, groups):
        out = y[start:stop]
        np.matmul(w_grouped, cols, out=out.reshape(stop - start, groups, o // groups, oh * ow))
        if bias is not None:
            _add_bias(out, np.ascontiguousarray(bias))
    return y.reshape(n, o, oh, ow)


def conv2d_backward_input_fast(gy, w, x_shape, stride, padding, dilation, groups=1):
    """dx = col2im(W_g^T @ dy[chunk, g]), chunk by chunk (the product of a chunk stays in
    cache for col2im)."""
    oh, ow = _check("conv2d_backward_input_fast", x_shape, w.shape, stride, padding, dilation,
                    groups, (gy.dtype, w.dtype))
    n, o, kh, kw = x_shape[0], w.shape[0], w.shape[2], w.shape[3]
    _check_grad("conv2d_backward_input_fast", gy, n, o, oh, ow)
    w_t = _grouped(w, groups).transpose(0, 2, 1)  # (G, C/G*KH*KW, O/G), read in place by BLAS
    gy = np.ascontiguousarray(gy).reshape(n, groups, o // groups, oh * ow)
    if _pointwise(kh, kw, stride, padding):
        return np.matmul(w_t, gy).reshape(x_shape)
    k = x_shape[1] * kh * kw
    step = _chunk_size(n, k * oh * ow * gy.itemsize)
    dcols = np.empty((step, k, oh * ow), dtype=gy.dtype)
    dx = np.zeros(tuple(x_shape), dtype=gy.dtype)
    for start in range(0, n, step):
        stop = min(n, start + step)
        chunk = dcols[:stop - start]
        np.matmul(w_t, gy[start:stop], out=chunk.reshape(stop - start, groups, k // groups,
                                                          oh * ow))
        _col2im_runs(chunk, dx[start:stop], kh, kw, *stride, *padding, *dilation, oh, ow)
    return dx


def conv2d_backward_weight_fast(gy, x, w_shape, stride, padding, dilation, groups=1):
    """dW_g = sum over images of dy[n, g] @ cols[n, g]^T, chunk by chunk. Computed as its
    transpose, cols[n, g] @ dy[n, g]^T (BLAS reads dy^T in place): the orientation that
    OpenBLAS ran fastest here."""
    oh, ow = _check("conv2d_backward_weight_fast", x.shape, w_shape, stride, padding,
                    dilation, groups, (gy.dtype, x.dtype))
    n, o, kh, kw = x.shape[0], w_shape[0], w_shape[2], w_shape[3]
    _check_grad("conv2d_backward_weight_fast", gy, n, o, oh, ow)
    k = w_shape[1] * kh * kw  # rows of cols per group
    gy_t = np.ascontiguousarray(gy).reshape(n, groups, o // groups, oh * ow).transpose(0, 1, 3, 2)
    dw_t = np.zeros((groups, k, o // groups), dtype=gy.dtype)
    for start, stop, cols in _cols_by_chunk(np.ascontiguousarray(x), kh, kw, stride, padding,
                                            dilation, oh, ow, groups):
        dw_t += np.matmul(cols, gy_t[start:stop]).sum(axis=0)
    return dw_t.transpose(0, 2, 1).reshape(w_shape)
