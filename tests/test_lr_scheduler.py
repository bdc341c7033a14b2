"""Learning-rate schedules (minidl.optim.lr_scheduler).

Each schedule is checked against its closed form written out here, then step by step
against torch.optim.lr_scheduler (when PyTorch is installed) over 45 steps on an
optimizer with two parameter groups of different lrs: the lr of each group and its
momentum (SGD's momentum, RMSprop's, Adam's beta1), which only OneCycleLR moves.
ReduceLROnPlateau is driven by fixed metric sequences. Then: a state_dict saved with
minidl.save and loaded into a new schedule resumes exactly, last_epoch resumes as
PyTorch's does, and bad arguments get clear errors.
"""
import math

import numpy as np
import pytest
from helpers import require

import minidl as mdl
from minidl import io, optim
from minidl.optim import lr_scheduler

STEPS = 45
LRS = (0.1, 0.02)


# ----------------------------------------------------------------------------
# drivers: the same schedule on a minidl and a torch optimizer with two groups
# ----------------------------------------------------------------------------
def make_optimizer(lib, kind="sgd", lrs=LRS):
    """A minidl (lib = optim) or torch (lib = torch.optim) optimizer with two groups."""
    if lib is optim:
        params = [mdl.tensor([1.0], requires_grad=True) for _ in lrs]
    else:
        import torch
        params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    return {"sgd": lambda: lib.SGD(groups, lr=lrs[0], momentum=0.9),
            "adam": lambda: lib.Adam(groups, lr=lrs[0]),
            "rmsprop": lambda: lib.RMSprop(groups, lr=lrs[0], momentum=0.5)}[kind]()


def momentum(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def record(optimizer, schedule):
    """[lr of each group, momentum of each group, get_last_lr()...] as one row."""
    groups = optimizer.param_groups
    return [g["lr"] for g in groups] + [momentum(g) for g in groups] + schedule.get_last_lr()


def run(optimizer, schedule, steps, metrics=None):
    rows = [record(optimizer, schedule)]
    for t in range(steps):
        optimizer.step()
        if metrics is None:
            schedule.step()
        else:
            schedule.step(metrics[t])
        rows.append(record(optimizer, schedule))
    return np.array(rows)


def minidl_run(make, steps=STEPS, kind="sgd"):
    opt = make_optimizer(optim, kind)
    return run(opt, make(lr_scheduler, opt), steps)


def torch_run(make, steps=STEPS, kind="sgd"):
    torch = require("torch")
    opt = make_optimizer(torch.optim, kind)
    return run(opt, make(torch.optim.lr_scheduler, opt), steps)


def assert_same_as_torch(ours, theirs):
    """PyTorch updates lr(t) from lr(t - 1), so it agrees with the closed forms to rounding."""
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def warmup_then_inverse_sqrt(t):
    return min((t + 1) / 10, (10 / (t + 1)) ** 0.5)


# (id, make(module, optimizer)): the same code builds the minidl and the torch schedule
SCHEDULES = [
    ("StepLR", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    ("StepLR default gamma", lambda m, o: m.StepLR(o, 7)),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.3)),
    ("MultiStepLR default gamma, milestone 0", lambda m, o: m.MultiStepLR(o, [0, 2, 44])),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.93)),
    ("CosineAnnealingLR past T_max", lambda m, o: m.CosineAnnealingLR(o, T_max=15,
                                                                      eta_min=0.001)),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, STEPS)),
    ("LinearLR warm-up", lambda m, o: m.LinearLR(o)),
    ("LinearLR decay", lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                               total_iters=20)),
    ("LambdaLR one function", lambda m, o: m.LambdaLR(o, warmup_then_inverse_sqrt)),
    ("LambdaLR one per group", lambda m, o: m.LambdaLR(o, [lambda t: 0.9 ** t,
                                                            lambda t: 1 / (1 + t // 4)])),
    ("OneCycleLR", lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.05], total_steps=STEPS)),
    ("OneCycleLR three phases linear",
     lambda m, o: m.OneCycleLR(o, 0.3, epochs=9, steps_per_epoch=5, pct_start=0.25,
                               anneal_strategy="linear", base_momentum=[0.8, 0.7],
                               max_momentum=0.9, div_factor=10.0, final_div_factor=100.0,
                               three_phase=True)),
    ("OneCycleLR no momentum", lambda m, o: m.OneCycleLR(o, 0.2, total_steps=50, pct_start=0.5,
                                                         cycle_momentum=False)),
    ("OneCycleLR no warm-up", lambda m, o: m.OneCycleLR(o, 0.2, total_steps=STEPS,
                                                        pct_start=0.0)),
    ("SequentialLR linear, multistep, cosine",
     lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
                                     m.MultiStepLR(o, [5, 10], gamma=0.5),
                                     m.CosineAnnealingLR(o, T_max=20)], milestones=[5, 20])),
    ("SequentialLR lambda then exponential",
     lambda m, o: m.SequentialLR(o, [m.LambdaLR(o, warmup_then_inverse_sqrt),
                                     m.ExponentialLR(o, 0.8)], milestones=[30])),
    ("SequentialLR one cycle then exponential",
     lambda m, o: m.SequentialLR(o, [m.OneCycleLR(o, 0.5, total_steps=20),
                                     m.ExponentialLR(o, 0.9)], milestones=[20])),
]
SCHEDULE_IDS = [case[0] for case in SCHEDULES]
ONE_CYCLE = [case for case in SCHEDULES if case[0].startswith("OneCycleLR")]


# ----------------------------------------------------------------------------
# closed forms
# ----------------------------------------------------------------------------
t = np.arange(STEPS + 1)
# (id in SCHEDULES, lr(t) for a group that starts at lr0)
CLOSED_FORMS = [
    ("StepLR", lambda lr0: lr0 * 0.5 ** (t // 3)),
    ("MultiStepLR", lambda lr0: lr0 * 0.3 ** ((t >= 5).astype(int) + (t >= 12) + (t >= 30))),
    ("ExponentialLR", lambda lr0: lr0 * 0.93 ** t),
    ("CosineAnnealingLR past T_max",
     lambda lr0: 0.001 + (lr0 - 0.001) * (1 + np.cos(np.pi * t / 15)) / 2),
    ("LinearLR warm-up", lambda lr0: lr0 * (1 / 3 + 2 / 3 * np.minimum(t, 5) / 5)),
    ("LinearLR decay", lambda lr0: lr0 * (1 - 0.9 * np.minimum(t, 20) / 20)),
    ("LambdaLR one function", lambda lr0: lr0 * np.array([warmup_then_inverse_sqrt(s)
                                                          for s in t])),
    ("LambdaLR one per group", lambda lr0: lr0 * (0.9 ** t if lr0 == LRS[0] else 1 / (1 + t // 4))),
    ("SequentialLR linear, multistep, cosine",
     lambda lr0: np.where(t < 5, lr0 * (0.1 + 0.9 * t / 5),
                          np.where(t < 20, lr0 * 0.5 ** ((t >= 10).astype(int) + (t >= 15)),
                                   lr0 * (1 + np.cos(np.pi * (t - 20) / 20)) / 2))),
]


@pytest.mark.parametrize("name, closed_form", CLOSED_FORMS, ids=[c[0] for c in CLOSED_FORMS])
def test_schedule_follows_its_closed_form_in_every_group(name, closed_form):
    rows = minidl_run(dict(SCHEDULES)[name])
    for group, lr0 in enumerate(LRS):
        np.testing.assert_allclose(rows[:, group], closed_form(lr0), rtol=1e-12)
    np.testing.assert_array_equal(rows[:, 4:], rows[:, :2])  # get_last_lr() is what was set
    assert (rows[:, 2:4] == 0.9).all()  # the momentum is left alone


def test_one_cycle_rises_to_max_lr_then_anneals_to_its_minimum_with_momentum_opposite():
    opt = make_optimizer(optim)
    rows = run(opt, lr_scheduler.OneCycleLR(opt, [0.5, 0.05], total_steps=40), 40)
    peak = 11  # pct_start * total_steps - 1
    for group, max_lr in enumerate([0.5, 0.05]):
        lr, mom = rows[:, group], rows[:, 2 + group]
        assert lr[0] == pytest.approx(max_lr / 25) and mom[0] == pytest.approx(0.95)
        assert lr[peak] == pytest.approx(max_lr) and mom[peak] == pytest.approx(0.85)
        assert lr[39] == pytest.approx(max_lr / 25 / 1e4) and mom[39] == pytest.approx(0.95)
        assert (np.diff(lr[:peak + 1]) > 0).all() and (np.diff(lr[peak:40]) < 0).all()
        assert (np.diff(mom[:peak + 1]) < 0).all() and (np.diff(mom[peak:40]) > 0).all()


# ----------------------------------------------------------------------------
# against PyTorch
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, make", SCHEDULES, ids=SCHEDULE_IDS)
def test_schedule_equals_torch_with_sgd(name, make):
    assert_same_as_torch(minidl_run(make), torch_run(make))


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
@pytest.mark.parametrize("name, make", ONE_CYCLE, ids=[c[0] for c in ONE_CYCLE])
def test_one_cycle_cycles_adams_beta1_and_rmsprops_momentum_as_torch(name, make, kind):
    ours = minidl_run(make, kind=kind)
    assert_same_as_torch(ours, torch_run(make, kind=kind))
    if "no momentum" not in name:
        assert np.ptp(ours[:, 2]) > 0.05


def test_one_cycle_leaves_adams_beta2_alone():
    opt = make_optimizer(optim, "adam")
    schedule = lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10)
    for _ in range(4):
        schedule.step()
    assert [g["betas"][1] for g in opt.param_groups] == [0.999, 0.999]


# ----------------------------------------------------------------------------
# ReduceLROnPlateau
# ----------------------------------------------------------------------------
# a validation loss: improvements above and below the threshold, plateaus, a rise
LOSSES = [1.0, 0.8, 0.8, 0.8, 0.79995, 0.79, 0.79, 0.79, 0.79, 0.5, 0.5, 0.49999, 0.6, 0.7,
          0.45, 0.45, 0.449, 0.448, 0.447, 0.447, 0.447, 0.447, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
          0.2999, 0.29, 0.31, 0.32, 0.33, 0.28, 0.28, 0.28, 0.28, 0.28, 0.28, 0.28, 0.27,
          0.28, 0.28, 0.28, 0.28]
PLATEAUS = [
    ("min rel", dict(factor=0.5, patience=2), LOSSES),
    ("defaults, a long plateau", dict(), LOSSES[:20] + [0.447] * 25),
    ("max abs with cooldown", dict(mode="max", factor=0.3, patience=1, threshold=0.05,
                                   threshold_mode="abs", cooldown=2),
     [1 - x for x in LOSSES]),
    ("min_lr per group", dict(factor=0.5, patience=0, threshold=0.1, min_lr=[0.01, 0.004]),
     LOSSES),
    ("eps skips small cuts", dict(factor=0.9, patience=1, eps=5e-3, min_lr=0.001), LOSSES),
    ("max rel on negative metrics", dict(mode="max", threshold=0.01, patience=3, cooldown=1),
     [-x for x in LOSSES]),
    ("min abs", dict(factor=0.2, patience=1, threshold=0.005, threshold_mode="abs",
                     cooldown=1), LOSSES),
]
PLATEAU_IDS = [case[0] for case in PLATEAUS]


def plateau_run(lib, settings, metrics):
    """Each step's lrs, get_last_lr(), best, bad epochs and cooldown left."""
    if lib == "torch":
        torch = require("torch")
        opt = make_optimizer(torch.optim)
        schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **settings)
    else:
        opt = make_optimizer(optim)
        schedule = lr_scheduler.ReduceLROnPlateau(opt, **settings)
    rows = []
    for metric in metrics:
        schedule.step(metric)
        rows.append([g["lr"] for g in opt.param_groups] + schedule.get_last_lr()
                    + [schedule.best, schedule.num_bad_epochs, schedule.cooldown_counter])
    return np.array(rows)


def test_plateau_cuts_lr_after_patience_bad_epochs_then_cools_down():
    opt = make_optimizer(optim, lrs=(0.1,))
    schedule = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1)
    lrs = []
    for metric in [5, 4, 4, 4, 4, 4, 3.9999, mdl.tensor(3.0)]:
        schedule.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
    # 4 ties the best twice (bad epochs 1, 2 > patience): cut; one step of cooldown, then
    # 3.9999 is not below 4 * (1 - 1e-4) so it is a second bad epoch: cut again
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert schedule.best == 3.0 and schedule.last_epoch == 8


@pytest.mark.parametrize("name, settings, metrics", PLATEAUS, ids=PLATEAU_IDS)
def test_plateau_equals_torch(name, settings, metrics):
    ours = plateau_run("minidl", settings, metrics)
    np.testing.assert_allclose(ours, plateau_run("torch", settings, metrics), rtol=1e-12)
    assert len(np.unique(ours[:, 0])) > 1  # the case cuts lr at least once


def test_plateau_min_lr_floors_each_group():
    name, settings, metrics = PLATEAUS[3]
    lrs = plateau_run("minidl", settings, metrics)
    assert lrs[-1, 0] == 0.01 and lrs[-1, 1] == 0.004


# ----------------------------------------------------------------------------
# saving and resuming
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, make", SCHEDULES, ids=SCHEDULE_IDS)
def test_state_dict_saved_and_loaded_into_a_new_schedule_resumes_exactly(name, make, tmp_path):
    opt = make_optimizer(optim)
    schedule = make(lr_scheduler, opt)
    run(opt, schedule, 17)
    io.save({"schedule": schedule.state_dict()}, tmp_path / "schedule.npz")
    expected = run(opt, schedule, STEPS - 17 if "OneCycleLR" in name else 30)

    new_opt = make_optimizer(optim)
    resumed = make(lr_scheduler, new_opt)
    resumed.load_state_dict(io.load(tmp_path / "schedule.npz")["schedule"])
    np.testing.assert_array_equal(run(new_opt, resumed, len(expected) - 1), expected)


@pytest.mark.parametrize("name, settings, metrics", PLATEAUS, ids=PLATEAU_IDS)
def test_plateau_state_dict_resumes_exactly(name, settings, metrics, tmp_path):
    opt = make_optimizer(optim)
    schedule = lr_scheduler.ReduceLROnPlateau(opt, **settings)
    run(opt, schedule, 20, metrics)
    saved = schedule.state_dict()
    io.save(saved, tmp_path / "plateau.npz")
    expected = run(opt, schedule, 25, metrics[20:])
    new_opt = make_optimizer(optim)
    resumed = lr_scheduler.ReduceLROnPlateau(new_opt, **settings)
    resumed.load_state_dict(io.load(tmp_path / "plateau.npz"))
    assert resumed.state_dict() == saved  # best, bad epochs, cooldown left, lrs
    np.testing.assert_array_equal(run(new_opt, resumed, 25, metrics[20:]), expected)


def test_load_state_dict_takes_the_saved_settings_as_torch_does():
    saved = lr_scheduler.StepLR(make_optimizer(optim), step_size=2, gamma=0.5)
    for _ in range(3):
        saved.step()
    opt = make_optimizer(optim)
    other = lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)
    other.load_state_dict(saved.state_dict())
    assert (other.step_size, other.gamma, other.last_epoch) == (2, 0.5, 3)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.01])


class Warmup:
    """A callable object: its attributes go into LambdaLR's state_dict."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, t):
        return min(1.0, (t + 1) / self.steps)


def test_lambda_state_keeps_a_callable_objects_attributes_and_not_functions():
    opt = make_optimizer(optim)
    schedule = lr_scheduler.LambdaLR(opt, [Warmup(8), lambda t: 0.5])
    schedule.step()
    state = schedule.state_dict()
    assert state["lr_lambdas"] == [{"steps": 8}, None]
    other = lr_scheduler.LambdaLR(make_optimizer(optim), [Warmup(100), lambda t: 0.5])
    other.load_state_dict(state)
    assert other.lr_lambdas[0].steps == 8
    assert other.get_last_lr() == pytest.approx([0.1 * 2 / 8, 0.01])


RESUMABLE = [
    ("ExponentialLR", lambda m, o, e: m.ExponentialLR(o, 0.9, last_epoch=e)),
    ("CosineAnnealingLR", lambda m, o, e: m.CosineAnnealingLR(o, 12, 0.01, last_epoch=e)),
    ("LinearLR", lambda m, o, e: m.LinearLR(o, 0.2, total_iters=15, last_epoch=e)),
    ("LambdaLR", lambda m, o, e: m.LambdaLR(o, warmup_then_inverse_sqrt, last_epoch=e)),
    ("OneCycleLR", lambda m, o, e: m.OneCycleLR(o, [0.5, 0.05], total_steps=30,
                                                last_epoch=e)),
]


@pytest.mark.parametrize("name, make", RESUMABLE, ids=[c[0] for c in RESUMABLE])
def test_last_epoch_resumes_from_the_optimizers_state_as_torch(name, make):
    """Build at last_epoch=-1, step 10 times; a new optimizer loads the first one's state and
    a schedule made with last_epoch=9 carries on (t = 10, 11, ...) as the first one does."""
    torch = require("torch")

    def resume(lib, module):
        opt = make_optimizer(lib)
        schedule = make(module, opt, -1)
        run(opt, schedule, 10)
        state = opt.state_dict()
        uninterrupted = run(opt, schedule, 15)
        new_opt = make_optimizer(lib)
        new_opt.load_state_dict(state)
        resumed = make(module, new_opt, 9)
        assert resumed.last_epoch == 10
        return uninterrupted, run(new_opt, resumed, 15)

    uninterrupted, ours = resume(optim, lr_scheduler)
    np.testing.assert_array_equal(ours, uninterrupted)
    assert_same_as_torch(ours, resume(torch.optim, torch.optim.lr_scheduler)[1])


def test_last_epoch_resumes_step_lr_at_its_closed_form():
    """PyTorch's StepLR(last_epoch=2) here multiplies the loaded 0.05 by gamma again (0.025)."""
    opt = make_optimizer(optim)
    schedule = lr_scheduler.StepLR(opt, 3, gamma=0.5)
    run(opt, schedule, 3)
    new_opt = make_optimizer(optim)
    new_opt.load_state_dict(opt.state_dict())
    assert lr_scheduler.StepLR(new_opt, 3, gamma=0.5, last_epoch=2).get_last_lr() == [0.05, 0.01]


def test_last_epoch_needs_initial_lr_in_every_group():
    with pytest.raises(KeyError, match="groups \\[0, 1\\] have no 'initial_lr'"):
        lr_scheduler.StepLR(make_optimizer(optim), 3, last_epoch=4)


# ----------------------------------------------------------------------------
# errors and small contracts
# ----------------------------------------------------------------------------
def test_get_last_lr_is_a_copy_and_a_changed_group_count_is_an_error():
    opt = make_optimizer(optim)
    schedule = lr_scheduler.ExponentialLR(opt, 0.5)
    schedule.get_last_lr().append(7)
    assert schedule.get_last_lr() == [0.1, 0.02]
    opt.add_param_group({"params": [mdl.tensor([1.0], requires_grad=True)]})
    with pytest.raises(ValueError, match="ExponentialLR: the optimizer has 3 parameter groups, "
                                         "the schedule 2"):
        schedule.step()


BAD = [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError,
     "StepLR: step_size must be a positive integer"),
    (lambda o: lr_scheduler.MultiStepLR(o, [10, 5]), ValueError,
     r"MultiStepLR: milestones must be increasing non-negative integers, got \[10, 5\]"),
    (lambda o: lr_scheduler.MultiStepLR(o, [5, 5]), ValueError, "must be increasing"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be > 0"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, "0 < start_factor <= 1"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda t: 1.0]), ValueError,
     "LambdaLR: expected 2 values of lr_lambda"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "lr_lambda must be callable"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1), ValueError,
     "give either total_steps or both epochs and steps_per_epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, epochs=3), ValueError, "give either total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=2.5), ValueError,
     "total_steps must be a positive integer, got 2.5"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3), ValueError,
     "epochs must be a positive integer"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ValueError,
     r"pct_start must be a number in \[0, 1\]"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, pct_start=0.1), ValueError,
     "leaves a phase with no steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.0), ValueError,
     "leaves a phase with no steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
     ValueError, "anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda o: lr_scheduler.OneCycleLR(o, [0.1, 0.2, 0.3], total_steps=10), ValueError,
     "expected 2 values of max_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError,
     r"factor must be in \[0, 1\), got 1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="down"), ValueError,
     "mode must be 'min' or 'max', got 'down'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError,
     "threshold_mode must be 'rel' or 'abs'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError,
     "expected 2 values of min_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError,
     "patience must be a non-negative integer"),
    (lambda o: lr_scheduler.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ExponentialLR(o, 0.9)] * 2, [1, 2]),
     ValueError, "2 schedulers need 1 milestones, got 2"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ExponentialLR(o, 0.9)] * 3, [4, 4]),
     ValueError, "milestones must be positive and increasing"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o),
                                             lr_scheduler.ExponentialLR(o, 0.9)], [3]),
     ValueError, "scheduler 0 is a ReduceLROnPlateau"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ExponentialLR(make_optimizer(optim),
                                                                         0.9)], []),
     ValueError, "scheduler 0 \\(ExponentialLR\\) wraps another optimizer"),
    (lambda o: lr_scheduler.ExponentialLR("sgd", 0.9), TypeError, "expected a minidl Optimizer"),
    (lambda o: lr_scheduler.LambdaLR("sgd", abs), TypeError,
     "^LambdaLR: expected a minidl Optimizer, got str$"),
    (lambda o: lr_scheduler.LambdaLR(o, [abs, 0.5]), TypeError, "got float$"),
    (lambda o: lr_scheduler.StepLR(o, step_size=True), ValueError,
     "^StepLR: step_size must be a positive integer, got True$"),
    (lambda o: lr_scheduler.MultiStepLR(o, [2.5]), ValueError,
     "^MultiStepLR: milestones must be increasing non-negative integers"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=1.5), ValueError, "0 < start_factor <= 1"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError, "0 <= end_factor <= 1"),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), ValueError,
     "^LinearLR: total_iters must be >= 1, got 0$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau("sgd"), TypeError, "expected a minidl Optimizer"),
]


@pytest.mark.parametrize("make, error, message", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_arguments_get_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(make_optimizer(optim))


# the smallest (or largest) settings each check lets through
EDGES = [
    ("StepLR step_size 1", lambda m, o: m.StepLR(o, step_size=1, gamma=0.5)),
    ("CosineAnnealingLR T_max 1", lambda m, o: m.CosineAnnealingLR(o, T_max=1, eta_min=0.01)),
    ("LinearLR to 0 in 1 step", lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.0,
                                                        total_iters=1)),
]


@pytest.mark.parametrize("name, make", EDGES, ids=[e[0] for e in EDGES])
def test_edge_settings_are_accepted_and_equal_torch(name, make):
    assert_same_as_torch(minidl_run(make, steps=6), torch_run(make, steps=6))


def one_group_sgd():
    return optim.SGD([mdl.tensor([1.0], requires_grad=True)], lr=0.1, momentum=0.9)


def constant(t):
    return 1.0


# (schedule over an optimizer, a state it cannot take, the whole message)
WRONG_STATES = [
    (lambda o: lr_scheduler.StepLR(o, 2), lambda: {},
     "StepLR.load_state_dict: the state lacks ['base_lrs', 'last_epoch', 'step_size', 'gamma']; "
     "it is not a state_dict of this kind of schedule"),
    (lambda o: lr_scheduler.StepLR(o, 2),
     lambda: lr_scheduler.StepLR(make_optimizer(optim), 2).state_dict(),
     "StepLR: the optimizer has 1 parameter groups, the schedule 2"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o), lambda: {"factor": 0.1},
     "ReduceLROnPlateau.load_state_dict: the state lacks ['default_min_lr', 'min_lrs', "
     "'patience', 'cooldown', 'eps', 'mode', 'threshold', 'threshold_mode', 'last_epoch', "
     "'_last_lr', 'best', 'cooldown_counter', 'num_bad_epochs']; it is not a state_dict of "
     "this kind of schedule"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o),
     lambda: lr_scheduler.ReduceLROnPlateau(make_optimizer(optim)).state_dict(),
     "ReduceLROnPlateau: the optimizer has 1 parameter groups, the schedule 2"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ExponentialLR(o, 0.9)], []),
     lambda: {}, "SequentialLR.load_state_dict: the state lacks ['last_epoch', 'milestones', "
                 "'schedulers']; it is not a state_dict of this kind of schedule"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ExponentialLR(o, 0.9)], []),
     lambda: (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ExponentialLR(o, 0.9),
                                                      lr_scheduler.ExponentialLR(o, 0.8)], [2])
              )(one_group_sgd()).state_dict(),
     "SequentialLR.load_state_dict: the state has 2 schedulers, this one 1"),
    (lambda o: lr_scheduler.LambdaLR(o, constant),
     lambda: lr_scheduler.LambdaLR(make_optimizer(optim), [constant, constant]).state_dict(),
     "LambdaLR.load_state_dict: the state has 2 lr_lambdas, this schedule 1"),
]


@pytest.mark.parametrize("make, state, message", WRONG_STATES,
                         ids=[w[2][:50] for w in WRONG_STATES])
def test_a_state_of_another_schedule_is_refused_saying_why(make, state, message):
    with pytest.raises(ValueError) as error:
        make(one_group_sgd()).load_state_dict(state())
    assert str(error.value) == message


def test_plateau_gives_a_group_added_later_its_default_min_lr_or_says_min_lr_is_a_list():
    opt = one_group_sgd()
    schedule = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.05)
    opt.add_param_group({"params": [mdl.tensor([1.0], requires_grad=True)], "lr": 0.06})
    schedule.step(1.0)
    schedule.step(2.0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.05])
    opt = one_group_sgd()
    schedule = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0])
    opt.add_param_group({"params": [mdl.tensor([1.0], requires_grad=True)]})
    schedule.step(1.0)
    with pytest.raises(RuntimeError) as error:
        schedule.step(2.0)
    assert str(error.value) == ("ReduceLROnPlateau: the optimizer now has 2 parameter groups "
                                "but min_lr lists 1; set min_lrs to one value per group")


def test_multistep_resumes_at_last_epoch():
    opt = one_group_sgd()
    opt.param_groups[0]["initial_lr"] = 0.4
    lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5, last_epoch=2)
    assert opt.param_groups[0]["lr"] == 0.2      # t = 3: one milestone passed


def test_one_cycle_without_momentum_in_the_optimizer_says_so():
    opt = optim.Adagrad([mdl.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="needs an optimizer with momentum or betas, "
                                         "and Adagrad has neither"):
        lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10)
    lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10, cycle_momentum=False)


def test_one_cycle_raises_past_total_steps_as_torch():
    schedule = lr_scheduler.OneCycleLR(make_optimizer(optim), 0.1, total_steps=10)
    for _ in range(10):
        schedule.step()
    with pytest.raises(ValueError, match="tried to step 11 times. The specified number of "
                                         "total steps is 10"):
        schedule.step()
    assert schedule.last_epoch == 10


def test_one_cycle_sets_each_groups_initial_lr_and_starts_there():
    opt = make_optimizer(optim)
    lr_scheduler.OneCycleLR(opt, [0.5, 0.05], total_steps=20, div_factor=20.0)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.5 / 20, 0.05 / 20]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    assert math.isclose(opt.param_groups[0]["momentum"], 0.95)
