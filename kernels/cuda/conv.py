"""conv2d on the GPU: im2col and col2im kernels around CuPy's matmul (cuBLAS), and a
direct convolution kernel to read.

The plan is the one of kernels/conv.py (its module docstring has the formulas):

    cols = im2col(x)              x: (N, C, H, W)      cols: (N, C*KH*KW, OH*OW)
    y[n, g] = w[g] @ cols[n, g]   one batched cuBLAS product over images and groups
    gcols[n, g] = w[g]^T @ gy[n, g]
    gx = col2im(gcols)            every column entry added back onto its input pixel
    gw[g] = sum over n of gy[n, g] @ cols[n, g]^T

with cols[n, (c*KH + i)*KW + j, oh*OW + ow] = x[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW],
0 where that falls in the padding. cuBLAS multiplies matrices far faster than a
hand-written loop, so the kernels here only move the numbers.

Which thread handles which data:

im2col: one thread per element of cols, numbered in cols' own row-major order,
  so consecutive threads write consecutive addresses (ow varies fastest): the
  writes are coalesced. Their reads of x are SW apart: coalesced for stride 1,
  and served from the same cache lines for small strides.

col2im: one thread per element of x (a gather). Input pixel (h, w) was copied
  into every column whose window covers it, so its gradient is the sum of those
  entries; the thread finds them itself. For kernel row i the output row is
  oh = (h + PH - i*DH) / SH, which must divide exactly and lie in [0, OH) (the
  same for the columns). Each thread writes only its own pixel, so no atomics
  are needed and the sum is the same on every run. (The alternative, one thread
  per column entry adding into x with atomics, is shorter, but its order of
  additions, and so its rounding, changes from run to run.)

conv2d_direct: one thread per output y[n, o, oh, ow], which loops over the
  C/G x KH x KW window of its group and sums. Simple and without the cols
  buffer, but every thread reads its window from global memory and neighbouring
  threads read overlapping windows again, with no tile shared between them:
  slower than im2col + cuBLAS, here to be read and tested, not used by the ops.
"""
import numba
from numba import cuda

from ... import backend
from .checks import check_arrays, check_conv2d, check_gradient, contiguous
from .launch import THREADS, blocks_for, launch


# ----------------------------------------------------------------------------
# the kernels
# ----------------------------------------------------------------------------
@cuda.jit
def im2col_kernel(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    index = cuda.grid(1)
    if index >= cols.size:
        return
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    # index -> (n, c, i, j, r, s), the last varying fastest
    s = index % ow
    rest = index // ow
    r = rest % oh
    rest //= oh
    j = rest % kw
    rest //= kw
    i = rest % kh
    rest //= kh
    c = rest % c_
    n = rest // c_
    row = r * sh - ph + i * dh
    col = s * sw - pw + j * dw
    value = x.dtype.type(0)  # the padding
    if 0 <= row < h_ and 0 <= col < w_:
        value = x[n, c, row, col]
    cols[n, (c * kh + i) * kw + j, r * ow + s] = value


@cuda.jit
def col2im_kernel(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    index = cuda.grid(1)
    if index >= x.size:
        return
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    # index -> (n, c, h, w), the last varying fastest
    w = index % w_
    rest = index // w_
    h = rest % h_
    rest //= h_
    c = rest % c_
    n = rest // c_

    total = x.dtype.type(0)
    for i in range(kh):
        r_strided = h + ph - i * dh  # = r * SH when row i of window r is at h
        if r_strided < 0 or r_strided % sh != 0 or r_strided // sh >= oh:
            continue
        r = r_strided // sh
        for j in range(kw):
            s_strided = w + pw - j * dw
            if s_strided < 0 or s_strided % sw != 0 or s_strided // sw >= ow:
                continue
            total += cols[n, (c * kh + i) * kw + j, r * ow + s_strided // sw]
    x[n, c, h, w] = total


@cuda.jit
def conv2d_direct_kernel(x, w, y, sh, sw, ph, pw, dh, dw, groups):
    index = cuda.grid(1)
    if index >= y.size:
        return
    h_, w_ = x.shape[2], x.shape[3]
    o_, c_per_group, kh, kw = w.shape
    oh, ow = y.shape[2], y.shape[3]
    # index -> (n, o, r, s), the last varying fastest
    s = index % ow
    rest = index // ow
    r = rest % oh
    rest //= oh
    o = rest % o_
    n = rest // o_
    first_channel = o // (o_ // groups) * c_per_group  # of this output's group

    total = y.dtype.type(0)
    for c in range(c_per_group):
        for i in range(kh):
            row = r * sh - ph + i * dh
            if row < 0 or row >= h_:
                continue
            for j in range(kw):
                col = s * sw - pw + j * dw
                if 0 <= col < w_:
                    total += w[o, c, i, j] * x[n, first_channel + c, row, col]
    y[n, o, r, s] = total


def signatures(dtype):
    """Each kernel with the argument types launch() gives it for arrays of dtype."""
    f = numba.from_dtype(dtype)
    i64 = numba.types.int64
    arrays = {d: numba.types.Array(f, d, "C") for d in (3, 4)}
    return {
        im2col_kernel: (arrays[4], arrays[3]) + (i64,) * 10,
        col2im_kernel: (arrays[3], arrays[4]) + (i64,) * 10,
        conv2d_direct_kernel: (arrays[4],) * 3 + (i64,) * 7,
    }


# ----------------------------------------------------------------------------
# the callers: the kernel table's conv2d fields
# ----------------------------------------------------------------------------
def im2col(x, kh, kw, stride, padding, dilation, out):
    """cols (N, C*KH*KW, OH*OW) of a C-contiguous x (N, C, H, W); out = (OH, OW)."""
    n, c = x.shape[:2]
    xp = backend.get_array_module(x)
    cols = xp.empty((n, c * kh * kw, out[0] * out[1]), dtype=x.dtype)
    launch(im2col_kernel, blocks_for(cols.size), THREADS, x, cols,
           kh, kw, *stride, *padding, *dilation, *out)
    return cols


def col2im(cols, x_shape, kh, kw, stride, padding, dilation, out):
    """The adjoint of im2col: x (x_shape), each pixel the sum of its copies in cols."""
    x = backend.get_array_module(cols).empty(tuple(x_shape), dtype=cols.dtype)
    launch(col2im_kernel, blocks_for(x.size), THREADS, cols, x,
           kh, kw, *stride, *padding, *dilation, *out)
    return x


def _grouped(w, groups):
    """w (O, C/G, KH, KW) -> (G, O/G, C/G*KH*KW): row block g multiplies cols block g."""
    return w.reshape(groups, w.shape[0] // groups, -1)


def conv2d_forward_cuda(x, w, stride, padding, dilation, groups=1):
    """y (N, O, OH, OW) = conv2d(x (N, C, H, W), w (O, C/G, KH, KW)): y[n, g] = w[g] @ cols[n, g].

    cols' rows come grouped by channel, so group g's rows are one block of
    cols.reshape(N, G, C/G*KH*KW, OH*OW): one batched matmul over images and groups."""
    op = "conv2d_forward_cuda"
    check_arrays(op, x, w)
    oh, ow = check_conv2d(op, x.shape, w.shape, stride, padding, dilation, groups)
    x, w = contiguous(x, w)
    n, o, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    cols = im2col(x, kh, kw, stride, padding, dilation, (oh, ow))
    xp = backend.get_array_module(x)
    y = xp.matmul(_grouped(w, groups), cols.reshape(n, groups, -1, oh * ow))  # (N, G, O/G, L)
    return y.reshape(n, o, oh, ow)


def conv2d_backward_input_cuda(gy, w, x_shape, stride, padding, dilation, groups=1):
    """gx (x_shape) for output gradient gy: gcols[n, g] = w[g]^T @ gy[n, g], then col2im."""
    op = "conv2d_backward_input_cuda"
    check_arrays(op, gy, w)
    oh, ow = check_conv2d(op, x_shape, w.shape, stride, padding, dilation, groups)
    n, o, kh, kw = x_shape[0], w.shape[0], w.shape[2], w.shape[3]
    check_gradient(op, gy, (n, o, oh, ow))
    gy, w = contiguous(gy, w)
    xp = backend.get_array_module(gy)
    gcols = xp.matmul(_grouped(w, groups).transpose(0, 2, 1),
                      gy.reshape(n, groups, o // groups, oh * ow))  # (N, G, C/G*KH*KW, L)
    gcols = xp.ascontiguousarray(gcols).reshape(n, -1, oh * ow)
    return col2im(gcols, x_shape, kh, kw, stride, padding, dilation, (oh, ow))


def conv2d_backward_weight_cuda(gy, x, w_shape, stride, padding, dilation, groups=1):
    """gw (w_shape) = the sum over images n of gy[n, g] @ cols[n, g]^T, for each group g."""
    op = "conv2d_backward_weight_cuda"
    check_arrays(op, gy, x)
    oh, ow = check_conv2d(op, x.shape, w_shape, stride, padding, dilation, groups)
    n, o, kh, kw = x.shape[0], w_shape[0], w_shape[2], w_shape[3]
    check_gradient(op, gy, (n, o, oh, ow))
    gy, x = contiguous(gy, x)
    cols = im2col(x, kh, kw, stride, padding, dilation, (oh, ow))
    xp = backend.get_array_module(x)
    per_image = xp.matmul(gy.reshape(n, groups, o // groups, oh * ow),
                          cols.reshape(n, groups, -1, oh * ow).transpose(0, 1, 3, 2))
    return per_image.sum(axis=0).reshape(tuple(w_shape))


def conv2d_direct_cuda(x, w, stride, padding, dilation, groups=1):
    """conv2d_forward_cuda's result by the direct kernel (one thread per output), to read."""
    op = "conv2d_direct_cuda"
    check_arrays(op, x, w)
    oh, ow = check_conv2d(op, x.shape, w.shape, stride, padding, dilation, groups)
    x, w = contiguous(x, w)
    y = backend.get_array_module(x).empty((x.shape[0], w.shape[0], oh, ow), dtype=x.dtype)
    launch(conv2d_direct_kernel, blocks_for(y.size), THREADS, x, w, y,
           *stride, *padding, *dilation, groups)
    return y
