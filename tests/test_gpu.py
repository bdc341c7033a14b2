"""The device path: tensors moved to "cuda", the kernel table's "cuda" row against the
CPU kernels, every op (forward and gradients) on the device against the same op on the
CPU, training and saving on the device.

"cuda" is CuPy on a machine with an NVIDIA GPU, and everywhere else the stand-in for
CuPy (tests/fake_cupy.py: NumPy memory in an array type that, like CuPy's, refuses to
be taken for NumPy), installed by conftest's `cuda_backend` fixture. So in CI these
tests catch NumPy called on a device array, a device array mixed with a NumPy one,
and a result left on the wrong device. On the stand-in the "cuda" row is the array
code of kernels/cuda/arrays.py; the numba.cuda kernels themselves run in numba's
simulator (tests/test_cuda_kernels.py), and on a real GPU here.
"""
import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F
from conftest import real_gpu
from minidl import backend, nn
from minidl.io import load, save
from minidl.kernels import conv as cpu_conv
from minidl.kernels import pool as cpu_pool
from minidl.kernels import table

needs_stand_in = pytest.mark.skipif(real_gpu(), reason="checks the stand-in for CuPy, which "
                                    "a machine with a GPU does not use")


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    if request.param == "cuda":
        request.getfixturevalue("cuda_backend")
    return request.param


def random(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_close(actual, expected, dtype):
    tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def on_device(kernel, *args):
    """Call a device kernel with its NumPy array arguments copied to the device; results
    back on the host."""
    args = [backend.to_device(a, "cuda") if isinstance(a, np.ndarray) else a for a in args]
    result = kernel(*args)
    if isinstance(result, tuple):
        return tuple(backend.to_numpy(r) for r in result)
    return backend.to_numpy(result)


# ----------------------------------------------------------------------------
# the stand-in is faithful where it matters
# ----------------------------------------------------------------------------
@needs_stand_in
def test_stand_in_arrays_refuse_to_be_taken_for_numpy(cuda_backend):
    a = cuda_backend.asarray(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        a + np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.ones(3) * a
    with pytest.raises(TypeError, match="Unsupported type"):
        cuda_backend.maximum(a, np.zeros(3))
    with pytest.raises(TypeError, match="no implementation found for 'numpy.sum'"):
        np.sum(a)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        a[0] = np.zeros(3)
    # what CuPy allows: scalars of either kind, NumPy's ufuncs, .get(), a whole-array copy in
    assert isinstance(np.float32(2) * a + 1.5, cuda_backend.ndarray)
    assert isinstance(np.exp(a), cuda_backend.ndarray)
    assert isinstance(a.sum(), cuda_backend.ndarray) and a.sum().ndim == 0  # not a scalar
    a[:] = np.ones((2, 3))
    np.testing.assert_array_equal(a.get(), np.ones((2, 3)))


def test_stand_in_offers_only_names_cupy_has():
    cupy = pytest.importorskip("cupy")  # importable without a GPU, where installed
    import fake_cupy
    from cupyx.scipy import special
    for name in fake_cupy.UFUNCS + fake_cupy.FUNCTIONS:
        assert hasattr(cupy, name), name
    for name in vars(fake_cupy.ndarray):
        assert name.startswith("_") and not name.startswith("__") or hasattr(cupy.ndarray, name)
    assert hasattr(special, "erf")


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


def test_model_state_saved_from_a_device_loads_on_either_device(device, tmp_path):
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

    on_device = load(tmp_path / "model.npz", map_location=device)
    assert all(t.device == device for t in on_device.values())
    fresh.to(device).load_state_dict(on_device)
    np.testing.assert_allclose(fresh(x.to(device)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_module_to_moves_parameters_and_buffers_in_place(cuda_backend):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    weight = model[0].weight
    model.to("cuda")
    assert model[0].weight is weight and weight.device == "cuda"
    assert all(b.device == "cuda" for b in model.buffers())
    model(mdl.randn(5, 3, device="cuda")).sum().backward()
    assert weight.grad.device == "cuda"


def test_mixing_devices_is_an_error_naming_both(cuda_backend):
    a, b = mdl.ones(2, 3), mdl.ones(2, 3, device="cuda")
    with pytest.raises(RuntimeError, match=r"(?i)add.*on cpu.*on cuda"):
        a + b
    with pytest.raises(RuntimeError, match=r"matmul.*on cuda.*on cpu"):
        F.matmul(b, a.T)


def test_detect_anomaly_checks_device_arrays(cuda_backend):
    x = mdl.tensor(np.array([-1.0, 1.0]), device="cuda", requires_grad=True)
    with mdl.detect_anomaly():
        with pytest.raises(FloatingPointError, match="Log forward"):
            with np.errstate(invalid="ignore"):
                x.log()
        (x * 2).sum().backward()             # finite: no error
    assert x.grad.device == "cuda"


# ----------------------------------------------------------------------------
# the kernel table's "cuda" row against the CPU's reference kernels
# ----------------------------------------------------------------------------
DTYPES = [np.float32, np.float64]

CONV_CASES = [  # x shape, w shape, stride, padding, dilation, groups
    ((2, 3, 7, 9), (4, 3, 3, 2), (1, 1), (0, 0), (1, 1), 1),
    ((1, 2, 8, 5), (3, 2, 3, 3), (2, 1), (1, 2), (1, 2), 1),
    ((3, 1, 6, 6), (2, 1, 1, 1), (3, 2), (0, 1), (1, 1), 1),
    ((2, 4, 5, 7), (2, 2, 2, 3), (2, 3), (2, 1), (2, 1), 2),
]

POOL_CASES = [  # x shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((1, 2, 8, 5), (3, 3), (2, 1), (1, 1), (1, 1), True),
    ((2, 1, 6, 7), (3, 2), (1, 2), (1, 1), (2, 1), False),
    ((1, 1, 5, 5), (5, 4), (1, 1), (2, 2), (1, 1), False),
    ((1, 2, 9, 6), (2, 3), (3, 2), (1, 0), (1, 2), True),
]


def cuda_row():
    return table.get("cuda")


def test_cuda_row_is_the_numba_kernels_on_a_gpu_and_array_code_on_the_stand_in(cuda_backend):
    from minidl.kernels import fused as plain_fused
    from minidl.kernels import recurrent as plain_recurrent
    from minidl.kernels.cuda import arrays, conv, fused, pool, recurrent
    kernels = cuda_row()
    if real_gpu():
        assert kernels.conv2d_backward_input is conv.conv2d_backward_input_cuda
        assert kernels.avg_pool2d_backward is pool.avg_pool2d_backward_cuda
        assert kernels.lstm_cell_forward is recurrent.lstm_cell_forward_cuda
        assert kernels.cross_entropy_forward is fused.cross_entropy_forward_cuda
    else:  # numba cannot launch kernels on the stand-in's arrays outside its simulator
        assert kernels.conv2d_backward_input is arrays.conv2d_backward_input_arrays
        assert kernels.avg_pool2d_backward is arrays.avg_pool2d_backward_arrays
        assert kernels.lstm_cell_forward is plain_recurrent.lstm_cell_forward_numpy
        assert kernels.cross_entropy_forward is plain_fused.cross_entropy_forward_numpy
    assert kernels.matmul is arrays.matmul
    assert kernels.matmul_into is plain_recurrent.matmul_into_numpy  # CuPy's matmul: cuBLAS
    assert kernels.layer_norm_forward is plain_fused.layer_norm_forward_numpy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV_CASES)
def test_cuda_row_conv2d_equals_the_cpu_reference(cuda_backend, dtype, x_shape, w_shape, stride,
                                                  padding, dilation, groups):
    x, w, b = random(x_shape, dtype), random(w_shape, dtype, seed=1), random(w_shape[:1], dtype)
    geometry = (stride, padding, dilation, groups)
    kernels = cuda_row()
    y = cpu_conv.conv2d_forward_numpy(x, w, *geometry)
    assert_close(on_device(kernels.conv2d_forward, x, w, *geometry), y, dtype)
    with_bias = on_device(lambda *a: kernels.conv2d_forward(*a[:-1], bias=a[-1]), x, w,
                          *geometry, b)
    assert_close(with_bias, y + b.reshape(1, -1, 1, 1), dtype)
    gy = random(y.shape, dtype, seed=2)
    assert_close(on_device(kernels.conv2d_backward_input, gy, w, x_shape, *geometry),
                 cpu_conv.conv2d_backward_input_numpy(gy, w, x_shape, *geometry), dtype)
    assert_close(on_device(kernels.conv2d_backward_weight, gy, x, w_shape, *geometry),
                 cpu_conv.conv2d_backward_weight_numpy(gy, x, w_shape, *geometry), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation, ceil_mode", POOL_CASES)
def test_cuda_row_max_pool2d_equals_the_cpu_reference(cuda_backend, dtype, ties, x_shape, kernel,
                                                      stride, padding, dilation, ceil_mode):
    x = random(x_shape, dtype)
    if ties:  # many equal values: the first maximum in the window must win, on both
        x = np.round(x)
    x.flat[::7] = np.nan  # a NaN is its window's maximum
    geometry = (kernel, stride, padding, dilation, ceil_mode)
    kernels = cuda_row()
    y, argmax = cpu_pool.max_pool2d_forward_numpy(x, *geometry)
    y_device, argmax_device = on_device(kernels.max_pool2d_forward, x, *geometry)
    np.testing.assert_array_equal(y_device, y)
    np.testing.assert_array_equal(argmax_device, argmax)
    assert argmax_device.dtype == np.int64
    gy = random(y.shape, dtype, seed=1)
    assert_close(on_device(kernels.max_pool2d_backward, gy, argmax, x_shape, *geometry),
                 cpu_pool.max_pool2d_backward_numpy(gy, argmax, x_shape, *geometry), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad, divisor_override", [(True, None), (False, None),
                                                                  (True, 3)])
@pytest.mark.parametrize("x_shape, kernel, stride, padding, _, ceil_mode", POOL_CASES)
def test_cuda_row_avg_pool2d_equals_the_cpu_reference(cuda_backend, dtype, count_include_pad,
                                                      divisor_override, x_shape, kernel, stride,
                                                      padding, _, ceil_mode):
    x = random(x_shape, dtype)
    geometry = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    kernels = cuda_row()
    y = cpu_pool.avg_pool2d_forward_numpy(x, *geometry)
    assert_close(on_device(kernels.avg_pool2d_forward, x, *geometry), y, dtype)
    gy = random(y.shape, dtype, seed=1)
    assert_close(on_device(kernels.avg_pool2d_backward, gy, x_shape, *geometry),
                 cpu_pool.avg_pool2d_backward_numpy(gy, x_shape, *geometry), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_row_matmul_equals_numpy(cuda_backend, dtype):
    a, b = random((2, 3, 4), dtype), random((4, 5), dtype, seed=1)
    assert_close(on_device(cuda_row().matmul, a, b), a @ b, dtype)


def test_cuda_row_rejects_bad_input_clearly(cuda_backend):
    kernels = cuda_row()
    x = random((1, 2, 5, 5), np.float32)
    with pytest.raises(TypeError, match="conv2d_forward_.*: expects arrays on the GPU"):
        kernels.conv2d_forward(x, x, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(TypeError, match="float32 or float64 arrays, all of one dtype"):
        on_device(kernels.conv2d_forward, x, random((3, 2, 2, 2)), (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match="input has 2 channels but weight expects 4"):
        on_device(kernels.conv2d_forward, x, random((3, 4, 2, 2), np.float32), (1, 1), (0, 0),
                  (1, 1), 1)
    with pytest.raises(ValueError, match="max_pool2d_forward_.*padding .* at most half"):
        on_device(kernels.max_pool2d_forward, x, (2, 2), (1, 1), (2, 2))
    with pytest.raises(ValueError, match="avg_pool2d_forward_.*divisor_override must not be zero"):
        on_device(kernels.avg_pool2d_forward, x, (2, 2), (1, 1), (0, 0), False, True, 0)


# ----------------------------------------------------------------------------
# ops on the device against the same ops on the CPU, forward and gradients
# ----------------------------------------------------------------------------
def _cross_entropy(logits):
    return F.cross_entropy(logits, mdl.tensor([0, 2, 1], device=logits.device))


def _nll_loss(logits):
    target = mdl.tensor([1, 0, 3], device=logits.device)
    return F.nll_loss(F.log_softmax(logits, -1), target)


def _embedding(weight):
    indices = mdl.tensor([[0, 2, 2], [4, 1, 0]], device=weight.device)
    return F.embedding(indices, weight)


def _gather(a):
    index = mdl.tensor([[0, 2], [1, 1], [3, 0]], device=a.device)
    return F.gather(a, 1, index)


def _masked_fill(a):
    return F.masked_fill(a, a > 0.5, -1.0)


def _batch_norm(x, weight, bias):
    mean = mdl.zeros(4, dtype=x.dtype, device=x.device)
    var = mdl.ones(4, dtype=x.dtype, device=x.device)
    return F.batch_norm(x, mean, var, weight, bias, training=True)


def _attention(q, k, v):
    mask = mdl.tensor(np.tril(np.ones((3, 4), dtype=bool)), device=q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _in_place(a):
    b = a * 1.0
    b.mul_(2.0)
    b[0] = 0.5
    return b.clamp_(-1.0, 1.0)


# name: (function of tensors, the input shapes)
DEVICE_OPS = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)]),
    "sub": (lambda a, b: a - b, [(3, 4), (3, 1)]),
    "mul": (lambda a, b: a * b, [(2, 3, 4), (3, 1)]),
    "div": (lambda a, b: a / (b * b + 1), [(3, 4), (3, 4)]),
    "scalar_ops": (lambda a: 2.0 - a * 3 + 1 / (a * a + 1), [(3, 4)]),
    "pow": (lambda a: (a * a + 1) ** 1.5, [(3, 4)]),
    "abs": (F.abs, [(3, 4)]),
    "exp": (F.exp, [(3, 4)]),
    "log": (lambda a: F.log(a * a + 0.5), [(3, 4)]),
    "sqrt": (lambda a: F.sqrt(a * a + 0.5), [(3, 4)]),
    "square": (F.square, [(3, 4)]),
    "erf": (F.erf, [(3, 4)]),
    "maximum": (F.maximum, [(3, 4), (4,)]),
    "minimum": (F.minimum, [(3, 4), (3, 4)]),
    "where": (lambda a, b: F.where(a > 0, a, b), [(3, 4), (3, 4)]),
    "clamp": (lambda a: F.clamp(a, -0.5, 0.7), [(3, 4)]),
    "masked_fill": (_masked_fill, [(3, 4)]),
    "in_place": (_in_place, [(3, 4)]),
    "relu": (F.relu, [(3, 4)]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), [(3, 4)]),
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
    "sum": (lambda a: a.sum(1), [(3, 4, 2)]),
    "mean": (lambda a: a.mean(), [(3, 4)]),
    "max": (lambda a: F.amax(a, 0), [(3, 4)]),
    "min": (lambda a: F.amin(a, -1), [(3, 4)]),
    "var": (lambda a: a.var(-1), [(3, 4)]),
    "std": (lambda a: F.std(a, 0), [(3, 4)]),
    "logsumexp": (lambda a: F.logsumexp(a, 1), [(3, 4)]),
    "matmul": (F.matmul, [(3, 4), (4, 5)]),
    "batched_matmul": (F.matmul, [(2, 3, 4), (4, 5)]),
    "linear": (F.linear, [(3, 4), (5, 4), (5,)]),
    "softmax": (lambda a: F.softmax(a, -1), [(3, 4)]),
    "log_softmax": (lambda a: F.log_softmax(a, 0), [(3, 4)]),
    "cross_entropy": (_cross_entropy, [(3, 4)]),
    "nll_loss": (_nll_loss, [(3, 4)]),
    "mse_loss": (F.mse_loss, [(3, 4), (3, 4)]),
    "l1_loss": (F.l1_loss, [(3, 4), (3, 4)]),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, [(3, 4), (3, 4)]),
    "bce": (lambda a, b: F.binary_cross_entropy(F.sigmoid(a), F.sigmoid(b)), [(3, 4), (3, 4)]),
    "embedding": (_embedding, [(5, 3)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "batch_norm": (_batch_norm, [(5, 4), (4,), (4,)]),
    "attention": (_attention, [(2, 3, 5), (2, 4, 5), (2, 4, 6)]),
    "reshape_permute": (lambda a: F.permute(F.reshape(a, (4, 3, 2)), (2, 0, 1)), [(3, 8)]),
    "cat_stack": (lambda a, b: F.stack([F.cat([a, b], 0), F.cat([b, a], 0)], 1),
                  [(2, 3), (2, 3)]),
    "split": (lambda a: F.split(a, 2, 1)[1] * 2, [(3, 5)]),
    "getitem": (lambda a: a[1:, ::2] * a[0, 1], [(3, 4)]),
    "gather": (_gather, [(3, 4)]),
    "flatten_unsqueeze": (lambda a: F.unsqueeze(F.flatten(a), 0), [(2, 3, 2)]),
    "broadcast_repeat": (lambda a: F.repeat(F.broadcast_to(a, (2, 3, 4)), 1, 2, 1), [(3, 4)]),
    "pad": (lambda a: F.pad(a, (1, 2, 0, 1)), [(2, 3, 4)]),
    "pad_reflect": (lambda a: F.pad(a, (2, 1), mode="reflect"), [(2, 3, 4)]),
    "conv1d": (lambda x, w: F.conv1d(x, w, stride=2, padding=1), [(2, 3, 9), (4, 3, 3)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
               [(2, 3, 7, 8), (4, 3, 3, 2), (4,)]),
    "conv2d_groups": (lambda x, w: F.conv2d(x, w, groups=2, padding="same"),
                      [(2, 4, 5, 6), (6, 2, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(2, 3, 7, 8)]),
    "max_pool2d_options": (lambda x: F.max_pool2d(x, 2, stride=2, dilation=2, ceil_mode=True),
                           [(2, 3, 7, 8)]),
    "max_pool1d": (lambda x: F.max_pool1d(x, 3, stride=2), [(2, 3, 9)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, (2, 3), stride=(2, 1)), [(2, 3, 7, 8)]),
    "avg_pool2d_options": (lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                  count_include_pad=False), [(2, 3, 7, 8)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 2), [(2, 3, 9)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [(2, 3, 7, 8)]),
}


def _forward_and_gradients(name, arrays, device):
    fn, _ = DEVICE_OPS[name]
    inputs = [mdl.tensor(a, device=device, requires_grad=True) for a in arrays]
    y = fn(*inputs)
    assert y.device == device
    weights = mdl.tensor(random(y.shape, y.dtype, seed=99), device=device)
    (y * weights).sum().backward()
    assert all(t.grad.device == device for t in inputs)
    return y.numpy(), [t.grad.numpy() for t in inputs]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(DEVICE_OPS))
def test_op_on_the_device_equals_the_cpu_with_gradients(cuda_backend, name, dtype):
    arrays = [random(shape, dtype, seed=i) for i, shape in enumerate(DEVICE_OPS[name][1])]
    y_cpu, grads_cpu = _forward_and_gradients(name, arrays, "cpu")
    y_device, grads_device = _forward_and_gradients(name, arrays, "cuda")
    assert y_device.dtype == y_cpu.dtype == dtype
    assert_close(y_device, y_cpu, dtype)
    for g_device, g_cpu in zip(grads_device, grads_cpu):
        assert_close(g_device, g_cpu, dtype)


# name: (a function of tensors with second derivatives through the device kernels, shapes)
TWICE_DIFFERENTIABLE = {
    "conv2d": (lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2)),
               [(2, 3, 7, 8), (4, 3, 3, 2)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2, stride=2, dilation=2, ceil_mode=True) ** 2,
                   [(2, 3, 7, 8)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x * x, 3, 2, 1, ceil_mode=True,
                                          count_include_pad=False) ** 2, [(2, 3, 7, 8)]),
    "layer_norm": (lambda x, w: F.layer_norm(x, (4,), w), [(3, 4), (4,)]),
    "attention": DEVICE_OPS["attention"],
    "gelu": DEVICE_OPS["gelu"],
}


@pytest.mark.parametrize("name", sorted(TWICE_DIFFERENTIABLE))
def test_second_derivatives_on_the_device_equal_the_cpu(cuda_backend, name):
    fn, shapes = TWICE_DIFFERENTIABLE[name]
    arrays = [random(shape, seed=i) for i, shape in enumerate(shapes)]
    results = []
    for device in ("cpu", "cuda"):
        inputs = [mdl.tensor(a, device=device, requires_grad=True) for a in arrays]
        y = fn(*inputs)
        weights = mdl.tensor(random(y.shape, seed=99), device=device)
        grads = mdl.autograd.grad((y * weights).sum(), inputs, create_graph=True)
        total = sum((g * g).sum() for g in grads)
        second = mdl.autograd.grad(total, inputs, allow_unused=True)
        assert all(g is None or g.device == device for g in second)
        results.append([None if g is None else g.numpy() for g in second])
    assert any(g is not None for g in results[0])
    for g_device, g_cpu in zip(*results):
        assert (g_device is None) == (g_cpu is None)
        if g_cpu is not None:
            assert_close(g_device, g_cpu, np.float64)


def test_dropout_on_the_device_keeps_its_mask_in_the_gradient(cuda_backend):
    mdl.manual_seed(0)
    x = mdl.tensor(random((50, 40)) + 3.0, device="cuda", requires_grad=True)
    y = F.dropout(x, 0.25)
    y.sum().backward()
    kept = y.numpy() != 0
    assert 0.6 < kept.mean() < 0.9
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.75)
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)


# ----------------------------------------------------------------------------
# models trained on the device
# ----------------------------------------------------------------------------
def _small_models():
    return {
        "mlp": (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.1),
                                      nn.Linear(8, 3)), (6,)),
        "cnn": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(4 * 3 * 3, 3)), (1, 6, 6)),
        "lstm": (lambda: _LastStep(nn.LSTM(6, 5, batch_first=True), 5), (4, 6)),
        "gru": (lambda: _LastStep(nn.GRU(6, 5, batch_first=True), 5), (4, 6)),
    }


class _LastStep(nn.Module):
    def __init__(self, recurrent, hidden):
        super().__init__()
        self.recurrent, self.head = recurrent, nn.Linear(hidden, 3)

    def forward(self, x):
        return self.head(self.recurrent(x)[0][:, -1])


@pytest.mark.parametrize("name", sorted(_small_models()))
def test_fit_on_the_device_matches_the_cpu(cuda_backend, name, tmp_path):
    """The same model, data and seed trained on each device: the same losses and weights
    (dropout draws on the device's own generator, so the MLP's are not compared)."""
    make, shape = _small_models()[name]
    g = np.random.default_rng(0)
    x = g.standard_normal((24,) + shape).astype(np.float32)
    y = g.integers(0, 3, size=24)
    trained = {}
    for device in ("cpu", "cuda"):
        mdl.manual_seed(0)
        model = make()
        # SGD, not Adam: Adam divides each gradient by its own size, so a gradient that is
        # zero but for rounding (a conv bias before BatchNorm) would make rounding matter
        optimizer = mdl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = mdl.train.fit(model, nn.CrossEntropyLoss(), optimizer, x, y, epochs=2,
                                batch_size=8, shuffle=False, device=device, verbose=False)
        assert all(p.device == device for p in model.parameters())
        save(model.state_dict(), tmp_path / f"{device}.npz")
        trained[device] = (history, load(tmp_path / f"{device}.npz"))
    (history_cpu, state_cpu), (history_device, state_device) = trained["cpu"], trained["cuda"]
    if name != "mlp":
        np.testing.assert_allclose(history_device["loss"], history_cpu["loss"], rtol=1e-4)
        for key in state_cpu:
            np.testing.assert_allclose(state_device[key].numpy(), state_cpu[key].numpy(),
                                       rtol=1e-3, atol=1e-5)


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
