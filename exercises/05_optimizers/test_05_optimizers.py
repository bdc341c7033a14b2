"""Grader for exercise 05: the SGD-momentum and Adam updates against minidl.optim."""
import numpy as np
import pytest

import grading
import minidl as mdl
from minidl import optim

student = grading.load(__file__, "updates")
STEPS = 25


def gradient_at(p, step):
    """The gradient of a tilted quadratic bowl, plus a noise that varies with the step:
    it depends on where the parameters are, so a wrong step leads to other gradients."""
    scales = np.linspace(0.5, 4.0, p.size).reshape(p.shape)
    noise = np.random.default_rng(step).standard_normal(p.shape) * 0.1
    return scales * (p - 1.0) + noise


def run_both(make_optimizer, student_step, settings, shape=(3, 4)):
    start = np.random.default_rng(0).standard_normal(shape)
    theirs = mdl.tensor(start.copy(), requires_grad=True)
    optimizer = make_optimizer([theirs], **settings)
    mine, state = start.copy(), {}
    for step in range(STEPS):
        with mdl.no_grad():
            theirs.grad = mdl.tensor(gradient_at(theirs.data, step))
        optimizer.step()
        student_step(mine, gradient_at(mine, step), state, **settings)
    return mine, theirs.numpy()


def settings_id(settings):
    return ",".join(f"{k}={v}" for k, v in settings.items())


SGD_SETTINGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.05, momentum=0.9, weight_decay=0.1),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.01),
]


@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=settings_id)
def test_sgd_follows_minidl_optim(settings):
    mine, theirs = run_both(optim.SGD, student.sgd_momentum_step, settings)
    np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


ADAM_SETTINGS = [
    dict(lr=0.01),
    dict(lr=0.05, betas=(0.8, 0.99)),
    dict(lr=0.01, eps=1e-3),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.05, amsgrad=True),
    dict(lr=0.05, betas=(0.5, 0.9), amsgrad=True, weight_decay=0.01),
]


@pytest.mark.parametrize("settings", ADAM_SETTINGS, ids=settings_id)
def test_adam_follows_minidl_optim(settings):
    mine, theirs = run_both(optim.Adam, student.adam_step, settings)
    np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_the_first_momentum_step_is_a_plain_step():
    p, g = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    student.sgd_momentum_step(p, g, {}, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(p, [1.0 - 0.05, -2.0 - 0.4])


def test_the_first_adam_step_moves_each_coordinate_by_about_lr():
    p = np.zeros(3)
    g = np.array([1e-4, 1.0, -1e4])  # eight orders of magnitude apart
    student.adam_step(p, g, {}, lr=0.01)
    np.testing.assert_allclose(p, [-0.01, -0.01, 0.01], rtol=1e-3)


def test_the_steps_change_the_array_in_place():
    p = np.ones(4)
    alias = p
    student.sgd_momentum_step(p, np.ones(4), {}, lr=0.5, momentum=0.9)
    student.adam_step(p, np.ones(4), {}, lr=0.5)
    assert alias is p and np.all(p < 0.5)
