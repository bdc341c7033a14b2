"""Grader for exercise 04: stable softmax cross-entropy, forward and backward."""
import numpy as np
import pytest

import grading
import minidl as mdl
import minidl.functional as F

student = grading.load(__file__, "cross_entropy")


def reference_loss(logits, target):
    """The loss in float64, by the log-sum-exp trick (the grader's own)."""
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=1, keepdims=True)
    log_softmax = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(x)), target].mean()


def batch(n=6, classes=4, scale=3.0, seed=0):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, classes)) * scale, g.integers(0, classes, size=n)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_forward_equals_the_reference(dtype, tol):
    logits, target = batch()
    loss = student.softmax_cross_entropy(mdl.tensor(logits.astype(dtype)), target)
    assert loss.shape == () and loss.dtype == dtype
    assert loss.item() == pytest.approx(reference_loss(logits.astype(dtype), target), rel=tol)


def test_forward_equals_minidl_cross_entropy():
    logits, target = batch(n=9, classes=7, seed=1)
    ours = student.softmax_cross_entropy(mdl.tensor(logits), target).item()
    theirs = F.cross_entropy(mdl.tensor(logits), mdl.tensor(target)).item()
    assert ours == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_is_stable_for_huge_logits(dtype):
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -999.0]], dtype=dtype)
    target = np.array([1, 2])
    with np.errstate(over="raise", invalid="raise"):  # overflow: an error here
        loss = student.softmax_cross_entropy(mdl.tensor(logits), target).item()
    expected = (1000.0 + np.log1p(2 * np.exp(-1001.0)) + np.log1p(2 * np.exp(-1.0))) / 2
    assert np.isfinite(loss) and loss == pytest.approx(expected, rel=1e-6)


def test_bad_targets_are_a_clear_error():
    logits, _ = batch(n=3, classes=4)
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        student.softmax_cross_entropy(mdl.tensor(logits), np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        student.softmax_cross_entropy(mdl.tensor(logits), np.array([0, 1]))


@pytest.mark.parametrize("n, classes, offset", [(6, 4, 0.0), (1, 3, 0.0), (5, 2, 500.0),
                                                (4, 1, 0.0)])
def test_backward_passes_the_gradient_check(n, classes, offset):
    logits, target = batch(n, classes, seed=2)
    x = mdl.tensor(logits + offset, requires_grad=True)
    assert mdl.gradcheck(lambda x: student.softmax_cross_entropy(x, target), [x])


def test_backward_can_be_differentiated_again():
    logits, target = batch(seed=3)
    x = mdl.tensor(logits, requires_grad=True)
    assert mdl.gradgradcheck(lambda x: student.softmax_cross_entropy(x, target), [x])


def test_backward_under_a_cotangent_equals_the_formula():
    logits, target = batch(n=5, classes=3, seed=4)
    x = mdl.tensor(logits, requires_grad=True)
    loss = student.softmax_cross_entropy(x, target)
    g, = mdl.grad(loss, [x], grad_outputs=mdl.tensor(np.array(-2.5)))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = -2.5 * (p - np.eye(3)[target]) / 5
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-10, atol=1e-14)
