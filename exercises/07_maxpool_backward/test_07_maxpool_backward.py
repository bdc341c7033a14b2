"""Grader for exercise 07: max-pool backward."""
import numpy as np
import pytest

import grading
import minidl as mdl
import minidl.functional as F

student = grading.load(__file__, "maxpool")


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def input_grad(x, kernel, stride, gy):
    """d<pool(x), gy>/dx through the student's backward."""
    t = mdl.tensor(x, requires_grad=True)
    y = student.max_pool2d(t, kernel, stride)
    g, = mdl.grad(y, [t], grad_outputs=mdl.tensor(gy))
    return g.numpy()


def test_a_4x4_example_worked_by_hand():
    x = np.array([[1, 5, 2, 0],
                  [3, 4, 8, 1],
                  [0, 2, 1, 1],
                  [7, 1, 3, 9]], dtype=float).reshape(1, 1, 4, 4)
    gy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[3, 0], expected[3, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(input_grad(x, 2, 2, gy)[0, 0], expected)


def test_overlapping_windows_add_their_gradients():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0                 # the centre wins all four 2x2 windows
    gy = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    g = input_grad(x, 2, 1, gy)
    assert g[0, 0, 1, 1] == 10.0 and g.sum() == 10.0


def test_ties_go_to_the_first_pixel_in_row_major_order():
    x = np.ones((1, 1, 2, 2))
    g = input_grad(x, 2, 2, np.full((1, 1, 1, 1), 3.0))
    np.testing.assert_array_equal(g[0, 0], [[3.0, 0.0], [0.0, 0.0]])


def test_pixels_no_window_covers_get_no_gradient():
    x = randn(1, 2, 5, 5, seed=1)       # 2x2 windows, stride 2: row 4 and column 4 left out
    g = input_grad(x, 2, 2, randn(1, 2, 2, 2, seed=2))
    assert not g[:, :, 4, :].any() and not g[:, :, :, 4].any()
    assert np.count_nonzero(g) == 8


@pytest.mark.parametrize("shape, kernel, stride", [((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 1),
                                                   ((2, 1, 7, 7), 3, 2), ((1, 1, 4, 4), 4, 4)])
def test_backward_passes_the_gradient_check(shape, kernel, stride):
    x = mdl.tensor(randn(*shape, seed=3), requires_grad=True)
    assert mdl.gradcheck(lambda x: student.max_pool2d(x, kernel, stride), [x])


@pytest.mark.parametrize("shape, kernel, stride", [((2, 3, 8, 8), 2, 2), ((2, 2, 9, 7), 3, 2)])
def test_gradient_equals_minidl_max_pool2d(shape, kernel, stride):
    x = randn(*shape, seed=4)
    t = mdl.tensor(x, requires_grad=True)
    y = F.max_pool2d(t, kernel, stride)
    gy = randn(*y.shape, seed=5)
    theirs, = mdl.grad(y, [t], grad_outputs=mdl.tensor(gy))
    np.testing.assert_allclose(input_grad(x, kernel, stride, gy), theirs.numpy(), rtol=1e-12)
