"""Grader for exercise 06: im2col, col2im, and conv2d by them, forward and backward."""
import numpy as np
import pytest

import grading
import minidl as mdl
import minidl.functional as F

student = grading.load(__file__, "conv")


def randn(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def windows_by_loops(x, kh, kw, stride, padding):
    """im2col, the slowest way: one window at a time (the grader's own)."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    cols = np.zeros((n, c * kh * kw, oh * ow))
    for r in range(oh):
        for s in range(ow):
            patch = padded[:, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
            cols[:, :, r * ow + s] = patch.reshape(n, -1)
    return cols


def test_im2col_of_a_small_image_worked_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)        # 0 1 2 / 3 4 5 / 6 7 8
    cols = student.im2col(x, 2, 2)
    expected = np.array([[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]).T
    np.testing.assert_array_equal(cols[0], expected)


CASES = [  # x shape, kh, kw, stride, padding
    ((2, 3, 7, 6), 3, 3, 1, 0),
    ((1, 2, 8, 8), 3, 2, 2, 1),
    ((2, 1, 5, 7), 1, 1, 1, 0),
    ((1, 4, 6, 5), 5, 5, 1, 2),
    ((3, 2, 9, 4), 2, 3, 3, 1),
]


@pytest.mark.parametrize("shape, kh, kw, stride, padding", CASES)
def test_im2col_equals_the_window_by_window_loop(shape, kh, kw, stride, padding):
    x = randn(*shape)
    np.testing.assert_array_equal(student.im2col(x, kh, kw, stride, padding),
                                  windows_by_loops(x, kh, kw, stride, padding))


@pytest.mark.parametrize("shape, kh, kw, stride, padding", CASES)
def test_col2im_is_the_adjoint_of_im2col(shape, kh, kw, stride, padding):
    x = randn(*shape, seed=1)
    cols = student.im2col(x, kh, kw, stride, padding)
    c = randn(*cols.shape, seed=2)
    back = student.col2im(c, shape, kh, kw, stride, padding)
    assert back.shape == shape
    assert np.vdot(cols, c) == pytest.approx(np.vdot(x, back), rel=1e-12)


@pytest.mark.parametrize("shape, kh, kw, stride, padding", CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_forward_equals_minidl_conv2d(shape, kh, kw, stride, padding, with_bias):
    x, w = randn(*shape, seed=3), randn(4, shape[1], kh, kw, seed=4)
    b = randn(4, seed=5) if with_bias else None
    tensors = [mdl.tensor(a) if a is not None else None for a in (x, w, b)]
    ours = student.conv2d(*tensors, stride=stride, padding=padding)
    theirs = F.conv2d(*tensors, stride=stride, padding=padding)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_forward_in_float32():
    x, w = randn(2, 3, 6, 6, seed=6, dtype=np.float32), randn(5, 3, 3, 3, seed=7,
                                                             dtype=np.float32)
    ours = student.conv2d(mdl.tensor(x), mdl.tensor(w), padding=1)
    theirs = F.conv2d(mdl.tensor(x), mdl.tensor(w), padding=1)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_channels_that_do_not_match_are_a_clear_error():
    with pytest.raises(ValueError, match="conv2d"):
        student.conv2d(mdl.tensor(randn(1, 3, 5, 5)), mdl.tensor(randn(2, 4, 3, 3)))


@pytest.mark.parametrize("shape, kh, kw, stride, padding", [CASES[0], CASES[1], CASES[4]])
def test_backward_passes_the_gradient_check(shape, kh, kw, stride, padding):
    x = mdl.tensor(randn(*shape, seed=8)[:, :, :6, :6], requires_grad=True)
    w = mdl.tensor(randn(2, shape[1], kh, kw, seed=9), requires_grad=True)
    b = mdl.tensor(randn(2, seed=10), requires_grad=True)
    assert mdl.gradcheck(lambda x, w, b: student.conv2d(x, w, b, stride, padding), [x, w, b])


def test_backward_without_bias_passes_the_gradient_check():
    x = mdl.tensor(randn(1, 2, 5, 4, seed=11), requires_grad=True)
    w = mdl.tensor(randn(3, 2, 2, 2, seed=12), requires_grad=True)
    assert mdl.gradcheck(lambda x, w: student.conv2d(x, w, stride=2, padding=1), [x, w])
