"""The kernels in minidl.kernels: every fast version equals its plain-loop reference.

Shapes are small and odd on purpose (sizes 1, primes, widths that are not multiples
of the GEMM's panel and block sizes, batch 1, strided and transposed inputs), so
every remainder path of the blocked code runs. Backward kernels are checked
against the numpy path and against finite differences of the reference.
Most of this file's run time is numba compiling the kernels (cached afterwards).
"""
import os
import pathlib
import platform
import subprocess
import sys

import numpy as np
import pytest

from minidl.kernels import conv, matmul, pool

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def assert_product_close(c, a, b):
    """c is a @ b up to the rounding any order of summation may make: each entry within
    2 k eps (|a| @ |b|) of the exact (float64) product. Which order a BLAS picks depends
    on the CPU, so a tolerance fixed by one BLAS's rounding is not enough."""
    eps = np.finfo(c.dtype).eps
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = 2 * a.shape[-1] * eps * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))
    assert c.shape == exact.shape
    assert np.all(np.abs(c - exact) <= bound + np.finfo(c.dtype).tiny), np.max(np.abs(c - exact) - bound)


def randn(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_importing_minidl_imports_no_numba_and_the_kernels_compile_nothing():
    code = ("import sys, minidl\n"
            "assert 'numba' not in sys.modules, 'import minidl imported numba'\n"
            "import numba\n"
            "from minidl.kernels import conv, matmul, pool\n"
            "fns = [f for m in (matmul, conv, pool) for f in vars(m).values()\n"
            "       if isinstance(f, numba.core.registry.CPUDispatcher)]\n"
            "assert len(fns) >= 10 and all(not f.signatures for f in fns), fns\n")
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=pathlib.Path(__file__).resolve().parents[1])


# ----------------------------------------------------------------------------
# matmul
# ----------------------------------------------------------------------------
def test_matmul_reference_is_the_definition(rng):
    a, b = randn(rng, (3, 5)), randn(rng, (5, 2))
    expected = [[sum(a[i, p] * b[p, j] for p in range(5)) for j in range(2)] for i in range(3)]
    np.testing.assert_allclose(matmul.matmul_reference(a, b), expected, rtol=1e-12)
    assert matmul.matmul_reference(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (2, 3, 1), (7, 5, 11), (13, 4, 29), (4, 37, 2)])
def test_matmul_numba_is_the_product_on_odd_shapes(rng, dtype, m, k, n, threads, monkeypatch):
    if threads == "parallel":  # small products normally run serially; force the thread pool
        monkeypatch.setattr(matmul, "SERIAL_FLOPS", 0)
    a, b = randn(rng, (m, k), dtype), randn(rng, (k, n), dtype)
    c = matmul.matmul_numba(a, b)
    assert c.dtype == dtype and c.shape == (m, n) and c.flags.c_contiguous
    assert_product_close(c, a, b)


# block sizes (KC, MC, NC) small enough that every shape below crosses several passes over
# p, row blocks and column blocks, with ragged last ones: (1, 1, 1) makes every pass one
# step deep and every block one panel wide
TINY_BLOCKS = [(1, 1, 1), (3, 12, 40), (7, 7, 1)]


def _edge_shapes(dtype):
    """(m, k, n) around the register tile of dtype: 1, one less and one more than MR and
    NR, primes, several tiles plus a ragged one."""
    mr, nr = matmul.tile_shape(dtype)
    return [(1, 1, 1), (mr - 1, 2, nr - 1), (mr + 1, 5, nr + 1), (2 * mr + 5, 13, 2 * nr + 3),
            (17, 11, 3), (1, 29, 3 * nr - 5)]


@pytest.mark.parametrize("order", ["down the columns", "along the rows"])
@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("blocks", TINY_BLOCKS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_numba_every_edge_of_the_blocking(rng, dtype, blocks, threads, order,
                                                 monkeypatch):
    monkeypatch.setattr(matmul, "SHALLOW", 0 if order == "down the columns" else 10 ** 9)
    monkeypatch.setattr(matmul, "KC", blocks[0])
    monkeypatch.setattr(matmul, "MC", blocks[1])
    monkeypatch.setattr(matmul, "NC", blocks[2])
    if threads == "parallel":  # and as many tasks as the shape has tiles
        monkeypatch.setattr(matmul, "SERIAL_FLOPS", 0)
        monkeypatch.setattr(matmul, "TASKS_PER_THREAD", 1000)
    for m, k, n in _edge_shapes(dtype):
        a, b = randn(rng, (m, k), dtype), randn(rng, (k, n), dtype)
        assert_product_close(matmul.matmul_numba(a, b), a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_numba_with_its_own_block_sizes(rng, dtype):
    # k = 600 spans several passes with a ragged last one, m = 301 and n = 1031 several
    # row and column blocks and a ragged last tile: the sizes the kernel runs with
    a, b = randn(rng, (301, 600), dtype), randn(rng, (600, 1031), dtype)
    assert_product_close(matmul.matmul_numba(a, b), a, b)


def test_matmul_numba_strided_and_transposed_inputs(rng):
    base = randn(rng, (40, 60))
    a = base[1::3, ::2]          # (13, 30), neither row- nor column-contiguous
    b = randn(rng, (17, 30)).T   # (30, 17), a transposed (Fortran-order) view
    assert_product_close(matmul.matmul_numba(a, b), a, b)
    assert_product_close(matmul.matmul_numba(b.T, a.T), b.T, a.T)


LAYOUTS = {  # the same matrix in three memory layouts
    "C": lambda x: x,
    "transposed": lambda x: np.ascontiguousarray(x.T).T,
    "strided": lambda x: _strided_copy(x),
}


def _strided_copy(x):
    """x as a view with gaps between its rows and between its columns."""
    big = np.zeros((2 * x.shape[0], 3 * x.shape[1]), x.dtype)
    big[::2, ::3] = x
    return big[::2, ::3]


@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_layout", list(LAYOUTS))
@pytest.mark.parametrize("b_layout", list(LAYOUTS))
def test_matmul_numba_every_layout_of_a_and_b(rng, dtype, a_layout, b_layout, threads,
                                              monkeypatch):
    monkeypatch.setattr(matmul, "KC", 4)  # several passes, the last one ragged
    if threads == "parallel":
        monkeypatch.setattr(matmul, "SERIAL_FLOPS", 0)
    for m, k, n in _edge_shapes(dtype):
        a = LAYOUTS[a_layout](randn(rng, (m, k), dtype))
        b = LAYOUTS[b_layout](randn(rng, (k, n), dtype))
        c = matmul.matmul_numba(a, b)
        assert c.dtype == dtype and c.shape == (m, n) and c.flags.c_contiguous
        assert_product_close(c, a, b)


@pytest.mark.parametrize("layout, read_in_place, transposed", [
    ("C", True, False), ("transposed", True, True), ("strided", False, False)])
def test_packing_reads_c_order_and_transposed_views_in_place(rng, layout, read_in_place,
                                                             transposed):
    x = LAYOUTS[layout](randn(rng, (5, 7)))[None]
    y, y_transposed = matmul._as_contiguous(x)
    assert y.flags.c_contiguous and not y.flags.writeable and y_transposed == transposed
    assert np.shares_memory(x, y) == read_in_place
    np.testing.assert_array_equal(y.transpose(0, 2, 1) if transposed else y, x)


def test_matmul_numba_non_finite_values_stay_where_they_belong(rng):
    # the padding of the last panels is zeros, and the lanes it feeds are never stored:
    # an inf or a NaN in A or B reaches only the entries of C that the definition says
    mr, nr = matmul.tile_shape(np.float64)
    a, b = randn(rng, (mr + 1, 9)), randn(rng, (9, nr + 1))
    a[0, 3], a[mr, 0], b[2, nr] = np.inf, np.nan, -np.inf
    with np.errstate(invalid="ignore"):  # inf - inf = NaN is the point here
        expected = a @ b
    c = matmul.matmul_numba(a, b)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(c[finite], expected[finite], **TOL[np.float64])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 3])
def test_matmul_numba_batched(rng, batch, dtype):
    a = randn(rng, (batch, 7, 19), dtype)
    b = randn(rng, (batch, 5, 19), dtype).transpose(0, 2, 1)
    c = matmul.matmul_numba(a, b)
    assert c.shape == (batch, 7, 5) and c.dtype == dtype
    for i in range(batch):
        assert_product_close(c[i], a[i], b[i])


@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_numba_batched_transposed_and_shared_operands(rng, dtype, threads, monkeypatch):
    if threads == "parallel":
        monkeypatch.setattr(matmul, "SERIAL_FLOPS", 0)
    p, g = randn(rng, (4, 9, 7), dtype), randn(rng, (4, 9, 5), dtype)
    pt = p.transpose(0, 2, 1)  # attention's P^T @ dY: every A a transposed view
    w, x = randn(rng, (7, 9), dtype), randn(rng, (4, 3, 9), dtype)
    cases = [
        (pt, g),                                    # A read transposed
        (np.broadcast_to(w, (4, 7, 9)), g),         # one A for all items (stride-0 batch)
        (pt, np.broadcast_to(g[0], (4, 9, 5))),     # one B for all items
        (x, np.broadcast_to(w.T, (4, 9, 7))),       # one transposed B for all items
    ]
    for a, b in cases:
        c = matmul.matmul_numba(a, b)
        for i in range(4):
            assert_product_close(c[i], a[i], b[i])
    # gemm shares a batch of 1 on either side
    for a, b in [(w[None], g), (pt, g[:1]), (x, w.T[None])]:
        c = matmul.gemm(a, b)
        assert c.shape == (4,) + np.matmul(a, b).shape[1:]
        for i in range(4):
            assert_product_close(c[i], a[min(i, len(a) - 1)], b[min(i, len(b) - 1)])


# compiled for a CPU by name, whatever this machine is: LLVM's x86 backend knows them all
X86_TARGETS = {
    "AVX2": ("haswell", "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fxsr,"
                        "+lzcnt,+mmx,+movbe,+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3"),
    "AVX-512": ("skylake-avx512", "+64bit,+avx,+avx2,+avx512bw,+avx512cd,+avx512dq,+avx512f,"
                                  "+avx512vl,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fxsr,"
                                  "+lzcnt,+mmx,+movbe,+popcnt,+sse,+sse2,+sse3,+sse4.1,"
                                  "+sse4.2,+ssse3"),
}

_COUNT_FMAS = """
import re, numpy as np
from numba import types
from minidl.kernels import matmul
for dtype in (np.float32, np.float64):
    t = types.float32 if dtype == np.float32 else types.float64
    i, flag, block = types.int64, types.boolean, types.Array(t, 3, "C")
    # _compute_pass(a_block, b_block, depth, c, ip0, ip1, jp0, jp1, overwrite, along_rows)
    sig = (block, block, i, types.Array(t, 2, "C"), i, i, i, i, flag, flag)
    matmul._compute_pass.compile(sig)  # compiled only: this machine need not run it
    asm = matmul._compute_pass.inspect_asm(sig)
    packed_fmas = len(re.findall(r"vfmadd\\w+p[sd]\\s.*[yz]mm", asm))
    scalar_fmas = len(re.findall(r"vfmadd\\w+s[sd]\\s", asm))
    print(np.dtype(dtype).name, *matmul.tile_shape(dtype), matmul.VECTOR_BYTES,
          packed_fmas, scalar_fmas)
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 targets")
@pytest.mark.parametrize("target", list(X86_TARGETS))
def test_the_micro_kernel_compiles_to_vector_fmas(target, tmp_path):
    # LLVM vectorizes the micro-kernel only if its loops keep the right shape (see
    # TILE_SHAPES); a change of numba or LLVM could silently make it scalar, many times
    # slower. Each step must be MR x NR / lanes vector FMAs, and no scalar ones.
    name, features = X86_TARGETS[target]
    env = {**os.environ, "NUMBA_CPU_NAME": name, "NUMBA_CPU_FEATURES": features,
           "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _COUNT_FMAS], env=env, capture_output=True,
                         text=True, cwd=pathlib.Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    for line in out.stdout.split("\n")[:2]:
        dtype, mr, nr, vector_bytes, packed_fmas, scalar_fmas = line.split()
        lanes = int(vector_bytes) // np.dtype(dtype).itemsize
        assert int(vector_bytes) == (64 if target == "AVX-512" else 32)
        assert int(packed_fmas) >= int(mr) * int(nr) // lanes and int(scalar_fmas) == 0, line


def test_matmul_numba_empty_inner_dimension_gives_zeros():
    c = matmul.matmul_numba(np.ones((3, 0)), np.ones((0, 4)))
    np.testing.assert_array_equal(c, np.zeros((3, 4)))


@pytest.mark.parametrize("a_shape, b_shape", [((0, 3), (3, 4)), ((3, 4), (4, 0)),
                                              ((0, 2, 3), (0, 3, 4))])
def test_matmul_numba_empty_outputs(a_shape, b_shape):
    c = matmul.matmul_numba(np.ones(a_shape), np.ones(b_shape))
    assert c.shape == np.matmul(np.ones(a_shape), np.ones(b_shape)).shape


@pytest.mark.parametrize("a, b, words", [
    (np.ones((2, 3)), np.ones((4, 2)), ["matmul_numba", "(2, 3)", "(4, 2)", "3 != 4"]),
    (np.ones((2, 3)), np.ones((3, 2), np.float32), ["float64", "float32"]),
    (np.ones(3), np.ones(3), ["2-D", "(3,)"]),
    (np.ones((2, 2, 3)), np.ones((3, 3, 2)), ["batch"]),
    (np.ones((2, 3), int), np.ones((3, 2), int), ["float32", "int64"]),
])
def test_matmul_numba_rejects_bad_input_clearly(a, b, words):
    with pytest.raises(ValueError) as err:
        matmul.matmul_numba(a, b)
    assert all(w in str(err.value) for w in words), str(err.value)


# ----------------------------------------------------------------------------
# conv2d
# ----------------------------------------------------------------------------
GEOMETRIES = [  # stride, padding, dilation
    ((1, 1), (0, 0), (1, 1)),
    ((2, 2), (1, 1), (1, 1)),
    ((2, 1), (0, 2), (1, 1)),
    ((1, 1), (2, 1), (2, 2)),
]


def conv_case(rng, dtype=np.float64, n=2, c=3, h=7, w=6, o=4, kh=3, kw=2):
    return randn(rng, (n, c, h, w), dtype), randn(rng, (o, c, kh, kw), dtype)


def test_conv2d_reference_on_a_hand_worked_case():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[r, s] - x[r+1, s+1]
    np.testing.assert_array_equal(conv.conv2d_reference(x, w), np.full((1, 1, 2, 2), -4.0))
    y = conv.conv2d_reference(x, w, padding=(1, 1))  # y[r, s] = x[r-1, s-1] - x[r, s]
    assert y.shape == (1, 1, 4, 4)
    assert (y[0, 0, 0, 0], y[0, 0, 1, 1], y[0, 0, 3, 3], y[0, 0, 0, 3]) == (0.0, -4.0, 8.0, 0.0)


@pytest.mark.parametrize("stride, padding, dilation", GEOMETRIES)
def test_conv2d_forward_numpy_and_numba_equal_reference(rng, stride, padding, dilation):
    x, w = conv_case(rng)
    expected = conv.conv2d_reference(x, w, stride, padding, dilation)
    for forward in (conv.conv2d_forward_numpy, conv.conv2d_forward_numba):
        np.testing.assert_allclose(forward(x, w, stride, padding, dilation), expected,
                                   **TOL[np.float64])


@pytest.mark.parametrize("stride, padding, dilation", GEOMETRIES)
def test_conv2d_backward_numba_equals_numpy(rng, stride, padding, dilation):
    x, w = conv_case(rng, n=1)  # batch 1
    gy = randn(rng, conv.conv2d_forward_numpy(x, w, stride, padding, dilation).shape)
    geometry = (stride, padding, dilation)
    np.testing.assert_allclose(conv.conv2d_backward_input_numba(gy, w, x.shape, *geometry),
                               conv.conv2d_backward_input_numpy(gy, w, x.shape, *geometry),
                               **TOL[np.float64])
    np.testing.assert_allclose(conv.conv2d_backward_weight_numba(gy, x, w.shape, *geometry),
                               conv.conv2d_backward_weight_numpy(gy, x, w.shape, *geometry),
                               **TOL[np.float64])


def numerical_gradient(f, v, eps=1e-6):
    """d f / d v by central differences, one element at a time (float64, tiny v)."""
    grad = np.zeros_like(v)
    for idx in np.ndindex(v.shape):
        saved = v[idx]
        v[idx] = saved + eps
        up = f()
        v[idx] = saved - eps
        down = f()
        v[idx] = saved
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("stride, padding, dilation", [GEOMETRIES[1], GEOMETRIES[3]])
def test_conv2d_backward_numpy_equals_finite_differences(rng, stride, padding, dilation):
    x, w = conv_case(rng, n=1, c=2, h=5, w=4, o=2, kh=2, kw=3)
    geometry = (stride, padding, dilation)
    gy = randn(rng, conv.conv2d_reference(x, w, *geometry).shape)
    loss = lambda: np.sum(gy * conv.conv2d_reference(x, w, *geometry))  # noqa: E731
    np.testing.assert_allclose(conv.conv2d_backward_input_numpy(gy, w, x.shape, *geometry),
                               numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(conv.conv2d_backward_weight_numpy(gy, x, w.shape, *geometry),
                               numerical_gradient(loss, w), rtol=1e-6, atol=1e-8)


def test_col2im_is_the_adjoint_of_im2col(rng):
    x = randn(rng, (2, 3, 6, 7))
    cols = conv.im2col(x, 3, 2, (2, 1), (1, 1), (1, 2))
    assert cols.shape == (2, 3 * 3 * 2, 3 * 7)  # OH = (6 + 2 - 2 - 1) // 2 + 1, OW = 7
    c = randn(rng, cols.shape)
    dx = conv.col2im(c, x.shape, 3, 2, (2, 1), (1, 1), (1, 2))
    assert dx.shape == x.shape
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * dx), rtol=1e-12)


def test_conv2d_numba_float32_and_a_1x1_kernel(rng):
    x, w = conv_case(rng, np.float32, n=3, c=5, h=9, w=8, o=7, kh=1, kw=1)
    y = conv.conv2d_forward_numba(x, w, (1, 1), (0, 0), (1, 1))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x), **TOL[np.float32])
    x, w = conv_case(rng, np.float32)
    geometry = GEOMETRIES[1]
    gy = randn(rng, conv.conv2d_forward_numpy(x, w, *geometry).shape, np.float32)
    x64, w64, gy64 = x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64)
    np.testing.assert_allclose(conv.conv2d_forward_numba(x, w, *geometry),
                               conv.conv2d_reference(x64, w64, *geometry), **TOL[np.float32])
    np.testing.assert_allclose(conv.conv2d_backward_input_numba(gy, w, x.shape, *geometry),
                               conv.conv2d_backward_input_numpy(gy64, w64, x.shape, *geometry),
                               **TOL[np.float32])
    np.testing.assert_allclose(conv.conv2d_backward_weight_numba(gy, x, w.shape, *geometry),
                               conv.conv2d_backward_weight_numpy(gy64, x64, w.shape, *geometry),
                               **TOL[np.float32])


@pytest.mark.parametrize("x_shape, w_shape, words", [
    ((2, 3, 5, 5), (4, 2, 3, 3), ["conv2d_forward_numba", "3 channels", "expects 2"]),
    ((2, 3, 5), (4, 3, 3, 3), ["4-D", "(2, 3, 5)"]),
    ((1, 1, 2, 2), (1, 1, 3, 3), ["does not fit", "(3, 3)", "2x2"]),
])
def test_conv2d_rejects_bad_input_clearly(x_shape, w_shape, words):
    with pytest.raises(ValueError) as err:
        conv.conv2d_forward_numba(np.ones(x_shape), np.ones(w_shape), (1, 1), (0, 0), (1, 1))
    assert all(w in str(err.value) for w in words), str(err.value)


def test_conv2d_backward_rejects_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"conv2d_backward_input_numba.*\(1, 2, 3, 3\)"):
        conv.conv2d_backward_input_numba(np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3)),
                                         (1, 1, 5, 5), (1, 1), (0, 0), (1, 1))


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------
POOLS = [  # kernel, stride, padding
    ((2, 2), (2, 2), (0, 0)),  # the classic, windows do not overlap
    ((3, 3), (1, 1), (1, 1)),  # overlapping, padded
    ((3, 2), (2, 1), (1, 1)),  # overlapping, asymmetric, padded
    ((1, 1), (2, 3), (0, 0)),  # subsampling
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride, padding", POOLS)
def test_max_pool_numpy_and_numba_equal_reference(rng, dtype, kernel, stride, padding):
    x = randn(rng, (2, 3, 7, 8), dtype)
    y, argmax = pool.max_pool2d_reference(x, kernel, stride, padding)
    for forward in (pool.max_pool2d_forward_numpy, pool.max_pool2d_forward_numba):
        y2, argmax2 = forward(x, kernel, stride, padding)
        assert y2.dtype == dtype and argmax2.dtype == np.int64
        np.testing.assert_array_equal(y2, y)
        np.testing.assert_array_equal(argmax2, argmax)
    gy = randn(rng, y.shape, dtype)
    dx = pool.max_pool2d_backward_numpy(gy, argmax, x.shape, kernel, stride, padding)
    np.testing.assert_allclose(
        pool.max_pool2d_backward_numba(gy, argmax, x.shape, kernel, stride, padding), dx,
        **TOL[dtype])


def test_max_pool_argmax_is_the_unpadded_flat_index_and_overlaps_add_up():
    x = np.array([[[[1.0, 5.0, 2.0],
                    [0.0, 3.0, 4.0]]]])
    for forward, backward in [(pool.max_pool2d_forward_numpy, pool.max_pool2d_backward_numpy),
                              (pool.max_pool2d_forward_numba, pool.max_pool2d_backward_numba)]:
        y, argmax = forward(x, (2, 2), (1, 1), (1, 1))  # 3 x 4 windows, padded
        np.testing.assert_array_equal(argmax[0, 0], [[0, 1, 1, 2], [0, 1, 1, 5], [3, 4, 5, 5]])
        np.testing.assert_array_equal(y[0, 0], [[1, 5, 5, 2], [1, 5, 5, 4], [0, 3, 4, 4]])
        dx = backward(np.ones_like(y), argmax, x.shape, (2, 2), (1, 1), (1, 1))
        np.testing.assert_array_equal(dx[0, 0], [[2, 4, 1], [1, 1, 3]])


def test_max_pool_propagates_nan_and_keeps_the_first_of_ties():
    x = np.array([[[[2.0, 2.0, np.nan, 1.0]]]])
    for forward in (pool.max_pool2d_reference, pool.max_pool2d_forward_numpy,
                    pool.max_pool2d_forward_numba):
        y, argmax = forward(x, (1, 2), (1, 1), (0, 0))
        np.testing.assert_array_equal(y[0, 0, 0], [2.0, np.nan, np.nan])
        np.testing.assert_array_equal(argmax[0, 0, 0], [0, 2, 2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, stride, padding", POOLS)
def test_avg_pool_numpy_and_numba_equal_reference(rng, dtype, kernel, stride, padding):
    x = randn(rng, (1, 2, 7, 8), dtype)
    y = pool.avg_pool2d_reference(x, kernel, stride, padding)
    for forward in (pool.avg_pool2d_forward_numpy, pool.avg_pool2d_forward_numba):
        out = forward(x, kernel, stride, padding)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, y, **TOL[dtype])
    gy = randn(rng, y.shape, dtype)
    np.testing.assert_allclose(
        pool.avg_pool2d_backward_numba(gy, x.shape, kernel, stride, padding),
        pool.avg_pool2d_backward_numpy(gy, x.shape, kernel, stride, padding), **TOL[dtype])


def test_avg_pool_counts_padding_in_the_mean():
    y = pool.avg_pool2d_forward_numba(np.ones((1, 1, 2, 2)), (2, 2), (1, 1), (1, 1))
    np.testing.assert_array_equal(y[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@pytest.mark.parametrize("kernel, stride, padding", [POOLS[1], POOLS[2]])
def test_pool_backward_equals_finite_differences(rng, kernel, stride, padding):
    x = randn(rng, (1, 2, 5, 4))  # distinct values: each window has one clear maximum
    gy_max = randn(rng, pool.max_pool2d_reference(x, kernel, stride, padding)[0].shape)
    gy_avg = randn(rng, gy_max.shape)
    max_loss = lambda: np.sum(gy_max * pool.max_pool2d_reference(x, kernel, stride, padding)[0])  # noqa: E731,E501
    avg_loss = lambda: np.sum(gy_avg * pool.avg_pool2d_reference(x, kernel, stride, padding))  # noqa: E731
    argmax = pool.max_pool2d_forward_numpy(x, kernel, stride, padding)[1]
    for backward in (pool.max_pool2d_backward_numpy, pool.max_pool2d_backward_numba):
        np.testing.assert_allclose(backward(gy_max, argmax, x.shape, kernel, stride, padding),
                                   numerical_gradient(max_loss, x), rtol=1e-6, atol=1e-8)
    for backward in (pool.avg_pool2d_backward_numpy, pool.avg_pool2d_backward_numba):
        np.testing.assert_allclose(backward(gy_avg, x.shape, kernel, stride, padding),
                                   numerical_gradient(avg_loss, x), rtol=1e-6, atol=1e-8)


def test_pool_rejects_bad_input_clearly():
    with pytest.raises(ValueError, match=r"max_pool2d_forward_numba: padding \(2, 2\).*half"):
        pool.max_pool2d_forward_numba(np.ones((1, 1, 5, 5)), (3, 3), (1, 1), (2, 2))
    with pytest.raises(ValueError, match=r"avg_pool2d_forward_numpy.*4-D"):
        pool.avg_pool2d_forward_numpy(np.ones((5, 5)), (2, 2), (2, 2), (0, 0))
    with pytest.raises(ValueError, match=r"avg_pool2d_backward_numba.*expected \(1, 1, 2, 2\)"):
        pool.avg_pool2d_backward_numba(np.ones((1, 1, 3, 3)), (1, 1, 4, 4), (2, 2), (2, 2), (0, 0))
