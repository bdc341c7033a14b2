"""The convolution and pooling family beyond the plain conv2d (tests/test_conv.py):
groups (grouped and depthwise), padding="same"/"valid", conv1d, F.pad and the
layers' padding_mode, the 1-D and adaptive poolings, and the 2-D poolings' full
PyTorch signatures (dilation, ceil_mode, count_include_pad, divisor_override,
return_indices).

- the kernels (numpy and numba) against the reference loops, on odd shapes,
  non-contiguous inputs, float32 and float64;
- every op against PyTorch in float64: the forward and the gradient of every input
  under a random cotangent, with both CPU kernel settings;
- finite-difference gradients and second derivatives (mdl.gradcheck, gradgradcheck);
- clear errors.
"""
import numpy as np
import pytest

from helpers import assert_raises_naming, require

import minidl as mdl
import minidl.functional as F
from minidl import nn
from minidl.kernels import conv, geometry, pool

rng = np.random.default_rng(0)


def t(a, grad=False):
    return mdl.tensor(a, requires_grad=grad)


def randn(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def without_ties(*shape):
    """Distinct, well-separated values, so that every window has one clear maximum."""
    values = rng.permutation(int(np.prod(shape))).reshape(shape)
    return (values - values.size / 2) * 0.1


def matches_torch(ours, theirs, arrays, rtol=1e-10, atol=1e-12):
    """ours(*Tensors) and theirs(*torch tensors) agree in float64: the forward, and the
    gradient of every input under one random cotangent."""
    torch = require("torch")
    mine = [t(a, grad=True) for a in arrays]
    their = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*mine), theirs(*their)
    assert y.shape == tuple(ty.shape) and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    cotangent = rng.standard_normal(y.shape)
    grads = mdl.grad((y * t(cotangent)).sum(), mine)
    their_grads = torch.autograd.grad(ty, their, torch.tensor(cotangent))
    for i, (g, tg) in enumerate(zip(grads, their_grads)):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")


def tf():
    return require("torch").nn.functional


# ----------------------------------------------------------------------------
# kernels: numpy and numba against the reference loops
# ----------------------------------------------------------------------------
def reference_gradients(gy, x, w, geometry, groups):
    """The gradients of sum(gy * conv2d_reference(x, w)) for x and w, one entry at a
    time: the convolution is linear in each, so entry idx of the gradient is the
    reference applied to a one-hot array, dotted with gy."""
    def through(shape, apply):
        grad = np.zeros(shape)
        for idx in np.ndindex(shape):
            one_hot = np.zeros(shape)
            one_hot[idx] = 1.0
            grad[idx] = np.sum(gy * apply(one_hot))
        return grad
    gx = through(x.shape, lambda e: conv.conv2d_reference(e, w, *geometry, groups))
    gw = through(w.shape, lambda e: conv.conv2d_reference(x, e, *geometry, groups))
    return gx, gw


def strided(a):
    """The same values as a, in an array that is not C-contiguous."""
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


# (N, C, H, W), (O, C/G, KH, KW), groups, (stride, padding, dilation)
GROUPED_CASES = [
    ((1, 3, 5, 4), (3, 1, 2, 3), 3, ((1, 1), (1, 0), (1, 1))),       # depthwise, k = 1
    ((2, 6, 7, 5), (9, 2, 3, 2), 3, ((2, 1), (1, 1), (1, 2))),       # 3 groups (a prime)
    ((1, 4, 1, 7), (8, 1, 1, 3), 4, ((1, 2), (0, 2), (1, 2))),       # depthwise, k = 2, H = 1
    ((3, 2, 5, 1), (2, 1, 3, 1), 2, ((1, 1), (2, 0), (2, 1))),       # W = 1
    ((1, 5, 6, 6), (5, 1, 3, 3), 5, ((3, 2), (1, 1), (1, 1))),       # one output per group
]
CONV_KERNELS = {
    "numpy": (conv.conv2d_forward_numpy, conv.conv2d_backward_input_numpy,
              conv.conv2d_backward_weight_numpy),
    "numba": (conv.conv2d_forward_numba, conv.conv2d_backward_input_numba,
              conv.conv2d_backward_weight_numba),
}


@pytest.mark.parametrize("x_shape, w_shape, groups, geometry", GROUPED_CASES)
def test_grouped_conv_kernels_equal_the_reference_loops(x_shape, w_shape, groups, geometry):
    x, w = randn(*x_shape), randn(*w_shape)
    y = conv.conv2d_reference(x, w, *geometry, groups)
    gy = randn(*y.shape)
    gx, gw = reference_gradients(gy, x, w, geometry, groups)
    for name, (forward, backward_input, backward_weight) in CONV_KERNELS.items():
        np.testing.assert_allclose(forward(strided(x), w, *geometry, groups), y,
                                   rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(backward_input(strided(gy), w, x.shape, *geometry, groups),
                                   gx, rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(backward_weight(gy, strided(x), w.shape, *geometry, groups),
                                   gw, rtol=1e-12, atol=1e-12, err_msg=name)


def test_grouped_conv_reference_is_one_convolution_per_group():
    x, w = randn(2, 6, 5, 5), randn(4, 3, 2, 2)
    y = conv.conv2d_reference(x, w, (1, 1), (0, 0), (1, 1), groups=2)
    halves = [conv.conv2d_reference(x[:, 3 * g:3 * g + 3], w[2 * g:2 * g + 2]) for g in (0, 1)]
    np.testing.assert_allclose(y, np.concatenate(halves, axis=1), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grouped_conv_kernels_in_float32_and_float64(dtype):
    x_shape, w_shape, groups, geometry = GROUPED_CASES[1]
    x, w = randn(*x_shape, dtype=dtype), randn(*w_shape, dtype=dtype)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    y64 = conv.conv2d_reference(x64, w64, *geometry, groups)
    gy = randn(*y64.shape, dtype=dtype)
    gx64 = conv.conv2d_backward_input_numpy(gy.astype(np.float64), w64, x.shape, *geometry,
                                            groups)
    gw64 = conv.conv2d_backward_weight_numpy(gy.astype(np.float64), x64, w.shape, *geometry,
                                             groups)
    # float32: each output is a sum of at most 12 products of numbers of size ~1
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for name, (forward, backward_input, backward_weight) in CONV_KERNELS.items():
        results = [forward(x, w, *geometry, groups),
                   backward_input(gy, w, x.shape, *geometry, groups),
                   backward_weight(gy, x, w.shape, *geometry, groups)]
        for result, expected in zip(results, [y64, gx64, gw64]):
            assert result.dtype == dtype, name
            np.testing.assert_allclose(result, expected, err_msg=name, **tol)


@pytest.mark.parametrize("x_shape, w_shape, groups, words", [
    ((1, 6, 5, 5), (4, 3, 3, 3), 3, ["4 output channels", "groups=3"]),
    ((1, 6, 5, 5), (4, 2, 3, 3), 2, ["6 channels", "expects 4", "2 per group x groups=2"]),
    ((1, 2, 5, 5), (2, 2, 3, 3), 0, ["groups must be a positive int"]),
])
def test_grouped_conv_kernels_reject_bad_groups_clearly(x_shape, w_shape, groups, words):
    for forward, _, _ in CONV_KERNELS.values():
        with pytest.raises(ValueError) as err:
            forward(np.ones(x_shape), np.ones(w_shape), (1, 1), (0, 0), (1, 1), groups)
        assert all(word in str(err.value) for word in words), str(err.value)


# kernel, stride, padding, dilation, ceil_mode
MAX_POOL_CASES = [
    ((2, 2), (2, 2), (0, 0), (1, 1), True),     # ceil_mode: a last, shorter window
    ((3, 3), (2, 2), (1, 1), (2, 2), False),    # dilated and padded
    ((3, 2), (2, 3), (1, 1), (1, 2), True),     # everything at once
    ((1, 3), (1, 2), (0, 1), (1, 3), True),     # one row high, as the 1-D pooling runs
]
# kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
AVG_POOL_CASES = [
    ((3, 3), (2, 2), (1, 1), True, True, None),
    ((3, 3), (2, 2), (1, 1), True, False, None),
    ((2, 3), (3, 2), (1, 1), False, False, None),
    ((3, 2), (2, 2), (0, 1), True, True, 5),
    ((1, 3), (1, 2), (0, 1), True, False, None),
]


def fitting(shapes, cases, dilated):
    """The (shape, case) pairs whose windows fit the shape and all touch the input."""
    def fits(shape, kernel, stride, padding, *options):
        dilation, ceil_mode = (options[0], options[1]) if dilated else ((1, 1), options[0])
        for a in range(2):
            axis = (shape[2 + a], kernel[a], stride[a], padding[a], dilation[a])
            out = geometry.pooled_size(*axis, ceil_mode)
            if out < 1 or geometry.window_in_padding(*axis, out):
                return False
        return True
    return [(shape, case) for shape in shapes for case in cases if fits(shape, *case)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, case", fitting([(2, 3, 7, 8), (1, 1, 5, 5), (1, 2, 1, 11)],
                                                MAX_POOL_CASES, dilated=True))
def test_max_pool_kernels_with_options_equal_the_reference(dtype, shape, case):
    x = strided(randn(*shape, dtype=dtype))
    y, argmax = pool.max_pool2d_reference(x, *case)
    gy = randn(*y.shape, dtype=dtype)
    expected_dx = np.zeros(shape, dtype=np.float64)
    for n, c, r, s in np.ndindex(y.shape):  # each gradient to its window's maximum
        expected_dx[n, c].flat[argmax[n, c, r, s]] += gy[n, c, r, s]
    for forward, backward in [(pool.max_pool2d_forward_numpy, pool.max_pool2d_backward_numpy),
                              (pool.max_pool2d_forward_numba, pool.max_pool2d_backward_numba)]:
        y2, argmax2 = forward(x, *case)
        assert y2.dtype == dtype
        np.testing.assert_array_equal(y2, y)
        np.testing.assert_array_equal(argmax2, argmax)
        np.testing.assert_allclose(backward(gy, argmax, shape, *case), expected_dx,
                                   rtol=1e-6, atol=1e-6)


def avg_pool_reference_backward(gy, x_shape, case):
    """The gradient of sum(gy * avg_pool2d_reference(x)), one one-hot x at a time."""
    grad = np.zeros(x_shape)
    for idx in np.ndindex(x_shape):
        one_hot = np.zeros(x_shape)
        one_hot[idx] = 1.0
        grad[idx] = np.sum(gy * pool.avg_pool2d_reference(one_hot, *case))
    return grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, case", fitting([(1, 2, 7, 8), (1, 1, 1, 5)], AVG_POOL_CASES,
                                                dilated=False))
def test_avg_pool_kernels_with_options_equal_the_reference(dtype, shape, case):
    x = strided(randn(*shape, dtype=dtype))
    y = pool.avg_pool2d_reference(x.astype(np.float64), *case)
    gy = randn(*y.shape, dtype=dtype)
    dx = avg_pool_reference_backward(gy.astype(np.float64), shape, case)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for forward, backward in [(pool.avg_pool2d_forward_numpy, pool.avg_pool2d_backward_numpy),
                              (pool.avg_pool2d_forward_numba, pool.avg_pool2d_backward_numba)]:
        out = forward(x, *case)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, y, **tol)
        np.testing.assert_allclose(backward(gy, shape, *case), dx, **tol)


def test_avg_pool_divisors_by_hand():
    x = np.ones((1, 1, 3, 3))
    # kernel 2, stride 2, padding 1, ceil_mode: windows start at -1, 1 and 3 (past the
    # padding, so not counted); rows -1..0, 1..2, 3 (3 is outside the padded input)
    include = pool.avg_pool2d_forward_numpy(x, (2, 2), (2, 2), (1, 1), ceil_mode=False)
    np.testing.assert_array_equal(include[0, 0], [[0.25, 0.5], [0.5, 1.0]])
    exclude = pool.avg_pool2d_forward_numba(x, (2, 2), (2, 2), (1, 1), False, False)
    np.testing.assert_array_equal(exclude[0, 0], np.ones((2, 2)))
    override = pool.avg_pool2d_forward_numpy(x, (2, 2), (2, 2), (1, 1), False, True, 3)
    np.testing.assert_array_equal(override[0, 0], [[1 / 3, 2 / 3], [2 / 3, 4 / 3]])


@pytest.mark.parametrize("size, k, stride, padding, dilation, ceil_mode, expected", [
    (7, 2, 2, 0, 1, False, 3), (7, 2, 2, 0, 1, True, 4),
    (6, 3, 2, 1, 1, True, 4),  # (6 + 2 - 3) / 2 = 2.5 -> 3 windows + 1
    (5, 2, 2, 1, 1, True, 3),  # a 4th would start at 5 = size + padding: dropped
    (9, 3, 2, 1, 2, False, 4), (1, 1, 1, 0, 1, True, 1),
])
def test_pooled_size_follows_pytorch(size, k, stride, padding, dilation, ceil_mode, expected):
    assert geometry.pooled_size(size, k, stride, padding, dilation, ceil_mode) == expected
    torch = require("torch")
    x = torch.zeros(1, 1, size)
    assert tf().max_pool1d(x, k, stride, padding, dilation, ceil_mode).shape[-1] == expected


def test_pool_kernels_refuse_a_window_wholly_in_the_padding():
    # height 1, kernel 2 dilated by 2 and padded by 1: the window reads rows -1 and 1
    with pytest.raises(ValueError, match="max_pool2d_forward_numba.*all its taps in the padding"):
        pool.max_pool2d_forward_numba(np.ones((1, 1, 1, 6)), (2, 1), (1, 1), (1, 0), (2, 1))


# ----------------------------------------------------------------------------
# conv2d with groups and string padding, against PyTorch
# ----------------------------------------------------------------------------
# x shape, w shape, bias, stride, padding, dilation, groups
CONV2D_CASES = [
    ((2, 6, 7, 8), (9, 2, 3, 2), True, (2, 1), 1, (1, 2), 3),         # grouped, strided
    ((2, 4, 6, 5), (8, 1, 3, 3), True, 1, 1, 1, 4),                   # depthwise, 2 per input
    ((1, 4, 6, 5), (4, 1, 2, 4), False, 1, "same", (2, 1), 4),        # depthwise, even, dilated
    ((2, 3, 7, 6), (2, 3, 2, 2), True, 1, "same", 1, 1),              # even kernel: right/bottom
    ((2, 3, 7, 6), (2, 3, 4, 3), True, 1, "same", (1, 2), 1),         # even x odd, dilated
    ((2, 3, 7, 6), (5, 3, 3, 2), True, (2, 3), "valid", 1, 1),
    ((1, 2, 1, 9), (2, 1, 1, 3), True, (1, 2), (0, 3), (1, 2), 2),    # one row high
    ((3, 5, 5), (4, 3, 2, 2), True, 1, "same", 2, 1),                 # unbatched (C, H, W)
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its speed
@pytest.mark.parametrize("x_shape, w_shape, bias, stride, padding, dilation, groups",
                         CONV2D_CASES)
def test_conv2d_matches_torch(kernels, x_shape, w_shape, bias, stride, padding, dilation,
                              groups):
    torch = require("torch")
    arrays = [randn(*x_shape), randn(*w_shape)] + ([randn(w_shape[0])] if bias else [])

    def ours(x, w, b=None):
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    def theirs(x, w, b=None):
        return torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups)

    matches_torch(ours, theirs, arrays)


def test_conv2d_same_keeps_the_size_and_pads_the_extra_row_after():
    # a 2x2 kernel of ones sums x[r, s], x[r, s+1], x[r+1, s], x[r+1, s+1]: the zero
    # is added after the last row and column, so the last output sums the corner alone
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    y = F.conv2d(t(x), t(np.ones((1, 1, 2, 2))), padding="same").numpy()[0, 0]
    assert y.shape == (3, 3)
    assert y[0, 0] == 0 + 1 + 3 + 4 and y[2, 2] == 8 and y[1, 2] == 5 + 8


@pytest.mark.parametrize("kernels, groups", [("numpy", 3), ("numba", 3), ("numpy", 6)],
                         indirect=["kernels"])
def test_grouped_conv2d_gradients_and_second_derivatives(kernels, groups):
    inputs = [t(randn(1, 6, 4, 5), grad=True), t(randn(6, 6 // groups, 2, 3), grad=True),
              t(randn(6), grad=True)]

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=groups)

    assert mdl.gradcheck(fn, inputs)
    assert mdl.gradgradcheck(fn, inputs)


def test_depthwise_conv2d_same_even_kernel_second_derivatives():
    inputs = [t(randn(1, 2, 4, 4), grad=True), t(randn(4, 1, 2, 2), grad=True)]

    def fn(x, w):
        return F.conv2d(x, w, padding="same", dilation=(1, 3), groups=2)

    assert mdl.gradcheck(fn, inputs)
    assert mdl.gradgradcheck(fn, inputs)


def test_grouped_conv_double_backward_gives_a_hessian_vector_product(kernels):
    # L = sum(conv(x, w)^2) / 2 is quadratic in w: H v = grad(w + v) - grad(w)
    x = t(randn(2, 4, 5, 5))
    w, v = randn(6, 2, 3, 3), randn(6, 2, 3, 3)

    def gradient(w_array, create_graph=False):
        wt = t(w_array, grad=True)
        y = F.conv2d(x, wt, stride=2, padding=1, groups=2)
        g, = mdl.grad((y * y).sum() / 2, [wt], create_graph=create_graph)
        return wt, g

    wt, g = gradient(w, create_graph=True)
    hv, = mdl.grad((g * t(v)).sum(), [wt])
    np.testing.assert_allclose(hv.numpy(), gradient(w + v)[1].numpy() - gradient(w)[1].numpy(),
                               rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------
# conv1d
# ----------------------------------------------------------------------------
# x shape, w shape, bias, stride, padding, dilation, groups
CONV1D_CASES = [
    ((2, 3, 11), (4, 3, 3), True, 1, 0, 1, 1),
    ((2, 4, 11), (6, 2, 4), True, 2, 3, 2, 2),
    ((3, 4, 10), (6, 2, 4), True, 1, "same", 3, 2),      # even kernel, dilated
    ((1, 5, 7), (10, 1, 2), False, 1, "same", 1, 5),     # depthwise, even
    ((2, 3, 9), (2, 3, 5), True, (3,), "valid", (1,), 1),
    ((1, 2, 1), (3, 2, 1), True, 1, 0, 1, 1),            # length 1
    ((4, 13), (2, 2, 3), True, 2, 1, 1, 2),              # unbatched (C, L)
]


@pytest.mark.parametrize("x_shape, w_shape, bias, stride, padding, dilation, groups",
                         CONV1D_CASES)
def test_conv1d_matches_torch(kernels, x_shape, w_shape, bias, stride, padding, dilation,
                              groups):
    torch = require("torch")
    arrays = [randn(*x_shape), randn(*w_shape)] + ([randn(w_shape[0])] if bias else [])

    def ours(x, w, b=None):
        return F.conv1d(x, w, b, stride, padding, dilation, groups)

    def theirs(x, w, b=None):
        return torch.nn.functional.conv1d(x, w, b, stride, padding, dilation, groups)

    matches_torch(ours, theirs, arrays)


def test_conv1d_gradients_and_second_derivatives(kernels):
    inputs = [t(randn(2, 4, 7), grad=True), t(randn(4, 2, 3), grad=True),
              t(randn(4), grad=True)]

    def fn(x, w, b):
        return F.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2)

    assert mdl.gradcheck(fn, inputs)
    assert mdl.gradgradcheck(fn, inputs)


# ----------------------------------------------------------------------------
# F.pad and padding_mode
# ----------------------------------------------------------------------------
PAD_CASES = [  # input shape, pad
    ((2, 3, 5), (2, 1)),
    ((2, 3, 5), (-1, 3)),
    ((2, 4, 5), (2, -1, 3, 1)),
    ((3, 4, 5), (1, 1, 0, 2)),           # 3-D input, two pairs: unbatched image
    ((1, 2, 3, 4, 5), (1, 2, 2, 0, 1, 1)),
    ((4, 5), (4, 4)),                   # 2-D input, widths up to size - 1
]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, widths", PAD_CASES)
def test_pad_matches_torch(mode, shape, widths):
    torch = require("torch")
    matches_torch(lambda x: F.pad(x, widths, mode),
                  lambda x: torch.nn.functional.pad(x, widths, mode), [randn(*shape)])


def test_constant_pad_with_a_value_and_more_pairs_than_reflect_allows():
    torch = require("torch")
    for widths in [(1, 2, 0, 1, 2, 0), (0, 0, -1, 1, 1, 1, 2, 0), ()]:
        matches_torch(lambda x: F.pad(x, widths, value=-2.5),
                      lambda x: torch.nn.functional.pad(x, widths, value=-2.5),
                      [randn(2, 3, 4, 5)])


def test_pad_modes_by_hand():
    x = t(np.arange(4.0))[None]
    assert F.pad(x, (2, 2), "reflect").numpy().tolist() == [[2, 1, 0, 1, 2, 3, 2, 1]]
    assert F.pad(x, (2, 2), "replicate").numpy().tolist() == [[0, 0, 0, 1, 2, 3, 3, 3]]
    assert F.pad(x, (2, 2), "circular").numpy().tolist() == [[2, 3, 0, 1, 2, 3, 0, 1]]
    assert F.pad(x, (1, -2), value=7).numpy().tolist() == [[7, 0, 1]]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradients_and_second_derivatives(mode):
    x = t(randn(1, 2, 3, 4), grad=True)

    def fn(a):
        return F.pad(a, (3, -1, 2, 1), mode) ** 2  # squared: second derivatives not zero

    assert mdl.gradcheck(fn, [x])
    assert mdl.gradgradcheck(fn, [x])


def test_pad_keeps_float32():
    x = mdl.randn(1, 2, 3, 3, requires_grad=True)
    for mode in ["constant", "reflect", "replicate", "circular"]:
        y = F.pad(x, (1, 1, 1, 1), mode)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("layer, x_shape, kwargs", [
    ("Conv2d", (2, 4, 6, 7), dict(kernel_size=(2, 3), padding="same", dilation=(2, 1),
                                  groups=2)),
    ("Conv2d", (2, 4, 6, 7), dict(kernel_size=3, padding=(1, 2), stride=2)),
    ("Conv2d", (4, 6, 7), dict(kernel_size=3, padding="valid", groups=4, bias=False)),
    ("Conv1d", (2, 4, 9), dict(kernel_size=4, padding="same", dilation=2, groups=4)),
    ("Conv1d", (4, 9), dict(kernel_size=3, padding=2, stride=3)),
])
def test_conv_layers_match_torch_after_loading_its_state_dict(kernels, padding_mode, layer,
                                                             x_shape, kwargs):
    torch = require("torch")
    torch.manual_seed(0)
    out_channels = 8
    theirs = getattr(torch.nn, layer)(4, out_channels, padding_mode=padding_mode,
                                      **kwargs).double()
    ours = getattr(nn, layer)(4, out_channels, padding_mode=padding_mode, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    matches_torch(lambda x, *params: ours(x), lambda x: theirs(x), [randn(*x_shape)])
    x = randn(*x_shape)
    tx = torch.tensor(x)
    cotangent = randn(*theirs(tx).shape)
    theirs(tx).backward(torch.tensor(cotangent))
    (ours(t(x)) * t(cotangent)).sum().backward()
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs.get_parameter(name).grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_grouped_conv_layer_init_uses_the_fan_in_of_one_group():
    layer = nn.Conv2d(8, 4, 3, groups=4)
    assert layer.weight.shape == (4, 2, 3, 3)
    bound = 1 / np.sqrt(2 * 3 * 3)
    w = np.abs(layer.weight.numpy())
    assert w.max() <= bound < 1.2 * w.max()
    assert np.abs(layer.bias.numpy()).max() <= bound


# ----------------------------------------------------------------------------
# pooling against PyTorch
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape, args", [
    ((2, 3, 7, 8), dict(kernel_size=2, ceil_mode=True)),
    ((2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ((2, 3, 7, 8), dict(kernel_size=(3, 2), stride=(2, 3), padding=1, dilation=(1, 2),
                        ceil_mode=True)),
    ((3, 6, 5), dict(kernel_size=3, stride=1, padding=1, ceil_mode=True)),  # unbatched
])
def test_max_pool2d_with_options_matches_torch(kernels, shape, args):
    torch = require("torch")
    x = without_ties(*shape)
    matches_torch(lambda a: F.max_pool2d(a, **args),
                  lambda a: torch.nn.functional.max_pool2d(a, **args), [x])
    y, indices = F.max_pool2d(t(x), return_indices=True, **args)
    ty, their_indices = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True,
                                                       **args)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())


@pytest.mark.parametrize("shape, args", [
    ((2, 3, 11), dict(kernel_size=3)),
    ((2, 3, 11), dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    ((2, 3, 10), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ((3, 1), dict(kernel_size=1)),  # unbatched, length 1
])
def test_max_pool1d_matches_torch(kernels, shape, args):
    torch = require("torch")
    x = without_ties(*shape)
    matches_torch(lambda a: F.max_pool1d(a, **args),
                  lambda a: torch.nn.functional.max_pool1d(a, **args), [x])
    _, indices = F.max_pool1d(t(x), return_indices=True, **args)
    _, their_indices = torch.nn.functional.max_pool1d(torch.tensor(x), return_indices=True,
                                                      **args)
    np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())


AVG_ARGS = [
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=1, padding=1, count_include_pad=False),
    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
]


@pytest.mark.parametrize("args", AVG_ARGS + [
    dict(kernel_size=(2, 3), stride=(3, 2), padding=(1, 1), divisor_override=4),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=-2)])
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 5, 6)])
def test_avg_pool2d_with_options_matches_torch(kernels, shape, args):
    torch = require("torch")
    matches_torch(lambda a: F.avg_pool2d(a, **args),
                  lambda a: torch.nn.functional.avg_pool2d(a, **args), [randn(*shape)])


@pytest.mark.parametrize("args", AVG_ARGS)
@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 6)])
def test_avg_pool1d_matches_torch(kernels, shape, args):
    torch = require("torch")
    matches_torch(lambda a: F.avg_pool1d(a, **args),
                  lambda a: torch.nn.functional.avg_pool1d(a, **args), [randn(*shape)])


@pytest.mark.parametrize("fn", ["max_pool2d", "max_pool1d"])
def test_max_pool_ties_go_to_the_first_element_as_in_torch(kernels, fn):
    """Which of tied elements gets the gradient: PyTorch's CPU kernel keeps the first in
    the window's row-major order (it replaces the maximum only by a greater value), and
    so do ours, in every kernel. PyTorch's documentation does not promise this."""
    torch = require("torch")
    shape = (1, 2, 4, 6) if fn == "max_pool2d" else (2, 3, 8)
    x = rng.integers(0, 3, size=shape).astype(np.float64)  # many ties
    args = dict(kernel_size=3, stride=1, padding=1)
    ours, theirs = getattr(F, fn), getattr(torch.nn.functional, fn)
    _, indices = ours(t(x), return_indices=True, **args)
    _, their_indices = theirs(torch.tensor(x), return_indices=True, **args)
    np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())
    matches_torch(lambda a: ours(a, **args), lambda a: theirs(a, **args), [x])


@pytest.mark.parametrize("shape, output_size", [
    ((2, 3, 7, 9), 3), ((2, 3, 7, 9), (4, None)), ((2, 3, 7, 9), (None, 2)),
    ((2, 3, 5, 5), (8, 7)),  # more outputs than inputs: windows overlap
    ((2, 3, 6, 4), 1),       # global average pooling
    ((3, 7, 9), (2, 5)),     # unbatched
])
def test_adaptive_avg_pool2d_matches_torch(kernels, shape, output_size):
    torch = require("torch")
    matches_torch(lambda a: F.adaptive_avg_pool2d(a, output_size),
                  lambda a: torch.nn.functional.adaptive_avg_pool2d(a, output_size),
                  [randn(*shape)])


@pytest.mark.parametrize("shape, output_size", [
    ((2, 3, 10), 4), ((2, 3, 10), 10), ((2, 3, 3), 7), ((3, 10), 1), ((2, 3, 5), (2,))])
def test_adaptive_avg_pool1d_matches_torch(kernels, shape, output_size):
    torch = require("torch")
    matches_torch(lambda a: F.adaptive_avg_pool1d(a, output_size),
                  lambda a: torch.nn.functional.adaptive_avg_pool1d(a, output_size),
                  [randn(*shape)])


def test_adaptive_avg_pool_windows_by_hand():
    # L = 5 to 3 outputs: windows [0, 2), [1, 4), [3, 5)
    y = F.adaptive_avg_pool1d(t(np.arange(5.0)[None, None]), 3).numpy()
    np.testing.assert_allclose(y[0, 0], [0.5, 2.0, 3.5])


@pytest.mark.parametrize("fn", [
    lambda a: F.max_pool2d(a, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
    lambda a: F.avg_pool2d(a, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda a: F.avg_pool2d(a, 2, padding=1, divisor_override=3),
    lambda a: F.max_pool1d(F.reshape(a, (1, 5, 6)), 2, ceil_mode=True),
    lambda a: F.avg_pool1d(F.reshape(a, (1, 5, 6)), 3, 2, 1, ceil_mode=True),
    lambda a: F.adaptive_avg_pool2d(a, (2, 4)),
    lambda a: F.adaptive_avg_pool1d(F.reshape(a, (5, 6)), 4),
], ids=["max2d", "avg2d", "avg2d-divisor", "max1d", "avg1d", "adaptive2d", "adaptive1d"])
def test_pool_gradients_and_second_derivatives(kernels, fn):
    x = t(without_ties(1, 1, 5, 6), grad=True)

    def squared(a):
        return fn(a) ** 2  # second derivatives not zero

    assert mdl.gradcheck(squared, [x])
    assert mdl.gradgradcheck(squared, [x])


def test_pool_layers_match_torch():
    torch = require("torch")
    x = without_ties(2, 3, 7, 8)
    pairs = [
        ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=1, ceil_mode=True)),
        ("MaxPool1d", (2,), dict(stride=1, dilation=2)),
        ("AvgPool2d", ((3, 2),), dict(padding=1, ceil_mode=True, count_include_pad=False,
                                      divisor_override=None)),
        ("AvgPool1d", (3, 2, 1), dict(ceil_mode=True)),
        ("AdaptiveAvgPool2d", ((None, 3),), {}),
        ("AdaptiveAvgPool1d", (5,), {}),
    ]
    for name, args, kwargs in pairs:
        ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        a = x if name.endswith("2d") else x[0]
        np.testing.assert_allclose(ours(t(a)).numpy(), theirs(torch.tensor(a)).numpy(),
                                   rtol=1e-12, atol=1e-12, err_msg=name)
    y, indices = nn.MaxPool2d(2, return_indices=True)(t(x))
    _, their_indices = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())


def test_pools_keep_float32(kernels):
    x = mdl.randn(2, 3, 7, 7, requires_grad=True)
    ys = [F.max_pool2d(x, 3, 2, 1, 2, True), F.avg_pool2d(x, 3, 2, 1, True, False),
          F.adaptive_avg_pool2d(x, 3), F.max_pool1d(x[0], 2), F.avg_pool1d(x[0], 2),
          F.adaptive_avg_pool1d(x[0], 4), F.conv1d(x[0], mdl.randn(7, 1, 3), groups=7),
          F.conv2d(x, mdl.randn(3, 1, 2, 2), padding="same", groups=3)]
    for y in ys:
        assert y.dtype == np.float32
        y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("op", [  # the same call on minidl.functional and torch's
    lambda f, x, w: f.conv2d(x, w, padding="same", groups=2),
    lambda f, x, w: f.conv1d(x[:, :, 0], w[:, :, 0], stride=2, groups=2),
    lambda f, x, w: f.max_pool2d(x, 2, ceil_mode=True) * w.sum(),
    lambda f, x, w: f.avg_pool2d(x, 3, 2, 1, True, False) * w.sum(),
    lambda f, x, w: f.adaptive_avg_pool2d(x, 2) * w.sum(),
    lambda f, x, w: f.pad(x, (1, 1, 1, 1), "reflect") * w.sum(),
], ids=["conv2d", "conv1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "pad"])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(kernels, op):
    torch = require("torch")
    matches_torch(lambda x, w: op(F, x, w), lambda x, w: op(torch.nn.functional, x, w),
                  [np.zeros((0, 4, 5, 5)), randn(4, 2, 3, 3)])


# ----------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------
def ones(*shape):
    return t(np.ones(shape))


@pytest.mark.parametrize("call, words", [
    (lambda: F.conv2d(ones(1, 6, 5, 5), ones(4, 3, 3, 3), groups=3),
     ["conv2d", "4 output channels", "groups=3"]),
    (lambda: F.conv2d(ones(1, 6, 5, 5), ones(4, 2, 3, 3), groups=2),
     ["conv2d: input has 6 channels but weight expects 4", "2 per group x groups=2"]),
    (lambda: F.conv2d(ones(1, 2, 5, 5), ones(2, 2, 3, 3), groups=0), ["conv2d", "groups"]),
    (lambda: F.conv2d(ones(1, 2, 5, 5), ones(2, 2, 3, 3), stride=2, padding="same"),
     ["conv2d", "padding='same'", "strided", "(2, 2)"]),
    (lambda: F.conv2d(ones(1, 2, 5, 5), ones(2, 2, 3, 3), padding="full"),
     ["conv2d", "'valid' or 'same'", "'full'"]),
    (lambda: F.conv1d(ones(1, 2, 5), ones(2, 2, 3, 3)), ["conv1d", "weight", "3-D"]),
    (lambda: F.conv1d(ones(2, 5, 5, 5), ones(2, 2, 3)), ["conv1d", "2-D (C, L) or 3-D"]),
    (lambda: F.conv1d(ones(1, 2, 3), ones(2, 2, 3), dilation=2), ["conv1d", "5 window", "3"]),
    (lambda: F.pad(ones(2, 3), (1, 1), "mirror"), ["pad", "mode", "'mirror'"]),
    (lambda: F.pad(ones(2, 3), (1, 1, 1)), ["pad", "even"]),
    (lambda: F.pad(ones(2, 3), (1, 1, 1, 1, 1, 1)), ["pad", "3 pairs", "2 dims"]),
    (lambda: F.pad(ones(2, 3), (3, 0), "reflect"), ["pad", "reflect", "size 3", "(3, 0)"]),
    (lambda: F.pad(ones(2, 3), (4, 0), "circular"), ["pad", "circular", "(4, 0)"]),
    (lambda: F.pad(ones(2, 3), (1, 1), "reflect", value=1.0), ["pad", "reflect", "value"]),
    (lambda: F.pad(ones(1, 2, 3, 3), (1, 1), "replicate"), ["pad", "replicate", "1 pairs"]),
    (lambda: F.pad(ones(2, 3), (-2, -2)), ["pad", "crop", "3 elements"]),
    (lambda: F.max_pool1d(ones(1, 1, 4), 2, padding=2), ["max_pool1d", "padding", "half"]),
    (lambda: F.max_pool2d(ones(1, 1, 1, 6), (2, 1), 1, (1, 0), (2, 1)),
     ["max_pool2d", "all its taps in the padding"]),
    (lambda: F.avg_pool1d(ones(1, 1, 2), 3), ["avg_pool1d", "3 window", "2 input"]),
    (lambda: F.avg_pool2d(ones(1, 1, 4, 4), 2, divisor_override=0),
     ["avg_pool2d", "divisor_override", "nonzero"]),
    (lambda: F.max_pool2d(ones(1, 1, 4, 4), (2, 2, 2)), ["max_pool2d", "kernel_size", "pair"]),
    (lambda: F.adaptive_avg_pool2d(ones(1, 1, 4, 4), (2, 2, 2)),
     ["adaptive_avg_pool2d", "output_size"]),
    (lambda: F.adaptive_avg_pool1d(ones(1, 1, 0), 2), ["adaptive_avg_pool1d", "empty"]),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ["Conv2d", "in_channels=3", "groups=2"]),
    (lambda: nn.Conv1d(4, 3, 3, groups=2), ["Conv1d", "out_channels=3", "groups=2"]),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), ["Conv2d", "padding_mode", "'mirror'"]),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), ["Conv2d", "padding", "'full'"]),
    (lambda: nn.Conv1d(3, 4, 3, stride=2, padding="same"), ["Conv1d", "'same'", "strided"]),
])
def test_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)


def test_pooling_an_integer_tensor_is_a_clear_error():
    with pytest.raises(TypeError, match="max_pool1d: input must be float32 or float64"):
        F.max_pool1d(mdl.tensor(np.ones((1, 1, 4), dtype=np.int64)), 2)
