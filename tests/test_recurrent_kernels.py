"""The kernels of the recurrent layers' fused steps (kernels/recurrent.py) in every setting of
the kernel table against the NumPy reference, on odd sizes, float32 and float64; and the
vectorizable exp-based tanh and sigmoid they use (kernels/elementary.py) against NumPy over
each dtype's range, special values included."""
import numpy as np
import pytest
from numba import njit

from minidl.kernels import elementary, recurrent, table

CPU = ("fast", "numpy", "numba")
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
SIZES = [(1, 1, 1), (2, 3, 5), (3, 7, 13)]  # (T, N, H): size 1 and primes


def rand(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def run_forward_and_backward(kernels, kind, arrays, steps, relu=False):
    """Every step of a recurrence, forward then backward, by one setting's cell kernels,
    with the products h W_hh^T and gz W_hh taken from `arrays` (random, so that each
    kernel is checked on its own). Returns every array the kernels wrote."""
    a = {k: v.copy() for k, v in arrays.items()}
    for t in range(steps):
        if kind == "rnn":
            kernels.rnn_cell_forward(t, a["xw"], a["hw"][t], a["b"], a["hs"], relu)
        elif kind == "lstm":
            kernels.lstm_cell_forward(t, a["xw"], a["hw"][t], a["b"], a["hs"], a["cs"],
                                      a["gates"], a["extra"])
        else:
            kernels.gru_cell_forward(t, a["xw"], a["hw"][t], a["b"], a["hs"], a["gates"],
                                     a["extra"])
    for t in reversed(range(steps)):
        if kind == "rnn":
            kernels.rnn_cell_backward(t, a["g_hs"], a["gh"][t], a["hs"], relu, a["gz"])
        elif kind == "lstm":
            kernels.lstm_cell_backward(t, a["g_hs"], a["g_cs"], a["gh"][t], a["gc"], a["cs"],
                                       a["gates"], a["extra"], a["gz"])
        else:
            kernels.gru_cell_backward(t, a["g_hs"], a["gh"][t], a["gc"], a["hs"], a["gates"],
                                      a["extra"], a["gz"], a["g_xw"])
    return a


def recurrence_arrays(kind, steps, n, hidden, dtype, seed=0):
    rng = np.random.default_rng(seed)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    shapes = dict(xw=(steps, n, gates * hidden), hw=(steps, n, gates * hidden),
                  b=(gates * hidden,), hs=(steps + 1, n, hidden), cs=(steps + 1, n, hidden),
                  gates=(steps, n, gates * hidden), extra=(steps, n, hidden),
                  g_hs=(steps, n, hidden), g_cs=(steps, n, hidden), gh=(steps, n, hidden),
                  gc=(n, hidden), gz=(steps, n, gates * hidden), g_xw=(steps, n, gates * hidden))
    arrays = {k: rand(rng, shape, dtype, 2.0) for k, shape in shapes.items()}
    arrays["xw"][0, 0, 0] = 30.0 * (1 + hidden)  # saturated gates, both signs
    arrays["xw"][-1, -1, -1] = -30.0
    return arrays


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind, relu", [("rnn", False), ("rnn", True), ("lstm", False),
                                        ("gru", False)])
@pytest.mark.parametrize("steps, n, hidden", SIZES)
def test_cell_kernels_of_every_setting_equal_the_reference(setting, dtype, kind, relu, steps, n,
                                                          hidden):
    arrays = recurrence_arrays(kind, steps, n, hidden, dtype)
    mine = run_forward_and_backward(table.get(setting), kind, arrays, steps, relu)
    ref = run_forward_and_backward(table.get("numpy"), kind, {
        k: v.astype(np.float64) for k, v in arrays.items()}, steps, relu)
    written = {"rnn": ["hs", "gz"], "lstm": ["hs", "cs", "gates", "extra", "gz", "gc"],
               "gru": ["hs", "gates", "extra", "gz", "g_xw", "gc"]}[kind]
    for name in written:
        assert mine[name].dtype == dtype
        np.testing.assert_allclose(mine[name], ref[name], **TOL[dtype], err_msg=name)


def test_the_numpy_cells_are_the_plain_formulas():
    """One LSTM and one GRU step of the reference kernels, written out with np.exp."""
    rng = np.random.default_rng(1)
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    a = recurrence_arrays("lstm", 1, 2, 3, np.float64)
    recurrent.lstm_cell_forward_numpy(0, a["xw"], a["hw"][0], a["b"], a["hs"], a["cs"],
                                      a["gates"], a["extra"])
    z_i, z_f, z_g, z_o = np.split(a["xw"][0] + a["hw"][0] + a["b"], 4, axis=1)
    c = sig(z_f) * a["cs"][0] + sig(z_i) * np.tanh(z_g)
    np.testing.assert_allclose(a["cs"][1], c, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(a["hs"][1], sig(z_o) * np.tanh(c), rtol=1e-14, atol=1e-15)
    a = recurrence_arrays("gru", 1, 2, 3, np.float64, seed=2)
    h_prev = rand(rng, (2, 3), np.float64)
    a["hs"][0] = h_prev
    recurrent.gru_cell_forward_numpy(0, a["xw"], a["hw"][0], a["b"], a["hs"], a["gates"],
                                     a["extra"])
    x_r, x_z, x_n = np.split(a["xw"][0], 3, axis=1)
    h_r, h_z, h_n = np.split(a["hw"][0] + a["b"], 3, axis=1)
    r, z = sig(x_r + h_r), sig(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    np.testing.assert_allclose(a["hs"][1], (1 - z) * n + z * h_prev, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_into_of_every_setting(setting, dtype):
    rng = np.random.default_rng(3)
    a, b = rand(rng, (7, 5), dtype), rand(rng, (5, 11), dtype)
    out = np.full((7, 11), np.nan, dtype)
    result = table.get(setting).matmul_into(a, b, out)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, **TOL[dtype])
    assert result is out or result is None


# ----------------------------------------------------------------------------
# tanh and sigmoid
# ----------------------------------------------------------------------------
@njit(cache=True, **elementary.FLOAT)
def tanh_of(x, out):
    for i in range(x.shape[0]):
        out[i] = elementary.tanh(x[i])


@njit(cache=True, **elementary.FLOAT)
def sigmoid_of(x, out):
    for i in range(x.shape[0]):
        out[i] = elementary.sigmoid(x[i])


def arguments(dtype):
    """A dense grid over where the functions change, tiny and huge values, both signs."""
    finfo = np.finfo(dtype)
    dense = np.linspace(-30, 30, 120_001)
    tiny = np.geomspace(float(finfo.smallest_subnormal), 1, 3001)
    huge = np.geomspace(1, float(finfo.max) / 4, 3001)
    return np.concatenate([dense, tiny, -tiny, huge, -huge, [0.0]]).astype(dtype)


def ulps(got, want, dtype):
    """|got - want| in units in the last place of want (of the smallest normal near 0)."""
    spacing = np.spacing(np.maximum(np.abs(want), np.finfo(dtype).tiny).astype(dtype))
    return np.abs(got.astype(np.float64) - want) / spacing.astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_within_a_few_ulps_of_numpy(dtype):
    x = arguments(dtype)
    got = np.empty_like(x)
    tanh_of(x, got)
    want = np.tanh(x.astype(np.longdouble)).astype(dtype)
    assert got.dtype == dtype
    assert ulps(got, want, dtype).max() <= 4
    assert np.array_equal(np.signbit(got), np.signbit(x))  # odd, -0.0 included


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_within_a_few_ulps_of_the_formula(dtype):
    """Relative accuracy down to where exp(-|x|) leaves the normal floats; below that, 0."""
    x = arguments(dtype)
    got = np.empty_like(x)
    sigmoid_of(x, got)
    with np.errstate(over="ignore"):
        want = (1 / (1 + np.exp(-x.astype(np.longdouble)))).astype(dtype)
    normal = want >= np.finfo(dtype).tiny * 2 ** 4
    assert got.dtype == dtype
    assert ulps(got[normal], want[normal], dtype).max() <= 4
    assert np.all(got[~normal] <= np.finfo(dtype).tiny * 2 ** 4) and np.all(got >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype)
    t, s = np.empty_like(x), np.empty_like(x)
    tanh_of(x, t)
    sigmoid_of(x, s)
    np.testing.assert_array_equal(t, [0.0, -0.0, 1.0, -1.0, np.nan])
    np.testing.assert_array_equal(s, [0.5, 0.5, 1.0, 0.0, np.nan])


def test_python_versions_are_the_math_modules():
    """Called from Python (not numba), the functions are plain math."""
    assert elementary.tanh(0.5) == pytest.approx(np.tanh(0.5), rel=1e-15)
    assert elementary.sigmoid(-800.0) == 0.0 and elementary.sigmoid(800.0) == 1.0
    assert elementary.sigmoid(-2.0) == pytest.approx(1 / (1 + np.exp(2.0)), rel=1e-15)
