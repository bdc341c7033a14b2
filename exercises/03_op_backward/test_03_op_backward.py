"""Grader for exercise 03: Mul, Exp and MatMul backward and SumTo in minidl, checked by
finite differences (first and second derivatives) and against NumPy's formulas."""
import numpy as np
import pytest

import minidl as mdl
from minidl.functional import sum_to


def leaf(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return mdl.tensor(data, requires_grad=requires_grad)


def cotangent(shape, seed=7):
    return np.random.default_rng(seed).standard_normal(shape)


def numpy_sum_to(g, shape):
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


# ---------------------------------------------------------------- SumTo
@pytest.mark.parametrize("big, small", [((2, 3, 4), (3, 1)), ((2, 3, 4), (4,)),
                                        ((5, 1, 3), (1, 1, 3)), ((4, 3), ())])
def test_sum_to_undoes_a_broadcast(big, small):
    g = cotangent(big)
    out = sum_to(mdl.tensor(g) * 1.0, small)  # * 1.0: a fresh tensor, never the same object
    assert out.shape == small
    np.testing.assert_allclose(out.numpy(), numpy_sum_to(g, small), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- Mul
MUL_SHAPES = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 3)),
              ((1,), (5, 1, 2))]


@pytest.mark.parametrize("sa, sb", MUL_SHAPES)
def test_mul_passes_the_gradient_checks(sa, sb):
    a, b = leaf(*sa, seed=1), leaf(*sb, seed=2)
    assert mdl.gradcheck(lambda a, b: a * b, [a, b])
    assert mdl.gradgradcheck(lambda a, b: a * b, [a, b])


@pytest.mark.parametrize("sa, sb", MUL_SHAPES)
def test_mul_gradients_equal_the_formula(sa, sb):
    a, b = leaf(*sa, seed=1), leaf(*sb, seed=2)
    y = a * b
    gy = cotangent(y.shape)
    ga, gb = mdl.grad(y, [a, b], grad_outputs=mdl.tensor(gy))
    np.testing.assert_allclose(ga.numpy(), numpy_sum_to(gy * b.data, sa), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), numpy_sum_to(gy * a.data, sb), rtol=1e-12)


def test_mul_by_a_constant_gives_no_gradient_to_the_constant():
    a, b = leaf(3, seed=1), leaf(3, seed=2, requires_grad=False)
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.data)
    assert b.grad is None


# ---------------------------------------------------------------- Exp
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_exp_passes_the_gradient_checks(shape):
    a = leaf(*shape, seed=3)
    assert mdl.gradcheck(lambda a: a.exp(), [a])
    assert mdl.gradgradcheck(lambda a: a.exp(), [a])


def test_exp_gradient_equals_the_formula():
    a = leaf(2, 3, seed=3)
    gy = cotangent((2, 3))
    ga, = mdl.grad(a.exp(), [a], grad_outputs=mdl.tensor(gy))
    np.testing.assert_allclose(ga.numpy(), gy * np.exp(a.data), rtol=1e-12)


# ---------------------------------------------------------------- MatMul
MATMUL_SHAPES = [((3, 4), (4, 2)), ((1, 4), (4, 1)), ((2, 3, 4), (4, 5)),
                 ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,))]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
def test_matmul_passes_the_gradient_checks(sa, sb):
    a, b = leaf(*sa, seed=4), leaf(*sb, seed=5)
    assert mdl.gradcheck(lambda a, b: a @ b, [a, b])
    assert mdl.gradgradcheck(lambda a, b: a @ b, [a, b])


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES[:4])
def test_matmul_gradients_equal_the_formula(sa, sb):
    a, b = leaf(*sa, seed=4), leaf(*sb, seed=5)
    y = a @ b
    gy = cotangent(y.shape)
    ga, gb = mdl.grad(y, [a, b], grad_outputs=mdl.tensor(gy))
    expected_a = numpy_sum_to(gy @ np.swapaxes(b.data, -1, -2), sa)
    expected_b = numpy_sum_to(np.swapaxes(a.data, -1, -2) @ gy, sb)
    np.testing.assert_allclose(ga.numpy(), expected_a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), expected_b, rtol=1e-10, atol=1e-12)


def test_a_small_network_trains_on_your_backward():
    """Everything together: a linear layer and a softmax, learned by gradient descent."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5))
    labels = (X[:, 0] + X[:, 1] > 0).astype(int)
    onehot = np.eye(2)[labels]
    w = mdl.tensor(np.zeros((5, 2)), requires_grad=True)
    b = mdl.tensor(np.zeros(2), requires_grad=True)
    for _ in range(100):
        scores = (mdl.tensor(X) @ w + b).exp()
        p = scores / scores.sum(1, keepdim=True)
        loss = -(mdl.tensor(onehot) * p.log()).sum() / len(X)
        w.grad = b.grad = None
        loss.backward()
        with mdl.no_grad():
            w -= 0.5 * w.grad
            b -= 0.5 * b.grad
    assert loss.item() < 0.3
