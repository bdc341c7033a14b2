"""In-place changes and the version counter; grad mode per thread.

A change in place that a backward would silently see raises instead (as in PyTorch);
one that autograd can record is recorded, and its gradients equal those of the same
computation written out of place (and PyTorch's).
"""
import threading

import numpy as np
import pytest

from helpers import assert_raises_naming, require

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim


def rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


def leaf(*shape, seed=0):
    return mdl.tensor(rand(*shape, seed=seed), requires_grad=True)


# ----------------------------------------------------------------------------
# the version counter
# ----------------------------------------------------------------------------
def test_in_place_methods_bump_the_version_and_change_the_values():
    x = mdl.tensor([1.0, 2.0, 3.0])
    steps = [(lambda t: t.add_(1), [2, 3, 4]), (lambda t: t.sub_(mdl.tensor(1.0), alpha=2), [0, 1, 2]),
             (lambda t: t.mul_(3), [0, 3, 6]), (lambda t: t.div_(2), [0, 1.5, 3]),
             (lambda t: t.clamp_(0.5, 2), [0.5, 1.5, 2]), (lambda t: t.fill_(7), [7, 7, 7]),
             (lambda t: t.copy_(mdl.tensor([1, 2, 3])), [1, 2, 3]), (lambda t: t.zero_(), [0, 0, 0])]
    for version, (step, expected) in enumerate(steps, start=1):
        assert step(x) is x
        assert x._version == version
        np.testing.assert_array_equal(x.numpy(), expected)


def test_setitem_writes_like_numpy():
    x = mdl.zeros(3, 4)
    x[0] = 1.0
    x[1, 1:3] = mdl.tensor([2.0, 3.0])
    x[x == 0] = -1.0
    x[mdl.tensor([2, 2]), mdl.tensor([0, 3])] = 5.0
    expected = np.full((3, 4), -1.0)
    expected[0], expected[1, 1:3], expected[2, [0, 3]] = 1, [2, 3], 5
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x._version == 4


def test_views_share_the_version_counter():
    x = mdl.zeros(3, 4)
    row, flat, detached = x[0], x.reshape(-1), x.detach()
    row.add_(1)
    assert x._version == flat._version == detached._version == 1
    np.testing.assert_array_equal(x.numpy()[0], 1)       # the view wrote into x's memory
    copy = x[np.array([0, 2])]                             # fancy indexing copies
    copy.add_(1)
    assert x._version == 1 and copy._version == 1


def test_changing_a_saved_input_in_place_is_an_error_naming_the_op_and_versions():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    w = mdl.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    with mdl.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match=r"Mul backward.*input 1.*\(2,\).*version 1.*version 0"):
        y.backward()


def test_an_optimizer_step_between_two_backwards_is_caught():
    """The issue's example: retain_graph, step, backward again."""
    mdl.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    out = model(mdl.randn(4, 3)).sum()
    out.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="changed in place"):
        out.backward()


def test_ops_that_do_not_read_their_input_do_not_mind():
    """Add's gradient needs no values, so changing an input afterwards is fine (as in PyTorch)."""
    x, b = leaf(3), leaf(3, seed=1)
    y = (x + b).sum()
    with mdl.no_grad():
        b.add_(5)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 1)


def test_changing_an_output_that_backward_reads_is_an_error():
    x = leaf(3)
    y = x.exp()
    y.add_(1)  # exp's backward uses its output, which now holds other numbers
    with pytest.raises(RuntimeError, match="Exp backward.*output 0"):
        y.sum().backward()


def test_init_batch_norm_and_load_state_dict_bump_versions():
    layer = nn.Linear(2, 2)
    before = layer.weight._version
    nn.init.zeros_(layer.weight)
    assert layer.weight._version == before + 1
    bn = nn.BatchNorm1d(2)
    bn(mdl.randn(4, 2))
    assert bn.running_mean._version == 1 and bn.num_batches_tracked._version == 1


# ----------------------------------------------------------------------------
# what autograd refuses and what it records
# ----------------------------------------------------------------------------
def test_a_leaf_that_requires_grad_cannot_change_in_place_while_recording():
    w = leaf(3)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad.*no_grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="setitem: a leaf"):
        w[0] = 2.0
    with mdl.no_grad():
        w.add_(1)  # how optimizers do it
    assert w._version == 1 and w.is_leaf


def in_place_chain(x, w):
    """mul_, add_, setitem, a view's mul_ and clamp_ on an intermediate result."""
    y = x * 1.5
    y.mul_(w)
    y.add_(x, alpha=0.5)
    y[1] = w[0] * 3
    y[2:].mul_(w[2:])
    y.clamp_(-2, 2)
    return y * x


def out_of_place_chain(x, w):
    y = x * 1.5 * w + 0.5 * x
    y = F.cat([y[:1], (w[0] * 3).reshape(1), y[2:] * w[2:]])
    return y.clamp(-2, 2) * x


def test_recorded_in_place_changes_give_the_out_of_place_gradients():
    x, w = leaf(4), leaf(4, seed=1)
    np.testing.assert_allclose(in_place_chain(x, w).numpy(), out_of_place_chain(x, w).numpy())
    cotangent = mdl.tensor(rand(4, seed=3))
    in_place = mdl.grad(in_place_chain(x, w), [x, w], cotangent)
    written_out = mdl.grad(out_of_place_chain(x, w), [x, w], cotangent)
    for a, b in zip(in_place, written_out):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert mdl.gradcheck(in_place_chain, [x, w])
    assert mdl.gradgradcheck(in_place_chain, [x, w])


def test_in_place_chain_matches_pytorch():
    torch = require("torch")
    arrays = rand(4), rand(4, seed=1)
    ours = [mdl.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    cotangent = rand(4, seed=3)
    in_place_chain(*ours).backward(mdl.tensor(cotangent))
    in_place_chain(*theirs).backward(torch.tensor(cotangent))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_ops_that_used_the_old_value_still_get_its_gradient():
    """z was computed from y before y.mul_(3): z's gradient must not pass through the *3."""
    x = leaf(3)
    y = x * 2
    z = y + 1           # Add does not read y: no version error, but its gradient must go
    y.mul_(3)           # to y's *old* creator
    (z.sum() + y.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 6)


def test_in_place_on_a_non_indexing_view_of_a_graph_tensor_is_refused_clearly():
    y = leaf(2, 3) * 1
    with pytest.raises(RuntimeError, match="view.*reshape.*indexing"):
        y.reshape(-1).add_(1)


def test_writing_into_an_expanded_view_is_refused_clearly():
    x = mdl.zeros(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="add_.*cannot be written.*clone"):
        x.add_(1)


@pytest.mark.parametrize("call, words", [
    (lambda: mdl.zeros(3).add_(mdl.ones(2, 3)), ["add_", "(2, 3)", "(3,)"]),
    (lambda: mdl.zeros(3, dtype=np.int64).add_(0.5), ["add_", "float", "int64"]),
    (lambda: mdl.zeros(3).copy_(mdl.ones(4)), ["copy_", "(4,)", "(3,)"]),
])
def test_in_place_shape_and_dtype_errors_are_clear(call, words):
    assert_raises_naming(RuntimeError, call, words)


# ----------------------------------------------------------------------------
# grad mode and anomaly mode belong to a thread
# ----------------------------------------------------------------------------
def test_no_grad_in_one_thread_does_not_switch_off_another():
    inside, done = threading.Event(), threading.Event()

    def inference():
        with mdl.no_grad():
            inside.set()
            done.wait(10)

    thread = threading.Thread(target=inference)
    thread.start()
    try:
        assert inside.wait(10)
        assert mdl.is_grad_enabled()
        x = leaf(3)
        y = (x * 2).sum()
        assert y.requires_grad
        y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), 2)
    finally:
        done.set()
        thread.join()


def test_training_beside_an_inference_thread_never_fails():
    """The issue's measurement: 300 training steps beside a thread doing inference."""
    mdl.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=0.01)
    stop, failures = threading.Event(), []

    def inference():
        while not stop.is_set():
            with mdl.no_grad():
                model(mdl.randn(8, 4))

    thread = threading.Thread(target=inference)
    thread.start()
    try:
        for _ in range(300):
            try:
                loss = model(mdl.randn(8, 4)).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            except RuntimeError as exc:
                failures.append(exc)
    finally:
        stop.set()
        thread.join()
    assert not failures


def test_grad_mode_and_anomaly_mode_start_fresh_in_a_new_thread():
    seen = {}
    with mdl.no_grad(), mdl.detect_anomaly():
        thread = threading.Thread(target=lambda: seen.update(
            grad=mdl.is_grad_enabled(), anomaly=mdl.autograd.is_anomaly_enabled()))
        thread.start()
        thread.join()
        assert not mdl.is_grad_enabled()
    assert seen == {"grad": True, "anomaly": False}


def test_no_grad_and_set_grad_enabled_as_decorators_and_managers():
    @mdl.no_grad()
    def predict(x):
        return x * 2

    assert not predict(leaf(2)).requires_grad
    with mdl.set_grad_enabled(False):
        assert not mdl.is_grad_enabled()
        with mdl.enable_grad():
            assert (leaf(2) * 2).requires_grad
    assert mdl.is_grad_enabled()
