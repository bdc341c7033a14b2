"""Grader for exercise 02: minidl.autograd._topological_order, and backward through it."""
import numpy as np
import pytest

import minidl as mdl
from minidl import autograd


def leaf(*shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return mdl.tensor(data, requires_grad=True)


def assert_topological(order, roots):
    """Each Function once, after every Function that feeds it; all of them reachable."""
    ids = [id(f) for f in order]
    assert len(ids) == len(set(ids)), "a Function appears twice"
    position = {id(f): i for i, f in enumerate(order)}
    for f in order:
        for node, _ in f.input_edges:
            if node is not None:
                assert id(node) in position, f"{node.name}, which feeds {f.name}, is missing"
                assert position[id(node)] < position[id(f)], (
                    f"{node.name} comes after {f.name}, which uses its output")
    for root in roots:
        assert id(root.creator) in position, "the root's own creator is missing"


def test_order_of_a_graph_with_shared_parts():
    x = leaf(3)
    a = x.exp()
    b = a * x          # x and a are each used twice
    c = b + a
    y = (c * b).sum()
    order = autograd._topological_order([y])
    assert_topological(order, [y])
    assert {f.name for f in order} >= {"Exp", "Mul", "Add", "Sum"}
    assert order[-1] is y.creator


def test_order_holds_only_the_ops_behind_the_roots():
    x = leaf(3)
    a = x.exp()
    unused = (a * 2.0).sum()   # made from a, but not behind y
    y = a.sum()
    order = autograd._topological_order([y])
    assert_topological(order, [y])
    assert unused.creator not in order
    assert len(order) == 2  # Exp, Sum


def test_order_with_two_roots():
    x = leaf(2, 3)
    h = x.tanh()
    y1, y2 = (h * 2.0).sum(), h.exp().sum()
    order = autograd._topological_order([y1, y2])
    assert_topological(order, [y1, y2])
    ids = [id(f) for f in order]
    assert ids.count(id(h.creator)) == 1


def test_a_chain_of_ten_thousand_ops():
    x = mdl.tensor(0.5, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    order = autograd._topological_order([y])
    assert len(order) == 10_000
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)


def test_the_old_creator_gets_the_gradient_after_an_in_place_change():
    x = leaf(4)
    a = x * 2.0
    b = a + 1.0          # uses a's value as it is now, made by Mul
    a.add_(3.0)          # a gets a new creator
    y = (b * b).sum()
    order = autograd._topological_order([y])
    assert_topological(order, [y])
    assert a.creator not in order, "the in-place op is not behind y"
    y.backward()
    expected = 2 * (2 * x.data + 1) * 2   # dy/db * db/da * da/dx
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_a_second_backward_through_a_freed_graph_says_retain_graph():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_lets_backward_run_twice():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_gradients_through_the_engine_pass_the_gradient_check():
    x, w = leaf(4, 3, seed=1), leaf(3, 2, seed=2)
    assert mdl.gradcheck(lambda x, w: ((x @ w).tanh() * x.sum(1, keepdim=True)).exp(), [x, w])


def test_second_derivatives_through_the_engine():
    x = leaf(5, seed=3)
    assert mdl.gradgradcheck(lambda x: (x.exp() * x).sum() * x, [x])
