"""Grader for exercise 01: each operation's backward, the topological order, backward()."""
import math

import pytest

import grading

engine = grading.load(__file__, "engine")
Value = engine.Value

EPS = 1e-6
TOL = 1e-6


def numeric_gradients(f, xs):
    """Central differences of the number f(*xs) with respect to each number in xs."""
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += EPS
        down[i] -= EPS
        grads.append((f(*up) - f(*down)) / (2 * EPS))
    return grads


def local_backward(op, xs, out_grad):
    """Run one operation on Values and only its own _backward, with out.grad set by hand."""
    values = [Value(x) for x in xs]
    out = op(*values)
    out.grad = out_grad
    out._backward()
    return out, [v.grad for v in values]


OPERATIONS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [1.5, -0.7]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [1.5, -0.7]),
    "pow": (lambda a: a ** 3, lambda a: a ** 3, [1.3]),
    "pow_negative": (lambda a: a ** -1.5, lambda a: a ** -1.5, [0.8]),
    "exp": (lambda a: a.exp(), math.exp, [0.4]),
    "tanh": (lambda a: a.tanh(), math.tanh, [-0.6]),
    "relu_positive": (lambda a: a.relu(), lambda a: max(a, 0.0), [0.9]),
    "relu_negative": (lambda a: a.relu(), lambda a: max(a, 0.0), [-0.9]),
}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_each_operation_backward_passes_the_gradient_check(name):
    op, plain, xs = OPERATIONS[name]
    out_grad = -1.7  # not 1: the chain rule must multiply by out.grad
    out, analytic = local_backward(op, xs, out_grad)
    assert out.data == pytest.approx(plain(*xs))
    numeric = [out_grad * g for g in numeric_gradients(plain, xs)]
    assert analytic == pytest.approx(numeric, abs=TOL), f"{name}: d/dx {analytic} != {numeric}"


def test_backward_adds_into_grad_instead_of_overwriting():
    a, b = Value(2.0), Value(5.0)
    a.grad, b.grad = 10.0, 20.0  # what earlier uses already gave them
    out = a * b
    out.grad = 1.0
    out._backward()
    assert (a.grad, b.grad) == pytest.approx((15.0, 22.0))


def test_relu_at_zero_passes_no_gradient():
    _, (grad,) = local_backward(lambda a: a.relu(), [0.0], 1.0)
    assert grad == 0.0


def _diamond():
    x = Value(0.5)
    a = x * 2.0          # x is used twice: by a and by b
    b = x.exp()
    c = a + b
    d = c * a            # a is used twice too
    return x, a, b, c, d


def test_topological_order_puts_every_value_after_its_parents():
    x, a, b, c, d = _diamond()
    order = engine.topological_order(d)
    ids = [id(v) for v in order]
    assert len(ids) == len(set(ids)), "a value appears twice in the order"
    for v in (x, a, b, c, d):
        assert id(v) in ids, f"{v} is behind the root but missing from the order"
    position = {id(v): i for i, v in enumerate(order)}
    for v in order:
        for p in v.parents:
            assert position[id(p)] < position[id(v)], "a value comes before one of its parents"
    assert order[-1] is d


def test_topological_order_holds_only_what_is_behind_the_root():
    x, a, b, c, d = _diamond()
    unrelated = x * 7.0  # made from x, but the root does not depend on it
    order = engine.topological_order(c)
    assert all(v is not unrelated and v is not d for v in order)


def test_backward_of_a_value_used_twice():
    x = Value(3.0)
    y = x * x + x      # dy/dx = 2x + 1
    y.backward()
    assert y.grad == 1.0
    assert x.grad == pytest.approx(7.0)


def test_backward_through_a_diamond_matches_finite_differences():
    def f(x0):
        a = x0 * 2.0
        return (a + math.exp(x0)) * a

    x, a, b, c, d = _diamond()
    d.backward()
    assert x.grad == pytest.approx(numeric_gradients(f, [0.5])[0], abs=TOL)


def test_backward_of_a_neuron_matches_finite_differences():
    inputs, weights, bias = [0.5, -1.5, 2.0], [0.3, -0.8, 0.1], 0.2

    def plain(*numbers):
        xs, ws, b = numbers[:3], numbers[3:6], numbers[6]
        pre = sum(w * x for w, x in zip(ws, xs)) + b
        return (math.tanh(pre) - 0.25) ** 2 / 2.0 + max(pre, 0.0)

    def with_values(*values):
        xs, ws, b = values[:3], values[3:6], values[6]
        pre = sum((w * x for w, x in zip(ws, xs)), Value(0.0)) + b
        return (pre.tanh() - 0.25) ** 2 / 2.0 + pre.relu()

    numbers = inputs + weights + [bias]
    values = [Value(n) for n in numbers]
    out = with_values(*values)
    out.backward()
    assert out.data == pytest.approx(plain(*numbers))
    numeric = numeric_gradients(plain, numbers)
    assert [v.grad for v in values] == pytest.approx(numeric, abs=TOL)
