"""The kernel table: every setting fills every kernel, and every kernel of every setting
equals the reference (the plain loops, or the "numpy" row where the loops are too slow)
on odd shapes, float32 and float64, with non-contiguous inputs."""
import dataclasses

import numpy as np
import pytest

import minidl as mdl
from minidl import backend
from minidl.kernels import conv, pool, table

CPU = ("fast", "numpy", "numba")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def test_every_setting_fills_every_kernel():
    names = [f.name for f in dataclasses.fields(table.Kernels)]
    for setting in CPU:
        kernels = table.get(setting)
        assert kernels.setting == setting
        assert all(callable(getattr(kernels, name)) for name in names if name != "setting")


def test_the_default_is_fast_and_ops_ask_the_table(monkeypatch):
    assert backend.get_kernels() == "fast" or "MINIDL_KERNELS" in __import__("os").environ
    with pytest.raises(ValueError, match="set_kernels.*'blas'"):
        mdl.set_kernels("blas")
    calls = []
    fast = table.get("fast")
    spy = dataclasses.replace(fast, matmul=lambda a, b: calls.append(1) or np.matmul(a, b))
    monkeypatch.setitem(table._BUILT, "fast", spy)
    monkeypatch.setattr(backend, "_kernels", "fast")
    mdl.nn.Linear(3, 2)(mdl.ones(4, 3))
    assert calls


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n, batch", [(1, 1, 1, ()), (7, 5, 11, ()), (13, 4, 29, (3,)),
                                            (2, 37, 3, (2, 1))])
def test_matmul_of_every_setting(setting, dtype, m, k, n, batch):
    rng = np.random.default_rng(m * k + n)
    a = rand(rng, batch + (k, m), dtype).swapaxes(-1, -2)  # a transposed view
    b = rand(rng, (k, n), dtype)
    np.testing.assert_allclose(table.get(setting).matmul(a, b),
                               np.matmul(a.astype(np.float64), b), **TOL[dtype])


CONV_CASES = [  # x shape, w shape, stride, padding, dilation, groups
    ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ((2, 3, 7, 5), (5, 3, 3, 2), (2, 1), (1, 0), (1, 2), 1),
    ((3, 4, 9, 8), (6, 2, 3, 3), (1, 2), (2, 1), (2, 1), 2),
    ((2, 6, 5, 7), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6),   # depthwise
    # the fast paths of kernels/conv.py: "same" padding (each tap one run), dilated too;
    # outputs as wide as x but stride 2 down (one run per output row); a 1x1 kernel (no
    # im2col), grouped too; padding wider than the kernel (whole rows of padding)
    ((5, 3, 6, 7), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((2, 3, 9, 8), (2, 3, 3, 3), (1, 1), (2, 2), (2, 2), 1),
    ((2, 4, 7, 6), (6, 2, 3, 3), (2, 1), (1, 1), (1, 1), 2),
    ((3, 4, 5, 6), (6, 4, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ((3, 4, 5, 6), (6, 2, 1, 1), (1, 1), (0, 0), (1, 1), 2),
    ((2, 2, 3, 2), (3, 2, 1, 2), (1, 1), (3, 2), (1, 1), 1),
]


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_kernels_of_every_setting_equal_the_reference(setting, dtype, case):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(sum(x_shape))
    x = rand(rng, x_shape[:1] + x_shape[2:] + x_shape[1:2], dtype).transpose(0, 3, 1, 2)
    w, bias = rand(rng, w_shape, dtype), rand(rng, w_shape[:1], dtype)
    geometry = (stride, padding, dilation, groups)
    kernels = table.get(setting)
    y = conv.conv2d_reference(x, w, *geometry) + bias[:, None, None]
    np.testing.assert_allclose(kernels.conv2d_forward(np.ascontiguousarray(x), w, *geometry,
                                                      bias=bias), y, **TOL[dtype])
    gy = rand(rng, y.shape, dtype)
    numpy = table.get("numpy")
    np.testing.assert_allclose(
        kernels.conv2d_backward_input(gy, w, x.shape, *geometry),
        numpy.conv2d_backward_input(gy.astype(np.float64), w.astype(np.float64), x.shape,
                                    *geometry), **TOL[dtype])
    np.testing.assert_allclose(
        kernels.conv2d_backward_weight(gy, np.ascontiguousarray(x), w.shape, *geometry),
        numpy.conv2d_backward_weight(gy.astype(np.float64), x.astype(np.float64), w.shape,
                                     *geometry), **TOL[dtype])


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_kernels_of_every_setting_equal_the_reference(setting, dtype):
    rng = np.random.default_rng(0)
    x = rand(rng, (2, 3, 7, 6), dtype)
    x[0, 0, :2, :2] = 1.0  # a tie: the first element in row-major order wins
    kernels = table.get(setting)
    geometry = ((3, 2), (2, 2), (1, 1), (1, 1), True)
    y, argmax = kernels.max_pool2d_forward(x, *geometry)
    y_ref, argmax_ref = pool.max_pool2d_reference(x, *geometry)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    gy = rand(rng, y.shape, dtype)
    np.testing.assert_allclose(kernels.max_pool2d_backward(gy, argmax, x.shape, *geometry),
                               table.get("numpy").max_pool2d_backward(gy, argmax, x.shape,
                                                                      *geometry), **TOL[dtype])
    geometry = ((3, 2), (2, 1), (1, 1), True, False, None)
    y = kernels.avg_pool2d_forward(x, *geometry)
    np.testing.assert_allclose(y, pool.avg_pool2d_reference(x, *geometry), **TOL[dtype])
    gy = rand(rng, y.shape, dtype)
    np.testing.assert_allclose(kernels.avg_pool2d_backward(gy, x.shape, *geometry),
                               table.get("numpy").avg_pool2d_backward(gy, x.shape, *geometry),
                               **TOL[dtype])


@pytest.mark.parametrize("chunk_bytes", [1, 3000])  # one image per chunk; 2 of 5, then 1
@pytest.mark.parametrize("padding", [(0, 0), (1, 1)])
def test_fast_conv_in_chunks_equals_numpy(monkeypatch, chunk_bytes, padding):
    """The fast conv works on a few images at a time: every chunk, the last shorter one
    too, lands where it belongs (cols of one image here: 2*3*3 rows x 25 or 49 columns)."""
    monkeypatch.setattr(conv, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(1)
    x, w, bias = rand(rng, (5, 2, 7, 7), np.float64), rand(rng, (3, 2, 3, 3), np.float64), \
        rand(rng, (3,), np.float64)
    geometry = ((1, 1), padding, (1, 1), 1)
    fast, numpy = table.get("fast"), table.get("numpy")
    y = fast.conv2d_forward(x, w, *geometry, bias=bias)
    np.testing.assert_allclose(y, numpy.conv2d_forward(x, w, *geometry, bias=bias),
                               **TOL[np.float64])
    gy = rand(rng, y.shape, np.float64)
    np.testing.assert_allclose(fast.conv2d_backward_input(gy, w, x.shape, *geometry),
                               numpy.conv2d_backward_input(gy, w, x.shape, *geometry),
                               **TOL[np.float64])
    np.testing.assert_allclose(fast.conv2d_backward_weight(gy, x, w.shape, *geometry),
                               numpy.conv2d_backward_weight(gy, x, w.shape, *geometry),
                               **TOL[np.float64])


POOL_GEOMETRIES = [  # kernel, stride, padding, dilation, ceil_mode
    ((2, 2), (2, 2), (0, 0), (1, 1), False),  # the classic
    ((3, 3), (2, 2), (0, 0), (1, 1), False),  # overlapping
    ((2, 2), (1, 2), (0, 0), (2, 1), False),  # dilated
    ((2, 2), (2, 2), (0, 0), (1, 1), True),   # ceil_mode: a last window past the edge
    ((3, 3), (2, 2), (1, 1), (1, 1), False),  # padded
]


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_max_pool_ties_and_nans_in_every_setting(setting, dtype, geometry):
    """Ties go to the first tap in row-major order, a NaN wins and stays, whichever loop runs:
    the values come from {-1, 0, 1, NaN}, so that most windows hold a tie or a NaN."""
    rng = np.random.default_rng(2)
    x = rng.choice(np.array([-1.0, 0.0, 1.0, np.nan]), (2, 3, 7, 9), p=[0.3, 0.3, 0.3, 0.1])
    x = x.astype(dtype)
    y, argmax = table.get(setting).max_pool2d_forward(x, *geometry)
    y_ref, argmax_ref = pool.max_pool2d_reference(x, *geometry)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    gy = rand(rng, y.shape, dtype)
    np.testing.assert_allclose(
        table.get(setting).max_pool2d_backward(gy, argmax, x.shape, *geometry),
        table.get("numpy").max_pool2d_backward(gy, argmax, x.shape, *geometry), **TOL[dtype])
    avg = geometry[:3] + (geometry[4], True, None)
    if geometry[3] == (1, 1):  # average pooling has no dilation
        x = rand(rng, x.shape, dtype)
        np.testing.assert_allclose(table.get(setting).avg_pool2d_forward(x, *avg),
                                   pool.avg_pool2d_reference(x, *avg), **TOL[dtype])
