"""The kernel table: for each setting, one namespace holding the same kernels.

    kernels = table.get("fast")         # or "numpy", "numba", "cuda"
    y = kernels.conv2d_forward(x, w, stride, padding, dilation, groups)

The ops in minidl.functional never choose an implementation themselves: they ask
for the table of their arrays (`minidl.backend.kernels_for(array)`: "cuda" for
CuPy arrays, else the CPU setting chosen with `mdl.set_kernels` or MINIDL_KERNELS)
and call what it holds. Every setting fills every field of `Kernels`, so an op
works the same under each; tests run each kernel against its reference.

The CPU settings:
- "numpy": NumPy and its BLAS only. The reference path: the plainest code, the
  one the others are checked against.
- "numba": numba everywhere, the hand-written GEMM (kernels/matmul.py) included:
  for reading, and for experiments with it.
- "fast" (the default): BLAS, reached through NumPy, for every matrix product, and
  numba for the work BLAS cannot do: moving the numbers for a convolution
  (im2col, col2im) so that BLAS sees one large product, pooling, and the fused steps
  of the recurrent layers (BLAS for their products). One BLAS in
  play: numba's own np.dot would call SciPy's OpenBLAS, a second library with its
  own threads and its own rounding.

The fused kernels (relu, where, softmax, log_softmax, cross-entropy, layer norm) are
numba in "fast" and "numba", and their plain NumPy versions in "numpy"; "cuda" runs
those plain versions on CuPy arrays.
"""
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

SETTINGS = ("fast", "numpy", "numba")


@dataclass(frozen=True)
class Kernels:
    """One setting's kernels. The signatures are those of kernels/conv.py, pool.py,
    recurrent.py and fused.py."""
    setting: str
    matmul: Callable                   # (a, b) -> a @ b, batched with broadcasting
    conv2d_forward: Callable           # (x, w, stride, padding, dilation, groups, bias=None)
    conv2d_backward_input: Callable    # (gy, w, x_shape, stride, padding, dilation, groups)
    conv2d_backward_weight: Callable   # (gy, x, w_shape, stride, padding, dilation, groups)
    max_pool2d_forward: Callable       # (x, kernel, stride, padding, dilation, ceil_mode)
    max_pool2d_backward: Callable      # (gy, argmax, x_shape, kernel, stride, padding, ...)
    avg_pool2d_forward: Callable       # (x, kernel, stride, padding, ceil_mode, ...)
    avg_pool2d_backward: Callable      # (gy, x_shape, kernel, stride, padding, ceil_mode, ...)
    # recurrent layers (kernels/recurrent.py): one time step, written in place at step t
    matmul_into: Callable              # (a, b, out): out = a @ b, 2-D, out preallocated
    rnn_cell_forward: Callable         # (t, xw, hw, b, hs, relu)
    rnn_cell_backward: Callable        # (t, g_hs, gh, hs, relu, gz)
    lstm_cell_forward: Callable        # (t, xw, hw, b, hs, cs, gates, tanh_c)
    lstm_cell_backward: Callable       # (t, g_hs, g_cs, gh, gc, cs, gates, tanh_c, gz)
    gru_cell_forward: Callable         # (t, xw, hw, b, hs, gates, hw_n)
    gru_cell_backward: Callable        # (t, g_hs, gh, carry, hs, gates, hw_n, ghw, g_xw)
    # fused elementwise and row kernels (kernels/fused.py), filled by _fused_numpy/_numba
    relu_forward: Callable             # (x) -> max(x, 0)
    relu_backward: Callable            # (gy, x) -> gy where x > 0 or NaN, else 0
    where: Callable                    # (condition, a, b) -> np.where(condition, a, b)
    softmax_forward: Callable          # (x, axis) -> y
    softmax_backward: Callable         # (gy, y, axis) -> gx
    log_softmax_forward: Callable      # (x, axis) -> y
    log_softmax_backward: Callable     # (gy, y, axis) -> gx
    cross_entropy_forward: Callable    # (x, labels, class_weight, ignore_index, smoothing)
    #                                      -> (losses, lse), one per position
    cross_entropy_backward: Callable   # (g, x, lse, labels, class_weight, ignore_index,
    #                                      smoothing) -> gx
    layer_norm_forward: Callable       # (x, normalized_ndim, weight, bias, eps)
    #                                      -> (y, mean, rstd)
    layer_norm_backward: Callable      # (gy, x, mean, rstd, weight) -> (gx, gw, gb)


def _with_bias(forward):
    """A conv2d forward that takes bias=None and adds it afterwards (for the versions whose
    loops do not add it on the way)."""
    def conv2d_forward(x, w, stride, padding, dilation, groups=1, bias=None):
        y = forward(x, w, stride, padding, dilation, groups)
        return y if bias is None else y + bias.reshape(1, -1, 1, 1)
    conv2d_forward.__name__ = forward.__name__
    return conv2d_forward


def _numba_matmul_or_numpy(matmul_numba):
    """np.matmul's meaning (1-D operands, broadcast batches, any dtype), through the numba
    GEMM wherever it applies: float32 or float64, the same for both, 2-D or batched."""
    def matmul(a, b):
        if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64) or min(a.ndim, b.ndim) < 2:
            return np.matmul(a, b)
        if a.ndim == b.ndim == 2:
            return matmul_numba(a, b)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a3 = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
        b3 = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
        return matmul_numba(a3, b3).reshape(batch + (a.shape[-2], b.shape[-1]))
    return matmul


def _recurrent_numpy():
    """The recurrent fields of the "numpy" (and "cuda") row: BLAS, whole-array steps."""
    from . import recurrent as r
    return dict(matmul_into=r.matmul_into_numpy,
                rnn_cell_forward=r.rnn_cell_forward_numpy,
                rnn_cell_backward=r.rnn_cell_backward_numpy,
                lstm_cell_forward=r.lstm_cell_forward_numpy,
                lstm_cell_backward=r.lstm_cell_backward_numpy,
                gru_cell_forward=r.gru_cell_forward_numpy,
                gru_cell_backward=r.gru_cell_backward_numpy)


def _recurrent_numba(matmul_into):
    """The recurrent fields of a numba row: its product and the fused numba steps."""
    from . import recurrent as r
    return dict(matmul_into=matmul_into,
                rnn_cell_forward=r.rnn_cell_forward_numba,
                rnn_cell_backward=r.rnn_cell_backward_numba,
                lstm_cell_forward=r.lstm_cell_forward_numba,
                lstm_cell_backward=r.lstm_cell_backward_numba,
                gru_cell_forward=r.gru_cell_forward_numba,
                gru_cell_backward=r.gru_cell_backward_numba)
def _fused_numpy():
    """The fused kernels' plain versions (NumPy, or CuPy for CuPy arrays), by field."""
    from . import fused
    return dict(
        relu_forward=fused.relu_forward_numpy, relu_backward=fused.relu_backward_numpy,
        where=fused.where_numpy,
        softmax_forward=fused.softmax_forward_numpy,
        softmax_backward=fused.softmax_backward_numpy,
        log_softmax_forward=fused.log_softmax_forward_numpy,
        log_softmax_backward=fused.log_softmax_backward_numpy,
        cross_entropy_forward=fused.cross_entropy_forward_numpy,
        cross_entropy_backward=fused.cross_entropy_backward_numpy,
        layer_norm_forward=fused.layer_norm_forward_numpy,
        layer_norm_backward=fused.layer_norm_backward_numpy)


def _fused_numba():
    """The fused kernels' numba versions, by field."""
    from . import fused
    return dict(
        relu_forward=fused.relu_forward_numba, relu_backward=fused.relu_backward_numba,
        where=fused.where_numba,
        softmax_forward=fused.softmax_forward_numba,
        softmax_backward=fused.softmax_backward_numba,
        log_softmax_forward=fused.log_softmax_forward_numba,
        log_softmax_backward=fused.log_softmax_backward_numba,
        cross_entropy_forward=fused.cross_entropy_forward_numba,
        cross_entropy_backward=fused.cross_entropy_backward_numba,
        layer_norm_forward=fused.layer_norm_forward_numba,
        layer_norm_backward=fused.layer_norm_backward_numba)


def _numpy():
    from . import conv, pool
    return Kernels(
        "numpy", np.matmul, _with_bias(conv.conv2d_forward_numpy),
        conv.conv2d_backward_input_numpy, conv.conv2d_backward_weight_numpy,
        pool.max_pool2d_forward_numpy, pool.max_pool2d_backward_numpy,
        pool.avg_pool2d_forward_numpy, pool.avg_pool2d_backward_numpy,
        **_fused_numpy(), **_recurrent_numpy())


def _numba():
    from . import conv, matmul, pool, recurrent
    return Kernels(
        "numba", _numba_matmul_or_numpy(matmul.matmul_numba), _with_bias(conv.conv2d_forward_numba),
        conv.conv2d_backward_input_numba, conv.conv2d_backward_weight_numba,
        pool.max_pool2d_forward_numba, pool.max_pool2d_backward_numba,
        pool.avg_pool2d_forward_numba, pool.avg_pool2d_backward_numba,
        **_fused_numba(),
        **_recurrent_numba(recurrent.matmul_into_with(matmul.matmul_numba)))


def _fast():
    from . import conv, pool, recurrent
    return Kernels(
        "fast", np.matmul, conv.conv2d_forward_fast,
        conv.conv2d_backward_input_fast, conv.conv2d_backward_weight_fast,
        pool.max_pool2d_forward_numba, pool.max_pool2d_backward_numba,
        pool.avg_pool2d_forward_numba, pool.avg_pool2d_backward_numba,
        **_fused_numba(), **_recurrent_numba(recurrent.matmul_into_numpy))


def _cuda():
    """The kernels for arrays on the GPU (CuPy's). First the row written with CuPy array
    operations (kernels/cuda/arrays.py; matmul is CuPy's, which calls cuBLAS); then,
    where numba can launch kernels on the arrays, the numba.cuda kernels of kernels/cuda/
    replace its conv2d and pooling. numba needs arrays that publish their memory through
    the CUDA array interface: CuPy's do; the test stand-in for CuPy (tests/fake_cupy.py)
    does so only under numba's simulator, and otherwise keeps the array code."""
    from .. import backend
    from .cuda import arrays
    kernels = Kernels(
        "cuda", arrays.matmul, _with_bias(arrays.conv2d_forward_arrays),
        arrays.conv2d_backward_input_arrays, arrays.conv2d_backward_weight_arrays,
        arrays.max_pool2d_forward_arrays, arrays.max_pool2d_backward_arrays,
        arrays.avg_pool2d_forward_arrays, arrays.avg_pool2d_backward_arrays,
        **_fused_numpy(), **_recurrent_numpy())
    if not hasattr(backend.cupy().ndarray, "__cuda_array_interface__"):
        return kernels
    from .cuda import conv, pool
    return replace(
        kernels, conv2d_forward=_with_bias(conv.conv2d_forward_cuda),
        conv2d_backward_input=conv.conv2d_backward_input_cuda,
        conv2d_backward_weight=conv.conv2d_backward_weight_cuda,
        max_pool2d_forward=pool.max_pool2d_forward_cuda,
        max_pool2d_backward=pool.max_pool2d_backward_cuda,
        avg_pool2d_forward=pool.avg_pool2d_forward_cuda,
        avg_pool2d_backward=pool.avg_pool2d_backward_cuda)


_BUILD = {"numpy": _numpy, "numba": _numba, "fast": _fast, "cuda": _cuda}
_BUILT = {}


def get(setting):
    """The Kernels of a setting, built on first use (so that importing minidl does not
    import numba, and a machine without CuPy never imports the GPU kernels). The "cuda"
    row is built for the CuPy module in use (CuPy, or the tests' stand-in)."""
    if setting not in _BUILD:
        raise ValueError(f"unknown kernel setting {setting!r}: use one of {SETTINGS} "
                         "(or 'cuda' for CuPy arrays)")
    key = setting
    if setting == "cuda":
        from .. import backend
        key = (setting, backend.cupy())
    kernels = _BUILT.get(key)
    if kernels is None:
        kernels = _BUILT[key] = _BUILD[setting]()
    return kernels
