"""minidl.autograd.functional against torch.autograd.functional, in float64: jacobian,
hessian, vjp, jvp, hvp, vhp on scalar and vector outputs, tuples of inputs and of
outputs, both strategies, create_graph, and the errors strict=True raises."""
import subprocess
import sys

import numpy as np
import pytest

import minidl as mdl
import minidl.autograd.functional as AF

RNG = np.random.default_rng(0)
X, Y, V3, V2 = (RNG.standard_normal(3), RNG.standard_normal((2, 3)), RNG.standard_normal(3),
                RNG.standard_normal(2))


# The functions, written once: `torch` is torch or minidl (both have .sin, .exp, ...)
def vector_of_vector(a):
    return a.tanh() * a.exp()


def vector_of_two(a, b):
    return (a * b).sum(-1) ** 2


def two_outputs(a):
    return (a ** 3).sum(), a * 2


def scalar_of_two(a, b):
    return (a.exp() * b).sum() + (a ** 2).sum() * (b ** 2).sum()


def scalar_of_one(a):
    return (a.exp() * a).sum()


def sides():
    torch = pytest.importorskip("torch")
    import torch.autograd.functional as TF
    return ((TF, lambda a: torch.tensor(a, dtype=torch.float64)),
            (AF, lambda a: mdl.tensor(a, dtype=np.float64)))


def as_numpy(value):
    """Tensors nested in tuples (lists, for PyTorch's forward mode) as NumPy arrays."""
    if isinstance(value, (tuple, list)):
        return tuple(as_numpy(v) for v in value)
    return np.asarray(value.detach().numpy())


def assert_same(ours, theirs, tuples_must_match=True):
    if isinstance(theirs, (tuple, list)):
        if tuples_must_match:
            assert isinstance(ours, tuple), f"minidl gave a {type(ours).__name__}"
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b, tuples_must_match)
        return
    assert isinstance(ours, mdl.Tensor), f"minidl gave a {type(ours).__name__}"
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


CALLS = {
    "jacobian, vector of vector": lambda F, t: F.jacobian(vector_of_vector, t(X)),
    "jacobian, tuple of inputs": lambda F, t: F.jacobian(vector_of_two, (t(X), t(Y))),
    "jacobian, tuple of outputs": lambda F, t: F.jacobian(two_outputs, t(X)),
    "jacobian, both tuples": lambda F, t: F.jacobian(lambda a, b: (a * b, (a + 1).tanh()),
                                                     (t(X), t(V3))),
    "jacobian, an unused input": lambda F, t: F.jacobian(lambda a, b: a * 2, (t(X), t(V2))),
    "jacobian, vectorize": lambda F, t: F.jacobian(vector_of_vector, t(X), vectorize=True),
    "jacobian, 0-d input": lambda F, t: F.jacobian(lambda a: a * t(X), t(np.array(0.5))),
    "hessian, one input": lambda F, t: F.hessian(scalar_of_one, t(X)),
    "hessian, two inputs": lambda F, t: F.hessian(scalar_of_two, (t(X), t(Y[0]))),
    "vjp": lambda F, t: F.vjp(vector_of_two, (t(X), t(Y)), t(V2)),
    "vjp, scalar output, no v": lambda F, t: F.vjp(scalar_of_one, t(X)),
    "vjp, tuple of outputs": lambda F, t: F.vjp(two_outputs, t(X), (t(np.array(2.0)), t(V3))),
    "jvp": lambda F, t: F.jvp(vector_of_two, (t(X), t(Y)), (t(V3), t(Y * 0.5))),
    "jvp, tuple of outputs": lambda F, t: F.jvp(two_outputs, t(X), t(V3)),
    "jvp, 1-element input, no v": lambda F, t: F.jvp(lambda a: a.exp() * t(X), t(np.ones(1))),
    "vhp": lambda F, t: F.vhp(scalar_of_two, (t(X), t(Y[0])), (t(V3), t(V3 * 2))),
    "hvp": lambda F, t: F.hvp(scalar_of_two, (t(X), t(Y[0])), (t(V3), t(V3 * 2))),
    "hvp, one input": lambda F, t: F.hvp(scalar_of_one, t(X), t(V3)),
    "vhp, a linear function": lambda F, t: F.vhp(lambda a: (a * 2).sum(), t(X), t(V3)),
}


@pytest.mark.parametrize("name", CALLS)
def test_results_equal_pytorchs(name):
    (torch_F, torch_t), (ours_F, ours_t) = sides()
    assert_same(CALLS[name](ours_F, ours_t), CALLS[name](torch_F, torch_t))


FORWARD_MODE = {
    "jacobian, forward mode": lambda F, t: F.jacobian(
        vector_of_two, (t(X), t(Y)), vectorize=True, strategy="forward-mode"),
    "jacobian, forward mode, tuple of outputs": lambda F, t: F.jacobian(
        two_outputs, t(X), vectorize=True, strategy="forward-mode"),
    "hessian, forward-mode outer jacobian": lambda F, t: F.hessian(
        scalar_of_two, (t(X), t(Y[0])), vectorize=True, outer_jacobian_strategy="forward-mode"),
}


@pytest.mark.parametrize("name", FORWARD_MODE)
def test_forward_mode_equals_pytorchs(name):
    """The columns by the double-vjp trick. (PyTorch's forward mode returns lists where
    it documents tuples; minidl returns tuples.)"""
    (torch_F, torch_t), (ours_F, ours_t) = sides()
    ours = FORWARD_MODE[name](ours_F, ours_t)
    assert_same(ours, FORWARD_MODE[name](torch_F, torch_t), tuples_must_match=False)
    assert isinstance(ours, tuple)


def test_both_strategies_give_one_jacobian():
    x, y = mdl.tensor(X, dtype=np.float64), mdl.tensor(Y, dtype=np.float64)
    rows = AF.jacobian(vector_of_two, (x, y))
    columns = AF.jacobian(vector_of_two, (x, y), vectorize=True, strategy="forward-mode")
    for a, b in zip(rows, columns):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_create_graph_keeps_the_results_differentiable():
    """Differentiate a function of the Jacobian (and of vjp, jvp, hvp) once more, with
    respect to the inputs, on both sides."""
    (torch_F, torch_t), (ours_F, ours_t) = sides()

    def grads(F, t):
        out = []
        for make in (lambda a: (F.jacobian(vector_of_vector, a, create_graph=True) ** 2).sum(),
                     lambda a: (F.vjp(vector_of_vector, a, t(V3), create_graph=True)[1] ** 2).sum(),
                     lambda a: (F.jvp(vector_of_vector, a, t(V3), create_graph=True)[1] ** 2).sum(),
                     lambda a: F.hvp(scalar_of_one, a, t(V3), create_graph=True)[1].sum()):
            a = t(X)
            a.requires_grad_(True)
            make(a).backward()
            out.append(a.grad)
        return tuple(out)

    assert_same(grads(ours_F, ours_t), grads(torch_F, torch_t))


def test_results_are_detached_and_the_inputs_untouched_without_create_graph():
    x = mdl.tensor(X, dtype=np.float64, requires_grad=True)
    out, product = AF.vjp(vector_of_vector, x, mdl.tensor(V3, dtype=np.float64))
    jac = AF.jacobian(vector_of_vector, x)
    assert not out.requires_grad and not product.requires_grad and not jac.requires_grad
    assert x.grad is None


def test_it_works_under_no_grad():
    with mdl.no_grad():
        jac = AF.jacobian(vector_of_vector, mdl.tensor(X, dtype=np.float64))
    x = X
    expected = np.diag((1 - np.tanh(x) ** 2) * np.exp(x) + np.tanh(x) * np.exp(x))
    np.testing.assert_allclose(jac.numpy(), expected, rtol=1e-12)


ERRORS = {
    "strict: an unused input": lambda F, t: F.jacobian(lambda a, b: a * 2, (t(X), t(V2)),
                                                       strict=True),
    "strict: an output outside the graph": lambda F, t: F.jacobian(lambda a: a.detach(), t(X),
                                                                   strict=True),
    "strict: vjp of a constant": lambda F, t: F.vjp(lambda a: t(V3), t(X), t(V3), strict=True),
    "strict: hvp of a linear function": lambda F, t: F.hvp(lambda a: (a * 2).sum(), t(X), t(V3),
                                                           strict=True),
    "strict: vhp of a linear function": lambda F, t: F.vhp(lambda a: (a * 2).sum(), t(X), t(V3),
                                                           strict=True),
    "strict with vectorize": lambda F, t: F.jacobian(vector_of_vector, t(X), strict=True,
                                                     vectorize=True),
    "no v for a vector output": lambda F, t: F.vjp(vector_of_vector, t(X)),
    "no v for a vector input": lambda F, t: F.jvp(vector_of_vector, t(X)),
    "v of the wrong shape": lambda F, t: F.vjp(vector_of_vector, t(X), t(V2)),
    "v of the wrong length": lambda F, t: F.jvp(vector_of_two, (t(X), t(Y)), (t(V3),)),
    "hessian of a vector": lambda F, t: F.hessian(vector_of_vector, t(X)),
    "hvp of a tuple": lambda F, t: F.hvp(two_outputs, t(X), t(V3)),
    "a list of inputs": lambda F, t: F.jacobian(vector_of_vector, [t(X)]),
    "an output that is not a tensor": lambda F, t: F.jacobian(lambda a: 3.0, t(X)),
    "forward mode without vectorize": lambda F, t: F.jacobian(vector_of_vector, t(X),
                                                              strategy="forward-mode"),
    "forward mode with create_graph": lambda F, t: F.jacobian(
        vector_of_vector, t(X), create_graph=True, vectorize=True, strategy="forward-mode"),
    "an unknown strategy": lambda F, t: F.jacobian(vector_of_vector, t(X), strategy="sideways"),
}


@pytest.mark.parametrize("name", ERRORS)
def test_raises_where_pytorch_raises(name):
    (torch_F, torch_t), (ours_F, ours_t) = sides()
    with pytest.raises(Exception) as theirs:
        ERRORS[name](torch_F, torch_t)
    with pytest.raises(Exception) as ours:
        ERRORS[name](ours_F, ours_t)
    if theirs.type is not AssertionError:   # PyTorch asserts on an unknown strategy
        assert ours.type is theirs.type, f"minidl: {ours.value!r}, PyTorch: {theirs.value!r}"
    assert ours.type is not AssertionError


def test_strict_errors_say_what_and_where():
    x = mdl.tensor(X, dtype=np.float64)
    with pytest.raises(RuntimeError, match="output 0 does not depend on input 1.*strict"):
        AF.jacobian(lambda a, b: a * 2, (x, mdl.tensor(V2, dtype=np.float64)), strict=True)
    with pytest.raises(RuntimeError, match=r"vjp: v has shape \(2,\), it should have shape "
                                           r"\(3,\)"):
        AF.vjp(vector_of_vector, x, mdl.tensor(V2, dtype=np.float64))
    with pytest.raises(TypeError, match="jacobian: the inputs must be a Tensor or a tuple"):
        AF.jacobian(vector_of_vector, [x])


def test_importable_as_in_pytorch():
    assert mdl.autograd.functional is AF
    from minidl.autograd import functional
    from minidl.autograd.functional import hessian
    assert functional is AF and hessian is AF.hessian
    code = ("import minidl.autograd.functional as F, minidl as mdl; "
            "print(F.jacobian(lambda x: x * 3, mdl.tensor([1.0, 2.0])).tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[[3.0, 0.0], [0.0, 3.0]]"
