"""conv2d, max_pool2d and avg_pool2d under every kernel setting (fast, numpy, numba), over
the whole grid of stride x padding x dilation (x groups for conv2d, x ceil_mode and
count_include_pad for pooling): the output and every gradient against NumPy references
written here one kernel tap or one window at a time, and against PyTorch; finite
differences and second derivatives of conv2d on a covering subset of the grid.

Max pooling runs on inputs full of ties (small integers): the gradient of each window
goes to its first maximum in row-major order, PyTorch's choice on the CPU.
"""
import itertools

import numpy as np
import pytest
from helpers import require

import minidl as mdl
import minidl.functional as F

REFERENCES = ["numpy", "torch"]


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def t(a, grad=False):
    return mdl.tensor(a, requires_grad=grad)


# ----------------------------------------------------------------------------
# conv2d: the reference, one tap (p, q) of the kernel at a time
# ----------------------------------------------------------------------------
def conv_geometry(x_shape, w_shape, stride, padding, dilation):
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    kh, kw = w_shape[2:]
    oh = (x_shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (x_shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    taps = [(p, q, (slice(None), slice(None),
                    slice(p * dh, p * dh + sh * (oh - 1) + 1, sh),
                    slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)))
            for p in range(kh) for q in range(kw)]
    return (ph, pw), (oh, ow), taps


def conv2d_np(x, w, b, stride, padding, dilation, groups):
    """y[n, o, i, j] = b[o] + sum over taps (p, q) and the group's channels c of
    x_padded[n, c, i*sh + p*dh, j*sw + q*dw] * w[o, c, p, q]."""
    (ph, pw), (oh, ow), taps = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, o, g = x.shape[0], w.shape[0], groups
    y = np.zeros((n, g, o // g, oh, ow))
    for p, q, window in taps:
        patch = xp[window].reshape(n, g, -1, oh, ow)
        y += np.einsum("ngchw,goc->ngohw", patch, w[:, :, p, q].reshape(g, o // g, -1))
    return y.reshape(n, o, oh, ow) + b[:, None, None]


def conv2d_gradients_np(gy, x, w, stride, padding, dilation, groups):
    """The adjoint of each tap's product: gx gathers gy w back where the patch came
    from, gw sums gy times the patch, gb sums gy."""
    (ph, pw), (oh, ow), taps = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, o, g = x.shape[0], w.shape[0], groups
    gyg = gy.reshape(n, g, o // g, oh, ow)
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    for p, q, window in taps:
        wg = w[:, :, p, q].reshape(g, o // g, -1)
        gxp[window] += np.einsum("ngohw,goc->ngchw", gyg, wg).reshape(n, -1, oh, ow)
        patch = xp[window].reshape(n, g, -1, oh, ow)
        gw[:, :, p, q] = np.einsum("ngohw,ngchw->goc", gyg, patch).reshape(o, -1)
    gx = gxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    return [gx, gw, gy.sum(axis=(0, 2, 3))]


STRIDES, PADDINGS, DILATIONS, GROUPS = [1, 2, (2, 1)], [0, 1, (2, 1)], [1, 2, (1, 2)], [1, 2]
CONV_GRID = list(itertools.product(STRIDES, PADDINGS, DILATIONS, GROUPS))


def conv_inputs(groups, seed):
    g = np.random.default_rng(seed)
    return [g.standard_normal((2, 4, 7, 6)), g.standard_normal((4, 4 // groups, 3, 2)),
            g.standard_normal(4)]


def conv2d_torch_gradients(arrays, gy, args):
    torch = require("torch")
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = torch.nn.functional.conv2d(*inputs, *args)
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), [a.grad.numpy() for a in inputs]


@pytest.mark.parametrize("reference", REFERENCES)
def test_conv2d_over_the_grid(kernels, reference):
    for k, args in enumerate(CONV_GRID):
        x, w, b = arrays = conv_inputs(args[-1], seed=k)
        inputs = [t(a, grad=True) for a in arrays]
        y = F.conv2d(*inputs, *args)
        gy = np.random.default_rng(100 + k).standard_normal(y.shape)
        y.backward(t(gy))
        if reference == "numpy":
            expected_y = conv2d_np(x, w, b, *args)
            expected = conv2d_gradients_np(gy, x, w, *args)
        else:
            expected_y, expected = conv2d_torch_gradients(arrays, gy, args)
        where = f"{kernels} kernels, stride, padding, dilation, groups = {args}"
        np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-10, atol=1e-12, err_msg=where)
        for name, a, e in zip(["input", "weight", "bias"], inputs, expected):
            np.testing.assert_allclose(a.grad.numpy(), e, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{where}: gradient of the {name}")


def test_the_conv2d_reference_is_the_definition():
    # one output element, summed out by hand from the formula
    x, w, b = conv_inputs(2, seed=0)
    y = conv2d_np(x, w, b, (2, 1), (2, 1), (1, 2), 2)
    n, o, i, j = 1, 3, 2, 1                   # output channel 3 is in group 1: channels 2, 3
    expected = b[o]
    for c in range(2):
        for p in range(3):
            for q in range(2):
                r, s = i * 2 + p * 1 - 2, j * 1 + q * 2 - 1
                if 0 <= r < 7 and 0 <= s < 6:
                    expected += x[n, 2 + c, r, s] * w[o, c, p, q]
    assert y[n, o, i, j] == pytest.approx(expected, rel=1e-12)


# a covering subset: every value of each argument, and every pair of non-trivial ones
CONV_SUBSET = [(1, 0, 1, 1), (2, 1, 2, 2), ((2, 1), (2, 1), (1, 2), 1), (1, (2, 1), 2, 2),
               (2, (2, 1), (1, 2), 1)]


@pytest.mark.parametrize("args", CONV_SUBSET, ids=str)
def test_conv2d_gradients_by_finite_differences(kernels, args):
    g = np.random.default_rng(1)
    inputs = [t(g.standard_normal((1, 2, 6, 5)), grad=True),
              t(g.standard_normal((2, 2 // args[-1], 3, 2)), grad=True),
              t(g.standard_normal(2), grad=True)]

    def conv(x, w, b):
        return F.conv2d(x, w, b, *args)

    assert mdl.gradcheck(conv, inputs)
    assert mdl.gradgradcheck(conv, inputs)


# ----------------------------------------------------------------------------
# pooling: the references, one window at a time
# ----------------------------------------------------------------------------
def pooled_size(size, k, s, p, d, ceil_mode):
    """PyTorch's output length; with ceil_mode a last window that would start in the
    right padding is dropped."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def windows(x_shape, kernel, stride, padding, dilation, ceil_mode):
    """For each output (i, j): the (row, column) positions of its window inside the
    image, in row-major order, and the window's rows and columns clipped to the padded
    image (for avg_pool2d's count_include_pad divisor)."""
    (kh, kw), (ph, pw), (dh, dw) = pair(kernel), pair(padding), pair(dilation)
    sh, sw = pair(kernel if stride is None else stride)
    h, w = x_shape[-2:]
    oh = pooled_size(h, kh, sh, ph, dh, ceil_mode)
    ow = pooled_size(w, kw, sw, pw, dw, ceil_mode)
    for i in range(oh):
        for j in range(ow):
            rows = [i * sh - ph + a * dh for a in range(kh)]
            cols = [j * sw - pw + c * dw for c in range(kw)]
            inside = [(r, c) for r in rows for c in cols if 0 <= r < h and 0 <= c < w]
            padded = ((min(rows[-1], h + ph - 1) - rows[0] + 1)
                      * (min(cols[-1], w + pw - 1) - cols[0] + 1))
            yield (i, j), (oh, ow), inside, padded


def max_pool2d_np(x, gy_of, *args):
    """(y, gx): each window's first maximum in row-major order, and gy sent to it."""
    y = gx = None
    for (i, j), out, inside, _ in windows(x.shape, *args):
        if y is None:
            y, gy = np.zeros(x.shape[:2] + out), gy_of(x.shape[:2] + out)
            gx = np.zeros_like(x)
        values = np.stack([x[:, :, r, c] for r, c in inside], axis=-1)
        first = values.argmax(axis=-1)            # numpy's argmax: the first maximum
        y[:, :, i, j] = values.max(axis=-1)
        for k, (r, c) in enumerate(inside):
            gx[:, :, r, c] += np.where(first == k, gy[:, :, i, j], 0.0)
    return y, gx


def avg_pool2d_np(x, gy_of, kernel, stride, padding, ceil_mode, count_include_pad):
    """(y, gx): each window's sum over the image divided by its size in the padded
    image (count_include_pad) or in the image; gy spread back in the same shares."""
    y = gx = None
    for (i, j), out, inside, padded in windows(x.shape, kernel, stride, padding, 1, ceil_mode):
        if y is None:
            y, gy = np.zeros(x.shape[:2] + out), gy_of(x.shape[:2] + out)
            gx = np.zeros_like(x)
        divisor = padded if count_include_pad else len(inside)
        y[:, :, i, j] = sum(x[:, :, r, c] for r, c in inside) / divisor
        for r, c in inside:
            gx[:, :, r, c] += gy[:, :, i, j] / divisor
    return y, gx


KERNELS, POOL_STRIDES, POOL_PADDINGS = [2, (3, 2)], [None, 1, 2, (2, 1)], [0, 1]
MAX_POOL_GRID = list(itertools.product(KERNELS, POOL_STRIDES, POOL_PADDINGS, [1, (2, 1)],
                                       [False, True]))
AVG_POOL_GRID = list(itertools.product(KERNELS, POOL_STRIDES, POOL_PADDINGS, [False, True],
                                       [True, False]))


def full_of_ties(seed):
    return np.random.default_rng(seed).integers(0, 3, size=(2, 3, 7, 6)).astype(np.float64)


def pool_torch(name, x, gy_of, args):
    torch = require("torch")
    xt = torch.tensor(x, requires_grad=True)
    y = getattr(torch.nn.functional, name)(xt, *args)
    y.backward(torch.tensor(gy_of(tuple(y.shape))))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pooling_over_the_grid(kernels, name, reference):
    grid = MAX_POOL_GRID if name == "max_pool2d" else AVG_POOL_GRID
    for k, args in enumerate(grid):
        x = full_of_ties(k)

        def gy_of(shape, k=k):
            return np.random.default_rng(100 + k).standard_normal(shape)
        xt = t(x, grad=True)
        y = getattr(F, name)(xt, *args)
        y.backward(t(gy_of(y.shape)))
        if reference == "numpy":
            reference_fn = max_pool2d_np if name == "max_pool2d" else avg_pool2d_np
            expected_y, expected_gx = reference_fn(x, gy_of, *args)
        else:
            expected_y, expected_gx = pool_torch(name, x, gy_of, args)
        where = f"{name} with {kernels} kernels, arguments {args}"
        np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-12, atol=1e-14, err_msg=where)
        np.testing.assert_allclose(xt.grad.numpy(), expected_gx, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{where}: gradient")


def test_max_pool_ties_by_hand(kernels):
    x = t(np.array([[[[1.0, 1.0, 0.0, 2.0],
                      [1.0, 0.0, 2.0, 2.0]]]]), grad=True)
    F.max_pool2d(x, 2).backward(t(np.array([[[[3.0, 5.0]]]])))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[3, 0, 0, 5], [0, 0, 0, 0]]]])
