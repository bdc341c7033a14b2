"""Optimizers and gradient clipping.

Each optimizer's first steps are checked against its textbook update written out here
in NumPy (and against torch.optim when PyTorch is installed); each must then find the
minimum of a convex quadratic and of the Rosenbrock function. Clipping is checked
against its definition, and an optimizer's state must survive minidl.save / minidl.load
and resume exactly. Learning-rate schedules have their own file, test_lr_scheduler.py.
"""
import math

import numpy as np
import pytest
from helpers import require

import minidl as mdl
from minidl import io, nn, optim
from minidl.nn.utils import clip_grad_norm_, clip_grad_value_
from minidl.optim import lr_scheduler


# ----------------------------------------------------------------------------
# the function the first steps are taken on, with its gradient in closed form
# ----------------------------------------------------------------------------
P0 = np.array([0.5, -1.2, 2.0, 0.1])
TARGET = np.array([1.0, 2.0, -1.0, 0.3])
WEIGHT = np.array([1.0, 3.0, 0.5, 10.0])


def objective(p, constant=np.asarray):
    """f(p) = sum(w * (p - c)^2) + sum(p^4) / 10: convex, with gradients of varied size.

    p is a minidl or a torch tensor; `constant` makes c and w the same kind.
    """
    return (constant(WEIGHT) * (p - constant(TARGET)) ** 2).sum() + (p ** 4).sum() / 10


def objective_grad(p):
    return 2 * WEIGHT * (p - TARGET) + 0.4 * p ** 3


def minidl_steps(make_optimizer, steps=3, dtype=np.float64):
    """Positions after each of `steps` updates, with gradients from minidl's autograd."""
    p = mdl.tensor(P0, dtype=dtype, requires_grad=True)
    opt = make_optimizer([p])
    positions = []
    for _ in range(steps):
        opt.zero_grad()
        objective(p).backward()
        opt.step()
        positions.append(p.numpy().copy())
    return np.array(positions)


def torch_steps(torch_class, kwargs, steps=3):
    torch = require("torch")
    p = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, torch_class)([p], **kwargs)
    positions = []
    for _ in range(steps):
        opt.zero_grad()
        objective(p, torch.tensor).backward()
        opt.step()
        positions.append(p.detach().numpy().copy())
    return np.array(positions)


# ----------------------------------------------------------------------------
# textbook updates, written out
# ----------------------------------------------------------------------------
def textbook_sgd(steps, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    p, b, out = P0.copy(), None, []
    for _ in range(steps):
        g = objective_grad(p) + weight_decay * p
        if momentum:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
        out.append(p)
    return np.array(out)


def textbook_adagrad(steps, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                     eps=1e-10):
    p, s, out = P0.copy(), np.full_like(P0, initial_accumulator_value), []
    for t in range(1, steps + 1):
        g = objective_grad(p) + weight_decay * p
        s = s + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(p)
    return np.array(out)


def textbook_rmsprop(steps, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                     centered=False):
    p, out = P0.copy(), []
    v, m, b = np.zeros_like(P0), np.zeros_like(P0), np.zeros_like(P0)
    for _ in range(steps):
        g = objective_grad(p) + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        m = alpha * m + (1 - alpha) * g
        s = np.sqrt(v - m ** 2 if centered else v) + eps
        if momentum:
            b = momentum * b + g / s
            p = p - lr * b
        else:
            p = p - lr * g / s
        out.append(p)
    return np.array(out)


def textbook_adam(steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                  decoupled=False):
    (b1, b2), p, out = betas, P0.copy(), []
    m, v, vmax = np.zeros_like(P0), np.zeros_like(P0), np.zeros_like(P0)
    for t in range(1, steps + 1):
        g = objective_grad(p)
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        vmax = np.maximum(vmax, v)
        v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v_hat) + eps)
        out.append(p)
    return np.array(out)


# (name, minidl class, textbook, kwargs, torch class)
FIRST_STEPS = [
    ("GD", optim.GD, textbook_sgd, dict(lr=0.05), "SGD"),
    ("SGD", optim.SGD, textbook_sgd, dict(lr=0.05), "SGD"),
    ("SGD momentum dampening", optim.SGD, textbook_sgd,
     dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1), "SGD"),
    ("SGD nesterov", optim.SGD, textbook_sgd,
     dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1), "SGD"),
    ("Adagrad", optim.Adagrad, textbook_adagrad,
     dict(lr=0.3, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.2), "Adagrad"),
    ("RMSprop", optim.RMSprop, textbook_rmsprop, dict(lr=0.01, alpha=0.9), "RMSprop"),
    ("RMSprop centered momentum", optim.RMSprop, textbook_rmsprop,
     dict(lr=0.01, alpha=0.9, momentum=0.8, centered=True, weight_decay=0.1), "RMSprop"),
    ("Adam", optim.Adam, textbook_adam, dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.1), "Adam"),
    ("Adam amsgrad", optim.Adam, textbook_adam,
     dict(lr=0.1, betas=(0.8, 0.9), amsgrad=True), "Adam"),
    ("AdamW", optim.AdamW, textbook_adam, dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.5),
     "AdamW"),
]
IDS = [case[0] for case in FIRST_STEPS]


@pytest.mark.parametrize("name, cls, textbook, kwargs, torch_class", FIRST_STEPS, ids=IDS)
def test_first_steps_equal_the_textbook_update(name, cls, textbook, kwargs, torch_class):
    ours = minidl_steps(lambda params: cls(params, **kwargs), steps=5)
    expected = textbook(5, **kwargs, **({"decoupled": True} if cls is optim.AdamW else {}))
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ours[0], P0)  # the optimizer moved


@pytest.mark.parametrize("name, cls, textbook, kwargs, torch_class", FIRST_STEPS, ids=IDS)
def test_first_steps_equal_torch_optim(name, cls, textbook, kwargs, torch_class):
    ours = minidl_steps(lambda params: cls(params, **kwargs), steps=5)
    np.testing.assert_allclose(ours, torch_steps(torch_class, kwargs, steps=5), rtol=1e-12,
                               atol=1e-14)


def test_amsgrad_differs_from_adam_once_the_average_shrinks():
    # the check above would pass for an AMSGrad that ignored the maximum if v never shrank
    plain = textbook_adam(5, lr=0.1, betas=(0.8, 0.9))
    ams = textbook_adam(5, lr=0.1, betas=(0.8, 0.9), amsgrad=True)
    assert not np.allclose(plain, ams)


def test_float32_parameters_stay_float32_and_match_float64_closely():
    for cls, kwargs in [(optim.SGD, dict(lr=0.05, momentum=0.9)), (optim.Adam, dict(lr=0.1)),
                        (optim.RMSprop, dict(lr=0.01, centered=True))]:
        single = minidl_steps(lambda params: cls(params, **kwargs), dtype=np.float32)
        double = minidl_steps(lambda params: cls(params, **kwargs), dtype=np.float64)
        assert single.dtype == np.float32
        np.testing.assert_allclose(single, double, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------
# reaching the minimum
# ----------------------------------------------------------------------------
def rosenbrock_grad(v):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1)."""
    x, y = v
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


# (name, optimizer, steps, ExponentialLR gamma per step or None, tolerance on max |p - 1|)
ROSENBROCK = [
    ("GD", lambda p: optim.GD(p, lr=1.5e-3), 30000, None, 1e-6),
    ("SGD momentum", lambda p: optim.SGD(p, lr=1e-3, momentum=0.9), 5000, None, 1e-6),
    ("SGD nesterov", lambda p: optim.SGD(p, lr=5e-4, momentum=0.95, nesterov=True), 3000, None,
     1e-4),
    ("Adagrad", lambda p: optim.Adagrad(p, lr=0.5), 20000, None, 1e-4),
    ("RMSprop decaying lr", lambda p: optim.RMSprop(p, lr=1e-2), 10000, 0.999, 1e-4),
    ("RMSprop momentum", lambda p: optim.RMSprop(p, lr=1e-4, momentum=0.9), 5000, None, 1e-4),
    ("RMSprop centered momentum",
     lambda p: optim.RMSprop(p, lr=1e-4, momentum=0.9, centered=True), 5000, None, 1e-4),
    ("Adam", lambda p: optim.Adam(p, lr=0.02), 3000, None, 1e-4),
    ("Adam amsgrad", lambda p: optim.Adam(p, lr=0.05, amsgrad=True), 3000, None, 1e-4),
    # decoupled decay pulls the weights towards 0, so AdamW stops a little short of (1, 1)
    ("AdamW", lambda p: optim.AdamW(p, lr=0.02, weight_decay=1e-4), 3000, None, 1e-3),
]


@pytest.mark.parametrize("name, make, steps, gamma, tol", ROSENBROCK,
                         ids=[case[0] for case in ROSENBROCK])
def test_reaches_the_rosenbrock_minimum_from_minus_1_5_2(name, make, steps, gamma, tol):
    p = mdl.tensor([-1.5, 2.0], dtype=np.float64, requires_grad=True)
    opt = make([p])
    schedule = lr_scheduler.ExponentialLR(opt, gamma) if gamma else None
    for _ in range(steps):
        p.grad = mdl.Tensor(rosenbrock_grad(p.data))  # the optimizer is under test, not autograd
        opt.step()
        if schedule:
            schedule.step()
    assert np.abs(p.numpy() - 1).max() < tol


def make_quadratic(n=6, seed=0):
    """f(x) = x^T A x / 2 - b^T x, A symmetric positive definite with eigenvalues in [1, 10]."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = q @ np.diag(np.linspace(1, 10, n)) @ q.T
    b = rng.normal(size=n)
    return a, b, np.linalg.solve(a, b)


QUADRATIC = [
    ("GD", lambda p: optim.GD(p, lr=0.15), 150),
    ("SGD momentum", lambda p: optim.SGD(p, lr=0.05, momentum=0.8), 150),
    ("SGD nesterov", lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True), 150),
    ("Adagrad", lambda p: optim.Adagrad(p, lr=1.0), 300),
    ("RMSprop momentum centered",
     lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True), 300),
    ("Adam", lambda p: optim.Adam(p, lr=0.05), 400),
    ("Adam amsgrad", lambda p: optim.Adam(p, lr=0.05, amsgrad=True), 400),
    ("AdamW no decay", lambda p: optim.AdamW(p, lr=0.05, weight_decay=0.0), 400),
]


@pytest.mark.parametrize("name, make, steps", QUADRATIC, ids=[case[0] for case in QUADRATIC])
def test_reaches_the_minimum_of_a_convex_quadratic_using_a_closure(name, make, steps):
    a, b, solution = make_quadratic()
    a_t, b_t = mdl.tensor(a, dtype=np.float64), mdl.tensor(b, dtype=np.float64)
    x = mdl.zeros(len(b), dtype=np.float64, requires_grad=True)
    opt = make([x])

    def closure():
        opt.zero_grad()
        ax = (a_t * x).sum(axis=1)  # A @ x, elementwise: the optimizer is under test, not matmul
        loss = (x * ax).sum() / 2 - (b_t * x).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        loss = opt.step(closure)
    assert np.abs(x.numpy() - solution).max() < 1e-6
    assert loss.item() == pytest.approx(-b @ solution / 2, abs=1e-6)


# ----------------------------------------------------------------------------
# the Optimizer base class
# ----------------------------------------------------------------------------
def test_step_changes_the_parameter_in_place_and_builds_no_graph():
    p = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    array = p.data
    (p * p).sum().backward()
    grad_before = p.grad.numpy().copy()
    optim.Adam([p], lr=0.1).step()
    assert p.data is array and p.is_leaf
    np.testing.assert_array_equal(p.grad.numpy(), grad_before)


def test_read_only_gradient_is_not_written_to():
    p = mdl.tensor([1.0, 2.0], requires_grad=True)
    p.sum().backward()  # the gradient of a sum is a read-only broadcast of 1
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), optim.RMSprop([p]),
                optim.Adagrad([p]), optim.AdamW([p])):
        opt.step()
        opt.step()
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, 1.0])


def test_zero_grad_none_or_zeros_and_parameters_without_grad_are_skipped():
    a = mdl.tensor([1.0, 2.0], requires_grad=True)
    b = mdl.tensor([3.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    (a * 2).sum().backward()
    opt.step()
    np.testing.assert_allclose(a.numpy(), [0.0, 1.0])
    np.testing.assert_allclose(b.numpy(), [3.0])  # no gradient: untouched, no state
    assert b not in opt.state
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_parameter_groups_take_their_own_lr_and_defaults_fill_the_rest():
    a = mdl.tensor([1.0], requires_grad=True)
    b = mdl.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[1]["momentum"] == 0.9
    (a + b).sum().backward()
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.5])
    c = mdl.tensor([1.0], requires_grad=True)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0


def test_bad_arguments_are_clear_errors():
    p = mdl.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="Adam: betas\\[1\\] must be in \\[0, 1\\), got 1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="SGD: lr must be >= 0"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="RMSprop: alpha must be in"):
        optim.RMSprop([p], alpha=1.5)
    with pytest.raises(ValueError, match="empty list of parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="leaf tensors.*Mul"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([mdl.tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="unknown hyperparameters \\['momentun'\\]"):
        optim.SGD([{"params": [p], "momentun": 0.9}], lr=0.1)


# every hyperparameter an optimizer checks, with the whole message it gives
BAD_HYPERPARAMETERS = [
    (optim.SGD, dict(momentum=-0.5), "SGD: momentum must be >= 0.0, got -0.5"),
    (optim.SGD, dict(weight_decay=-0.5), "SGD: weight_decay must be >= 0.0, got -0.5"),
    (optim.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True),
     "SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum=0.9, dampening=0.1"),
    (optim.Adagrad, dict(lr_decay=-0.5), "Adagrad: lr_decay must be >= 0.0, got -0.5"),
    (optim.Adagrad, dict(weight_decay=-0.5), "Adagrad: weight_decay must be >= 0.0, got -0.5"),
    (optim.Adagrad, dict(initial_accumulator_value=-0.5),
     "Adagrad: initial_accumulator_value must be >= 0.0, got -0.5"),
    (optim.Adagrad, dict(eps=-0.5), "Adagrad: eps must be >= 0.0, got -0.5"),
    (optim.RMSprop, dict(alpha=1.0), "RMSprop: alpha must be in [0, 1), got 1.0"),
    (optim.RMSprop, dict(eps=-0.5), "RMSprop: eps must be >= 0.0, got -0.5"),
    (optim.RMSprop, dict(weight_decay=-0.5), "RMSprop: weight_decay must be >= 0.0, got -0.5"),
    (optim.RMSprop, dict(momentum=-0.5), "RMSprop: momentum must be >= 0.0, got -0.5"),
    (optim.Adam, dict(betas=(0.9,)), "Adam: betas must be a pair (beta1, beta2), got (0.9,)"),
    (optim.Adam, dict(betas=(-0.1, 0.9)), "Adam: betas[0] must be in [0, 1), got -0.1"),
    (optim.Adam, dict(eps=-0.5), "Adam: eps must be >= 0.0, got -0.5"),
    (optim.AdamW, dict(weight_decay=-0.5), "AdamW: weight_decay must be >= 0.0, got -0.5"),
    (optim.GD, dict(lr=-0.5), "GD: lr must be >= 0.0, got -0.5"),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD_HYPERPARAMETERS,
                         ids=[m.partition(" must")[0] for _, _, m in BAD_HYPERPARAMETERS])
def test_each_bad_hyperparameter_gets_its_own_whole_message(cls, kwargs, message):
    with pytest.raises(ValueError) as error:
        cls([mdl.tensor([1.0], requires_grad=True)], **kwargs)
    assert str(error.value) == message


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_defaults_are_torchs(name):
    torch = require("torch")
    ours = getattr(optim, name)([mdl.zeros(2, requires_grad=True)]).param_groups[0]
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    settings = {k: v for k, v in ours.items() if k != "params"}
    assert set(settings) <= set(theirs)
    for key, value in settings.items():
        assert value == theirs[key] and type(value) is type(theirs[key]) or \
            isinstance(value, float) and isinstance(theirs[key], int), (key, value, theirs[key])


def test_gd_defaults_to_sgds_lr_and_nothing_else():
    assert optim.GD([mdl.zeros(2, requires_grad=True)]).defaults == {"lr": 1e-3}


# settings of exactly 1.0 (and betas[0] = 0, the edge of its range): an update that skipped
# a term for that one value would be caught here; then maximize, and AdamW's amsgrad
SETTINGS_AT_ONE = [
    ("SGD", optim.SGD, dict(lr=0.05, weight_decay=1.0)),
    ("SGD", optim.SGD, dict(lr=0.01, momentum=1.0)),
    ("Adam", optim.Adam, dict(lr=0.1, betas=(0.0, 0.9))),
    ("SGD", optim.SGD, dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adagrad", optim.Adagrad, dict(lr=0.3, maximize=True)),
    ("RMSprop", optim.RMSprop, dict(lr=0.01, maximize=True)),
    ("Adam", optim.Adam, dict(lr=0.1, maximize=True)),
    ("AdamW", optim.AdamW, dict(lr=0.1, maximize=True)),
    ("AdamW", optim.AdamW, dict(lr=0.1, betas=(0.8, 0.9), amsgrad=True)),
    ("Adagrad", optim.Adagrad, dict(lr=0.3, weight_decay=1.0)),
    ("RMSprop", optim.RMSprop, dict(lr=0.01, weight_decay=1.0)),
    ("Adam", optim.Adam, dict(lr=0.1, weight_decay=1.0)),
]


@pytest.mark.parametrize("name, cls, kwargs", SETTINGS_AT_ONE,
                         ids=[f"{c[0]} {c[2]}" for c in SETTINGS_AT_ONE])
def test_settings_of_one_equal_torch(name, cls, kwargs):
    ours = minidl_steps(lambda params: cls(params, **kwargs), steps=3)
    np.testing.assert_allclose(ours, torch_steps(name, kwargs, steps=3), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop", "Adam"])
def test_the_state_holds_torchs_entries_and_step_count(name):
    torch = require("torch")
    p = mdl.tensor(P0, requires_grad=True)
    opt = getattr(optim, name)([p])
    for _ in range(3):
        opt.zero_grad()
        objective(p).backward()
        opt.step()
    tp = torch.tensor(P0, requires_grad=True)
    topt = getattr(torch.optim, name)([tp])
    for _ in range(3):
        topt.zero_grad()
        objective(tp, torch.tensor).backward()
        topt.step()
    ours, theirs = opt.state_dict()["state"][0], topt.state_dict()["state"][0]
    assert set(ours) == set(theirs)
    assert ours["step"] == float(theirs["step"]) == 3
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12)


def test_step_skips_a_parameter_without_gradient_and_updates_the_next():
    a, b = mdl.zeros(2, requires_grad=True), mdl.ones(2, requires_grad=True)
    b.grad = mdl.ones(2)
    assert optim.SGD([a, b], lr=0.5).step() is None      # no closure: no loss
    assert a.grad is None
    np.testing.assert_array_equal(a.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(b.numpy(), [0.5, 0.5])


def test_a_gradient_of_another_shape_is_an_error_at_step():
    p = mdl.zeros(3, requires_grad=True)
    p.grad = mdl.zeros(2)
    with pytest.raises(RuntimeError) as error:
        optim.SGD([p], lr=0.1).step()
    assert str(error.value) == ("SGD.step: gradient (2,) on cpu does not match its parameter "
                                "(3,) on cpu")


def test_zero_grad_without_set_to_none_zeroes_every_gradient_after_a_missing_one():
    a, b = mdl.zeros(2, requires_grad=True), mdl.ones(3, requires_grad=True)
    b.grad = mdl.ones(3)
    optim.SGD([a, b]).zero_grad(set_to_none=False)
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(3))
    assert b.grad.dtype == b.dtype


def test_load_state_dict_errors_name_what_does_not_fit():
    a, b = mdl.zeros(2, requires_grad=True), mdl.zeros(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    with pytest.raises(ValueError) as error:
        opt.load_state_dict(two_groups)
    assert str(error.value) == ("SGD.load_state_dict: the state has 2 parameter groups, "
                                "this optimizer 1")
    stray = {**opt.state_dict(), "state": {5: {"momentum_buffer": mdl.zeros(2)}}}
    with pytest.raises(ValueError) as error:
        opt.load_state_dict(stray)
    assert str(error.value) == ("SGD.load_state_dict: state for parameter 5, which no group "
                                "lists")
    wrong = {**opt.state_dict(), "state": {0: {"momentum_buffer": mdl.zeros(3)}}}
    with pytest.raises(ValueError) as error:
        opt.load_state_dict(wrong)
    assert str(error.value) == ("SGD.load_state_dict: state 'momentum_buffer' of parameter 0 "
                                "has shape (3,), but the parameter has shape (2,)")


def test_a_loaded_state_takes_the_parameters_dtype():
    p64 = mdl.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    opt = optim.SGD([p64], lr=0.1, momentum=0.9)
    p64.grad = mdl.tensor([1.0, 1.0], dtype=np.float64)
    opt.step()
    p32 = mdl.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    opt32 = optim.SGD([p32], lr=0.1, momentum=0.9)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[p32]["momentum_buffer"].dtype == np.float32


def test_repr_lists_each_group_with_its_settings():
    a, b = mdl.zeros(2, requires_grad=True), mdl.zeros(3, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert repr(opt) == (
        "SGD (\n"
        "  group 0: 1 tensors, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, "
        "nesterov=False, maximize=False\n"
        "  group 1: 1 tensors, lr=0.5, momentum=0.9, dampening=0.0, weight_decay=0.0, "
        "nesterov=False, maximize=False\n"
        ")")
    assert repr(optim.optimizer.required) == "<required>"


def test_optimizes_the_parameters_of_a_module():
    mdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 1))
    x = mdl.randn(32, 3)
    y = x @ mdl.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    for _ in range(60):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-6


# ----------------------------------------------------------------------------
# state_dict and io
# ----------------------------------------------------------------------------
def train_steps(opt, p, steps):
    for _ in range(steps):
        opt.zero_grad()
        objective(p).backward()
        opt.step()


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: optim.Adagrad(ps, lr=0.3, lr_decay=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.8, centered=True),
    lambda ps: optim.Adam(ps, lr=0.1, betas=(0.8, 0.9), amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=0.1),
], ids=["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_state_dict_round_trip_through_io_resumes_exactly(make, tmp_path):
    # one run of 6 steps, and one of 3 steps, saved, loaded into new objects, then 3 more
    p = mdl.tensor(P0, dtype=np.float64, requires_grad=True)
    straight = make([p])
    train_steps(straight, p, 6)

    q = mdl.tensor(P0, dtype=np.float64, requires_grad=True)
    first = make([q])
    train_steps(first, q, 3)
    io.save({"param": q, "optimizer": first.state_dict()}, tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as raw:  # plain arrays, no pickle
        assert "optimizer.param_groups.0.lr" in raw.files
    saved = io.load(tmp_path / "ckpt.npz")
    r = mdl.tensor(saved["param"], requires_grad=True)
    second = make([r])
    second.param_groups[0]["lr"] = 123.0  # overwritten by the loaded hyperparameters
    second.load_state_dict(saved["optimizer"])
    train_steps(second, r, 3)
    np.testing.assert_allclose(r.numpy(), p.numpy(), rtol=1e-14, atol=1e-15)


def test_state_dict_is_a_snapshot_and_indexes_parameters_over_groups():
    a = mdl.tensor([1.0, 2.0], requires_grad=True)
    b = mdl.tensor([3.0], requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    (a.sum() + b.sum() * 2).backward()
    opt.step()
    state = opt.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert state["state"][1]["step"] == 1
    before = state["state"][0]["exp_avg"].numpy().copy()
    opt.step()
    np.testing.assert_array_equal(state["state"][0]["exp_avg"].numpy(), before)


def test_load_state_dict_mismatch_is_an_error_and_changes_nothing():
    a = mdl.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    a.sum().backward()
    opt.step()
    other = optim.SGD([mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)], lr=0.7, momentum=0.9)
    with pytest.raises(ValueError, match="momentum_buffer.*shape \\(2,\\).*shape \\(3,\\)"):
        other.load_state_dict(opt.state_dict())
    assert other.state == {} and other.param_groups[0]["lr"] == 0.7
    two = optim.SGD([a, mdl.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the state but 2 here"):
        two.load_state_dict(opt.state_dict())


# ----------------------------------------------------------------------------
# gradient clipping
# ----------------------------------------------------------------------------
def params_with_grads(*grads):
    params = []
    for g in grads:
        p = mdl.tensor(np.zeros_like(g), dtype=np.float64, requires_grad=True)
        p.grad = mdl.tensor(g, dtype=np.float64)
        params.append(p)
    return params


G1, G2 = np.array([3.0, -4.0]), np.array([[12.0]])  # all together: norm 13, largest 12


def test_clip_grad_norm_scales_all_gradients_to_max_norm_and_returns_the_norm():
    params = params_with_grads(G1, G2)
    total = clip_grad_norm_(params, max_norm=6.5)
    assert total == pytest.approx(13.0)
    np.testing.assert_allclose(params[0].grad.numpy(), G1 / 2, rtol=1e-6)
    np.testing.assert_allclose(params[1].grad.numpy(), G2 / 2, rtol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone_and_skips_missing_ones():
    params = params_with_grads(G1, G2) + [mdl.tensor([1.0], requires_grad=True)]
    assert clip_grad_norm_(params, max_norm=20.0) == pytest.approx(13.0)
    np.testing.assert_array_equal(params[0].grad.numpy(), G1)
    assert params[2].grad is None
    assert clip_grad_norm_([params[2]], max_norm=1.0) == 0.0


@pytest.mark.parametrize("norm_type, expected", [(1.0, 19.0), (math.inf, 12.0), (3.0, None)])
def test_clip_grad_norm_other_norms(norm_type, expected):
    if expected is None:
        expected = (np.abs(np.concatenate([G1, G2.ravel()])) ** 3).sum() ** (1 / 3)
    params = params_with_grads(G1, G2)
    assert clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type) == pytest.approx(expected)
    flat = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert np.linalg.norm(flat, ord=norm_type) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_equals_torch():
    torch = require("torch")
    params = params_with_grads(G1, G2)
    ours = clip_grad_norm_(params, max_norm=2.0)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in (G1, G2)]
    for t_, g in zip(tensors, (G1, G2)):
        t_.grad = torch.tensor(g)
    theirs = torch.nn.utils.clip_grad_norm_(tensors, max_norm=2.0)
    assert ours == pytest.approx(theirs.item())
    for p, t_ in zip(params, tensors):
        np.testing.assert_allclose(p.grad.numpy(), t_.grad.numpy(), rtol=1e-12)


def test_clipping_works_on_read_only_and_shared_gradients():
    a = mdl.tensor([1.0, 2.0], requires_grad=True)
    b = mdl.tensor([1.0, 2.0], requires_grad=True)
    (a + b).sum().backward()  # read-only broadcast gradients, possibly one object for both
    clip_grad_norm_([a, b], max_norm=1.0)
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.5], rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 0.5], rtol=1e-5)


def test_clip_grad_norm_nonfinite():
    params = params_with_grads(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of the .* is inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_(params, 1.0) == math.inf
    np.testing.assert_array_equal(params[0].grad.numpy(), [np.inf, 1.0])


def test_clip_grad_value_clips_each_entry():
    params = params_with_grads(G1, G2)
    clip_grad_value_(params, 3.5)
    np.testing.assert_array_equal(params[0].grad.numpy(), [3.0, -3.5])
    np.testing.assert_array_equal(params[1].grad.numpy(), [[3.5]])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(params, -1.0)
    with pytest.raises(TypeError, match="clip_grad_value_: expected Tensors"):
        clip_grad_value_([np.zeros(2)], 1.0)
