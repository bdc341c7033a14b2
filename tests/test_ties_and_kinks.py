"""The corners where a gradient is a choice or easy to get subtly wrong, each pinned
twice: against a NumPy reference written here (so it holds without PyTorch) and
against PyTorch.

- softmax and log_softmax backward along every dim of 1-D to 4-D inputs (a backward
  that sums over the wrong dim is right for the last one only), and nn.Softmax(dim=0);
- ties in amax / amin / max / min (with and without a dim) and maximum / minimum:
  the reductions share the gradient equally between tied elements, max(x, dim) gives
  it to the element whose index it returns (the first), maximum splits it half and half;
- the kinks of relu, leaky_relu, abs and clamp: PyTorch's subgradient at exactly the
  kink (relu 0, leaky_relu its slope, abs 0, clamp 1 at both bounds).
"""
import numpy as np
import pytest
from helpers import require

import minidl as mdl
import minidl.functional as F
from minidl import nn

rng = np.random.default_rng(0)


def t(a, grad=False):
    return mdl.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def minidl_gradients(fn, arrays, cotangent):
    """The gradient of every input of fn(*arrays) under the given cotangent."""
    inputs = [t(a, grad=True) for a in arrays]
    fn(*inputs).backward(t(cotangent))
    return [x.grad.numpy() for x in inputs]


def torch_gradients(fn, arrays, cotangent):
    torch = require("torch")
    inputs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    fn(torch, *inputs).backward(torch.tensor(cotangent))
    return [x.grad.numpy() for x in inputs]


def expected_gradients(reference, numpy_gradients, torch_fn, arrays, cotangent):
    """What the gradients should be, by the NumPy rule written in this file or by PyTorch
    (each test runs once against each, so a run without PyTorch still checks the rule)."""
    if reference == "numpy":
        return numpy_gradients()
    return torch_gradients(torch_fn, arrays, cotangent)


REFERENCES = ["numpy", "torch"]


def assert_all_close(got, expected, **tol):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, **(tol or dict(rtol=1e-12, atol=1e-14)))


# ----------------------------------------------------------------------------
# softmax and log_softmax along every dim
# ----------------------------------------------------------------------------
def softmax_np(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward_np(x, g, axis, log):
    """g times the Jacobian, built entry by entry along `axis`:
    softmax: dy_i/dx_j = y_i (delta_ij - y_j); log_softmax: dy_i/dx_j = delta_ij - y_j."""
    y = np.moveaxis(softmax_np(x, axis), axis, -1)
    g = np.moveaxis(g, axis, -1)
    eye = np.eye(y.shape[-1])
    jacobian = eye - y[..., None, :]
    if not log:
        jacobian = y[..., :, None] * jacobian
    return np.moveaxis(np.einsum("...i,...ij->...j", g, jacobian), -1, axis)


SHAPES_AND_DIMS = [(shape, dim) for shape in [(5,), (3, 4), (2, 3, 4), (2, 3, 1, 4)]
                   for dim in range(-len(shape), len(shape))]


@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", SHAPES_AND_DIMS)
def test_softmax_backward_along_every_dim(shape, dim, log, reference):
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    ours = minidl_gradients(lambda a: (F.log_softmax if log else F.softmax)(a, dim), [x], g)
    assert_all_close(ours, expected_gradients(
        reference, lambda: [softmax_backward_np(x, g, dim, log)],
        lambda torch, a: (torch.log_softmax if log else torch.softmax)(a, dim), [x], g))


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_gradients_by_finite_differences_along_every_dim(dim, log):
    fn = F.log_softmax if log else F.softmax
    x = t(rng.standard_normal((2, 3, 4)), grad=True)
    assert mdl.gradcheck(lambda a: fn(a, dim), [x])
    assert mdl.gradgradcheck(lambda a: fn(a, dim), [x])


@pytest.mark.parametrize("module, log", [(nn.Softmax(dim=0), False), (nn.LogSoftmax(dim=0), True),
                                         (nn.Softmax(1), False), (nn.LogSoftmax(-2), True)],
                         ids=["Softmax(0)", "LogSoftmax(0)", "Softmax(1)", "LogSoftmax(-2)"])
def test_softmax_modules_backward_along_their_dim(module, log):
    x, g = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    assert_all_close(minidl_gradients(module, [x], g),
                     [softmax_backward_np(x, g, module.dim, log)])


# ----------------------------------------------------------------------------
# ties
# ----------------------------------------------------------------------------
TIED = np.array([[1.0, 3.0, 3.0, 0.0],
                 [2.0, 2.0, 2.0, 2.0],
                 [5.0, -1.0, 4.0, 5.0]])


def shared_equally_np(x, g, axis, extreme):
    """The gradient of amax/amin over `axis` (None: all): g spread over the elements
    equal to the result, in equal shares."""
    hit = x == extreme(x, axis=axis, keepdims=True)
    share = hit / hit.sum(axis=axis, keepdims=True)
    g = g if axis is None else np.expand_dims(g, axis)
    return share * g


def to_the_first_np(x, g, axis, arg):
    """The gradient of max/min(x, dim): g goes to the element whose index is returned."""
    out = np.zeros_like(x)
    index = np.expand_dims(arg(x, axis=axis), axis)
    np.put_along_axis(out, index, np.expand_dims(g, axis), axis)
    return out


def test_tied_rows_by_hand():
    # written out, so that the rule itself is pinned, not only its agreement with numpy
    g = np.array([1.0, 2.0, 4.0])
    ours, = minidl_gradients(lambda a: F.amax(a, 1), [TIED], g)
    np.testing.assert_array_equal(ours, [[0, .5, .5, 0], [.5, .5, .5, .5], [2, 0, 0, 2]])
    ours, = minidl_gradients(lambda a: F.max(a, 1).values, [TIED], g)
    np.testing.assert_array_equal(ours, [[0, 1, 0, 0], [2, 0, 0, 0], [4, 0, 0, 0]])
    ours, = minidl_gradients(lambda a: F.max(a), [TIED], np.array(3.0))
    np.testing.assert_array_equal(ours, [[0, 0, 0, 0], [0, 0, 0, 0], [1.5, 0, 0, 1.5]])


def tie_cases():
    """(id, minidl fn, torch fn, NumPy reference of the gradient under g)."""
    cases = []
    for name, extreme, arg in [("max", np.max, np.argmax), ("min", np.min, np.argmin)]:
        a_name = "a" + name
        for dim in [0, 1, -1, (0, 1)]:
            cases.append((f"{a_name}-{dim}",
                          lambda a, d=dim, n=a_name: getattr(F, n)(a, d),
                          lambda torch, a, d=dim, n=a_name: getattr(torch, n)(a, d),
                          lambda x, g, d=dim, e=extreme: shared_equally_np(x, g, d, e)))
        cases.append((f"{name}-all", lambda a, n=name: getattr(F, n)(a),
                      lambda torch, a, n=name: getattr(torch, n)(a),
                      lambda x, g, e=extreme: shared_equally_np(x, g, None, e)))
        for dim in [0, 1]:
            cases.append((f"{name}-dim-{dim}",
                          lambda a, d=dim, n=name: getattr(F, n)(a, d)[0],
                          lambda torch, a, d=dim, n=name: getattr(torch, n)(a, d)[0],
                          lambda x, g, d=dim, r=arg: to_the_first_np(x, g, d, r)))
    return cases


TIE_CASES = tie_cases()


@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", TIE_CASES, ids=[c[0] for c in TIE_CASES])
def test_reductions_at_ties(case, seed, reference):
    _, ours_fn, torch_fn, numpy_gradient = case
    g = np.random.default_rng(seed)
    # small integers: every row and column has ties, some are all one value
    x = np.vstack([TIED, g.integers(0, 3, size=(3, 4)).astype(np.float64)])
    cotangent = g.standard_normal(np.shape(ours_fn(t(x)).numpy()))
    assert_all_close(minidl_gradients(ours_fn, [x], cotangent), expected_gradients(
        reference, lambda: [numpy_gradient(x, cotangent)], torch_fn, [x], cotangent))


def split_np(a, b, g, wins):
    """The gradients of maximum/minimum(a, b) under g: each side gets g where it wins,
    half of it at ties, summed back to its own shape."""
    a_full, b_full = np.broadcast_arrays(a, b)
    share = wins(a_full, b_full) + 0.5 * (a_full == b_full)

    def back_to(shape, grad):
        while grad.ndim > len(shape):
            grad = grad.sum(axis=0)
        return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
    return [back_to(a.shape, g * share), back_to(b.shape, g * (1 - share))]


ELEMENTWISE_EXTREMES = {  # name: (minidl fn, the torch function's name, who wins)
    "maximum": (F.maximum, "maximum", np.greater),
    "minimum": (F.minimum, "minimum", np.less),
    "max-other": (lambda a, b: F.max(a, b), "maximum", np.greater),
    "min-other": (lambda a, b: a.min(b), "minimum", np.less),
}


@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (3, 4)), ((3, 1), (4,)),
                                              ((2, 1, 4), (3, 1))])
@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("name", ELEMENTWISE_EXTREMES)
def test_elementwise_extremes_at_ties(name, a_shape, b_shape, reference):
    ours_fn, torch_name, wins = ELEMENTWISE_EXTREMES[name]
    g = np.random.default_rng(len(a_shape) + len(b_shape))
    a = g.integers(0, 3, size=a_shape).astype(np.float64)
    b = g.integers(0, 3, size=b_shape).astype(np.float64)
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    assert (np.broadcast_to(a, out_shape) == np.broadcast_to(b, out_shape)).any()
    cotangent = g.standard_normal(out_shape)
    assert_all_close(minidl_gradients(ours_fn, [a, b], cotangent), expected_gradients(
        reference, lambda: split_np(a, b, cotangent, wins),
        lambda torch, x, y: getattr(torch, torch_name)(x, y), [a, b], cotangent))


def test_maximum_of_a_tensor_with_itself_splits_the_gradient_and_adds_it_back():
    x = t([1.0, -2.0, 3.0], grad=True)
    F.maximum(x, x).backward(t([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------
# kinks
# ----------------------------------------------------------------------------
AT_KINKS = np.array([-1.0, -0.5, -1e-9, 0.0, 1e-9, 0.5, 1.0])

# name: (minidl fn, torch fn, NumPy derivative at each point of AT_KINKS)
KINKS = {
    "relu": (F.relu, lambda torch, a: torch.relu(a), lambda x: (x > 0) * 1.0),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.2),
                   lambda torch, a: torch.nn.functional.leaky_relu(a, 0.2),
                   lambda x: np.where(x > 0, 1.0, 0.2)),
    "abs": (F.abs, lambda torch, a: torch.abs(a), np.sign),
    "clamp": (lambda a: F.clamp(a, -0.5, 0.5), lambda torch, a: torch.clamp(a, -0.5, 0.5),
              lambda x: ((x >= -0.5) & (x <= 0.5)) * 1.0),
    "clamp-min": (lambda a: F.clamp(a, min=0.0), lambda torch, a: torch.clamp(a, min=0.0),
                  lambda x: (x >= 0) * 1.0),
    "clamp-max": (lambda a: F.clamp(a, max=0.0), lambda torch, a: torch.clamp(a, max=0.0),
                  lambda x: (x <= 0) * 1.0),
    "clip": (lambda a: a.clip(-1.0, 0.0), lambda torch, a: a.clip(-1.0, 0.0),
             lambda x: ((x >= -1) & (x <= 0)) * 1.0),
    "clamp-tensor-bounds": (
        lambda a: F.clamp(a, min=t(AT_KINKS - [0, 1, 0, 0, 1, 0, 0]),
                          max=t(AT_KINKS + [0, 0, 1, 0, 0, 1, 1])),
        lambda torch, a: torch.clamp(a, min=torch.tensor(AT_KINKS - [0, 1, 0, 0, 1, 0, 0]),
                                     max=torch.tensor(AT_KINKS + [0, 0, 1, 0, 0, 1, 1])),
        lambda x: np.ones_like(x)),  # every element sits on a bound: all pass
}


@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("name", KINKS)
def test_subgradient_at_the_kinks(name, reference):
    ours_fn, torch_fn, derivative = KINKS[name]
    cotangent = np.random.default_rng(3).standard_normal(AT_KINKS.shape)
    assert_all_close(minidl_gradients(ours_fn, [AT_KINKS], cotangent), expected_gradients(
        reference, lambda: [cotangent * derivative(AT_KINKS)], torch_fn, [AT_KINKS], cotangent))


@pytest.mark.parametrize("name", KINKS)
def test_second_derivative_at_the_kinks_is_zero(name):
    # piecewise linear: the gradient of the gradient is zero everywhere, kinks included
    ours_fn = KINKS[name][0]
    x = t(AT_KINKS, grad=True)
    g, = mdl.grad(ours_fn(x).sum(), [x], create_graph=True)
    gg = mdl.grad(g.sum(), [x], allow_unused=True)[0] if g.requires_grad else None
    assert gg is None or not gg.numpy().any()
