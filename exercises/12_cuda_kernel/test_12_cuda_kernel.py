"""Grader for exercise 12: two numba.cuda kernels, run in numba's CUDA simulator (or on a
GPU when NUMBA_ENABLE_CUDASIM=0). The simulator runs each thread as Python: small sizes."""
import numpy as np
import pytest

import grading

# tools/grade.py runs the graders marked so in a process of their own, with the simulator on
pytestmark = pytest.mark.cudasim
student = grading.load(__file__, "kernels")


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("shape", [(37, 19), (8, 8), (1, 3)])
def test_bias_relu_equals_numpy(shape):
    x, bias = randn(*shape, seed=1), randn(shape[1], seed=2)
    np.testing.assert_array_equal(student.bias_relu(x, bias), np.maximum(x + bias, 0.0))


@pytest.mark.parametrize("n", [1, 63, 64, 65])
def test_one_round_of_block_sums(n):
    x = randn(n, seed=n)
    assert student.total(x) == pytest.approx(x.sum(), rel=1e-12, abs=1e-12)


def test_a_sum_that_needs_a_second_round():
    x = randn(3 * student.THREADS + 5, seed=3)    # 4 blocks, then 1
    assert student.total(x) == pytest.approx(x.sum(), rel=1e-12, abs=1e-12)


def test_partial_sums_are_per_block():
    from numba import cuda
    threads = student.THREADS
    x = np.arange(2 * threads + 1, dtype=np.float64)
    partial = cuda.device_array(3, dtype=np.float64)
    student.block_sum_kernel[3, threads](cuda.to_device(x), partial)
    expected = [x[:threads].sum(), x[threads:2 * threads].sum(), x[2 * threads:].sum()]
    np.testing.assert_array_equal(partial.copy_to_host(), expected)
