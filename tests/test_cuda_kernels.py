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
from types import SimpleNamespace

import numba
import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F
from conftest import simulating_cuda
from minidl import backend
from minidl.kernels import conv as cpu_conv
from minidl.kernels import fused as cpu_fused
from minidl.kernels import pool as cpu_pool
from minidl.kernels import table
from minidl.kernels.cuda import conv, fused, matmul, pool, recurrent
from test_recurrent_kernels import TOL as RECURRENT_TOL
from test_recurrent_kernels import recurrence_arrays, run_forward_and_backward

DTYPES = [np.float32, np.float64]
KERNEL_MODULES = [conv, pool, matmul, recurrent, fused]
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
# the checks the callers make before any kernel runs (no simulator needed)
# ----------------------------------------------------------------------------
def test_step_and_row_kernels_reject_bad_input_clearly(stand_in_cupy):
    xp = stand_in_cupy
    xw, hw, b = xp.zeros((2, 3, 5)), xp.zeros((3, 5)), xp.zeros(5)
    hs = xp.zeros((3, 3, 5))
    with pytest.raises(ValueError, match=r"rnn_cell_forward_cuda: hw must have shape \(3, 5\)"):
        recurrent.rnn_cell_forward_cuda(0, xw, xp.zeros((3, 4)), b, hs, False)
    with pytest.raises(ValueError, match="lstm_cell_forward_cuda: xw must have shape "
                                         r"\(2, 3, 20\) \(T=2 steps, N=3, H=5, 4 gate"):
        recurrent.lstm_cell_forward_cuda(0, xw, hw, b, hs, hs, xw, xw)
    with pytest.raises(ValueError, match="hs must be C-contiguous .the step is written in place"):
        recurrent.rnn_cell_forward_cuda(0, xw, hw, b, xp.zeros((3, 5, 3)).transpose(0, 2, 1),
                                        False)
    with pytest.raises(ValueError, match="gru_cell_forward_cuda: step t=2 is outside the 2"):
        recurrent.gru_cell_forward_cuda(2, xp.zeros((2, 3, 15)), xp.zeros((3, 15)),
                                        xp.zeros(15), hs, xp.zeros((2, 3, 15)), xw)
    with pytest.raises(TypeError, match="rnn_cell_backward_cuda: needs float32 or float64"):
        recurrent.rnn_cell_backward_cuda(0, xw, hw, hs.astype(np.float32), False, xw)
    with pytest.raises(ValueError, match="softmax_forward_cuda: axis 2 is out of range"):
        fused.softmax_forward_cuda(hw, 2)
    with pytest.raises(ValueError, match="log_softmax_backward_cuda: gy and y must have one"):
        fused.log_softmax_backward_cuda(hw, xw, 1)
    with pytest.raises(ValueError, match=r"cross_entropy_forward_cuda: logits .* do not match: "
                                         r"shapes \(3, 5\) and \(2,\)"):
        fused.cross_entropy_forward_cuda(hw, xp.zeros(2, dtype=np.int64), None, -100, 0.0)
    with pytest.raises(ValueError, match=r"class_weight must have shape \(5,\)"):
        fused.cross_entropy_forward_cuda(hw, xp.zeros(3, dtype=np.int64), xp.ones(4), -100,
                                         0.0)
    with pytest.raises(TypeError, match="cross_entropy_forward_cuda: labels must be integers"):
        fused.cross_entropy_forward_cuda(hw, xp.zeros(3), None, -100, 0.0)


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
    assert kernels.lstm_cell_backward is recurrent.lstm_cell_backward_cuda
    assert kernels.gru_cell_forward is recurrent.gru_cell_forward_cuda
    assert kernels.log_softmax_forward is fused.log_softmax_forward_cuda
    assert kernels.cross_entropy_backward is fused.cross_entropy_backward_cuda
    assert kernels.relu_backward is fused.relu_backward_cuda


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


# the recurrent steps: (T, N, H) = (2, 3, 5), 15 threads, one block with idle threads
CUDA_CELLS = SimpleNamespace(**{name: getattr(recurrent, f"{name}_cuda") for name in (
    "rnn_cell_forward", "rnn_cell_backward", "lstm_cell_forward", "lstm_cell_backward",
    "gru_cell_forward", "gru_cell_backward")})
WRITTEN = {"rnn": ["hs", "gz"], "lstm": ["hs", "cs", "gates", "extra", "gz", "gc"],
           "gru": ["hs", "gates", "extra", "gz", "g_xw", "gc"]}


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, relu", [("rnn", False), ("rnn", True), ("lstm", False),
                                        ("gru", False)])
def test_recurrent_cells(simulated, dtype, kind, relu):
    """Two steps forward and back, every array each kernel writes against the "numpy" row's
    kernels in float64 (saturated gates of both signs included)."""
    steps, n, hidden = 2, 3, 5
    arrays = recurrence_arrays(kind, steps, n, hidden, dtype)
    device = {k: backend.to_device(v, "cuda") for k, v in arrays.items()}
    written = run_forward_and_backward(CUDA_CELLS, kind, device, steps, relu)
    expected = run_forward_and_backward(table.get("numpy"), kind, {
        k: v.astype(np.float64) for k, v in arrays.items()}, steps, relu)
    for name in WRITTEN[kind]:
        result = backend.to_numpy(written[name])
        assert result.dtype == dtype
        np.testing.assert_allclose(result, expected[name], **RECURRENT_TOL[dtype], err_msg=name)


# softmax and log_softmax: rows along the last axis (inner = 1), along a middle axis and
# the first (inner > 1), and a 0-d input (one row of one)
ROW_CASES = [((3, 5), -1), ((2, 5, 3), 1), ((4, 3), 0), ((), None)]


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", ROW_CASES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax(simulated, dtype, shape, axis, name):
    x = np.asarray(random(shape, dtype) * 3)
    if shape == (3, 5):
        x[1] = [1e4, -1e4, 0, 1e4, 3]  # shifted by the maximum: no inf, no NaN
    forward, backward = getattr(fused, f"{name}_forward_cuda"), getattr(fused,
                                                                         f"{name}_backward_cuda")
    y = getattr(cpu_fused, f"{name}_forward_numpy")(x, axis)
    y_device = on_device(forward, x, axis)
    assert y_device.shape == y.shape and y_device.dtype == dtype
    assert np.isfinite(y_device).all()
    assert_close(y_device, y, dtype)
    gy = np.asarray(random(shape, dtype, seed=1))
    assert_close(on_device(backward, gy, y, axis),
                 getattr(cpu_fused, f"{name}_backward_numpy")(gy, y, axis), dtype)


@cudasim
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf
def test_softmax_and_log_softmax_special_rows_as_on_the_cpu(simulated):
    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, -inf], [inf, 0, 1], [nan, 0, 1], [-inf, 0, 1]])
    assert_close(on_device(fused.softmax_forward_cuda, x, 1),
                 cpu_fused.softmax_forward_numpy(x, 1), np.float64)
    # (an all -inf row gives log(0) = -inf, which the simulator's Python math refuses)
    assert_close(on_device(fused.log_softmax_forward_cuda, x[1:], 1),
                 cpu_fused.log_softmax_forward_numpy(x[1:], 1), np.float64)


CROSS_ENTROPY_CASES = [  # logits shape, class weights, an ignored position, label smoothing
    ((3, 5), False, False, 0.0),
    ((3, 5), True, True, 0.1),
    ((2, 5, 3), True, True, 0.2),   # (N, C, d): the classes are not the last axis
]


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, weighted, ignored, smoothing", CROSS_ENTROPY_CASES)
def test_cross_entropy(simulated, dtype, x_shape, weighted, ignored, smoothing):
    rng = np.random.default_rng(3)
    classes, labels_shape = x_shape[1], x_shape[:1] + x_shape[2:]
    x = random(x_shape, dtype) * 3
    x[0, 0], x[0, 1] = 1e4, -1e4  # shifted by the maximum: no inf, no NaN
    labels = rng.integers(0, classes, labels_shape)
    if ignored:
        labels.flat[1] = -100
    w = rng.uniform(0.5, 2.0, classes).astype(dtype) if weighted else None
    arguments = (labels, w, -100, smoothing)
    losses, lse = cpu_fused.cross_entropy_forward_numpy(x, *arguments)
    losses_device, lse_device = on_device(fused.cross_entropy_forward_cuda, x, *arguments)
    assert losses_device.shape == labels_shape and losses_device.dtype == dtype
    assert np.isfinite(losses_device).all() and np.isfinite(lse_device).all()
    assert_close(losses_device, losses, dtype)
    assert_close(lse_device, lse, dtype)
    # g: one number for every position ("mean", "sum"), or one per position ("none")
    for g in (np.asarray(0.7, dtype=dtype), random(labels_shape, dtype, seed=4)):
        assert_close(on_device(fused.cross_entropy_backward_cuda, g, x, lse, *arguments),
                     cpu_fused.cross_entropy_backward_numpy(g, x, lse, *arguments), dtype)


@cudasim
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu(simulated, dtype):
    x = random((3, 7), dtype)
    x[0, :3] = [0.0, np.nan, -0.0]
    gy = random((3, 7), dtype, seed=1)
    gy[0, 0], gy[0, 2] = np.nan, np.inf  # where x <= 0: exactly 0 all the same
    np.testing.assert_array_equal(on_device(fused.relu_forward_cuda, x),
                                  cpu_fused.relu_forward_numpy(x))
    np.testing.assert_array_equal(on_device(fused.relu_backward_cuda, gy, x),
                                  cpu_fused.relu_backward_numpy(gy, x))


@cudasim
@pytest.mark.parametrize("name, fn, shapes", [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [(2, 2, 5, 6),
                                                                        (3, 2, 3, 3), (3,)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
     [(1, 2, 6, 5)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False),
     [(1, 2, 4, 5)]),
    ("softmax", lambda x: F.softmax(x, 1), [(2, 3, 4)]),
    ("log_softmax_relu", lambda x: F.log_softmax(F.relu(x), -1), [(3, 5)]),
    ("cross_entropy", lambda x: F.cross_entropy(x, mdl.tensor([2, -100, 4], device=x.device),
                                                label_smoothing=0.1), [(3, 5)]),
    ("cross_entropy_weighted_none", lambda x: F.cross_entropy(
        x, mdl.tensor([[0, 2, 1], [4, 3, -100]], device=x.device),
        weight=mdl.tensor(np.linspace(0.5, 2.0, 5), device=x.device), reduction="none"),
     [(2, 5, 3)])])
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


@cudasim
@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_through_the_kernels_equal_the_cpu_with_gradients(simulated, layer):
    """A layer's output and the gradients of its input and weights, on the CPU and then
    (the same module, moved) on the stand-in device, where its steps are the cuda kernels."""
    module = getattr(mdl.nn, layer)(4, 5, batch_first=False, dtype=np.float64)
    x = random((2, 3, 4))  # T = 2 steps, N = 3
    results = []
    for device in ("cpu", "cuda"):
        module.to(device)
        module.zero_grad()
        inputs = mdl.tensor(x, device=device, requires_grad=True)
        y, _ = module(inputs)
        (y * mdl.tensor(random(y.shape, seed=9), device=device)).sum().backward()
        results.append([y.numpy(), inputs.grad.numpy()]
                       + [p.grad.numpy() for p in module.parameters()])
    assert len(results[1]) == 2 + len(list(module.parameters()))
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
    for kind in ("rnn", "lstm", "gru"):
        cells = {k: backend.to_device(v, "cuda")
                 for k, v in recurrence_arrays(kind, 2, 3, 5, dtype).items()}
        run_forward_and_backward(CUDA_CELLS, kind, cells, 2)
    for name in ("softmax", "log_softmax"):
        y = on_device(getattr(fused, f"{name}_forward_cuda"), x, 1)
        on_device(getattr(fused, f"{name}_backward_cuda"), x, y, 1)
    labels, w = np.array([[0, 1, -100, 0, 1]]), np.ones(2, dtype)  # x[:, :, 0]: (1, 2, 5)
    _, lse = on_device(fused.cross_entropy_forward_cuda, x[:, :, 0], labels, w, -100, 0.1)
    on_device(fused.cross_entropy_backward_cuda, lse, x[:, :, 0], lse, labels, w, -100, 0.1)
    on_device(fused.relu_backward_cuda, x, on_device(fused.relu_forward_cuda, x))

    assert {kernel for kernel, _ in launched} == set(declared)
    for kernel, types in launched:
        assert types == declared[kernel], kernel.__name__
