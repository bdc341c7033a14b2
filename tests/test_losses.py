"""Losses: values against NumPy formulas and PyTorch, gradients and second derivatives
by finite differences, stability at logits of +-1e4, and clear errors."""
import numpy as np
import pytest
from helpers import require

import minidl as mdl
import minidl.functional as F
from minidl import nn

rng = np.random.default_rng(0)
N, C = 4, 3
LOGITS = rng.standard_normal((N, C)) * 2
LABELS = np.array([0, 2, 1, 2])
LOGITS_2D = rng.standard_normal((2, C, 2, 3))        # (N, C, d1, d2)
LABELS_2D = rng.integers(0, C, size=(2, 2, 3))
LABELS_2D[0, 1, 2] = -100                             # ignored
PROBS = rng.dirichlet(np.ones(C), size=N)             # soft targets, rows sum to 1
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0])


def log_softmax_np(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def cross_entropy_np(x, target, weight=None, reduction="mean", smoothing=0.0,
                     ignore_index=-100):
    """PyTorch's documented cross-entropy, written out per position. x is (N, C, d...)
    or unbatched (C,); target holds class indices or class probabilities.

    Probabilities: loss = -sum_c w_c q_c log p_c with q = (1 - s) target + s / C;
    "mean" divides by the number of positions. Indices: the one-hot part is weighted
    by w[y], the smoothing part per class; "mean" divides by the sum of w[y] over the
    positions not ignored."""
    unbatched = x.ndim == 1
    if unbatched:
        x, target = x[None], np.asarray(target)[None]
    classes = x.shape[1]
    logp = np.moveaxis(log_softmax_np(x), 1, -1).reshape(-1, classes)   # (positions, C)
    w = np.ones(classes) if weight is None else weight
    if target.dtype.kind == "f":
        q = np.moveaxis(target, 1, -1).reshape(-1, classes) * (1 - smoothing) + smoothing / classes
        losses = -(w * q * logp).sum(axis=1)
        denominator = len(losses)
    else:
        labels = target.reshape(-1)
        kept = labels != ignore_index
        safe = np.where(kept, labels, 0)
        picked = logp[np.arange(len(labels)), safe]
        losses = -(1 - smoothing) * w[safe] * picked - smoothing / classes * (w * logp).sum(axis=1)
        losses = np.where(kept, losses, 0.0)
        denominator = w[safe][kept].sum()
    if reduction == "mean":
        return losses.sum() / denominator
    if reduction == "sum":
        return losses.sum()
    if unbatched:
        return losses.reshape(())
    return losses.reshape(target.shape[:1] + target.shape[2:] if target.dtype.kind == "f"
                          else target.shape)


def t(a, grad=False):
    return mdl.tensor(a, requires_grad=grad)


# ----------------------------------------------------------------------------
# values against NumPy
# ----------------------------------------------------------------------------
def test_mse_and_l1_against_numpy():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert np.isclose(F.mse_loss(t(a), t(b)).item(), ((a - b) ** 2).mean())
    assert np.isclose(F.l1_loss(t(a), t(b), reduction="sum").item(), np.abs(a - b).sum())
    np.testing.assert_allclose(F.mse_loss(t(a), b, reduction="none").numpy(), (a - b) ** 2)


PROBS_2D = np.moveaxis(rng.dirichlet(np.ones(C), size=(2, 2, 3)), -1, 1)   # (N, C, d1, d2)
LABELS_IGNORED = np.where(np.arange(N) == 1, -100, LABELS)
CROSS_ENTROPY_KINDS = {  # kind: (logits, target)
    "indices": (LOGITS, LABELS), "indices_ignored": (LOGITS, LABELS_IGNORED),
    "indices_2d": (LOGITS_2D, LABELS_2D), "probabilities": (LOGITS, PROBS),
    "probabilities_2d": (LOGITS_2D, PROBS_2D), "unbatched": (LOGITS[0], np.array(2)),
    "unbatched_probabilities": (LOGITS[0], PROBS[0]),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", CROSS_ENTROPY_KINDS)
def test_cross_entropy_against_numpy(kind, weighted, smoothing, reduction):
    x, target = CROSS_ENTROPY_KINDS[kind]
    weight = CLASS_WEIGHT if weighted else None
    got = F.cross_entropy(t(x), t(target), None if weight is None else t(weight),
                          reduction=reduction, label_smoothing=smoothing)
    expected = cross_entropy_np(x, target, weight, reduction, smoothing)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_cross_entropy_reference_by_hand():
    # one position, two classes, weights (1, 3), a soft target (1/4, 3/4):
    # -(1 * 1/4 * log p0 + 3 * 3/4 * log p1); "mean" over the positions, not the weights
    x, q, w = np.array([[0.0, np.log(3.0)]]), np.array([[0.25, 0.75]]), np.array([1.0, 3.0])
    expected = -(0.25 * np.log(0.25) + 3 * 0.75 * np.log(0.75))
    assert cross_entropy_np(x, q, w) == pytest.approx(expected, rel=1e-14)
    assert F.cross_entropy(t(x), t(q), t(w)).item() == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_with_probabilities_against_numpy():
    expected = -(PROBS * log_softmax_np(LOGITS)).sum(axis=1)
    np.testing.assert_allclose(F.cross_entropy(t(LOGITS), t(PROBS), reduction="none").numpy(),
                               expected)
    assert np.isclose(F.cross_entropy(t(LOGITS), t(PROBS)).item(), expected.mean())


def test_cross_entropy_equals_nll_of_log_softmax():
    a = F.cross_entropy(t(LOGITS_2D), t(LABELS_2D), reduction="sum")
    b = F.nll_loss(F.log_softmax(t(LOGITS_2D), axis=1), t(LABELS_2D), reduction="sum")
    assert np.isclose(a.item(), b.item())


def test_binary_cross_entropy_against_numpy():
    p, y = rng.uniform(0.05, 0.95, 6), rng.uniform(0, 1, 6)
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy(t(p), t(y), reduction="none").numpy(),
                               expected)
    z = rng.standard_normal(6) * 3
    sig = 1 / (1 + np.exp(-z))
    expected = -(2.0 * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    got = F.binary_cross_entropy_with_logits(t(z), t(y), reduction="none", pos_weight=2.0)
    np.testing.assert_allclose(got.numpy(), expected)


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    p = t(np.array([0.0, 1.0, 0.0]), grad=True)
    loss = F.binary_cross_entropy(p, t(np.array([1.0, 0.0, 0.0])), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, 0.0])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()


# ----------------------------------------------------------------------------
# values against PyTorch, over the options
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", CROSS_ENTROPY_KINDS)
def test_cross_entropy_against_torch(kind, weighted, smoothing, reduction):
    torch = require("torch")
    x, target = CROSS_ENTROPY_KINDS[kind]
    weight = CLASS_WEIGHT if weighted else None
    ours = F.cross_entropy(t(x), t(target), None if weight is None else t(weight),
                           reduction=reduction, label_smoothing=smoothing)
    theirs = torch.nn.functional.cross_entropy(
        torch.tensor(x), torch.tensor(target), None if weight is None else torch.tensor(weight),
        reduction=reduction, label_smoothing=smoothing)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def reduced(losses, reduction, denominator=None):
    if reduction == "none":
        return losses
    total = losses.sum()
    return total if reduction == "sum" else total / (losses.size if denominator is None
                                                     else denominator)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_and_binary_losses_against_numpy(reduction):
    logp = log_softmax_np(LOGITS_2D)
    kept = LABELS_2D != -100
    safe = np.where(kept, LABELS_2D, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    w = CLASS_WEIGHT[safe] * kept
    np.testing.assert_allclose(
        F.nll_loss(t(logp), t(LABELS_2D), t(CLASS_WEIGHT), reduction=reduction).numpy(),
        reduced(-w * picked, reduction, w.sum()), rtol=1e-12)
    g = np.random.default_rng(1)
    z, y = g.standard_normal((3, 2)) * 4, g.uniform(0, 1, (3, 2))
    p, w, pos = 1 / (1 + np.exp(-z)), g.uniform(0.5, 1.5, (3, 2)), np.array([0.5, 3.0])
    np.testing.assert_allclose(
        F.binary_cross_entropy(t(p), t(y), t(w), reduction=reduction).numpy(),
        reduced(-w * (y * np.log(p) + (1 - y) * np.log(1 - p)), reduction), rtol=1e-12)
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(t(z), t(y), t(w), reduction=reduction,
                                           pos_weight=t(pos)).numpy(),
        reduced(-w * (pos * y * np.log(p) + (1 - y) * np.log(1 - p)), reduction), rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_and_binary_losses_against_torch(reduction):
    torch = require("torch")
    tf = torch.nn.functional
    logp = log_softmax_np(LOGITS_2D)
    pairs = [
        (F.nll_loss(t(logp), t(LABELS_2D), t(CLASS_WEIGHT), reduction=reduction),
         tf.nll_loss(torch.tensor(logp), torch.tensor(LABELS_2D), torch.tensor(CLASS_WEIGHT),
                     reduction=reduction)),
    ]
    z, y = rng.standard_normal((3, 2)) * 4, rng.uniform(0, 1, (3, 2))
    p, w, pos = 1 / (1 + np.exp(-z)), rng.uniform(0.5, 1.5, (3, 2)), np.array([0.5, 3.0])
    pairs.append((F.binary_cross_entropy(t(p), t(y), t(w), reduction=reduction),
                  tf.binary_cross_entropy(torch.tensor(p), torch.tensor(y), torch.tensor(w),
                                          reduction=reduction)))
    pairs.append((F.binary_cross_entropy_with_logits(t(z), t(y), t(w), reduction=reduction,
                                                    pos_weight=t(pos)),
                  tf.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(y),
                                                      torch.tensor(w), reduction=reduction,
                                                      pos_weight=torch.tensor(pos))))
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------
# gradients and second derivatives
# ----------------------------------------------------------------------------
LOSSES = {
    "mse_loss": (lambda a, b: F.mse_loss(a, b), [LOGITS, PROBS]),
    "l1_loss": (lambda a, b: F.l1_loss(a, b, reduction="sum"), [LOGITS, PROBS]),
    "cross_entropy": (lambda a: F.cross_entropy(a, t(LABELS), t(CLASS_WEIGHT),
                                                label_smoothing=0.1), [LOGITS]),
    "cross_entropy_2d": (lambda a: F.cross_entropy(a, t(LABELS_2D)), [LOGITS_2D]),
    "cross_entropy_probabilities": (lambda a, b: F.cross_entropy(a, b), [LOGITS, PROBS]),
    "nll_loss": (lambda a: F.nll_loss(a, t(LABELS), reduction="none"), [LOGITS]),
    "binary_cross_entropy": (lambda a, b: F.binary_cross_entropy(a, b),
                             [rng.uniform(0.1, 0.9, 5), rng.uniform(0, 1, 5)]),
    "binary_cross_entropy_with_logits": (
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=t(np.array(1.7))),
        [np.array([-3.0, -0.5, 0.0, 0.4, 2.5]), rng.uniform(0, 1, 5)]),
}


@pytest.mark.parametrize("name", LOSSES)
def test_gradients(name):
    fn, arrays = LOSSES[name]
    assert mdl.gradcheck(fn, [t(a, grad=True) for a in arrays])


@pytest.mark.parametrize("name", [n for n in LOSSES if n != "l1_loss"])
def test_second_derivatives(name):
    fn, arrays = LOSSES[name]
    assert mdl.gradgradcheck(fn, [t(a, grad=True) for a in arrays])


def test_logistic_loss_has_the_right_curvature_at_zero():
    # softplus''(0) = sigmoid'(0) = 1/4: a Newton step from zero weights depends on it
    z = t(np.zeros(1), grad=True)
    g, = mdl.grad(F.binary_cross_entropy_with_logits(z, t(np.ones(1))), [z], create_graph=True)
    h, = mdl.grad(g.sum(), [z])
    np.testing.assert_allclose([g.item(), h.item()], [-0.5, 0.25])


def test_ignored_positions_get_no_gradient():
    x = t(LOGITS, grad=True)
    labels = LABELS.copy()
    labels[2] = -100
    F.cross_entropy(x, t(labels), label_smoothing=0.2).backward()
    assert np.all(x.grad.numpy()[2] == 0) and np.all(x.grad.numpy()[[0, 1, 3]] != 0)


# ----------------------------------------------------------------------------
# stability at huge logits
# ----------------------------------------------------------------------------
HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [0.0, 0.0, 1e4]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_at_huge_logits(dtype):
    x = mdl.tensor(HUGE, dtype=dtype, requires_grad=True)
    losses = F.cross_entropy(x, t(np.array([1, 1, 0])), reduction="none")
    # right answer: 0 when the target has the huge logit, else the gap to the top logit
    np.testing.assert_allclose(losses.numpy(), [2e4, 0.0, 1e4])
    losses.sum().backward()
    grad = x.grad.numpy()
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [[1, -1, 0], [0, 0, 0], [-1, 0, 1]], atol=1e-6)
    smooth = F.cross_entropy(x, t(HUGE / 1e4 * 0.5 + 0.25), label_smoothing=0.1)
    assert np.isfinite(smooth.item())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_losses_are_stable_at_huge_logits(dtype):
    z = mdl.tensor(np.array([1e4, -1e4, 1e4, -1e4]), dtype=dtype, requires_grad=True)
    y = mdl.tensor(np.array([1.0, 0.0, 0.0, 1.0]), dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=2.0)
    np.testing.assert_allclose(loss.numpy(), [0, 0, 1e4, 2e4])
    loss.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [0, 0, 1, -2])
    p = F.sigmoid(z.detach())
    assert np.isfinite(F.binary_cross_entropy(p, y, reduction="none").numpy()).all()


# ----------------------------------------------------------------------------
# errors and modules
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, words", [
    (lambda: F.cross_entropy(t(LOGITS), t(np.array([0, 1, 3, 0]))),
     ["cross_entropy", "target 3", "3 classes"]),
    (lambda: F.cross_entropy(t(LOGITS), t(np.array([0, 1]))), ["cross_entropy", "(4, 3)", "(2,)"]),
    (lambda: F.mse_loss(t(np.ones((4, 1))), t(np.ones(4))), ["mse_loss", "(4, 1)", "(4,)"]),
    (lambda: F.l1_loss(t(LOGITS), t(LOGITS), reduction="avg"), ["l1_loss", "'avg'"]),
    (lambda: F.binary_cross_entropy(t(LOGITS), t(LOGITS)), ["binary_cross_entropy", "[0, 1]"]),
    (lambda: F.nll_loss(t(LOGITS), t(LABELS), weight=t(np.ones(2))), ["nll_loss", "(2,)"]),
])
def test_errors_are_clear(call, words):
    with pytest.raises((ValueError, IndexError)) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


def test_loss_modules_match_the_functions():
    x, y = t(LOGITS), t(LABELS)
    pairs = [
        (nn.CrossEntropyLoss(weight=CLASS_WEIGHT, label_smoothing=0.1)(x, y),
         F.cross_entropy(x, y, t(CLASS_WEIGHT), label_smoothing=0.1)),
        (nn.NLLLoss(reduction="sum")(x, y), F.nll_loss(x, y, reduction="sum")),
        (nn.MSELoss()(x, t(PROBS)), F.mse_loss(x, t(PROBS))),
        (nn.L1Loss(reduction="none")(x, t(PROBS)), F.l1_loss(x, t(PROBS), reduction="none")),
        (nn.BCELoss()(t(PROBS), t(PROBS)), F.binary_cross_entropy(t(PROBS), t(PROBS))),
        (nn.BCEWithLogitsLoss(pos_weight=np.array([1.0, 2.0, 3.0]))(x, t(PROBS)),
         F.binary_cross_entropy_with_logits(x, t(PROBS), pos_weight=t(np.array([1.0, 2.0, 3.0])))),
    ]
    for ours, expected in pairs:
        np.testing.assert_allclose(ours.numpy(), expected.numpy())
    assert "weight" in nn.CrossEntropyLoss(weight=CLASS_WEIGHT).state_dict()
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="average")
