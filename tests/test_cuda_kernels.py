"""The numba.cuda kernels (kernels/cuda/), checked without a GPU in two ways.

Compiled: every kernel is compiled to PTX for each signature it is launched with
(float32 and float64), by numba's real CUDA compiler (NVVM, from the numba-cuda
package): typing and lowering errors show here, which the simulator, running the
kernels as Python, cannot see. No GPU is needed to compile.

Run: the tests marked `cudasim` run the kernels in numba's CUDA simulator, which
executes every thread of every block on the CPU (NUMBA_ENABLE_CUDASIM=1, set
before numba.cuda is imported: `pytest -m cudasim`, as `make test` runs it; in an
ordinary session they are skipped, saying so). Each kernel's caller is called with
arrays of the stand-in for CuPy (tests/fake_cupy.py), and the results are compared
with the CPU's reference kernels, on small odd shapes: a last block with idle
threads, shared-memory tiles that do not divide the matrices, windows that hang
over the padding. The simulator is slow, one Python thread per CUDA thread, so the
shapes are small.
"""
import os

import numba
import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F
from conftest import simulating_cuda
from minidl import backend
from minidl.kernels import conv as cpu_conv
from minidl.kernels import pool as cpu_pool
from minidl.kernels import table
from minidl.kernels.cuda import conv, matmul, pool

DTYPES = [np.float32, np.float64]
KERNEL_MODULES = [conv, pool, matmul]
COMPUTE_CAPABILITY = (7, 5)  # the oldest that CUDA 12 and numba-cuda compile for


def random(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_close(actual, expected, dtype):
    tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


# ----------------------------------------------------------------------------
# compiled to PTX, for every signature (no GPU, no simulator)
# ----------------------------------------------------------------------------
def _signatures():
    return [pytest.param(kernel, signature, dtype,
                         id=f"{kernel.__name__}-{np.dtype(dtype)}")
            for module in KERNEL_MODULES for dtype in DTYPES
            for kernel, signature in module.signatures(dtype).items()]


def _compile_ptx(kernel, signature):
    """PTX for the kernel, or a skip (a failure under CI) where NVVM is missing."""
    if simulating_cuda():
        pytest.skip("the CUDA simulator is on: numba.cuda cannot compile")
    from numba import cuda
    try:
        ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=COMPUTE_CAPABILITY)
    except Exception as exc:
        if "NVVM" in str(exc) and not os.environ.get("CI"):
            pytest.skip(f"numba cannot find NVVM (pip install 'numba-cuda[cu12]'): {exc}")
        raise
    return ptx


@pytest.mark.parametrize("kernel, signature, dtype", _signatures())
def test_kernel_compiles_to_ptx(kernel, signature, dtype):
    ptx = _compile_ptx(kernel, signature)
    assert ".entry" in ptx
    if dtype == np.float32:
        # nothing computed in double precision by accident (a float literal, an int
        # division), which is many times slower than single on most GPUs
        doubles = [line for line in ptx.splitlines() if ".f64" in line]
        assert not doubles, doubles[:3]


# ----------------------------------------------------------------------------
# run in the simulator, against the CPU's reference kernels
# ----------------------------------------------------------------------------
cudasim = pytest.mark.cudasim


def on_device(kernel, *args):
    """Call a kernel's caller with NumPy arguments copied to the (stand-in) device."""
    args = [backend.to_device(a, "cuda") if isinstance(a, np.ndarray) else a for a in args]
    result = kernel(*args)
    if isinstance(result, tuple):
        return tuple(backend.to_numpy(r) for r in result)
    return backend.to_numpy(result)


@pytest.fixture
def simulated(stand_in_cupy):
    """The stand-in for CuPy, whose arrays the simulator runs the kernels on."""
    assert simulating_cuda() and stand_in_cupy.SIMULATOR
    return stand_in_cupy


@cudasim
def test_the_cuda_row_is_the_numba_kernels_in_the_simulator(simulated):
    kernels = table.get("cuda")
    assert kernels.conv2d_backward_input is conv.conv2d_backward_input_cuda
    assert kernels.max_pool2d_forward is pool.max_pool2d_forward_cuda


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (17, 33, 5), (16, 16, 16), (3, 0, 4), (0, 5, 2)])
def test_matmul_tiled(simulated, dtype, m, k, n):
    # 17 x 33 @ 33 x 5: tiles that hang over every edge, and three steps along K
    a, b = random((m, k), dtype), random((k, n), dtype, seed=1)
    c = on_device(matmul.matmul_tiled_cuda, a, b)
    assert c.shape == (m, n) and c.dtype == dtype
    assert_close(c, a @ b, dtype)


CONV_CASES = [  # x shape, w shape, stride, padding, dilation, groups
    ((1, 2, 5, 4), (3, 2, 3, 2), (1, 1), (1, 0), (1, 1), 1),  # one block, idle threads
    ((2, 3, 6, 7), (2, 3, 2, 3), (2, 1), (0, 2), (2, 1), 1),  # several blocks
    ((1, 4, 5, 5), (2, 2, 3, 3), (2, 2), (1, 1), (1, 1), 2),  # groups
]


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV_CASES)
def test_conv2d_im2col_col2im(simulated, dtype, x_shape, w_shape, stride, padding, dilation,
                              groups):
    x, w = random(x_shape, dtype), random(w_shape, dtype, seed=1)
    geometry = (stride, padding, dilation, groups)
    y = cpu_conv.conv2d_forward_numpy(x, w, *geometry)
    assert_close(on_device(conv.conv2d_forward_cuda, x, w, *geometry), y, dtype)
    gy = random(y.shape, dtype, seed=2)
    assert_close(on_device(conv.conv2d_backward_input_cuda, gy, w, x_shape, *geometry),
                 cpu_conv.conv2d_backward_input_numpy(gy, w, x_shape, *geometry), dtype)
    assert_close(on_device(conv.conv2d_backward_weight_cuda, gy, x, w_shape, *geometry),
                 cpu_conv.conv2d_backward_weight_numpy(gy, x, w_shape, *geometry), dtype)


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV_CASES)
def test_conv2d_direct(simulated, dtype, x_shape, w_shape, stride, padding, dilation, groups):
    x, w = random(x_shape, dtype), random(w_shape, dtype, seed=1)
    geometry = (stride, padding, dilation, groups)
    assert_close(on_device(conv.conv2d_direct_cuda, x, w, *geometry),
                 cpu_conv.conv2d_reference(x, w, *geometry), dtype)


POOL_CASES = [  # x shape, kernel, stride, padding, dilation, ceil_mode
    ((1, 2, 5, 7), (2, 3), (2, 2), (1, 1), (1, 1), False),
    ((2, 1, 7, 6), (3, 2), (2, 1), (1, 0), (2, 2), True),
    ((1, 3, 6, 6), (3, 3), (3, 2), (1, 1), (1, 1), True),
]


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation, ceil_mode", POOL_CASES)
def test_max_pool2d(simulated, dtype, x_shape, kernel, stride, padding, dilation, ceil_mode):
    x = np.round(random(x_shape, dtype))  # ties: the first maximum of a window wins
    x.flat[::5] = np.nan  # a NaN is its window's maximum
    geometry = (kernel, stride, padding, dilation, ceil_mode)
    y, argmax = cpu_pool.max_pool2d_forward_numpy(x, *geometry)
    y_device, argmax_device = on_device(pool.max_pool2d_forward_cuda, x, *geometry)
    np.testing.assert_array_equal(y_device, y)
    np.testing.assert_array_equal(argmax_device, argmax)
    gy = random(y.shape, dtype, seed=1)
    assert_close(on_device(pool.max_pool2d_backward_cuda, gy, argmax, x_shape, *geometry),
                 cpu_pool.max_pool2d_backward_numpy(gy, argmax, x_shape, *geometry), dtype)


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case, count_include_pad, divisor_override", [
    (0, True, None), (1, False, None), (2, True, 4)])
def test_avg_pool2d(simulated, dtype, case, count_include_pad, divisor_override):
    x_shape, kernel, stride, padding, _, ceil_mode = POOL_CASES[case]
    x = random(x_shape, dtype)
    geometry = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    y = cpu_pool.avg_pool2d_forward_numpy(x, *geometry)
    assert_close(on_device(pool.avg_pool2d_forward_cuda, x, *geometry), y, dtype)
    gy = random(y.shape, dtype, seed=1)
    assert_close(on_device(pool.avg_pool2d_backward_cuda, gy, x_shape, *geometry),
                 cpu_pool.avg_pool2d_backward_numpy(gy, x_shape, *geometry), dtype)


@cudasim
@pytest.mark.parametrize("name, fn, shapes", [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [(2, 2, 5, 6),
                                                                        (3, 2, 3, 3), (3,)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
     [(1, 2, 6, 5)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False),
     [(1, 2, 4, 5)])])
def test_ops_through_the_kernels_equal_the_cpu_with_gradients(simulated, name, fn, shapes):
    arrays = [random(shape, seed=i) for i, shape in enumerate(shapes)]
    results = []
    for device in ("cpu", "cuda"):
        inputs = [mdl.tensor(a, device=device, requires_grad=True) for a in arrays]
        y = fn(*inputs)
        (y * mdl.tensor(random(y.shape, seed=9), device=device)).sum().backward()
        results.append([y.numpy()] + [t.grad.numpy() for t in inputs])
    for on_device_, on_cpu in zip(*results):
        assert_close(on_device_, on_cpu, np.float64)


class _Recorder:
    """Stands for a kernel: launches it, noting the numba types of its arguments."""

    def __init__(self, kernel, launched):
        self.kernel, self.launched = kernel, launched

    def __getitem__(self, configuration):
        def run(*args):
            self.launched.append((self.kernel, tuple(numba.typeof(a) for a in args)))
            return self.kernel[configuration](*args)
        return run


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_are_launched_with_the_signatures_compiled_to_ptx(simulated, monkeypatch,
                                                                  dtype):
    declared = {k: tuple(s) for m in KERNEL_MODULES for k, s in m.signatures(dtype).items()}
    launched = []
    for module in KERNEL_MODULES:
        for kernel in module.signatures(dtype):
            monkeypatch.setattr(module, kernel.__name__, _Recorder(kernel, launched))
    x, w = random((1, 2, 4, 5), dtype), random((2, 1, 2, 2), dtype, seed=1)
    y = on_device(conv.conv2d_forward_cuda, x, w, (1, 1), (1, 0), (1, 1), 2)
    on_device(conv.conv2d_backward_input_cuda, y, w, x.shape, (1, 1), (1, 0), (1, 1), 2)
    on_device(conv.conv2d_backward_weight_cuda, y, x, w.shape, (1, 1), (1, 0), (1, 1), 2)
    on_device(conv.conv2d_direct_cuda, x, w, (1, 1), (1, 0), (1, 1), 2)
    p, argmax = on_device(pool.max_pool2d_forward_cuda, x, (2, 2), (1, 1), (1, 1))
    on_device(pool.max_pool2d_backward_cuda, p, argmax, x.shape, (2, 2), (1, 1), (1, 1))
    q = on_device(pool.avg_pool2d_forward_cuda, x, (2, 2), (1, 1), (1, 1), True, False, 3)
    on_device(pool.avg_pool2d_backward_cuda, q, x.shape, (2, 2), (1, 1), (1, 1))
    on_device(matmul.matmul_tiled_cuda, x[0, 0], x[0, 1].T)

    assert {kernel for kernel, _ in launched} == set(declared)
    for kernel, types in launched:
        assert types == declared[kernel], kernel.__name__
