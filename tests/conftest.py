"""Fixtures shared by the test files."""
import pytest

import minidl as mdl


@pytest.fixture(params=["numpy", "numba"])
def kernels(request):
    """Run the test with each CPU implementation, restoring the choice afterwards."""
    old = mdl.get_kernels()
    mdl.set_kernels(request.param)
    yield request.param
    mdl.set_kernels(old)
