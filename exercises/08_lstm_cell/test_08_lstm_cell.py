"""Grader for exercise 08: an LSTM cell forward and backward, and gradient clipping."""
import numpy as np
import pytest

import grading
import minidl as mdl
from minidl import nn

student = grading.load(__file__, "lstm")
N, F, H = 3, 4, 5
NAMES = ("x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh")


def arrays(seed=0, scale=0.5):
    g = np.random.default_rng(seed)
    shapes = [(N, F), (N, H), (N, H), (4 * H, F), (4 * H, H), (4 * H,), (4 * H,)]
    return [g.standard_normal(s) * scale for s in shapes]


def reference_cell(values):
    """minidl's nn.LSTMCell (float64) with these weights, and its input tensors."""
    cell = nn.LSTMCell(F, H, dtype=np.float64)
    x, h, c, *weights = [mdl.tensor(v, requires_grad=True) for v in values]
    with mdl.no_grad():
        for p, w in zip(cell.weights(), weights):
            p.copy_(w)
    return cell, (x, h, c), cell.weights()


class StudentCell(mdl.Function):
    """The student's forward and backward as a minidl op, so the engine can check them."""

    def forward(self, *values):
        h, c, self.cache = student.lstm_cell_forward(*values)
        return h, c

    def backward(self, dh, dc):
        grads = student.lstm_cell_backward(dh.data, dc.data, self.cache)
        return tuple(mdl.tensor(g) for g in grads)


def test_forward_equals_minidl_lstm_cell():
    values = arrays()
    cell, (x, h, c), _ = reference_cell(values)
    h_ref, c_ref = cell(x, (h, c))
    h_new, c_new, _ = student.lstm_cell_forward(*values)
    np.testing.assert_allclose(h_new, h_ref.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_new, c_ref.numpy(), rtol=1e-12, atol=1e-14)


def test_backward_passes_the_gradient_check():
    tensors = [mdl.tensor(v, requires_grad=True) for v in arrays(seed=1)]
    assert mdl.gradcheck(lambda *t: StudentCell()(*t), tensors)


@pytest.mark.parametrize("seed", [2, 3])
def test_backward_equals_the_engine_under_random_cotangents(seed):
    values = arrays(seed=seed, scale=1.0)
    cell, (x, h, c), weights = reference_cell(values)
    h_ref, c_ref = cell(x, (h, c))
    g = np.random.default_rng(seed + 10)
    dh, dc = g.standard_normal((N, H)), g.standard_normal((N, H))
    expected = mdl.grad([h_ref, c_ref], [x, h, c, *weights],
                        grad_outputs=[mdl.tensor(dh), mdl.tensor(dc)])
    _, _, cache = student.lstm_cell_forward(*values)
    ours = student.lstm_cell_backward(dh, dc, cache)
    assert len(ours) == 7
    for name, mine, theirs in zip(NAMES, ours, expected):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"the gradient of {name}")


def test_three_steps_of_backpropagation_through_time():
    """The grader chains your cell over three steps, then your backward in reverse."""
    values = arrays(seed=4)
    _, h0, c0, w_ih, w_hh, b_ih, b_hh = values
    xs = np.random.default_rng(5).standard_normal((3, N, F))
    caches, h, c = [], h0, c0
    for x in xs:
        h, c, cache = student.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        caches.append(cache)
    dh, dc, dw = np.ones((N, H)), np.zeros((N, H)), 0.0   # d(sum of the last h)
    for cache in reversed(caches):
        _, dh, dc, dw_ih, *_ = student.lstm_cell_backward(dh, dc, cache)
        dw = dw + dw_ih
    cell, _, weights = reference_cell(values)
    h_t, c_t = mdl.tensor(h0), mdl.tensor(c0)
    for x in xs:
        h_t, c_t = cell(mdl.tensor(x), (h_t, c_t))
    h_t.sum().backward()
    np.testing.assert_allclose(dw, weights[0].grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e6])
def test_clipping_equals_minidl_clip_grad_norm(max_norm):
    g = np.random.default_rng(6)
    grads = [g.standard_normal(s) for s in [(4, 3), (5,), (2, 2, 2)]]
    params = [nn.Parameter(mdl.tensor(np.zeros_like(a))) for a in grads]
    for p, a in zip(params, grads):
        p.grad = mdl.tensor(a.copy())
    expected_total = nn.utils.clip_grad_norm_(params, max_norm).item()
    total = student.clip_grad_norm(grads, max_norm)
    assert total == pytest.approx(expected_total, rel=1e-12)
    for p, a in zip(params, grads):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-12)


def test_clipping_keeps_the_direction_and_reaches_the_norm():
    grads = [np.array([3.0, 0.0]), np.array([[4.0]])]   # total norm 5
    total = student.clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(grads[0], [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(grads[1], [[0.8]], rtol=1e-5)
