"""conv2d, max_pool2d, avg_pool2d and their layers, with both CPU kernels ("numpy" and
"numba"): forwards against loop-by-loop NumPy references and PyTorch, gradients and
second derivatives by finite differences (the ops Conv2d, Conv2dGradInput,
Conv2dGradWeight, MaxPool2d, MaxPool2dBackward, AvgPool2d, AvgPool2dBackward), clear
errors, and a small CNN that fits a batch of random labels."""
import numpy as np
import pytest

from helpers import assert_raises_naming, require

import minidl as mdl
import minidl.functional as F
from minidl import nn

rng = np.random.default_rng(0)


def t(a, grad=False):
    return mdl.tensor(a, requires_grad=grad)


def pair(v):
    return (v, v) if isinstance(v, int) else v


# ----------------------------------------------------------------------------
# references: one output position at a time, straight from the definitions
# ----------------------------------------------------------------------------
def padded(x, padding, value=0.0):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def windows_np(x, kernel, stride, padding, dilation=(1, 1), value=0.0):
    """Yield (i, j, window (N, C, KH, KW)) for every output position (i, j)."""
    xp = padded(x, padding, value)
    span = [dilation[k] * (kernel[k] - 1) + 1 for k in range(2)]
    out = [(xp.shape[2 + k] - span[k]) // stride[k] + 1 for k in range(2)]
    for i in range(out[0]):
        for j in range(out[1]):
            top, left = i * stride[0], j * stride[1]
            yield i, j, xp[:, :, top:top + span[0]:dilation[0], left:left + span[1]:dilation[1]]


def conv2d_np(x, w, b, stride, padding, dilation):
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    cells = {(i, j): np.tensordot(win, w, axes=([1, 2, 3], [1, 2, 3]))
             for i, j, win in windows_np(x, w.shape[2:], stride, padding, dilation)}
    oh, ow = max(i for i, _ in cells) + 1, max(j for _, j in cells) + 1
    y = np.stack([np.stack([cells[i, j] for j in range(ow)], -1) for i in range(oh)], -2)
    return y if b is None else y + b[:, None, None]


def pool_np(x, kernel, stride, padding, reduce):
    kernel, padding = pair(kernel), pair(padding)
    stride = kernel if stride is None else pair(stride)
    value = -np.inf if reduce == "max" else 0.0
    cells = {(i, j): getattr(win, reduce)(axis=(2, 3))
             for i, j, win in windows_np(x, kernel, stride, padding, value=value)}
    oh, ow = max(i for i, _ in cells) + 1, max(j for _, j in cells) + 1
    return np.stack([np.stack([cells[i, j] for j in range(ow)], -1) for i in range(oh)], -2)


# stride, padding, dilation: square, rectangular, strided, padded, dilated, all at once
CONV_CASES = [(1, 0, 1), (2, 1, 1), (1, 2, 2), ((2, 1), (1, 0), (1, 2)), (2, 1, 2)]
POOL_CASES = [(2, None, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 0)), (2, 1, 1)]


# ----------------------------------------------------------------------------
# forward
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("stride, padding, dilation", CONV_CASES)
def test_conv2d_forward_matches_reference(kernels, stride, padding, dilation):
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    y = F.conv2d(t(x), t(w), t(b), stride, padding, dilation)
    np.testing.assert_allclose(y.numpy(), conv2d_np(x, w, b, stride, padding, dilation),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_pool_forward_matches_reference(kernels, reduce, kernel, stride, padding):
    x = rng.standard_normal((2, 3, 7, 6))
    fn = F.max_pool2d if reduce == "max" else F.avg_pool2d
    np.testing.assert_allclose(fn(t(x), kernel, stride, padding).numpy(),
                               pool_np(x, kernel, stride, padding, reduce), rtol=1e-12)


def test_forward_matches_torch(kernels):
    torch = require("torch")
    tf = torch.nn.functional
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    for stride, padding, dilation in CONV_CASES:
        np.testing.assert_allclose(
            F.conv2d(t(x), t(w), t(b), stride, padding, dilation).numpy(),
            tf.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride, padding,
                      dilation).numpy(), rtol=1e-10, atol=1e-12)
    for kernel, stride, padding in POOL_CASES:
        np.testing.assert_allclose(F.max_pool2d(t(x), kernel, stride, padding).numpy(),
                                   tf.max_pool2d(torch.tensor(x), kernel, stride, padding).numpy())
        np.testing.assert_allclose(F.avg_pool2d(t(x), kernel, stride, padding).numpy(),
                                   tf.avg_pool2d(torch.tensor(x), kernel, stride, padding).numpy(),
                                   rtol=1e-12)


def test_float32_stays_float32(kernels):
    x = mdl.randn(2, 3, 6, 6, requires_grad=True)
    layer = nn.Conv2d(3, 4, 3, padding=1)
    y = F.avg_pool2d(F.max_pool2d(layer(x), 2, 1), 2)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and layer.weight.grad.dtype == np.float32


# ----------------------------------------------------------------------------
# gradients and second derivatives
# ----------------------------------------------------------------------------
def without_ties(shape):
    """Distinct, well-separated values, so the max of every window is unique."""
    values = rng.permutation(np.prod(shape)).reshape(shape)
    return (values - values.size / 2) * 0.1


# The autograd wiring is the same for both kernels (whose agreement with their
# references is tested in test_kernels.py), so numba runs the hardest case only.
STRIDED = (2, 1, 2)  # stride 2, padding 1, dilation 2


@pytest.mark.parametrize("kernels, stride, padding, dilation", [
    ("numpy", 1, 0, 1), ("numpy", (2, 1), (0, 1), (1, 2)), ("numpy", *STRIDED),
    ("numba", *STRIDED)], indirect=["kernels"])
def test_conv2d_gradients(kernels, stride, padding, dilation):
    inputs = [t(rng.standard_normal((2, 2, 5, 4)), grad=True),
              t(rng.standard_normal((2, 2, 3, 2)), grad=True),
              t(rng.standard_normal(2), grad=True)]

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride, padding, dilation)

    assert mdl.gradcheck(fn, inputs)
    assert mdl.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("kernels, kernel, stride, padding",
                         [("numpy", *case) for case in POOL_CASES] + [("numba", *POOL_CASES[1])],
                         indirect=["kernels"])
@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d], ids=["max", "avg"])
def test_pool_gradients(kernels, fn, kernel, stride, padding):
    x = t(without_ties((2, 1, 6, 5)), grad=True)

    def pool(a):
        return fn(a, kernel, stride, padding)

    assert mdl.gradcheck(pool, [x])
    assert mdl.gradgradcheck(pool, [x])


@pytest.mark.parametrize("kernel, padding, groups", [(3, 1, 1), (1, 0, 1), (1, 0, 2)],
                         ids=["same", "1x1", "1x1-grouped"])
def test_conv2d_fast_paths_gradients_and_second_derivatives(kernels, monkeypatch, kernel,
                                                            padding, groups):
    """The paths of the fast kernels: "same" padding (each tap copied as one run), a 1x1
    kernel (no im2col), and chunks of one image (CHUNK_BYTES = 1), under every setting."""
    from minidl.kernels import conv
    monkeypatch.setattr(conv, "CHUNK_BYTES", 1)
    inputs = [t(rng.standard_normal((3, 2, 4, 3)), grad=True),
              t(rng.standard_normal((2, 2 // groups, kernel, kernel)), grad=True),
              t(rng.standard_normal(2), grad=True)]

    def fn(x, w, b):
        return F.conv2d(x, w, b, 1, padding, 1, groups)

    assert mdl.gradcheck(fn, inputs)
    assert mdl.gradgradcheck(fn, inputs)


def test_max_pool_gradient_goes_to_the_maximum(kernels):
    x = t(np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 9.0, 1.0]]]]), grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 1, 0, 0], [0, 0, 1, 0]]]])


def test_conv_double_backward_gives_a_hessian_vector_product(kernels):
    # L = sum(conv(x, w)^2) / 2 is quadratic in w: its Hessian-vector product H v,
    # computed by differentiating the gradient, must equal grad(w + v) - grad(w)
    x = t(rng.standard_normal((1, 2, 5, 5)))
    w, v = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 2, 3, 3))

    def gradient(w_array, create_graph=False):
        wt = t(w_array, grad=True)
        y = F.conv2d(x, wt, stride=2, padding=1)
        g, = mdl.grad((y * y).sum() / 2, [wt], create_graph=create_graph)
        return wt, g

    wt, g = gradient(w, create_graph=True)
    hv, = mdl.grad((g * t(v)).sum(), [wt])
    np.testing.assert_allclose(hv.numpy(), gradient(w + v)[1].numpy() - gradient(w)[1].numpy(),
                               rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, words", [
    (lambda: F.conv2d(t(np.ones((1, 3, 5, 5))), t(np.ones((2, 4, 3, 3)))),
     ["conv2d: input has 3 channels but weight expects 4"]),
    (lambda: F.conv2d(t(np.ones((5, 5))), t(np.ones((2, 3, 3, 3)))),
     ["conv2d", "3-D (C, H, W) or 4-D (N, C, H, W)", "(5, 5)"]),
    (lambda: F.conv2d(t(np.ones((1, 3, 5, 5))), t(np.ones((2, 3, 3)))),
     ["conv2d", "weight", "(2, 3, 3)"]),
    (lambda: F.conv2d(t(np.ones((1, 1, 4, 4))), t(np.ones((1, 1, 3, 3))), dilation=2),
     ["conv2d", "5x5", "4x4"]),
    (lambda: F.conv2d(t(np.ones((1, 1, 4, 4))), t(np.ones((2, 1, 3, 3))), t(np.ones(3))),
     ["conv2d", "bias", "(3,)"]),
    (lambda: F.conv2d(t(np.ones((1, 1, 4, 4))), t(np.ones((2, 1, 3, 3))), stride=0),
     ["conv2d", "stride"]),
    (lambda: F.max_pool2d(t(np.ones((1, 1, 4, 4))), 2, padding=2),
     ["max_pool2d", "padding", "half"]),
    (lambda: F.avg_pool2d(t(np.ones((1, 1, 2, 2))), 3), ["avg_pool2d", "3x3", "2x2"]),
    (lambda: F.max_pool2d(t(np.ones((4,))), 2), ["max_pool2d", "4-D", "(4,)"]),
])
def test_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)


def test_mixed_dtypes_are_a_clear_error():
    with pytest.raises(TypeError, match="float64.*float32"):
        F.conv2d(t(np.ones((1, 1, 4, 4))), mdl.ones(1, 1, 3, 3))


# ----------------------------------------------------------------------------
# layers
# ----------------------------------------------------------------------------
def test_conv_layer_follows_pytorch_layout_and_init():
    layer = nn.Conv2d(3, 8, (3, 5), stride=2, padding=1)
    assert layer.weight.shape == (8, 3, 3, 5) and layer.bias.shape == (8,)
    bound = 1 / np.sqrt(3 * 3 * 5)
    assert np.abs(layer.weight.numpy()).max() <= bound < 1.1 * np.abs(layer.weight.numpy()).max()
    assert repr(layer) == "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1))"
    assert (repr(nn.MaxPool2d(2))
            == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)")


def test_cnn_matches_torch_after_loading_its_state_dict(kernels):
    torch = require("torch")
    tnn = torch.nn

    def build(lib):
        return lib.Sequential(lib.Conv2d(2, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(),
                              lib.MaxPool2d(2), lib.Conv2d(4, 3, 2, stride=2, dilation=1),
                              lib.AvgPool2d(2, 1), lib.Flatten(), lib.Linear(3, 2))

    theirs, ours = build(tnn).double().eval(), build(nn).double().eval()
    with torch.no_grad():
        theirs[1].running_mean.uniform_(-1, 1)
        theirs[1].running_var.uniform_(0.5, 2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((3, 2, 8, 8))
    np.testing.assert_allclose(ours(t(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_small_cnn_fits_random_labels(kernels):
    """conv-relu-pool twice, then linear: 64 examples with random labels are memorized."""
    mdl.manual_seed(0)
    data = np.random.default_rng(1)
    x = mdl.tensor(data.standard_normal((64, 1, 8, 8)), dtype=np.float32)
    labels = mdl.tensor(data.integers(0, 10, 64))
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 2 * 2, 10))
    velocity = {id(p): 0 for p in model.parameters()}
    for step in range(200):
        logits = model(x)
        accuracy = (logits.numpy().argmax(axis=1) == labels.numpy()).mean()
        if accuracy == 1.0:
            break
        loss = F.cross_entropy(logits, labels)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():  # SGD with momentum 0.9
            velocity[id(p)] = 0.9 * velocity[id(p)] + p.grad.data
            p.data = p.data - 0.1 * velocity[id(p)]
    assert accuracy == 1.0, f"training accuracy {accuracy} after {step} steps"
