"""Matrix multiplication C = A @ B: a textbook triple loop, then a fast numba GEMM.

Read `matmul_reference` first: three nested loops, one multiply-add each. It is
correct and about a million times slower than BLAS, because every multiply-add
pays for a trip through the Python interpreter.

`matmul_numba` does the same arithmetic, compiled, in the order the hardware
likes. The ideas that make it fast, each measured on the 2-core AMD EPYC (Zen 3,
AVX2 + FMA, 32 KiB L1 and 512 KiB L2 per core) this was written on, float32,
one thread, against OpenBLAS on one thread (GFLOP/s, best of many runs):

1. Contiguous inner loop. The innermost loop walks along contiguous memory, so
   LLVM turns it into AVX2 instructions that do 8 float32 multiply-adds at once.
2. Register blocking. The core can do two vector multiply-adds (FMAs) per cycle
   but load only two vectors, so every value loaded must serve several FMAs:
   each kernel below computes a small block of C at once.
3. Two kernels, because the best loop order depends on the memory layout.
   - Outer products (`_kernel_3x4`), for B with contiguous rows (the backward
     products gy @ W and gy.T @ x, attention's P @ V). The vectorized loop runs
     along a row of B and 3 rows of C, updating them with 4 steps of p: each B
     value loaded serves 3 FMAs, each C value loaded and stored gets 4, and the
     12 values of A stay in registers (7 loads, 12 FMAs, 3 stores per vector).
     C goes through memory at every 4th step: numba cannot tell LLVM that C
     and B never overlap, so LLVM will not keep C in registers, and each call
     pays a fixed cost to set up (large when rows are short: 32 or 64 wide).
     n = 1024: 69 GFLOP/s (BLAS 88).
   - Inner products (`_dot_3x3`), for A with contiguous rows and B with
     contiguous columns, as in a layer's forward pass x @ W.T. The vectorized
     loop runs along p with 9 running sums, C[i:i+3, j:j+3]: 6 loads for 9
     FMAs, and the sums stay in registers from the first step to the last.
     That takes one licence, fastmath "reassoc": each sum is kept as 8 partial
     sums (one per vector lane), added up at the end. Before, such a B was
     copied into row-major panels for the outer-product kernel:
     (128, 784) @ (784, 256) went from 50 to 69 GFLOP/s (BLAS 84),
     (128, 256) @ (256, 128) from 37 to 57 (BLAS 82), and
     (128, 128) @ (128, 10) from 6 to 22 (BLAS 40): 10 columns are one vector
     and two leftover lanes per outer-product row.
   Adding up the partial sums is a fixed cost per 3 x 3 block of C, as the
   set-up is per call of the outer-product kernel, so `gemm` takes inner
   products when the layout allows and k >= n, outer products otherwise.
   Copying an operand into the other layout would cost 0.5-1.5 ns per element
   (a transposing copy, which numba does not vectorize), more than the
   kernels' difference.
4. Cache blocking and packing. A task works on a block of rows of A small
   enough to stay in the L2 cache while it is reused. For outer products a
   panel of B (KC rows x NC columns, 256 KiB) is copied into a contiguous
   buffer, because rows of a wide B lie 4 KiB apart and crowd into a few
   cache sets.
5. No copies of A. A weight gradient gy.T @ x hands over a transposed A; the
   outer-product kernel reads its 12 scalars per call straight from gy
   instead of copying A first (the copy took 50 of 930 us on
   (256, 128)^T @ (128, 784), 200 of 1900 us on attention's P^T @ dY).
   With the index fix below: (256, 128)^T @ (128, 784) 69 -> 77 GFLOP/s
   (BLAS 86), 128 x (64x64)^T @ (64x32) 23 -> 40 (BLAS 66).
6. Threads. The tiles of C (rows x columns, per batch item) are independent,
   so `prange` hands them to the cores, in equal blocks of rows. Waking the
   thread pool costs tens of microseconds (milliseconds on a busy machine),
   so a product of fewer than SERIAL_FLOPS runs the same tasks on the calling
   thread.

One numba detail matters as much as any of these: numba checks every index for
a negative value (Python's wrap-around) unless LLVM can prove it is not, and a
check left in the vectorized loop slows it down or stops vectorizing. So the
kernels index views with loop variables that start at 0: `c[i, j0 + j]` made
the first version 3x slower, and reading B as bp[p, j] with p counting from a
pass's first row p0 (instead of slab[q, j], slab = bp[p0:p1], q from 0) made
the outer-product kernel 1.4x slower on attention's 128 x (64x32 @ 32x64)
(which now runs at 51 GFLOP/s, was 36; BLAS 63).

Floating point: both kernels use fastmath "contract", which fuses a * b + c
into one FMA (one rounding instead of two). The outer-product kernel sums over
p in the plain order; the inner-product kernel's 8 partial sums round like a
pairwise sum, if anything more accurately (float64 error 4e-17 vs 2e-16 of
sum |A||B| at k = 2000).

Numba compiles a kernel the first time it is called with a given dtype (a few
seconds each); cache=True keeps the machine code in __pycache__ for later runs.
Importing this module compiles nothing.
"""
import numpy as np
from numba import get_num_threads, njit, prange

# fastmath flags: fuse multiply + add into one FMA (see above); the inner-product kernel
# may also reorder its sums, so that LLVM can keep vectors of partial sums in registers
FMA = {"contract"}
DOT_MATH = {"contract", "reassoc"}

PANEL_BYTES = 2048       # NC: columns per packed panel of B: 512 float32 or 256 float64
MAX_PANEL_BYTES = 4096   # a contiguous B up to this wide (1024 float32) is used unpacked
SLAB_BYTES = 256 * 1024  # KC: rows of a panel per pass, so that KC x NC fills half the L2
DOT_DEPTH_BYTES = 4096   # inner products: steps of p per pass (1024 float32, 512 float64)
MC = 96                  # at most about this many rows of C per task
TASKS_PER_THREAD = 4     # at least this many tasks per thread, so that no core idles
SERIAL_FLOPS = 1 << 21   # products with fewer flops (~50 us on one core) skip the threads


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
# fast, kernel 1: outer products, for B with contiguous rows
# ----------------------------------------------------------------------------
@njit(inline="always", cache=True)
def _a4(a, a_t, i, p):
    """A[i, p:p+4] as four scalars, where `a` holds A itself, or its transpose when a_t
    (a weight gradient gy.T @ x hands over gy as it is, with no transposing copy)."""
    if a_t:
        return a[p, i], a[p + 1, i], a[p + 2, i], a[p + 3, i]
    return a[i, p], a[i, p + 1], a[i, p + 2], a[i, p + 3]


@njit(inline="always", cache=True)
def _a1(a, a_t, i, p):
    """A[i, p], stored as A or as its transpose (see _a4)."""
    return a[p, i] if a_t else a[i, p]


@njit(fastmath=FMA, inline="always", cache=True)
def _kernel_3x4(x0, x1, x2, slab, q, c0, c1, c2):
    """Rows i, i+1, i+2 of C (the views c0, c1, c2) += A[i:i+3, p:p+4] @ B[p:p+4, :],
    where x0, x1, x2 are A[i + r, p:p+4], 4 scalars each, and B[p + s] is slab[q + s].

    The 12 values of A sit in registers; the j loop is vectorized."""
    a00, a01, a02, a03 = x0
    a10, a11, a12, a13 = x1
    a20, a21, a22, a23 = x2
    for j in range(c0.shape[0]):
        b0, b1, b2, b3 = slab[q, j], slab[q + 1, j], slab[q + 2, j], slab[q + 3, j]
        y0 = c0[j] + a00 * b0 + a01 * b1 + a02 * b2 + a03 * b3
        y1 = c1[j] + a10 * b0 + a11 * b1 + a12 * b2 + a13 * b3
        y2 = c2[j] + a20 * b0 + a21 * b1 + a22 * b2 + a23 * b3
        # storing after all loads tells LLVM the B values need not be reloaded
        c0[j] = y0
        c1[j] = y1
        c2[j] = y2


@njit(fastmath=FMA, inline="always", cache=True)
def _kernel_1x4(x0, slab, q, c0):
    """Row i of C += A[i, p:p+4] @ B[p:p+4, :]: for the 1 or 2 rows left over after
    the groups of 3 (4 FMAs per load and store of C, still well vectorized)."""
    a0, a1, a2, a3 = x0
    for j in range(c0.shape[0]):
        c0[j] += a0 * slab[q, j] + a1 * slab[q + 1, j] + a2 * slab[q + 2, j] + a3 * slab[q + 3, j]


@njit(fastmath=FMA, inline="always", cache=True)
def _kernel_3x1(a0, a1, a2, brow, c0, c1, c2):
    """Rows i, i+1, i+2 of C += A[i:i+3, p] * B[p, :]: for the last k % 4 steps."""
    for j in range(c0.shape[0]):
        b = brow[j]
        y0, y1, y2 = c0[j] + a0 * b, c1[j] + a1 * b, c2[j] + a2 * b
        c0[j] = y0
        c1[j] = y1
        c2[j] = y2


@njit(fastmath=FMA, inline="always", cache=True)
def _kernel_1x1(alpha, brow, c0):
    """Row of C += alpha * a row of B: the last k % 4 steps of the last rows."""
    for j in range(c0.shape[0]):
        c0[j] += alpha * brow[j]


@njit(fastmath=FMA, cache=True)
def _update_tile(a, a_t, bp, c, i0, i1, j0, w, p0, p1):
    """C[i0:i1, j0:j0+w] += A[i0:i1, p0:p1] @ bp[p0:p1, :w].

    bp is one packed panel of B; rows go 3 at a time through the 3x4 kernel. The
    kernels read B from the slab bp[p0:p1] with row indices q counted from 0: with
    p counted from p0, numba's negative-index check on bp[p, j] stays in the
    vectorized loop (30% slower on attention's 64x32 @ 32x64). They take the width
    from the C row views: slicing bp to :w would make numba forget that its rows are
    contiguous, and stop vectorizing."""
    slab = bp[p0:p1]
    k4 = (p1 - p0) // 4 * 4  # the kernels take p in steps of 4; then the rest
    rest = bp[p0 + k4:p1]
    i = i0
    while i < i1:
        if i + 3 <= i1:
            c0, c1, c2 = c[i, j0:j0 + w], c[i + 1, j0:j0 + w], c[i + 2, j0:j0 + w]
            for q in range(0, k4, 4):
                p = p0 + q
                _kernel_3x4(_a4(a, a_t, i, p), _a4(a, a_t, i + 1, p), _a4(a, a_t, i + 2, p),
                            slab, q, c0, c1, c2)
            for q in range(rest.shape[0]):
                p = p0 + k4 + q
                _kernel_3x1(_a1(a, a_t, i, p), _a1(a, a_t, i + 1, p), _a1(a, a_t, i + 2, p),
                            rest[q], c0, c1, c2)
            i += 3
        else:
            c0 = c[i, j0:j0 + w]
            for q in range(0, k4, 4):
                _kernel_1x4(_a4(a, a_t, i, p0 + q), slab, q, c0)
            for q in range(rest.shape[0]):
                _kernel_1x1(_a1(a, a_t, i, p0 + k4 + q), rest[q], c0)
            i += 1


@njit(inline="always", cache=True)
def _block(index, nblocks, size):
    """(start, stop) of the index-th of nblocks near-equal parts of range(size), cut at
    multiples of 3 (the kernels' groups of rows and columns), so that threads given the
    same number of tasks get the same work."""
    groups = (size + 2) // 3
    return 3 * (index * groups // nblocks), min(size, 3 * ((index + 1) * groups // nblocks))


@njit(cache=True)
def _outer_task(task, a, a_t, panels, c, row_blocks, kc):
    """One task of C (batch, m, n) = A @ B, with B given as packed panels (see
    _pack_panels): one batch item x one of row_blocks blocks of rows x one panel.
    Within it, passes of kc steps of p keep a kc x nc slab of the panel in cache while
    all rows use it.

    `a` is A (batch, m, k), or A's transpose (batch, k, m) when a_t; a batch of 1 is
    shared by every batch item."""
    npanels, k, nc = panels.shape[1], panels.shape[2], panels.shape[3]
    m, n = c.shape[1], c.shape[2]
    bi = task // (row_blocks * npanels)
    i0, i1 = _block((task // npanels) % row_blocks, row_blocks, m)
    q = task % npanels
    ai = a[0] if a.shape[0] == 1 else a[bi]
    j0 = q * nc
    width = min(nc, n - j0)
    c[bi, i0:i1, j0:j0 + width] = 0  # here, not by np.zeros: the tile is about to be used
    for p0 in range(0, k, kc):
        _update_tile(ai, a_t, panels[bi, q], c[bi], i0, i1, j0, width, p0, min(k, p0 + kc))


@njit(parallel=True, cache=True)
def _outer_parallel(a, a_t, panels, c, row_blocks, kc, ntasks):
    """All outer-product tasks, shared among the threads by prange."""
    for task in prange(ntasks):
        _outer_task(task, a, a_t, panels, c, row_blocks, kc)


@njit(cache=True)
def _outer_serial(a, a_t, panels, c, row_blocks, kc, ntasks):
    """All outer-product tasks on the calling thread: for products too small to pay for
    waking the thread pool (tens of microseconds, far more on a busy machine)."""
    for task in range(ntasks):
        _outer_task(task, a, a_t, panels, c, row_blocks, kc)


def _pack_panels(b):
    """B (batch, k, n), any strides -> panels (batch, n_panels, k, nc), each panel
    holding nc consecutive columns of B with contiguous rows of nc values.

    A C-contiguous B no wider than MAX_PANEL_BYTES is already one panel: no copy.
    Otherwise the copy is one strided NumPy assignment per panel group; the last
    panel's columns past n are left uninitialized and never read."""
    nbatch, k, n = b.shape
    if b.flags.c_contiguous and n <= MAX_PANEL_BYTES // b.dtype.itemsize:
        return b.reshape(nbatch, 1, k, n)
    nc = min(n, PANEL_BYTES // b.dtype.itemsize)
    full, rest = divmod(n, nc)
    panels = np.empty((nbatch, full + (rest > 0), k, nc), dtype=b.dtype)
    # (batch, k, full*nc) -> (batch, k, full, nc) -> (batch, full, k, nc)
    panels[:, :full] = b[:, :, :full * nc].reshape(nbatch, k, full, nc).transpose(0, 2, 1, 3)
    if rest:
        panels[:, full, :, :rest] = b[:, :, full * nc:]
    return panels


# ----------------------------------------------------------------------------
# fast, kernel 2: inner products, for A with contiguous rows and B with contiguous columns
# ----------------------------------------------------------------------------
@njit(fastmath=DOT_MATH, inline="always", cache=True)
def _dot_3x3(a0, a1, a2, b0, b1, b2):
    """The nine dot products of rows a0, a1, a2 of A with rows b0, b1, b2 of B^T (the
    columns of B), all 1-D views of the same length.

    Each step loads 3 + 3 values and does 9 multiply-adds; the p loop is vectorized
    with 8 partial sums per dot product, all nine kept in registers."""
    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = a0.dtype.type(0)
    for p in range(a0.shape[0]):
        x0, x1, x2 = a0[p], a1[p], a2[p]
        y0, y1, y2 = b0[p], b1[p], b2[p]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
    return s00, s01, s02, s10, s11, s12, s20, s21, s22


@njit(fastmath=DOT_MATH, cache=True)
def _dot_tile(a, bt, c, i0, i1, j0, j1, p0, p1):
    """C[i0:i1, j0:j1] += A[i0:i1, p0:p1] @ B[p0:p1, j0:j1], with bt = B^T (rows of bt
    are columns of B) and a, bt both C-contiguous, 3 x 3 dot products at a time.

    The 3 columns of B stay in the L1 cache while all rows of A stream past them. A
    group of fewer than 3 rows or columns at the edge repeats its last one (the repeats
    are computed and thrown away), so that one kernel serves every shape."""
    ilast, jlast = i1 - 1, j1 - 1
    for j in range(j0, j1, 3):
        b0, b1, b2 = bt[j, p0:p1], bt[min(j + 1, jlast), p0:p1], bt[min(j + 2, jlast), p0:p1]
        for i in range(i0, i1, 3):
            s = _dot_3x3(a[i, p0:p1], a[min(i + 1, ilast), p0:p1], a[min(i + 2, ilast), p0:p1],
                         b0, b1, b2)
            if i + 3 <= i1 and j + 3 <= j1:
                _add_3x3(c, i, j, s)
            else:
                for r in range(min(3, i1 - i)):
                    for q in range(min(3, j1 - j)):
                        c[i + r, j + q] += s[3 * r + q]


@njit(inline="always", cache=True)
def _add_3x3(c, i, j, s):
    """C[i:i+3, j:j+3] += s (9 sums, row by row), written out: indexing the tuple s
    with a loop variable would cost a branch per element."""
    c0, c1, c2 = c[i, j:j + 3], c[i + 1, j:j + 3], c[i + 2, j:j + 3]
    c0[0] += s[0]
    c0[1] += s[1]
    c0[2] += s[2]
    c1[0] += s[3]
    c1[1] += s[4]
    c1[2] += s[5]
    c2[0] += s[6]
    c2[1] += s[7]
    c2[2] += s[8]


@njit(cache=True)
def _dot_task(task, a, bt, c, row_blocks, col_blocks, kc):
    """One task of C (batch, m, n) = A @ B: one batch item x one of row_blocks blocks of
    rows x one of col_blocks blocks of columns, in passes of kc steps of p (so that 3
    rows of A and 3 of B^T fit in the L1 cache).

    A is (batch, m, k) and bt = B^T (batch, n, k); a batch of 1 is shared by every item."""
    nbatch, m, n = c.shape
    k = a.shape[2]
    bi = task // (row_blocks * col_blocks)
    i0, i1 = _block((task // col_blocks) % row_blocks, row_blocks, m)
    j0, j1 = _block(task % col_blocks, col_blocks, n)
    ai = a[0] if a.shape[0] == 1 else a[bi]
    bti = bt[0] if bt.shape[0] == 1 else bt[bi]
    ci = c[bi]
    ci[i0:i1, j0:j1] = 0  # here, not by np.zeros: the tile is about to be used
    for p0 in range(0, k, kc):
        _dot_tile(ai, bti, ci, i0, i1, j0, j1, p0, min(k, p0 + kc))


@njit(parallel=True, cache=True)
def _dot_parallel(a, bt, c, row_blocks, col_blocks, kc, ntasks):
    """All inner-product tasks, shared among the threads by prange."""
    for task in prange(ntasks):
        _dot_task(task, a, bt, c, row_blocks, col_blocks, kc)


@njit(cache=True)
def _dot_serial(a, bt, c, row_blocks, col_blocks, kc, ntasks):
    """All inner-product tasks on the calling thread (see SERIAL_FLOPS)."""
    for task in range(ntasks):
        _dot_task(task, a, bt, c, row_blocks, col_blocks, kc)


# ----------------------------------------------------------------------------
# gemm: pick the kernel for the layout, split C into tasks
# ----------------------------------------------------------------------------
def _tasks_wanted(small):
    """How many tasks to split a product into, at least: TASKS_PER_THREAD per thread,
    so that no core idles while another finishes; 1 when the tasks run serially."""
    threads = 1 if small else get_num_threads()
    return 1 if threads == 1 else TASKS_PER_THREAD * threads


def _row_blocks(m, other_tasks, want):
    """How many blocks to cut the rows of C into: enough that no block has more than MC
    rows (its rows of A stay in the L2 cache) and that, with other_tasks blocks of
    batch items and columns, there are `want` tasks; no block smaller than 3 rows."""
    return min(-(-m // 3), max(-(-m // MC), -(-want // other_tasks)))  # ceil divisions


def _read_only(x):
    """A read-only view of x. Numba compiles a function once per type of its arguments,
    and read-only is part of an array's type (np.broadcast_to gives read-only views):
    passing every input read-only means one compilation, not one per mix of flags."""
    view = x.view()
    view.flags.writeable = False
    return view


def _gemm_inner(a, bt, small):
    """C = A @ B through the inner-product kernel, for C-contiguous A (batch, m, k) and
    bt = B^T (batch, n, k)."""
    nbatch, m, n = max(a.shape[0], bt.shape[0]), a.shape[1], bt.shape[1]
    c = np.empty((nbatch, m, n), dtype=a.dtype)
    kc = DOT_DEPTH_BYTES // a.dtype.itemsize
    # columns are split only when rows alone cannot make enough tasks (small m)
    want = _tasks_wanted(small)
    col_blocks = min(-(-n // 3), -(-want // (nbatch * -(-m // 3))))
    row_blocks = _row_blocks(m, nbatch * col_blocks, want)
    ntasks = nbatch * row_blocks * col_blocks
    (_dot_serial if small else _dot_parallel)(_read_only(a), _read_only(bt), c, row_blocks,
                                              col_blocks, kc, ntasks)
    return c


def _gemm_outer(a, a_t, b, small):
    """C = A @ B through the outer-product kernel: `a` is A (batch, m, k), or A's
    transpose (batch, k, m) when a_t, C-contiguous either way; B any strides."""
    panels = _pack_panels(b)
    nbatch, npanels, k, nc = panels.shape
    m = a.shape[2] if a_t else a.shape[1]
    c = np.empty((nbatch, m, b.shape[2]), dtype=a.dtype)
    kc = max(4, SLAB_BYTES // (nc * a.dtype.itemsize) // 4 * 4)
    row_blocks = _row_blocks(m, nbatch * npanels, _tasks_wanted(small))
    ntasks = nbatch * row_blocks * npanels
    (_outer_serial if small else _outer_parallel)(_read_only(a), a_t, _read_only(panels), c,
                                                  row_blocks, kc, ntasks)
    return c


def gemm(a, b):
    """C = A @ B for A (batch or 1, m, k) and B (batch or 1, k, n), same float dtype,
    any strides; a batch of 1 is shared by every batch item of the other operand. The
    building block that the conv kernels also use.

    Inner products when A's rows and B's columns are contiguous and k >= n: adding up
    the partial sums is a fixed cost per 3 x 3 block of C, as the overlap check is per
    row pass of the outer-product kernel, so the kernel with the longer loop wins.
    Outer products otherwise, reading A in place when it is the transpose of a
    contiguous array (a weight gradient's gy.T)."""
    nbatch, m, k, n = max(a.shape[0], b.shape[0]), a.shape[1], a.shape[2], b.shape[2]
    if 0 in (nbatch, m, k, n):
        return np.zeros((nbatch, m, n), dtype=a.dtype)
    small = 2 * nbatch * m * k * n < SERIAL_FLOPS
    bt = b.transpose(0, 2, 1)
    if a.flags.c_contiguous and bt.flags.c_contiguous and k >= n:
        return _gemm_inner(a, bt, small)
    if b.shape[0] < nbatch:  # the outer-product kernel shares only A
        b = np.broadcast_to(b, (nbatch, k, n))
    at = a.transpose(0, 2, 1)
    if at.flags.c_contiguous and not a.flags.c_contiguous:
        return _gemm_outer(at, True, b, small)
    return _gemm_outer(np.ascontiguousarray(a), False, b, small)


def matmul_numba(a, b):
    """C = A @ B with the blocked numba GEMM. 2-D (m, k) @ (k, n) or batched
    (B, m, k) @ (B, k, n); float32 or float64, the same for both; any strides.
    Returns a new C-contiguous array of that dtype."""
    a, b = np.asarray(a), np.asarray(b)
    _check_shapes("matmul_numba", a, b, batched=True)
    if a.ndim == 2:
        return gemm(a[None], b[None])[0]
    return gemm(_shared_batch(a), _shared_batch(b))


def _shared_batch(x):
    """x (batch, rows, cols) -> x[:1] when every batch item is the same memory (a batch
    axis of stride 0, as np.broadcast_to makes), so the GEMM reads it once."""
    return x[:1] if x.shape[0] > 1 and x.strides[0] == 0 else x


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
