"""Fixtures shared by the test files, and the `cudasim` marker."""
import functools
import os
import sys

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import minidl as mdl
from minidl import backend

CUDASIM_REASON = ("runs CUDA kernels in numba's simulator, which must be switched on before "
                  "numba.cuda is imported: NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim "
                  "(`make test` runs it)")


def pytest_configure(config):
    config.addinivalue_line("markers", f"cudasim: {CUDASIM_REASON}")
    # `pytest -m cudasim` asks for the simulator: switch it on while numba.cuda is not
    # imported yet (this runs before any test module is). numba read its environment
    # variables when this file imported it: it reads them again.
    if config.option.markexpr == "cudasim" and "numba.cuda" not in sys.modules:
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
        numba.core.config.reload_config()


def simulating_cuda():
    """Whether numba.cuda is (or will be, once imported) the CUDA simulator. (numba reads
    NUMBA_ENABLE_CUDASIM into its config; numba.cuda looks there when first imported.)"""
    return bool(numba.core.config.ENABLE_CUDASIM)


def pytest_collection_modifyitems(config, items):
    """Outside the simulator, the cudasim tests are skipped, saying how to run them."""
    if simulating_cuda():
        return
    skip = pytest.mark.skip(reason=CUDASIM_REASON)
    for item in items:
        if "cudasim" in item.keywords:
            item.add_marker(skip)


@functools.lru_cache(maxsize=None)
def real_gpu():
    """Whether CuPy and a working NVIDIA GPU are here."""
    return mdl.cuda_is_available()


def _install_stand_in(monkeypatch):
    import fake_cupy
    monkeypatch.setattr(backend, "_cupy", fake_cupy)
    for name, module in fake_cupy.MODULES.items():
        monkeypatch.setitem(sys.modules, name, module)
    return fake_cupy


@pytest.fixture
def cuda_backend(monkeypatch):
    """minidl's "cuda" device for one test: CuPy where there is a GPU, else the stand-in
    for CuPy (tests/fake_cupy.py), installed as minidl's cupy (and cupyx) for the test.
    Returns the module."""
    return backend.cupy() if real_gpu() else _install_stand_in(monkeypatch)


@pytest.fixture
def stand_in_cupy(monkeypatch):
    """The stand-in for CuPy as minidl's cupy for one test, even where there is a GPU (the
    CUDA simulator can only run kernels on arrays in the computer's memory)."""
    return _install_stand_in(monkeypatch)


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

