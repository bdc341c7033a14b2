"""mdl.set_flush_denormal, PyTorch's torch.set_flush_denormal: denormal floats become 0 in
NumPy arithmetic and in the numba kernels while it is on, and survive again after."""
import numpy as np
import pytest

import minidl as mdl
from minidl.kernels import denormal, recurrent

DENORMAL32, DENORMAL64 = np.float32(1e-40), 1e-320


@pytest.fixture
def restore():
    yield
    mdl.set_flush_denormal(False)


def test_flushing_makes_denormals_zero_and_can_be_undone(restore):
    x32, x64 = np.array([DENORMAL32, 1.0], np.float32), np.array([DENORMAL64, 1.0])
    assert (x32 * 2)[0] > 0 and (x64 * 2)[0] > 0  # the default: denormals are numbers
    if not denormal.supported():
        assert mdl.set_flush_denormal(True) is False
        return
    assert mdl.set_flush_denormal(True) is True and denormal.flush_denormal()
    np.testing.assert_array_equal(x32 * 2, [0, 2])          # read as 0 (DAZ)
    np.testing.assert_array_equal(np.float32(1e-20) * np.float32(1e-20), 0)  # made 0 (FTZ)
    np.testing.assert_array_equal(x64 * 2, [0, 2])
    assert mdl.set_flush_denormal(False) is True and not denormal.flush_denormal()
    assert (x32 * 2)[0] == 2 * DENORMAL32 and (x64 * 2)[0] == 2 * DENORMAL64


def test_the_numba_kernels_flush_too(restore):
    """One relu RNN step, h = relu(xw + hw + b), on a denormal xw: kept, then flushed."""
    if not denormal.supported():
        pytest.skip("no flush-to-zero setting on this processor")
    results = []
    for mode in (False, True):
        mdl.set_flush_denormal(mode)
        hs = np.zeros((2, 1, 2), np.float32)
        recurrent.rnn_cell_forward_numba(0, np.full((1, 1, 2), DENORMAL32, np.float32),
                                         np.zeros((1, 2), np.float32), np.zeros(2, np.float32),
                                         hs, True)
        results.append(hs[1, 0, 0])
    assert results == [DENORMAL32, 0.0]


def test_the_setting_is_off_by_default_in_a_new_process():
    import subprocess
    import sys
    code = "import minidl.kernels.denormal as d; print(d.flush_denormal())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
