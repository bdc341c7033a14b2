"""Activations and the softmax family against PyTorch (float64): values, gradients under a
random cotangent and second derivatives, also exactly at the kinks; finite-difference checks;
stability at +-1e4 in float32; the modules' arguments and printed forms; softmax's dims."""
import math
import warnings

import numpy as np
import pytest
from helpers import require

import minidl as mdl
import minidl.functional as F
from minidl import nn
from minidl.classic._base import logsumexp as classic_logsumexp

rng = np.random.default_rng(0)


def t(a, grad=False, dtype=np.float64):
    return mdl.tensor(np.asarray(a, dtype=dtype), requires_grad=grad)


# name: (minidl call, the PyTorch function's name and keyword arguments, the kinks)
ELEMENTWISE = {
    "relu": (lambda a: F.relu(a), "relu", {}, [0.0]),
    "leaky_relu": (lambda a: F.leaky_relu(a), "leaky_relu", {}, [0.0]),
    "leaky_relu_0.2": (lambda a: F.leaky_relu(a, 0.2), "leaky_relu", {"negative_slope": 0.2},
                       [0.0]),
    "leaky_relu_negative_slope": (lambda a: F.leaky_relu(a, negative_slope=-0.5), "leaky_relu",
                                  {"negative_slope": -0.5}, [0.0]),
    "hardtanh": (lambda a: F.hardtanh(a), "hardtanh", {}, [-1.0, 1.0]),
    "hardtanh_-2_3": (lambda a: F.hardtanh(a, -2.0, max_val=3.0), "hardtanh",
                      {"min_val": -2.0, "max_val": 3.0}, [-2.0, 3.0]),
    "elu": (lambda a: F.elu(a), "elu", {}, [0.0]),
    "elu_0.5": (lambda a: F.elu(a, 0.5), "elu", {"alpha": 0.5}, [0.0]),
    "elu_2": (lambda a: F.elu(a, alpha=2.0), "elu", {"alpha": 2.0}, [0.0]),
    "selu": (lambda a: F.selu(a), "selu", {}, [0.0]),
    "silu": (lambda a: F.silu(a), "silu", {}, []),
    "sigmoid": (lambda a: F.sigmoid(a), "sigmoid", {}, []),
    "logsigmoid": (lambda a: F.logsigmoid(a), "logsigmoid", {}, []),
    "softplus": (lambda a: F.softplus(a), "softplus", {}, [20.0]),
    "softplus_2_5": (lambda a: F.softplus(a, 2.0, 5.0), "softplus",
                     {"beta": 2.0, "threshold": 5.0}, [2.5]),
    "softplus_-1": (lambda a: F.softplus(a, beta=-1.0), "softplus", {"beta": -1.0}, [-20.0]),
    "softsign": (lambda a: F.softsign(a), "softsign", {}, []),
    "tanh": (lambda a: F.tanh(a), "tanh", {}, []),
    "gelu": (lambda a: F.gelu(a), "gelu", {}, []),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), "gelu", {"approximate": "tanh"}, []),
}


def away_from(kinks, shape, seed):
    """Uniform samples in [-3, 3] (or around the kinks), none closer than 0.1 to a kink,
    so that finite differences never straddle one."""
    g = np.random.default_rng(seed)
    centre = np.mean(kinks) if kinks else 0.0
    x = np.array(centre + g.uniform(-3, 3, size=shape))
    for k in kinks:
        close = np.abs(x - k) < 0.1
        x[close] = k + np.where(x[close] >= k, 0.1, -0.1)
    return x


def at_the_kinks(kinks):
    """Each kink, a hair either side of it, and a few ordinary points."""
    points = [k + d for k in kinks for d in (-1e-3, 0.0, 1e-3)]
    return np.array(points + [-2.5, -0.7, 0.0, 0.4, 1.9])


def minidl_derivatives(fn, x, v, w):
    """y = fn(x), g = dy/dx . v, and the second derivative d(g . w)/dx (zeros if g does
    not depend on x)."""
    xt = t(x, grad=True, dtype=x.dtype)
    y = fn(xt)
    g, = mdl.grad(y, [xt], t(v, dtype=x.dtype), create_graph=True)
    gg = np.zeros_like(x)
    if g.requires_grad:
        gg_t, = mdl.grad(g, [xt], t(w, dtype=x.dtype), allow_unused=True)
        gg = gg if gg_t is None else gg_t.numpy()
    return y.numpy(), g.numpy(), gg


def torch_derivatives(torch, fn, x, v, w):
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    g, = torch.autograd.grad(y, xt, torch.tensor(v), create_graph=True)
    gg = np.zeros_like(x)
    if g.requires_grad:
        gg_t, = torch.autograd.grad(g, xt, torch.tensor(w), allow_unused=True)
        gg = gg if gg_t is None else gg_t.numpy()
    return y.detach().numpy(), g.detach().numpy(), gg


def torch_function(torch, name, kwargs):
    fn = getattr(torch.nn.functional, name)
    return lambda x: fn(x, **kwargs)


def assert_same_derivatives(ours, theirs, rtol=1e-10, atol=1e-12):
    for what, a, b in zip(("value", "gradient", "second derivative"), ours, theirs):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


# ----------------------------------------------------------------------------
# elementwise activations
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_matches_torch_with_random_cotangents(name):
    torch = require("torch")
    fn, torch_name, kwargs, kinks = ELEMENTWISE[name]
    x = away_from(kinks, (3, 4), seed=1)
    v, w = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    assert_same_derivatives(minidl_derivatives(fn, x, v, w),
                            torch_derivatives(torch, torch_function(torch, torch_name, kwargs),
                                              x, v, w))


@pytest.mark.parametrize("name", [n for n, op in ELEMENTWISE.items() if op[3]])
def test_matches_torch_exactly_at_the_kinks(name):
    torch = require("torch")
    fn, torch_name, kwargs, kinks = ELEMENTWISE[name]
    x = at_the_kinks(kinks)
    v, w = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    assert_same_derivatives(minidl_derivatives(fn, x, v, w),
                            torch_derivatives(torch, torch_function(torch, torch_name, kwargs),
                                              x, v, w))


@pytest.mark.parametrize("fn, x, slope", [
    (F.relu, 0.0, 0.0),
    (F.leaky_relu, 0.0, 0.01),
    (lambda a: F.leaky_relu(a, 0.2), 0.0, 0.2),
    (F.hardtanh, -1.0, 0.0), (F.hardtanh, 1.0, 0.0),
    (lambda a: F.hardtanh(a, -2.0, 3.0), -2.0, 0.0), (lambda a: F.hardtanh(a, -2.0, 3.0), 3.0, 0.0),
    (lambda a: F.elu(a, 0.5), 0.0, 0.5),
    (lambda a: F.elu(a, 2.0), 0.0, 2.0),
    (F.selu, 0.0, 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717),
], ids=["relu", "leaky_relu", "leaky_relu_0.2", "hardtanh_low", "hardtanh_high",
        "hardtanh_-2", "hardtanh_3", "elu_0.5", "elu_2", "selu"])
def test_pytorchs_slope_at_each_kink(fn, x, slope):
    # written out, so that the choice is checked without PyTorch too
    xt = t([x], grad=True)
    fn(xt).backward(t([1.0]))
    assert xt.grad.item() == pytest.approx(slope, rel=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_gradcheck_and_gradgradcheck(name):
    fn, _, kwargs, kinks = ELEMENTWISE[name]
    x = t(away_from(kinks, (2, 3), seed=2), grad=True)
    assert mdl.gradcheck(fn, [x]) and mdl.gradgradcheck(fn, [x])


@pytest.mark.parametrize("shape", [(), (1,), (2, 1, 3), (0, 3)])
@pytest.mark.parametrize("name", ["relu", "hardtanh", "elu", "selu", "silu", "logsigmoid",
                                  "softplus", "softsign"])
def test_edge_shapes_match_torch(name, shape):
    torch = require("torch")
    fn, torch_name, kwargs, kinks = ELEMENTWISE[name]
    x = away_from(kinks, shape, seed=4)
    v, w = rng.standard_normal(shape), rng.standard_normal(shape)
    ours = minidl_derivatives(fn, x, v, w)
    theirs = torch_derivatives(torch, torch_function(torch, torch_name, kwargs), x, v, w)
    assert all(a.shape == shape for a in ours)
    assert_same_derivatives(ours, theirs)


HUGE = np.array([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4], dtype=np.float32)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_stable_at_1e4_in_float32(name):
    fn, torch_name, kwargs, _ = ELEMENTWISE[name]
    v, w = np.float32(rng.standard_normal(HUGE.shape)), np.float32(rng.standard_normal(HUGE.shape))
    ours = minidl_derivatives(fn, HUGE, v, w)
    for a in ours:
        assert a.dtype == np.float32 and np.isfinite(a).all()
    torch = require("torch")
    theirs = torch_derivatives(torch, torch_function(torch, torch_name, kwargs), HUGE, v, w)
    # float32 rounding in either framework: a few ulps, relative to the larger terms
    assert_same_derivatives(ours, theirs, rtol=1e-5, atol=1e-6)


def test_softplus_values_far_out():
    x = t([-1e4, -50.0, 0.0, 19.0, 21.0, 1e4])
    expected = [0.0, math.log1p(math.exp(-50.0)), math.log(2.0), math.log1p(math.exp(19.0)),
                21.0, 1e4]
    np.testing.assert_allclose(F.softplus(x).numpy(), expected, rtol=1e-15)
    # with no threshold it stays the exact formula, which the logistic losses need
    np.testing.assert_allclose(F.softplus(t([21.0]), threshold=math.inf).numpy(),
                               [21.0 + math.log1p(math.exp(-21.0))], rtol=1e-15)
    # a small beta is exponentiated at beta * x, so 1e4 stays finite
    np.testing.assert_allclose(F.softplus(t([1e4]), beta=1e-3).numpy(),
                               [math.log1p(math.exp(10.0)) * 1e3], rtol=1e-14)


def test_softplus_curvature_at_zero_is_a_quarter_beta():
    x = t([0.0], grad=True)
    g, = mdl.grad(F.softplus(x, beta=2.0), [x], create_graph=True)
    h, = mdl.grad(g.sum(), [x])
    np.testing.assert_allclose([g.item(), h.item()], [0.5, 0.5])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="hardtanh.*min_val.*2.*max_val.*1"):
        F.hardtanh(t([0.0]), 2.0, 1.0)
    with pytest.raises(ValueError, match="Hardtanh.*max_val.*1.*min_val.*1"):
        nn.Hardtanh(1.0, 1.0)
    with pytest.raises(ValueError, match="softplus.*beta"):
        F.softplus(t([0.0]), beta=0.0)
    with pytest.raises(ValueError, match="gelu.*approximate"):
        F.gelu(t([0.0]), approximate="fast")


# ----------------------------------------------------------------------------
# the modules: PyTorch's arguments, defaults and printed forms
# ----------------------------------------------------------------------------
MODULES = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2, 3), {}), ("Hardtanh", (), {"inplace": True}),
    ("ELU", (), {}), ("ELU", (0.5,), {"inplace": True}),
    ("SELU", (), {}), ("SELU", (True,), {}),
    ("SiLU", (), {}), ("SiLU", (), {"inplace": True}),
    ("Sigmoid", (), {}), ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Tanh", (), {}),
    ("Softplus", (), {}), ("Softplus", (2, 10), {}),
    ("GELU", (), {}), ("GELU", ("tanh",), {}),
    ("Softmax", (), {"dim": 1}), ("Softmax", (-1,), {}), ("LogSoftmax", (0,), {}),
    ("Softmax", (), {}), ("LogSoftmax", (), {}),
]


@pytest.mark.parametrize("name, args, kwargs", MODULES)
def test_modules_match_torch(name, args, kwargs):
    torch = require("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Softmax() without a dim warns in both
        expected = theirs(torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours(t(x)).numpy(), expected, rtol=1e-12, atol=1e-15)


def test_inplace_overwrites_the_input_and_returns_it():
    for fn, kwargs in [(F.relu, {}), (F.leaky_relu, {"negative_slope": 0.2}), (F.hardtanh, {}),
                       (F.elu, {}), (F.selu, {}), (F.silu, {})]:
        x = t(rng.standard_normal((3, 4)))
        expected = fn(x, **kwargs).numpy()
        assert fn(x, inplace=True, **kwargs) is x
        np.testing.assert_array_equal(x.numpy(), expected)
        # inside a graph the gradient is the out-of-place one
        a = t(rng.standard_normal((3, 4)), grad=True)
        g_out, = mdl.grad(fn(a * 1.0, **kwargs).sum(), [a])
        y = a * 1.0
        fn(y, inplace=True, **kwargs)
        g_in, = mdl.grad(y.sum(), [a])
        np.testing.assert_allclose(g_in.numpy(), g_out.numpy(), rtol=1e-12)
        with pytest.raises(RuntimeError, match="leaf"):
            fn(a, inplace=True, **kwargs)


def test_hardtanh_old_argument_names_still_work_with_a_warning():
    with pytest.warns(FutureWarning, match="min_value"):
        m = nn.Hardtanh(min_value=-3.0)
    assert (m.min_val, m.max_val) == (-3.0, 1.0)


# ----------------------------------------------------------------------------
# softmax, log_softmax, logsumexp
# ----------------------------------------------------------------------------
X3 = rng.standard_normal((2, 3, 4))
SOFTMAXES = {"softmax": F.softmax, "log_softmax": F.log_softmax}


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmax_along_every_dim_matches_torch(name, dim):
    torch = require("torch")
    v, w = rng.standard_normal(X3.shape), rng.standard_normal(X3.shape)
    ours = minidl_derivatives(lambda a: SOFTMAXES[name](a, dim), X3, v, w)
    theirs = torch_derivatives(torch, lambda a: getattr(torch.nn.functional, name)(a, dim),
                               X3, v, w)
    assert_same_derivatives(ours, theirs)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3, (0, 2), (-1, 0), (0, 1, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_over_dims_matches_torch(dim, keepdim):
    torch = require("torch")
    shape = torch.logsumexp(torch.tensor(X3), dim, keepdim).shape
    v, w = rng.standard_normal(tuple(shape)), rng.standard_normal(X3.shape)
    ours = minidl_derivatives(lambda a: F.logsumexp(a, dim, keepdim), X3, v, w)
    theirs = torch_derivatives(torch, lambda a: torch.logsumexp(a, dim, keepdim), X3, v, w)
    assert_same_derivatives(ours, theirs)


@pytest.mark.parametrize("fn", [lambda a: F.softmax(a, dim=1), lambda a: F.softmax(a, 0),
                                lambda a: F.log_softmax(a, -1), lambda a: F.log_softmax(a, 0),
                                lambda a: F.logsumexp(a, 1), lambda a: F.logsumexp(a, (0, 2))],
                         ids=["softmax_1", "softmax_0", "log_softmax_-1", "log_softmax_0",
                              "logsumexp_1", "logsumexp_0_2"])
def test_softmax_family_gradcheck_and_gradgradcheck(fn):
    x = t(X3, grad=True)
    assert mdl.gradcheck(fn, [x]) and mdl.gradgradcheck(fn, [x])


@pytest.mark.parametrize("shape, dim", [((), 0), ((), -1), ((1,), 0), ((3, 1), 1), ((1, 4), 0),
                                        ((2, 1, 3), -2), ((0, 3), 1), ((2, 0), 1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_edge_shapes_match_torch(name, shape, dim):
    torch = require("torch")
    ours_fn = getattr(F, name)
    theirs_fn = torch.logsumexp if name == "logsumexp" else getattr(torch.nn.functional, name)
    x = rng.standard_normal(shape)
    out_shape = tuple(theirs_fn(torch.tensor(x), dim).shape)
    v, w = rng.standard_normal(out_shape), rng.standard_normal(shape)
    ours = minidl_derivatives(lambda a: ours_fn(a, dim), x, v, w)
    theirs = torch_derivatives(torch, lambda a: theirs_fn(a, dim), x, v, w)
    assert ours[0].shape == out_shape
    assert_same_derivatives(ours, theirs)


@pytest.mark.parametrize("ndim, dim", [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1)])
@pytest.mark.parametrize("name", SOFTMAXES)
def test_no_dim_picks_pytorchs_dim_and_warns_at_the_caller(name, ndim, dim):
    x = t(rng.standard_normal((2, 3, 4, 5)[:ndim]))
    with pytest.warns(UserWarning, match=f"{name}: implicit dim.*dim={dim}") as caught:
        implicit = SOFTMAXES[name](x)
    assert caught[0].filename == __file__
    np.testing.assert_array_equal(implicit.numpy(), SOFTMAXES[name](x, dim).numpy())
    module = nn.Softmax() if name == "softmax" else nn.LogSoftmax()
    with pytest.warns(UserWarning, match="implicit dim") as caught:
        from_module = module(x)
    assert caught[0].filename == __file__
    np.testing.assert_array_equal(from_module.numpy(), implicit.numpy())


def test_no_dim_agrees_with_torch():
    torch = require("torch")
    for shape in [(), (3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = rng.standard_normal(shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, fn in SOFTMAXES.items():
                np.testing.assert_allclose(
                    fn(t(x)).numpy(), getattr(torch.nn.functional, name)(torch.tensor(x)).numpy(),
                    rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", SOFTMAXES)
def test_dtype_casts_the_input_first(name):
    x = t(X3, grad=True, dtype=np.float32)
    y = SOFTMAXES[name](x, 1, dtype=np.float64)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), SOFTMAXES[name](t(X3.astype(np.float32)), 1).numpy(),
                               rtol=1e-6, atol=1e-6)
    y.backward(t(rng.standard_normal(X3.shape)))
    assert x.grad.dtype == np.float32
    # an integer input needs the cast; logsumexp casts it to the default dtype itself
    with pytest.raises(TypeError, match=f"{name}.*int64.*dtype="):
        SOFTMAXES[name](mdl.tensor(np.arange(3)), 0)
    assert SOFTMAXES[name](mdl.tensor(np.arange(3)), 0, dtype=np.float64).dtype == np.float64
    assert F.logsumexp(mdl.tensor(np.arange(3)), 0).dtype == mdl.default_dtype()


def test_axis_and_keepdims_are_aliases():
    x = t(X3)
    np.testing.assert_array_equal(F.softmax(x, axis=1).numpy(), F.softmax(x, dim=1).numpy())
    np.testing.assert_array_equal(F.log_softmax(x, axis=-1).numpy(), F.log_softmax(x, 2).numpy())
    np.testing.assert_array_equal(F.logsumexp(x, axis=(0, 2), keepdims=True).numpy(),
                                  F.logsumexp(x, (0, 2), keepdim=True).numpy())
    assert F.logsumexp(x, axis=1, keepdims=True).shape == (2, 1, 4)
    with pytest.raises(TypeError, match="softmax.*dim.*axis"):
        F.softmax(x, 1, axis=1)


def test_tensor_methods():
    x = t(X3)
    np.testing.assert_array_equal(x.softmax(1).numpy(), F.softmax(x, 1).numpy())
    np.testing.assert_array_equal(x.softmax(axis=0).numpy(), F.softmax(x, 0).numpy())
    np.testing.assert_array_equal(x.log_softmax(dim=-1, dtype=np.float32).numpy(),
                                  F.log_softmax(x.float(), -1).numpy())
    np.testing.assert_array_equal(x.logsumexp(1).numpy(), F.logsumexp(x, 1).numpy())
    assert x.logsumexp(axis=(0, 1), keepdims=True).shape == (1, 1, 4)
    assert x.logsumexp(-1, True).shape == (2, 3, 1)
    # PyTorch's methods have no default dim
    for method in (x.softmax, x.log_softmax, x.logsumexp):
        with pytest.raises(TypeError, match="dim"):
            method()


def test_bad_dims_are_named():
    x = t(X3)
    with pytest.raises(IndexError, match=r"softmax: dim 3 .*\(2, 3, 4\).*\[-3, 2\]"):
        F.softmax(x, 3)
    with pytest.raises(IndexError, match=r"log_softmax: dim -4"):
        F.log_softmax(x, -4)
    with pytest.raises(IndexError, match=r"softmax: dim 1 .*\(\).*\[-1, 0\]"):
        F.softmax(t(1.0), 1)
    with pytest.raises(TypeError, match="logsumexp: missing dim"):
        F.logsumexp(x)
    with pytest.raises(ValueError, match="logsumexp.*more than once"):
        F.logsumexp(x, (0, -3))
    with pytest.raises(TypeError, match="softmax: dim must be an int"):
        F.softmax(x, 1.0)


# ----------------------------------------------------------------------------
# -inf, ties and huge logits
# ----------------------------------------------------------------------------
INF_ROWS = np.array([[-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.5], [2.0, 2.0, -1.0]])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_minus_inf_rows_and_ties_match_torch(name):
    # an all -inf row: logsumexp -inf with a NaN gradient, softmax and log_softmax NaN,
    # all as in PyTorch; a partly -inf row and a tied row are ordinary
    torch = require("torch")
    ours_fn = getattr(F, name)
    theirs_fn = torch.logsumexp if name == "logsumexp" else getattr(torch.nn.functional, name)
    shape = tuple(theirs_fn(torch.tensor(INF_ROWS), 1).shape)
    v = rng.standard_normal(shape)
    xt = t(INF_ROWS, grad=True)
    with np.errstate(invalid="ignore"):
        y = ours_fn(xt, 1)
        y.backward(t(v))
    xtt = torch.tensor(INF_ROWS, requires_grad=True)
    yt = theirs_fn(xtt, 1)
    yt.backward(torch.tensor(v))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(xt.grad.numpy(), xtt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_logsumexp_of_an_all_minus_inf_row_is_minus_inf_everywhere():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and the log(0) on the way raises no warning
        np.testing.assert_array_equal(F.logsumexp(t(INF_ROWS[:1]), 1).numpy(), [-np.inf])
        # minidl.classic uses the same function
        np.testing.assert_array_equal(classic_logsumexp(INF_ROWS[:1], 1), [-np.inf])
    np.testing.assert_allclose(classic_logsumexp(INF_ROWS[1:], 1),
                               np.log(np.exp(INF_ROWS[1:]).sum(axis=1)), rtol=1e-15)


HUGE_LOGITS = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])


@pytest.mark.parametrize("fn", [lambda a: F.softmax(a, 1), lambda a: F.log_softmax(a, 1),
                                lambda a: F.softmax(a, 0), lambda a: F.log_softmax(a, 0),
                                lambda a: F.logsumexp(a, -1), lambda a: F.logsumexp(a, (0, 1))],
                         ids=["softmax_1", "log_softmax_1", "softmax_0", "log_softmax_0",
                              "logsumexp_-1", "logsumexp_all"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_stable_at_1e4(fn, dtype):
    x = HUGE_LOGITS.astype(dtype)
    y = fn(t(x, dtype=dtype))
    v, w = rng.standard_normal(y.shape).astype(dtype), rng.standard_normal(x.shape).astype(dtype)
    for a in minidl_derivatives(fn, x, v, w):
        assert a.dtype == dtype and np.isfinite(a).all()


def test_softmax_values_at_huge_logits():
    x = t([[1e4, -1e4, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(F.softmax(x, -1).numpy(), [[1, 0, 0]])
    np.testing.assert_allclose(F.log_softmax(x, -1).numpy(), [[0, -2e4, -1e4]])
    np.testing.assert_allclose(F.logsumexp(x, -1).numpy(), [1e4])
    np.testing.assert_allclose(F.softmax(t([[1e4, 1e4]], dtype=np.float32), 1).numpy(),
                               [[0.5, 0.5]])
    np.testing.assert_allclose(F.sigmoid(t([1e4, -1e4], dtype=np.float32)).numpy(), [1, 0])
