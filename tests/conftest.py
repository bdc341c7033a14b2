"""Fixtures shared by the test files."""
import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import minidl as mdl


@pytest.fixture(params=["fast", "numpy", "numba"])
def kernels(request):
    """Run the test with each CPU implementation, restoring the choice afterwards."""
    old = mdl.get_kernels()
    mdl.set_kernels(request.param)
    yield request.param
    mdl.set_kernels(old)


@pytest.fixture(scope="module")
def one_thread():
    """Run numba's kernels and BLAS on one thread in a module that trains models to test
    their accuracy, not their speed. Their products are small, and on a busy machine two
    threads that wait for each other at every one made such a module take minutes instead
    of seconds (the logistic regression on the digits 20x longer). The numbers computed
    are the same."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(threads)


@pytest.fixture
def token_order_batch():
    """64 sequences of 8 tokens (3..9) with a 1 and a 2 placed at random; the label says
    whether the 1 comes first. The order matters, so a bag of words cannot learn it."""
    g = np.random.default_rng(0)
    tokens = g.integers(3, 10, size=(64, 8))
    labels = g.integers(0, 2, size=64)
    for row, label in zip(tokens, labels):
        i, j = sorted(g.choice(8, size=2, replace=False))
        row[i], row[j] = (1, 2) if label else (2, 1)
    return tokens, labels

