"""Grader for exercise 10: the blocked numba matmul, on correctness only (its speed-up is
measured by measure.py for the table of `make grade`; no test here looks at a clock)."""
import numba
import numpy as np
import pytest

import grading

student = grading.load(__file__, "matmul")
# the student's function compiled again with bounds checks: an index past the end of an
# array raises IndexError instead of writing over memory
checked = numba.njit(boundscheck=True)(student.matmul_blocked.py_func)


def randn(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def blocked(a, b, block):
    out = np.full((a.shape[0], b.shape[1]), np.nan, dtype=a.dtype)  # garbage on entry
    checked(a, b, out, block)
    return out


SHAPES = [(1, 1, 1), (3, 5, 2), (13, 7, 11), (65, 64, 66), (31, 97, 1)]


@pytest.mark.parametrize("n, k, m", SHAPES)
@pytest.mark.parametrize("block", [1, 7, 64, 500])
def test_blocked_matmul_equals_numpy(n, k, m, block):
    a, b = randn(n, k, seed=1), randn(k, m, seed=2)
    np.testing.assert_allclose(blocked(a, b, block), a @ b, rtol=1e-10, atol=1e-12)


def test_float32():
    a, b = randn(40, 33, seed=3, dtype=np.float32), randn(33, 29, seed=4, dtype=np.float32)
    out = blocked(a, b, 16)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


def test_non_contiguous_inputs():
    big = randn(40, 60, seed=5)
    a, b = big[::2, 1::3], big[:20, ::3].T           # strided views, b in column order
    assert not (a.flags.c_contiguous or b.flags.c_contiguous)
    np.testing.assert_allclose(blocked(a, b, 8), a @ b, rtol=1e-10, atol=1e-12)


def test_the_matmul_wrapper_uses_the_blocked_kernel():
    a, b = randn(17, 9, seed=6), randn(9, 23, seed=7)
    np.testing.assert_allclose(student.matmul(a, b, block=4), a @ b, rtol=1e-10, atol=1e-12)
