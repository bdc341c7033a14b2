"""Matrix multiplication C = A @ B: a textbook triple loop, then a fast numba GEMM.

Read `matmul_reference` first: three nested loops, one multiply-add each. It is
correct and about a million times slower than BLAS, because every multiply-add
pays for a trip through the Python interpreter.

`matmul_numba` does the same arithmetic, compiled, in the order the hardware
likes. Four ideas make it fast, each one measured on the 2-core AMD EPYC
(Zen 3, AVX2 + FMA, 32 KiB L1 and 512 KiB L2 per core) this was written on;
the numbers are float32, n = 1024, one thread, against OpenBLAS on one thread:

1. Contiguous inner loop. The innermost loop walks along a row of C and a row
   of B (`c[i, j] += a[i, p] * b[p, j]` for j = 0, 1, 2, ...), so LLVM turns it
   into AVX2 instructions that do 8 float32 multiply-adds at once.
2. Register blocking. A loop that does one multiply-add per element of C must
   load and store C for each one; the CPU can only store about one vector per
   cycle, while it can do two vector multiply-adds. `_kernel_3x4` updates 3 rows
   of C with 4 steps of p in one pass: each B value it loads is used 3 times
   and each C value it loads and stores gets 4 multiply-adds. The 12 values of
   A stay in registers. The compiled loop body is 7 loads, 12 FMAs, 3 stores:
   the FMA units, not memory, set the pace.
3. Cache blocking and packing. A panel of B (KC rows x NC columns, 256 KiB)
   is copied into a contiguous buffer once, then reused by every row of C
   while it sits in the L2 cache. Without the copy, rows of a 1024-wide B lie
   4 KiB apart and crowd into a few cache sets.
4. Threads. The tiles of C (MC rows x NC columns, per batch item) are
   independent, so `prange` hands them to the cores. Waking the thread pool
   costs tens of microseconds (milliseconds on a busy machine), so a product
   of fewer than SERIAL_FLOPS runs the same tasks on the calling thread.

One numba detail matters as much as any of these: the kernels index 1-D row
views with a loop variable that starts at 0. `c[i, j0 + j]` would make numba
check for a negative index (Python's wrap-around) on every element, which
stops LLVM from vectorizing, and making a view per call costs atomic
reference counting; together they made the first version 3x slower.

Floating point: the kernels are compiled with fastmath={"contract"} only,
which lets LLVM fuse a * b + c into one FMA instruction (one rounding instead
of two, so slightly *more* accurate). The order of the sum over p is the
plain one, so float64 results match the reference to ~1e-15.

Numba compiles a kernel the first time it is called with a given dtype (a few
seconds each); cache=True keeps the machine code in __pycache__ for later runs.
Importing this module compiles nothing.
"""
import numpy as np
from numba import get_num_threads, njit, prange

# fastmath flags: only allow fusing multiply + add into one FMA (see above)
FMA = {"contract"}

PANEL_BYTES = 2048      # NC: columns per packed panel of B: 512 float32 or 256 float64
MAX_PANEL_BYTES = 4096  # a contiguous B up to this wide (1024 float32) is used unpacked
SLAB_BYTES = 256 * 1024  # KC: rows of a panel per pass, so that KC x NC fills half the L2
MC = 96                 # at most this many rows of C per task (a multiple of 3)
TASKS_PER_THREAD = 4    # split rows finer when there are fewer tiles, so no core idles
SERIAL_FLOPS = 1 << 21  # products with fewer flops (~50 us on one core) skip the threads


# ----------------------------------------------------------------------------
# reference: the definition, to read and to test against
# ----------------------------------------------------------------------------
def matmul_reference(a, b):
    """C[i, j] = sum_p A[i, p] * B[p, j] for 2-D A (m, k) and B (k, n), in pure Python.

    Sums in float64 and returns an array of A's dtype. Only for small sizes: n = 128
    takes about a second.
    """
    a, b = np.asarray(a), np.asarray(b)
    _check_shapes("matmul_reference", a, b, batched=False)
    m, k = a.shape
    n = b.shape[1]
    al, bl = a.tolist(), b.tolist()  # Python floats: indexing lists is faster than arrays
    c = [[0.0] * n for _ in range(m)]
    for i in range(m):
        for j in range(n):
            total = 0.0
            for p in range(k):
                total += al[i][p] * bl[p][j]
            c[i][j] = total
    return np.array(c, dtype=a.dtype).reshape(m, n)


# ----------------------------------------------------------------------------
# fast: the micro-kernels (the innermost loops)
# ----------------------------------------------------------------------------
@njit(fastmath=FMA, inline="always", cache=True)
def _kernel_3x4(a, i, p, bp, c0, c1, c2):
    """Rows i, i+1, i+2 of C (the views c0, c1, c2) += A[i:i+3, p:p+4] @ bp[p:p+4, :].

    The 12 values of A are loaded once into registers; the j loop is vectorized.
    """
    a00, a01, a02, a03 = a[i, p], a[i, p + 1], a[i, p + 2], a[i, p + 3]
    a10, a11, a12, a13 = a[i + 1, p], a[i + 1, p + 1], a[i + 1, p + 2], a[i + 1, p + 3]
    a20, a21, a22, a23 = a[i + 2, p], a[i + 2, p + 1], a[i + 2, p + 2], a[i + 2, p + 3]
    for j in range(c0.shape[0]):
        b0, b1, b2, b3 = bp[p, j], bp[p + 1, j], bp[p + 2, j], bp[p + 3, j]
        y0 = c0[j] + a00 * b0 + a01 * b1 + a02 * b2 + a03 * b3
        y1 = c1[j] + a10 * b0 + a11 * b1 + a12 * b2 + a13 * b3
        y2 = c2[j] + a20 * b0 + a21 * b1 + a22 * b2 + a23 * b3
        # storing after all loads tells LLVM the B values need not be reloaded
        c0[j] = y0
        c1[j] = y1
        c2[j] = y2


@njit(fastmath=FMA, inline="always", cache=True)
def _kernel_1x4(a, i, p, bp, c0):
    """Row i of C += A[i, p:p+4] @ bp[p:p+4, :]: for the 1 or 2 rows left over after
    the groups of 3 (4 FMAs per load and store of C, still well vectorized)."""
    a0, a1, a2, a3 = a[i, p], a[i, p + 1], a[i, p + 2], a[i, p + 3]
    for j in range(c0.shape[0]):
        c0[j] += a0 * bp[p, j] + a1 * bp[p + 1, j] + a2 * bp[p + 2, j] + a3 * bp[p + 3, j]


@njit(fastmath=FMA, inline="always", cache=True)
def _kernel_1x1(alpha, bp, p, c0):
    """Row of C += alpha * bp[p, :]: for the last k % 4 steps."""
    for j in range(c0.shape[0]):
        c0[j] += alpha * bp[p, j]


@njit(fastmath=FMA, cache=True)
def _update_tile(a, bp, c, i0, i1, j0, w, p0, p1):
    """C[i0:i1, j0:j0+w] += A[i0:i1, p0:p1] @ bp[p0:p1, :w].

    bp is one packed panel of B; rows go 3 at a time through the 3x4 kernel.
    (The kernels take the width from the C row views: slicing bp to :w would
    make numba forget that its rows are contiguous, and stop vectorizing.)"""
    p4 = p0 + (p1 - p0) // 4 * 4  # the kernels take p in steps of 4; then the rest
    i = i0
    while i < i1:
        if i + 3 <= i1:
            c0, c1, c2 = c[i, j0:j0 + w], c[i + 1, j0:j0 + w], c[i + 2, j0:j0 + w]
            for p in range(p0, p4, 4):
                _kernel_3x4(a, i, p, bp, c0, c1, c2)
            for p in range(p4, p1):
                _kernel_1x1(a[i, p], bp, p, c0)
                _kernel_1x1(a[i + 1, p], bp, p, c1)
                _kernel_1x1(a[i + 2, p], bp, p, c2)
            i += 3
        else:
            c0 = c[i, j0:j0 + w]
            for p in range(p0, p4, 4):
                _kernel_1x4(a, i, p, bp, c0)
            for p in range(p4, p1):
                _kernel_1x1(a[i, p], bp, p, c0)
            i += 1


# ----------------------------------------------------------------------------
# fast: packing and the parallel driver
# ----------------------------------------------------------------------------
@njit(fastmath=FMA, inline="always", cache=True)
def _gemm_task(task, a, panels, c, mc, kc):
    """One task of C (batch, m, n) += A @ B, with B given as packed panels (see
    _pack_panels): one batch item x up to mc rows x one panel. Within it, passes of
    kc steps of p keep a kc x nc slab of the panel in cache while all rows use it.

    A is (batch, m, k), or (1, m, k) to use the same A for every batch item."""
    npanels, k, nc = panels.shape[1], panels.shape[2], panels.shape[3]
    m, n = c.shape[1], c.shape[2]
    nrow_blocks = (m + mc - 1) // mc
    bi = task // (nrow_blocks * npanels)
    i0 = (task // npanels) % nrow_blocks * mc
    q = task % npanels
    ai = a[0] if a.shape[0] == 1 else a[bi]
    width = min(nc, n - q * nc)
    for p0 in range(0, k, kc):
        _update_tile(ai, panels[bi, q], c[bi], i0, min(m, i0 + mc), q * nc, width,
                     p0, min(k, p0 + kc))


@njit(parallel=True, fastmath=FMA, cache=True)
def _gemm_parallel(a, panels, c, mc, kc, ntasks):
    """All tasks, shared among the threads by prange."""
    for task in prange(ntasks):
        _gemm_task(task, a, panels, c, mc, kc)


@njit(fastmath=FMA, cache=True)
def _gemm_serial(a, panels, c, mc, kc, ntasks):
    """All tasks on the calling thread: for products too small to pay for waking the
    thread pool (tens of microseconds, far more on a busy machine)."""
    for task in range(ntasks):
        _gemm_task(task, a, panels, c, mc, kc)


def _pack_panels(b):
    """B (batch, k, n), any strides -> panels (batch, n_panels, k, nc), each panel
    holding nc consecutive columns of B with contiguous rows of nc values.

    A C-contiguous B no wider than MAX_PANEL_WIDTH is already one panel: no copy.
    Otherwise the copy is one strided NumPy assignment per panel group; the last
    panel's columns past n are left uninitialized and never read."""
    nbatch, k, n = b.shape
    if b.flags.c_contiguous and n <= MAX_PANEL_BYTES // b.dtype.itemsize:
        return b.reshape(nbatch, 1, k, n)
    nc = PANEL_BYTES // b.dtype.itemsize
    full, rest = divmod(n, nc)
    panels = np.empty((nbatch, full + (rest > 0), k, nc), dtype=b.dtype)
    # (batch, k, full*nc) -> (batch, k, full, nc) -> (batch, full, k, nc)
    panels[:, :full] = b[:, :, :full * nc].reshape(nbatch, k, full, nc).transpose(0, 2, 1, 3)
    if rest:
        panels[:, full, :, :rest] = b[:, :, full * nc:]
    return panels


def _rows_per_task(m, other_tasks):
    """Rows of C per task: at most MC, fewer when the batch and panels alone would
    give each thread fewer than TASKS_PER_THREAD tasks. A multiple of 3."""
    want = TASKS_PER_THREAD * get_num_threads()
    blocks = max(1, -(-want // max(1, other_tasks)))  # ceil division
    rows = -(-m // blocks)
    return max(3, min(MC, -(-rows // 3) * 3))


def gemm(a, b):
    """C = A @ B for A (batch or 1, m, k) and B (batch, k, n), same float dtype.

    The building block that the conv kernels also use: A is made C-contiguous,
    B may have any strides (it is packed), and a batch of 1 in A is shared by
    every batch item of B."""
    a = np.ascontiguousarray(a)
    panels = _pack_panels(b)
    nbatch, npanels, k, nc = panels.shape
    c = np.zeros((nbatch, a.shape[1], b.shape[2]), dtype=a.dtype)
    kc = max(4, SLAB_BYTES // (nc * a.dtype.itemsize) // 4 * 4)
    m = a.shape[1]
    mc = _rows_per_task(m, nbatch * npanels)
    ntasks = nbatch * -(-m // mc) * npanels
    small = 2 * nbatch * m * k * b.shape[2] < SERIAL_FLOPS
    (_gemm_serial if small else _gemm_parallel)(a, panels, c, mc, kc, ntasks)
    return c


def matmul_numba(a, b):
    """C = A @ B with the blocked numba GEMM. 2-D (m, k) @ (k, n) or batched
    (B, m, k) @ (B, k, n); float32 or float64, the same for both; any strides.
    Returns a new C-contiguous array of that dtype."""
    a, b = np.asarray(a), np.asarray(b)
    _check_shapes("matmul_numba", a, b, batched=True)
    if a.ndim == 2:
        return gemm(a[None], b[None])[0]
    return gemm(a, b)


def _check_shapes(op, a, b, batched):
    """Raise a ValueError naming op, the shapes and dtypes, unless A @ B is defined."""
    ndims = (2, 3) if batched else (2,)
    if a.ndim not in ndims or b.ndim != a.ndim:
        allowed = "2-D, or both 3-D (batched)" if batched else "2-D"
        raise ValueError(f"{op}: inputs must both be {allowed}, got shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        raise ValueError(f"{op}: inputs must both be float32 or both float64, got {a.dtype} "
                         f"and {b.dtype}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not align: "
                         f"{a.shape[-1]} != {b.shape[-2]}")
    if a.ndim == 3 and a.shape[0] != b.shape[0]:
        raise ValueError(f"{op}: batch sizes differ: {a.shape} and {b.shape}")
