"""The GPU kernels: conv2d and pooling (forward and backward), and a teaching matmul.

The CUDA C source is in kernels/cuda/, one file per family, each explaining at its
top which thread handles which data:

    conv.cu          im2col and col2im, the data movement around conv2d's matmuls
    pool.cu          max and average pooling, forward and backward
    matmul_tiled.cu  a shared-memory tiled matmul, to read (cupy.matmul is cuBLAS)

A .cu file is compiled by CuPy (NVRTC) the first time one of its kernels is
called, for float or double, and CuPy keeps the binary in its disk cache, so
later runs skip the compiler. Importing this module imports no CuPy.

The functions take and return CuPy arrays and have the same signatures as the
CPU kernels in kernels/conv.py and kernels/pool.py (stride, padding, dilation
and kernel are (int, int) pairs), so an op can pick either by the device of its
input. conv2d is im2col + cuBLAS: the convolution becomes one matrix product per
image (and group), and cuBLAS multiplies matrices far faster than a hand-written
loop. Pooling here has PyTorch's default options only (no dilation, ceil_mode,
count_include_pad=False or divisor_override: a clear error names them).
"""
import functools
import os

import numpy as np

from .. import backend

THREADS = 256  # threads per block for the kernels with one thread per element
TILE = 32      # matmul_tiled.cu multiplies TILE x TILE tiles with TILE x TILE threads

# the template kernels in each .cu file
SOURCES = {
    "conv.cu": ("im2col", "col2im"),
    "pool.cu": ("max_pool2d_forward", "max_pool2d_backward",
                "avg_pool2d_forward", "avg_pool2d_backward"),
    "matmul_tiled.cu": ("matmul_tiled",),
}
_C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_INT_LIMIT = 2**31 - 1  # the kernels index with C ints


# ----------------------------------------------------------------------------
# loading and launching
# ----------------------------------------------------------------------------
def source_path(filename):
    """Where a .cu file is: beside this module, in cuda/ (installed as package data)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda", filename)


@functools.lru_cache(maxsize=None)
def _module(filename, c_type):
    """Compile every kernel of one .cu file for one element type ("float" or "double")."""
    with open(source_path(filename)) as f:
        code = f.read()
    names = [f"{kernel}<{c_type}>" for kernel in SOURCES[filename]]
    return backend.cupy().RawModule(code=code, name_expressions=names)


@functools.lru_cache(maxsize=None)
def _kernel(filename, name, dtype):
    c_type = _C_TYPES[np.dtype(dtype)]
    return _module(filename, c_type).get_function(f"{name}<{c_type}>")


def _launch(kernel, n_threads, *args):
    """Run `kernel` with one thread per element: n_threads threads in blocks of THREADS.

    The kernels index arrays as C-contiguous. The .cu files declare sizes as C
    `int`, while CuPy passes a Python int as a 64-bit `long long`, so each size
    is sent as an int32.
    """
    if not all(a.flags.c_contiguous for a in args if hasattr(a, "flags")):
        raise AssertionError("kernels/gpu.py: a kernel was given a non-contiguous array")
    args = tuple(np.int32(a) if isinstance(a, (int, np.integer)) else a for a in args)
    blocks = -(-n_threads // THREADS)
    if blocks > 0:
        kernel((blocks,), (THREADS,), args)


def _on_gpu(op, *arrays):
    cp = backend.cupy()
    for a in arrays:
        if not isinstance(a, cp.ndarray):
            raise TypeError(f"{op}: expects CuPy arrays (device 'cuda'), got {type(a).__name__}")


def _inputs(op, *arrays):
    """The arrays as C-contiguous CuPy arrays of one float dtype, or a clear error."""
    _on_gpu(op, *arrays)
    if len({a.dtype for a in arrays}) != 1 or arrays[0].dtype not in _C_TYPES:
        raise TypeError(f"{op}: needs float32 or float64 arrays of one dtype, got "
                        + ", ".join(str(a.dtype) for a in arrays))
    return [backend.cupy().ascontiguousarray(a) for a in arrays]


def _check_int_sizes(op, **shapes):
    """The kernels use C ints for indices: every array must have fewer than 2**31 elements."""
    for name, shape in shapes.items():
        if int(np.prod(shape, dtype=np.int64)) > _INT_LIMIT:
            raise ValueError(f"{op}: {name} of shape {tuple(shape)} has more than 2**31 - 1 "
                             "elements, too many for the kernels' int indices; "
                             "use smaller batches")


def _check_shape(op, name, shape, expected):
    if tuple(shape) != tuple(expected):
        raise ValueError(f"{op}: {name} has shape {tuple(shape)}, expected {tuple(expected)}")


def _output_size(op, size, kernel, stride, padding, dilation=(1, 1)):
    """(OH, OW) of a window of `kernel` sliding over an image of `size` (H, W)."""
    out = tuple((size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                for i in range(2))
    if min(out) < 1:
        raise ValueError(f"{op}: kernel {tuple(kernel)} with dilation {tuple(dilation)} does "
                         f"not fit in a {size[0]}x{size[1]} image with padding {tuple(padding)}")
    return out


# ----------------------------------------------------------------------------
# conv2d: im2col kernel, cuBLAS matmul, col2im kernel
# ----------------------------------------------------------------------------
def _im2col(x, kernel, out, stride, padding, dilation):
    """cols (N, C*KH*KW, OH*OW): column oh*OW + ow of cols[n] is the patch under (oh, ow)."""
    n, c, h, w = x.shape
    cols = backend.cupy().empty((n, c * kernel[0] * kernel[1], out[0] * out[1]), dtype=x.dtype)
    _launch(_kernel("conv.cu", "im2col", x.dtype), cols.size, x, cols,
            n, c, h, w, *kernel, *out, *stride, *padding, *dilation)
    return cols


def _col2im(cols, x_shape, kernel, out, stride, padding, dilation):
    """The adjoint of im2col: x (N, C, H, W), each pixel the sum of its copies in cols."""
    x = backend.cupy().empty(x_shape, dtype=cols.dtype)
    _launch(_kernel("conv.cu", "col2im", cols.dtype), x.size, cols, x,
            *x_shape, *kernel, *out, *stride, *padding, *dilation)
    return x


def _check_groups(op, c, w_shape, groups):
    """Raise unless w (O, C/groups, KH, KW) fits an input of c channels."""
    if not isinstance(groups, (int, np.integer)) or groups < 1 or w_shape[0] % groups:
        raise ValueError(f"{op}: groups={groups!r} must be a positive int that divides the "
                         f"{w_shape[0]} output channels")
    if c != w_shape[1] * groups:
        raise ValueError(f"{op}: input has {c} channels but weight expects "
                         f"{w_shape[1] * groups} (weight {tuple(w_shape)}, groups={groups})")


def conv2d_forward_cuda(x, w, stride, padding, dilation, groups=1):
    """y (N, O, OH, OW) = conv2d(x (N, C, H, W), w (O, C/G, KH, KW)): y[n, g] = w[g] @ cols[n, g].

    cols' rows come grouped by channel, so group g's rows are one block of
    cols.reshape(N, G, C/G*KH*KW, OH*OW): one batched matmul over images and groups."""
    op = "conv2d_forward_cuda"
    x, w = _inputs(op, x, w)
    n, c, h, width = x.shape
    o, _, kh, kw = w.shape
    _check_groups(op, c, w.shape, groups)
    out = _output_size(op, (h, width), (kh, kw), stride, padding, dilation)
    _check_int_sizes(op, x=x.shape, cols=(n, c * kh * kw, out[0] * out[1]), y=(n, o) + out)
    cols = _im2col(x, (kh, kw), out, stride, padding, dilation)
    y = backend.cupy().matmul(w.reshape(groups, o // groups, -1),  # a batch of N*G GEMMs
                              cols.reshape(n, groups, -1, out[0] * out[1]))
    return y.reshape((n, o) + out)


def conv2d_backward_input_cuda(gy, w, x_shape, stride, padding, dilation, groups=1):
    """gx (x_shape) for output gradient gy: gcols[n, g] = w[g]^T @ gy[n, g], then col2im."""
    op = "conv2d_backward_input_cuda"
    gy, w = _inputs(op, gy, w)
    n, c, h, width = x_shape
    o, _, kh, kw = w.shape
    _check_groups(op, c, w.shape, groups)
    out = _output_size(op, (h, width), (kh, kw), stride, padding, dilation)
    _check_shape(op, "gy", gy.shape, (n, o) + out)
    _check_int_sizes(op, x=x_shape, cols=(n, c * kh * kw, out[0] * out[1]))
    wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    gcols = backend.cupy().matmul(wt, gy.reshape(n, groups, o // groups, out[0] * out[1]))
    return _col2im(gcols.reshape(n, c * kh * kw, -1), tuple(x_shape), (kh, kw), out, stride,
                   padding, dilation)


def conv2d_backward_weight_cuda(gy, x, w_shape, stride, padding, dilation, groups=1):
    """gw (w_shape) = the sum over images n of gy[n, g] @ cols[n, g]^T, for each group g."""
    op = "conv2d_backward_weight_cuda"
    gy, x = _inputs(op, gy, x)
    n, c, h, width = x.shape
    o, _, kh, kw = w_shape
    _check_groups(op, c, w_shape, groups)
    out = _output_size(op, (h, width), (kh, kw), stride, padding, dilation)
    _check_shape(op, "gy", gy.shape, (n, o) + out)
    _check_int_sizes(op, x=x.shape, cols=(n, c * kh * kw, out[0] * out[1]))
    cols = _im2col(x, (kh, kw), out, stride, padding, dilation)
    # contract over images and output positions at once, per group
    gw = backend.cupy().einsum("ngol,ngkl->gok", gy.reshape(n, groups, o // groups, -1),
                               cols.reshape(n, groups, -1, out[0] * out[1]))
    return gw.reshape(tuple(w_shape))


# ----------------------------------------------------------------------------
# pooling: one thread per output (forward) or per input element (backward)
# ----------------------------------------------------------------------------
def _only_defaults(op, **differs):
    """The CUDA pooling kernels implement PyTorch's default options only: a clear error
    naming any other that was asked for (the CPU kernels have them all)."""
    asked = [name for name, is_set in differs.items() if is_set]
    if asked:
        raise NotImplementedError(f"{op}: {', '.join(asked)} not implemented on the GPU; "
                                  "pool on the CPU (x.to('cpu')) for these options")


def _pool_sizes(op, x_shape, kernel, stride, padding):
    """(N, C, H, W, OH, OW), after checking that the indices fit in C ints."""
    out = _output_size(op, x_shape[2:], kernel, stride, padding)
    _check_int_sizes(op, x=x_shape, y=tuple(x_shape[:2]) + out)
    return (*x_shape, *out)


def max_pool2d_forward_cuda(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """(y, argmax): each window's maximum, and its flat index h*W + w in the input plane."""
    op = "max_pool2d_forward_cuda"
    _only_defaults(op, dilation=tuple(dilation) != (1, 1), ceil_mode=ceil_mode)
    x, = _inputs(op, x)
    sizes = _pool_sizes(op, x.shape, kernel, stride, padding)
    cp = backend.cupy()
    y = cp.empty(x.shape[:2] + sizes[4:], dtype=x.dtype)
    argmax = cp.empty(y.shape, dtype=cp.int64)
    _launch(_kernel("pool.cu", "max_pool2d_forward", x.dtype), y.size, x, y, argmax,
            *sizes, *kernel, *stride, *padding)
    return y, argmax


def max_pool2d_backward_cuda(gy, argmax, x_shape, kernel, stride, padding, dilation=(1, 1),
                             ceil_mode=False):
    """gx (x_shape): each output gradient goes to the input element that was its maximum."""
    op = "max_pool2d_backward_cuda"
    _only_defaults(op, dilation=tuple(dilation) != (1, 1), ceil_mode=ceil_mode)
    gy, = _inputs(op, gy)
    _on_gpu(op, argmax)
    sizes = _pool_sizes(op, x_shape, kernel, stride, padding)
    _check_shape(op, "gy", gy.shape, tuple(x_shape[:2]) + sizes[4:])
    _check_shape(op, "argmax", argmax.shape, gy.shape)
    cp = backend.cupy()
    argmax = cp.ascontiguousarray(argmax, dtype=cp.int64)
    gx = cp.empty(tuple(x_shape), dtype=gy.dtype)
    _launch(_kernel("pool.cu", "max_pool2d_backward", gy.dtype), gx.size, gy, argmax, gx,
            *sizes, *kernel, *stride, *padding)
    return gx


def avg_pool2d_forward_cuda(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True,
                            divisor_override=None):
    """The mean of each window, padding counted as zeros (divides by KH*KW)."""
    op = "avg_pool2d_forward_cuda"
    _only_defaults(op, ceil_mode=ceil_mode, count_include_pad=not count_include_pad,
                   divisor_override=divisor_override is not None)
    x, = _inputs(op, x)
    sizes = _pool_sizes(op, x.shape, kernel, stride, padding)
    y = backend.cupy().empty(x.shape[:2] + sizes[4:], dtype=x.dtype)
    _launch(_kernel("pool.cu", "avg_pool2d_forward", x.dtype), y.size, x, y,
            *sizes, *kernel, *stride, *padding)
    return y


def avg_pool2d_backward_cuda(gy, x_shape, kernel, stride, padding, ceil_mode=False,
                             count_include_pad=True, divisor_override=None):
    """gx (x_shape): each output gradient spread evenly over its window."""
    op = "avg_pool2d_backward_cuda"
    _only_defaults(op, ceil_mode=ceil_mode, count_include_pad=not count_include_pad,
                   divisor_override=divisor_override is not None)
    gy, = _inputs(op, gy)
    sizes = _pool_sizes(op, x_shape, kernel, stride, padding)
    _check_shape(op, "gy", gy.shape, tuple(x_shape[:2]) + sizes[4:])
    gx = backend.cupy().empty(tuple(x_shape), dtype=gy.dtype)
    _launch(_kernel("pool.cu", "avg_pool2d_backward", gy.dtype), gx.size, gy, gx,
            *sizes, *kernel, *stride, *padding)
    return gx


# ----------------------------------------------------------------------------
# the teaching matmul
# ----------------------------------------------------------------------------
def matmul(a, b):
    """a @ b with cuBLAS (CuPy's matmul)."""
    return backend.cupy().matmul(a, b)


def matmul_tiled_cuda(a, b):
    """a @ b for 2-D float32 or float64 CuPy arrays, by the tiled kernel of matmul_tiled.cu."""
    op = "matmul_tiled_cuda"
    a, b = _inputs(op, a, b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{op}: needs 2-D arrays, got shapes {a.shape} and {b.shape}")
    (m, k), (k_b, n) = a.shape, b.shape
    if k != k_b:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not align: {k} != {k_b}")
    if -(-m // TILE) > 65535:  # the most blocks a grid has along y
        raise ValueError(f"{op}: a has {m} rows; the kernel's grid allows at most {65535 * TILE}")
    c = backend.cupy().empty((m, n), dtype=a.dtype)
    if c.size > 0:
        grid = (-(-n // TILE), -(-m // TILE))  # blocks along columns (x) and rows (y) of C
        args = (a, b, c, np.int32(m), np.int32(n), np.int32(k))
        _kernel("matmul_tiled.cu", "matmul_tiled", a.dtype)(grid, (TILE, TILE), args)
    return c
