"""The GPU: tensors moved to "cuda", the CUDA kernels against the CPU kernels, and ops
(forward and gradients) on the GPU against the same ops on the CPU.

Tests that need CuPy and an NVIDIA GPU are skipped, with that reason, on a machine
without them; the ones that only read the CUDA sources run everywhere. (Asking for
"cuda" without CuPy is a clear error: tested in test_autograd.py.)
"""
import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F
from minidl import backend, nn
from minidl.io import load, save
from minidl.kernels import gpu

needs_gpu = pytest.mark.skipif(
    not mdl.cuda_is_available(),
    reason="needs CuPy and a working NVIDIA GPU (pip install 'minidl[gpu]')")


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=needs_gpu)])
def device(request):
    return request.param


def random(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_close(actual, expected, dtype):
    tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def on_gpu(kernel, *args):
    """Call a CUDA kernel with its NumPy array arguments copied to the GPU; results back."""
    args = [backend.to_device(a, "cuda") if isinstance(a, np.ndarray) else a for a in args]
    result = kernel(*args)
    if isinstance(result, tuple):
        return tuple(backend.to_device(r, "cpu") for r in result)
    return backend.to_device(result, "cpu")


def cpu_kernel(name):
    """The NumPy CPU kernel `name`, e.g. "conv2d_forward" -> kernels.conv.conv2d_forward_numpy."""
    family = "conv" if name.startswith("conv") else "pool"
    return getattr(importlib.import_module(f"minidl.kernels.{family}"), f"{name}_numpy")


# ----------------------------------------------------------------------------
# the CUDA sources (no GPU needed)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("filename", sorted(gpu.SOURCES))
def test_each_kernel_is_a_template_in_its_cuda_source(filename):
    with open(gpu.source_path(filename)) as f:
        source = f.read()
    for name in gpu.SOURCES[filename]:
        assert re.search(rf"template <typename T>\s+__global__ void {name}\(", source), name


def test_tile_size_is_the_one_matmul_tiled_cu_is_written_for():
    with open(gpu.source_path("matmul_tiled.cu")) as f:
        tile = re.search(r"#define TILE (\d+)", f.read()).group(1)
    assert int(tile) == gpu.TILE


def test_importing_the_gpu_kernels_does_not_import_cupy():
    code = "import sys, minidl.kernels.gpu; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------
# tensors on a device
# ----------------------------------------------------------------------------
def test_to_device_and_back_keeps_values_and_dtype(device):
    x = mdl.tensor([[1.5, -2.0], [3.0, 4.25]], dtype=np.float64)
    y = x.to(device)
    assert y.device == device and y.dtype == np.float64
    back = y.to("cpu")
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.numpy(), x.numpy())


def test_gradient_flows_back_through_a_device_copy(device):
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to(device)
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_model_state_saved_from_a_device_loads_on_the_cpu(device, tmp_path):
    def model():
        return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))

    mdl.manual_seed(0)
    trained = model().to(device)
    x = mdl.randn(5, 4)
    expected = trained(x.to(device)).numpy()
    save(trained.state_dict(), tmp_path / "model.npz")

    state = load(tmp_path / "model.npz")
    assert all(t.device == "cpu" for t in state.values())
    mdl.manual_seed(1)
    fresh = model()
    fresh.load_state_dict(state)
    np.testing.assert_allclose(fresh(x).numpy(), expected, rtol=1e-5, atol=1e-6)


@needs_gpu
def test_mixing_devices_is_an_error_naming_both():
    a, b = mdl.ones(2, 3), mdl.ones(2, 3, device="cuda")
    with pytest.raises(RuntimeError, match=r"(?i)add.*on cpu.*on cuda"):
        a + b
    with pytest.raises(RuntimeError, match=r"matmul.*on cuda.*on cpu"):
        F.matmul(b, a.T)


# ----------------------------------------------------------------------------
# the CUDA kernels against the NumPy CPU kernels
# ----------------------------------------------------------------------------
DTYPES = [np.float32, np.float64]

CONV_CASES = [  # x shape, w shape, stride, padding, dilation
    ((2, 3, 7, 9), (4, 3, 3, 2), (1, 1), (0, 0), (1, 1)),
    ((1, 2, 8, 5), (3, 2, 3, 3), (2, 1), (1, 2), (1, 2)),
    ((3, 1, 6, 6), (2, 1, 1, 1), (3, 2), (0, 1), (1, 1)),
    ((2, 4, 5, 7), (1, 4, 2, 3), (2, 3), (2, 1), (2, 1)),
]

POOL_CASES = [  # x shape, kernel, stride, padding
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0)),
    ((1, 2, 8, 5), (3, 3), (2, 1), (1, 1)),
    ((2, 1, 6, 7), (3, 2), (1, 2), (1, 1)),
    ((1, 1, 5, 5), (5, 4), (1, 1), (2, 2)),
]


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", CONV_CASES)
def test_conv2d_cuda_kernels_equal_cpu_kernels(dtype, x_shape, w_shape, stride, padding,
                                               dilation):
    x, w = random(x_shape, dtype), random(w_shape, dtype, seed=1)
    geometry = (stride, padding, dilation)
    y = cpu_kernel("conv2d_forward")(x, w, *geometry)
    assert_close(on_gpu(gpu.conv2d_forward_cuda, x, w, *geometry), y, dtype)
    gy = random(y.shape, dtype, seed=2)
    assert_close(on_gpu(gpu.conv2d_backward_input_cuda, gy, w, x_shape, *geometry),
                 cpu_kernel("conv2d_backward_input")(gy, w, x_shape, *geometry), dtype)
    assert_close(on_gpu(gpu.conv2d_backward_weight_cuda, gy, x, w_shape, *geometry),
                 cpu_kernel("conv2d_backward_weight")(gy, x, w_shape, *geometry), dtype)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("x_shape, kernel, stride, padding", POOL_CASES)
def test_max_pool2d_cuda_kernels_equal_cpu_kernels(dtype, ties, x_shape, kernel, stride,
                                                   padding):
    x = random(x_shape, dtype)
    if ties:  # many equal values: the first maximum in the window must win, on both
        x = np.round(x)
    x.flat[::7] = np.nan  # a NaN is its window's maximum
    geometry = (kernel, stride, padding)
    y, argmax = cpu_kernel("max_pool2d_forward")(x, *geometry)
    y_gpu, argmax_gpu = on_gpu(gpu.max_pool2d_forward_cuda, x, *geometry)
    np.testing.assert_array_equal(y_gpu, y)
    np.testing.assert_array_equal(argmax_gpu, argmax)
    assert argmax_gpu.dtype == np.int64
    gy = random(y.shape, dtype, seed=1)
    assert_close(on_gpu(gpu.max_pool2d_backward_cuda, gy, argmax, x_shape, *geometry),
                 cpu_kernel("max_pool2d_backward")(gy, argmax, x_shape, *geometry), dtype)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, kernel, stride, padding", POOL_CASES)
def test_avg_pool2d_cuda_kernels_equal_cpu_kernels(dtype, x_shape, kernel, stride, padding):
    x = random(x_shape, dtype)
    geometry = (kernel, stride, padding)
    y = cpu_kernel("avg_pool2d_forward")(x, *geometry)
    assert_close(on_gpu(gpu.avg_pool2d_forward_cuda, x, *geometry), y, dtype)
    gy = random(y.shape, dtype, seed=1)
    assert_close(on_gpu(gpu.avg_pool2d_backward_cuda, gy, x_shape, *geometry),
                 cpu_kernel("avg_pool2d_backward")(gy, x_shape, *geometry), dtype)


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (33, 65, 31), (64, 32, 96), (100, 1, 3),
                                     (3, 0, 4), (0, 5, 2)])
def test_matmul_tiled_cuda_equals_numpy(dtype, m, k, n):
    a, b = random((m, k), dtype), random((k, n), dtype, seed=1)
    c = on_gpu(gpu.matmul_tiled_cuda, a, b)
    assert c.shape == (m, n) and c.dtype == dtype
    assert_close(c, a @ b, dtype)


@needs_gpu
def test_cuda_kernels_reject_bad_input_clearly():
    a = random((3, 4), np.float32)
    with pytest.raises(TypeError, match="matmul_tiled_cuda: expects CuPy arrays"):
        gpu.matmul_tiled_cuda(a, a.T)
    with pytest.raises(ValueError, match=r"matmul_tiled_cuda: shapes \(3, 4\) and \(3, 4\)"):
        on_gpu(gpu.matmul_tiled_cuda, a, a)
    with pytest.raises(TypeError, match="float32 or float64"):
        on_gpu(gpu.matmul_tiled_cuda, a.astype(np.int32), a.T.astype(np.int32))
    x, w = random((1, 2, 5, 5), np.float32), random((3, 4, 2, 2), np.float32)
    with pytest.raises(ValueError, match="input has 2 channels but weight expects 4"):
        on_gpu(gpu.conv2d_forward_cuda, x, w, (1, 1), (0, 0), (1, 1))
    # im2col would need 1 * 1024 * 2017 * 2017 > 2**31 elements: refused before allocating
    x, w = random((1, 1, 2048, 2048), np.float32), random((1, 1, 32, 32), np.float32)
    with pytest.raises(ValueError, match="cols of shape .* more than 2\\*\\*31"):
        on_gpu(gpu.conv2d_forward_cuda, x, w, (1, 1), (0, 0), (1, 1))


# ----------------------------------------------------------------------------
# ops on the GPU against the same ops on the CPU, forward and gradients
# ----------------------------------------------------------------------------
def _cross_entropy(logits):
    target = mdl.tensor([0, 2, 1], device=logits.device)
    return F.cross_entropy(logits, target)


# name: (function of tensors, the input shapes)
GPU_OPS = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)]),
    "mul": (lambda a, b: a * b, [(2, 3, 4), (3, 1)]),
    "div": (lambda a, b: a / (b * b + 1), [(3, 4), (3, 4)]),
    "pow": (lambda a: (a * a + 1) ** 1.5, [(3, 4)]),
    "exp": (F.exp, [(3, 4)]),
    "log": (lambda a: F.log(a * a + 0.5), [(3, 4)]),
    "sqrt": (lambda a: F.sqrt(a * a + 0.5), [(3, 4)]),
    "maximum": (F.maximum, [(3, 4), (4,)]),
    "where": (lambda a, b: F.where(a > 0, a, b), [(3, 4), (3, 4)]),
    "clip": (lambda a: F.clip(a, -0.5, 0.7), [(3, 4)]),
    "relu": (F.relu, [(3, 4)]),
    "sigmoid": (F.sigmoid, [(3, 4)]),
    "tanh": (F.tanh, [(3, 4)]),
    "gelu": (F.gelu, [(3, 4)]),
    "hardtanh": (lambda a: F.hardtanh(a, -0.5, 0.7), [(3, 4)]),
    "elu": (lambda a: F.elu(a, 0.5), [(3, 4)]),
    "selu": (F.selu, [(3, 4)]),
    "silu": (F.silu, [(3, 4)]),
    "softplus": (lambda a: F.softplus(a, 2.0, 1.0), [(3, 4)]),
    "logsigmoid": (F.logsigmoid, [(3, 4)]),
    "softsign": (F.softsign, [(3, 4)]),
    "sum": (lambda a: a.sum(axis=1), [(3, 4, 2)]),
    "mean": (lambda a: a.mean(), [(3, 4)]),
    "max": (lambda a: a.max(axis=0), [(3, 4)]),
    "var": (lambda a: a.var(axis=-1), [(3, 4)]),
    "logsumexp": (lambda a: F.logsumexp(a, axis=1), [(3, 4)]),
    "matmul": (F.matmul, [(3, 4), (4, 5)]),
    "batched_matmul": (F.matmul, [(2, 3, 4), (4, 5)]),
    "softmax": (lambda a: F.softmax(a, axis=-1), [(3, 4)]),
    "log_softmax": (lambda a: F.log_softmax(a, axis=0), [(3, 4)]),
    "cross_entropy": (_cross_entropy, [(3, 4)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
               [(2, 3, 7, 8), (4, 3, 3, 2), (4,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(2, 3, 7, 8)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, (2, 3), stride=(2, 1)), [(2, 3, 7, 8)]),
}


def _forward_and_gradients(name, arrays, device):
    fn, _ = GPU_OPS[name]
    inputs = [mdl.tensor(a, device=device, requires_grad=True) for a in arrays]
    y = fn(*inputs)
    assert y.device == device
    weights = mdl.tensor(random(y.shape, y.dtype, seed=99), device=device)
    (y * weights).sum().backward()
    assert all(t.grad.device == device for t in inputs)
    return y.numpy(), [t.grad.numpy() for t in inputs]


@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(GPU_OPS))
def test_op_on_cuda_equals_cpu_with_gradients(name, dtype):
    arrays = [random(shape, dtype, seed=i) for i, shape in enumerate(GPU_OPS[name][1])]
    y_cpu, grads_cpu = _forward_and_gradients(name, arrays, "cpu")
    y_gpu, grads_gpu = _forward_and_gradients(name, arrays, "cuda")
    assert y_gpu.dtype == y_cpu.dtype == dtype
    assert_close(y_gpu, y_cpu, dtype)
    for g_gpu, g_cpu in zip(grads_gpu, grads_cpu):
        assert_close(g_gpu, g_cpu, dtype)


# ----------------------------------------------------------------------------
# looking inside on the GPU: the profiler, and backward hooks
# ----------------------------------------------------------------------------
def test_the_profiler_times_the_ops_on_either_device(device):
    """With ProfilerActivity.CUDA (the default) an op on the GPU waits for the GPU around
    its kernel, so its kernel time is the GPU's; the results are those of an unprofiled run."""
    from minidl.profiler import profile
    a = mdl.tensor(random((64, 32)), dtype=np.float64).to(device).requires_grad_()
    b = mdl.tensor(random((32, 16), seed=1), dtype=np.float64).to(device)
    plain = (a @ b).tanh().sum()
    plain.backward()
    expected = a.grad.to("cpu").numpy().copy()
    a.grad = None
    with profile(with_flops=True) as prof:
        (a @ b).tanh().sum().backward()
    assert_close(a.grad.to("cpu").numpy(), expected, np.float64)
    rows = {row.key: row for row in prof.key_averages()}
    assert rows["MatMul"].flops == 2 * 64 * 32 * 16 * 2   # forward, and a's gradient
    assert rows["MatMul"].kernel_time_total > 0


def test_full_backward_hooks_on_either_device(device):
    layer = nn.Linear(3, 2).double().to(device)
    seen = []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi[0].device, go[0].device)))
    x = mdl.tensor(random((4, 3)), dtype=np.float64).to(device).requires_grad_()
    layer(x).sum().backward()
    assert seen == [(device, device)]
