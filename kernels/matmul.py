"""Matrix multiplication C = A @ B: a textbook triple loop, then a fast numba GEMM.

Read `matmul_reference` first: three nested loops, one multiply-add each. It is
correct and very slow, because every multiply-add pays for a trip through the
Python interpreter.

`matmul_numba` (and `gemm`, its batched form, which the conv kernels use) does the
same arithmetic compiled, in the order the hardware likes. The plan is the one of
GotoBLAS and BLIS (Goto and van de Geijn, "Anatomy of high-performance matrix
multiplication", 2008; Van Zee and van de Geijn, "BLIS", 2015):

1. A micro-kernel that keeps a block of C in registers. The tile C[i:i+MR, j:j+NR]
   (MR rows, NR columns: 6 x 32 float32 with AVX-512, see TILE_SHAPES) is a sum
   over p of outer products A[i:i+MR, p] x B[p, j:j+NR]. Each step loads the NR
   values of B (a few vector loads) and the MR values of A (each copied to every
   lane of a vector), then does MR x NR / lanes fused multiply-adds (FMAs), each
   into its own accumulator vector: enough independent FMAs to keep the FMA units
   busy despite their latency, few enough loads for the load ports. The
   accumulators stay in registers from the first step to the last, so C is read
   and written once per pass over p, not once per step.
2. Packing. A is copied into micro-panels of MR rows (for each p, the MR values
   A[i:i+MR, p] side by side) and B into micro-panels of NR columns (for each p,
   B[p, j:j+NR]). The micro-kernel then reads two contiguous streams whatever the
   inputs' strides: C order, a transposed view and a slice with gaps all cost one
   copy, and one compiled kernel serves them all. The last panels are padded with
   zeros, so the micro-kernel always computes whole tiles; only the part inside C
   is stored. Each piece is packed just before it is used, into a small buffer of
   the thread's: written into the cache and read from there.
3. Cache blocking. The loops around the micro-kernel, outermost first:
   - jc: one task per block of NC columns; it packs its micro-panels of B first
     (k x NC, at most SLAB_BYTES), which stay in the L2 or last-level cache;
   - ic: rows in blocks of MC, so that the block of C stays in cache through all
     the passes;
   - pc: the depth k in passes of KC steps; each pass packs the block's slice of A
     (MC x KC), which stays in the L2 cache, and one micro-panel of B (KC x NR)
     stays in the L1 cache while the micro-kernel runs down a column of tiles;
   - jr, ir: the tiles, down the columns (one micro-panel of B after another). A
     shallow product (k below SHALLOW) goes along the rows instead: with few steps
     per tile, storing the tiles costs more than reading B, and tiles stored side
     by side along C's rows are what the CPU's prefetcher can stream.
4. Threads. The blocks of C (batch item x columns) are independent tasks: `prange`
   hands them to the cores, each thread with its own packing buffers. Waking the
   thread pool costs as much as a small product, so one of fewer than SERIAL_FLOPS
   runs on the calling thread; a small product is cut into narrower blocks (then
   into parts of its rows) so that every core gets some.

Two things that numba does not do by itself are done by short @intrinsic helpers:
- Registers. Accumulators in a NumPy array live on the heap, where LLVM cannot tell
  that they never overlap A or B, so it would load and store every one at every
  step. `_stack_tile` gives the tile memory in the function's stack frame instead;
  LLVM sees that nothing else can reach it and keeps it in registers.
- Vector width. On CPUs with AVX-512, LLVM prefers 256-bit vectors (512-bit ones
  slowed the clock of the first such CPUs). A GEMM is the case the wide registers
  were made for: twice the arithmetic per instruction. `_use_wide_vectors` lets
  LLVM use them in the GEMM's functions only; where there are none, it changes
  nothing.

Floating point: fastmath "contract" fuses each a * b + c into one FMA (one rounding
instead of two). Each entry of C is summed over p in the plain order.

Numba compiles a function the first time it is called with a given dtype (see
kernels/compiling.py); cache=True keeps the machine code in __pycache__ for later runs.
Importing this module compiles nothing.
"""
import llvmlite.binding
import numba
import numpy as np
from numba import carray, get_num_threads, get_thread_id, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import compiling  # noqa: F401 (the first compilation says so)

FMA = {"contract"}       # fastmath flags: fuse multiply + add into one FMA (see above)

KC = 256                 # steps of p per pass: a micro-panel of B, KC x NR, fits in L1
MC = 144                 # rows per block: its slice of A, MC x KC, fits in L2
NC = 512                 # columns of C per task: its panels of B stay in cache
SLAB_BYTES = 4 << 20     # at most this much of B per task (fewer columns when k is large)
SHALLOW = 128            # passes of fewer steps store their tiles along C's rows
TASKS_PER_THREAD = 4     # parallel: at least this many blocks per thread where possible
SERIAL_FLOPS = 1 << 21   # products with fewer flops skip the threads


# ----------------------------------------------------------------------------
# reference: the definition, to read and to test against
# ----------------------------------------------------------------------------
def matmul_reference(a, b):
    """C[i, j] = sum_p A[i, p] * B[p, j] for 2-D A (m, k) and B (k, n), in pure Python.

    - Sums in float64 and returns an array of A's dtype.
    - Only for small sizes: n = 128 already takes a while."""
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
# fast: the machine's vectors, and two things numba cannot say by itself
# ----------------------------------------------------------------------------
def _vector_bytes():
    """The widest vector register of the CPU numba compiles for: 64 bytes with
    AVX-512, 32 with AVX, else 16 (SSE, NEON)."""
    features = numba.config.CPU_FEATURES
    if features is None:
        features = llvmlite.binding.get_host_cpu_features().flatten()
    enabled = set(features.split(","))
    return 64 if "+avx512f" in enabled else 32 if "+avx" in enabled else 16


VECTOR_BYTES = _vector_bytes()

# (MR, NR) of the register tile, by vector width in bytes and by itemsize. NR: 128 bytes
# of a row. MR: rows enough that the tile has at least 64 entries (LLVM unrolls a smaller
# j loop before its loop vectorizer sees it, and numba leaves LLVM's vectorizer of
# unrolled code, SLP, off), and that the accumulators, MR x NR / lanes vectors, fit the
# register file as well as they can: 32 vectors with AVX-512, 16 with AVX2 or SSE.
TILE_SHAPES = {64: {4: (6, 32), 8: (6, 16)},
               32: {4: (3, 32), 8: (4, 16)},
               16: {4: (2, 32), 8: (4, 16)}}


def tile_shape(dtype):
    """(MR, NR): the rows and columns of C that the micro-kernel keeps in registers."""
    return TILE_SHAPES[VECTOR_BYTES][np.dtype(dtype).itemsize]


@intrinsic
def _stack_tile(typingctx, like):
    """A pointer to MR x NR values of like's dtype in the stack frame of the function
    being compiled (where LLVM can keep them in registers; see the module docstring)."""
    dtype = like.dtype
    rows, cols = tile_shape(np.dtype(str(dtype)))

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_value_type(dtype), size=rows * cols)
    return types.CPointer(dtype)(like), codegen


@intrinsic
def _tile_shape(typingctx, like):
    """(MR, NR) for like's dtype, as constants the compiler can unroll and vectorize with."""
    shape = tile_shape(np.dtype(str(like.dtype)))

    def codegen(context, builder, signature, args):
        return context.make_tuple(builder, signature.return_type,
                                  [context.get_constant(types.intp, n) for n in shape])
    return types.UniTuple(types.intp, 2)(like), codegen


@intrinsic
def _use_wide_vectors(typingctx):
    """Let LLVM use the widest vector registers in the function being compiled (see
    the module docstring). These are LLVM's key="value" function attributes, which
    llvmlite's attribute set does not know, hence set.add. min-legal-vector-width
    keeps them wide when LLVM inlines the function into a caller without them."""
    def codegen(context, builder, signature, args):
        for attribute in ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"'):
            set.add(builder.function.attributes, attribute)
        return context.get_dummy_value()
    return types.none(), codegen


# ----------------------------------------------------------------------------
# fast: the micro-kernel
# ----------------------------------------------------------------------------
@njit(fastmath=FMA, inline="always", cache=True)
def _micro_kernel(a_panel, b_panel, c, i0, j0, overwrite):
    """C[i0:i0+MR, j0:j0+NR] = (or +=, unless overwrite) a_panel.T @ b_panel.

    - a_panel (kc, MR) and b_panel (kc, NR) are packed slices: A[i0:i0+MR, p] and
      B[p, j0:j0+NR] at each step p.
    - The MR x NR sums stay in registers: the r loop is unrolled, the j loop becomes
      a few vector FMAs per row."""
    acc = carray(_stack_tile(a_panel), _tile_shape(a_panel))
    acc[:] = 0
    mr, nr = acc.shape
    for p in range(a_panel.shape[0]):
        a = a_panel[p]
        for j in range(nr):
            b = b_panel[p, j]
            for r in range(mr):
                acc[r, j] += a[r] * b
    _store_tile(acc, c, i0, j0, overwrite)


@njit(inline="always", cache=True)
def _store_tile(acc, c, i0, j0, overwrite):
    """C[i0:, j0:] = (or +=) acc, cut to the part of the tile that lies inside C.

    - A whole tile is stored with loops of constant length (the tile's shape), which
      compile to vector moves; only the tiles at C's edges take the general loops."""
    rows, cols = min(acc.shape[0], c.shape[0] - i0), min(acc.shape[1], c.shape[1] - j0)
    if rows == acc.shape[0] and cols == acc.shape[1]:
        _store_rows(acc, c, i0, j0, acc.shape[0], acc.shape[1], overwrite)
    else:
        _store_rows(acc, c, i0, j0, rows, cols, overwrite)


@njit(inline="always", cache=True)
def _store_rows(acc, c, i0, j0, rows, cols, overwrite):
    """C[i0:i0+rows, j0:j0+cols] = (or +=) acc[:rows, :cols]."""
    for r in range(rows):
        c_row = c[i0 + r, j0:j0 + cols]  # a row view: indices from 0 need no sign check
        if overwrite:
            for j in range(cols):
                c_row[j] = acc[r, j]
        else:
            for j in range(cols):
                c_row[j] += acc[r, j]


# ----------------------------------------------------------------------------
# fast: packing A and B into micro-panels
# ----------------------------------------------------------------------------
@njit(inline="always", cache=True)
def _copy_panel(x, x_t, p0, j0, out, width, cols):
    """out[p, j] = M[p0 + p, j0 + j] for j < cols, and 0 for cols <= j < width, where M
    is x, or x.T when x_t.

    - For A, width is the constant MR: a whole panel copies in loops of constant
      length, which compile to straight moves (B's rows are long enough for vector
      loops anyway); the last panel, cut short, copies its cols and adds zeros."""
    if cols == width:
        _copy_columns(x, x_t, p0, j0, out, width)
    else:
        _copy_columns(x, x_t, p0, j0, out, cols)
        out[:, cols:] = 0


@njit(inline="always", cache=True)
def _copy_columns(x, x_t, p0, j0, out, cols):
    """out[:, :cols] = M[p0:p0 + depth, j0:j0 + cols] (see _copy_panel), reading along
    the rows of x, which are contiguous.

    - When x_t, each row of x is a column of M: 8 of them are read side by side, so
      that every step writes 8 neighbours of out rather than 1 (a transposing copy)."""
    depth = out.shape[0]
    if x_t:
        whole = cols - cols % 8
        for j in range(0, whole, 8):
            rows = x[j0 + j:j0 + j + 8, p0:p0 + depth]
            for p in range(depth):
                for g in range(8):
                    out[p, j + g] = rows[g, p]
        for j in range(whole, cols):
            source = x[j0 + j, p0:p0 + depth]
            for p in range(depth):
                out[p, j] = source[p]
    else:
        for p in range(depth):
            source, target = x[p0 + p, j0:j0 + cols], out[p]
            for j in range(cols):
                target[j] = source[j]


@njit(cache=True)
def _pack_a(a, a_t, a_block, depth, ip0, ip1, p0):
    """a_block[ip - ip0, p, r] = A[ip * MR + r, p0 + p] for the panels ip0 <= ip < ip1
    and p < depth, zeros past A's last row.

    - `a` is A (m, k), or A's transpose (k, m) when a_t (a weight gradient gy.T @ x
      hands over gy itself), C-contiguous either way."""
    m = a.shape[1] if a_t else a.shape[0]
    mr = _tile_shape(a_block)[0]
    for ip in range(ip0, ip1):
        _copy_panel(a, not a_t, p0, ip * mr, a_block[ip - ip0, :depth], mr, min(mr, m - ip * mr))


@njit(cache=True)
def _pack_b(b, b_t, slab, slot, panel):
    """slab[q, slot, p, j] = B[q * kc + p, panel * NR + j], zeros past B's last column.

    - `b` is B (k, n), or B's transpose (n, k) when b_t (a layer's x @ W.T hands
      over W itself), C-contiguous either way."""
    passes, _, kc, nr = slab.shape
    k, n = (b.shape[1], b.shape[0]) if b_t else (b.shape[0], b.shape[1])
    j0 = panel * nr
    for q in range(passes):
        out = slab[q, slot, :min(kc, k - q * kc)]
        _copy_panel(b, b_t, q * kc, j0, out, nr, min(nr, n - j0))


# ----------------------------------------------------------------------------
# fast: the blocks of C, one task each, and the loops around the micro-kernel
# ----------------------------------------------------------------------------
@njit(inline="always", cache=True)
def _block(index, nblocks, size):
    """(start, stop) of the index-th of nblocks near-equal parts of range(size)."""
    return index * size // nblocks, (index + 1) * size // nblocks


@njit(cache=True)
def _block_task(task, a, a_t, b, b_t, a_block, slab, c, k, row_splits, col_blocks,
                along_rows):
    """One block of C (batch, m, n) = A @ B: a batch item, a block of columns, and all
    rows (or one of row_splits parts of them, when the threads need more tasks).

    - Packs the block's columns of B, every pass, into slab; then goes through the
      rows in blocks of as many panels as a_block holds, each through every pass
      (so that the block of C stays in cache from the first pass to the last),
      packing A's slice of the pass into a_block just before it is used.
    - a_block and slab are this thread's: packed data is written into the cache and
      read from there. B is read from memory once, A once per block of columns."""
    nbatch, m, n = c.shape
    mc_panels, kc, mr = a_block.shape
    nr = slab.shape[3]
    item, rest = task // (row_splits * col_blocks), task % (row_splits * col_blocks)
    col_block, row_split = rest // row_splits, rest % row_splits
    ip0, ip1 = _block(row_split, row_splits, -(-m // mr))
    jp0, jp1 = _block(col_block, col_blocks, -(-n // nr))
    ai = a[0] if a.shape[0] == 1 else a[item]
    bi = b[0] if b.shape[0] == 1 else b[item]
    for jp in range(jp0, jp1):
        _pack_b(bi, b_t, slab, jp - jp0, jp)
    for ic in range(ip0, ip1, mc_panels):
        ic1 = min(ip1, ic + mc_panels)
        for q in range(slab.shape[0]):
            depth = min(kc, k - q * kc)
            _pack_a(ai, a_t, a_block, depth, ic, ic1, q * kc)
            _compute_pass(a_block, slab[q], depth, c[item], ic, ic1, jp0, jp1, q == 0,
                          along_rows)


@njit(fastmath=FMA, cache=True)
def _compute_pass(a_block, b_block, depth, c, ip0, ip1, jp0, jp1, overwrite, along_rows):
    """C[rows of panels ip0:ip1, columns of panels jp0:jp1] = (or +=, unless overwrite)
    one pass of A @ B: depth steps, from a_block[ip - ip0] and b_block[jp - jp0].

    - Tile order: down the columns (jr outside ir) keeps one panel of B in the L1
      cache for a whole column of tiles; along the rows (ir outside jr) stores tile
      after tile side by side in C's rows, which the CPU prefetches. Passes of few
      steps (along_rows) are bound by storing C, deep ones by reading B."""
    _use_wide_vectors()
    mr, nr = a_block.shape[2], b_block.shape[2]
    rows, cols = ip1 - ip0, jp1 - jp0
    for tile in range(rows * cols):
        if along_rows:
            i, j = tile // cols, tile % cols
        else:
            i, j = tile % rows, tile // rows
        _micro_kernel(a_block[i, :depth], b_block[j, :depth], c, (ip0 + i) * mr,
                      (jp0 + j) * nr, overwrite)


@njit(parallel=True, cache=True)
def _gemm_parallel(a, a_t, b, b_t, a_blocks, slabs, c, k, row_splits, col_blocks, along_rows):
    """Every block of C, shared among the threads by prange; a_blocks and slabs hold
    one packing buffer of each kind per thread."""
    for task in prange(c.shape[0] * row_splits * col_blocks):
        thread = get_thread_id()
        _block_task(task, a, a_t, b, b_t, a_blocks[thread], slabs[thread], c, k, row_splits,
                    col_blocks, along_rows)


@njit(cache=True)
def _gemm_serial(a, a_t, b, b_t, a_blocks, slabs, c, k, row_splits, col_blocks, along_rows):
    """The same on the calling thread, for products too small to wake the threads."""
    for task in range(c.shape[0] * row_splits * col_blocks):
        _block_task(task, a, a_t, b, b_t, a_blocks[0], slabs[0], c, k, row_splits,
                    col_blocks, along_rows)


# ----------------------------------------------------------------------------
# gemm: lay the operands out, choose the blocks, run
# ----------------------------------------------------------------------------
def _blocks(nbatch, a_panels, b_panels, k, dtype, serial):
    """(col_blocks, row_splits): blocks of at most NC columns, fewer when their slab of
    B (k x width) would pass SLAB_BYTES; when the threads run, narrower blocks, then
    rows split, until each thread has TASKS_PER_THREAD (where the shape allows)."""
    nr = tile_shape(dtype)[1]
    width = min(NC // nr, SLAB_BYTES // (k * nr * np.dtype(dtype).itemsize))
    col_blocks, row_splits = -(-b_panels // max(1, width)), 1  # a ceil division
    want = 1 if serial else TASKS_PER_THREAD * get_num_threads()
    if nbatch * col_blocks < want:
        col_blocks = min(b_panels, -(-want // nbatch))
    if nbatch * col_blocks < want:
        row_splits = min(a_panels, -(-want // (nbatch * col_blocks)))
    return col_blocks, row_splits


def _as_contiguous(x):
    """(x or its transpose, C-contiguous; whether it is the transpose), read-only.

    - A transposed view is read in place; any other layout is copied (the panels
      are a copy anyway; this one only saves compiling a kernel per layout)."""
    xt = x.transpose(0, 2, 1)
    if xt.flags.c_contiguous and not x.flags.c_contiguous:
        return _read_only(xt), True
    return _read_only(np.ascontiguousarray(x)), False


def _read_only(x):
    """A read-only view of x. Numba compiles a function once per type of its arguments,
    and read-only is part of an array's type (np.broadcast_to gives read-only views):
    passing every input read-only means one compilation, not one per mix of flags."""
    view = x.view()
    view.flags.writeable = False
    return view


def gemm(a, b):
    """C = A @ B for A (batch or 1, m, k) and B (batch or 1, k, n), any strides.

    - The same float dtype for both; a batch of 1 is shared by every batch item of
      the other operand. Returns a new C-contiguous (batch, m, n) array.
    - The building block that the conv kernels also use."""
    nbatch, m, k, n = max(a.shape[0], b.shape[0]), a.shape[1], a.shape[2], b.shape[2]
    if 0 in (nbatch, m, k, n):
        return np.zeros((nbatch, m, n), dtype=a.dtype)
    mr, nr = tile_shape(a.dtype)
    passes = -(-k // max(1, KC))  # ceil divisions
    kc = -(-k // passes)          # near-equal passes, so that the packed panels waste little
    a_panels, b_panels = -(-m // mr), -(-n // nr)
    serial = 2 * nbatch * m * k * n < SERIAL_FLOPS or get_num_threads() == 1
    col_blocks, row_splits = _blocks(nbatch, a_panels, b_panels, k, a.dtype, serial)
    threads = 1 if serial else get_num_threads()
    a_blocks = np.empty((threads, min(a_panels, max(1, MC // mr)), kc, mr), dtype=a.dtype)
    slabs = np.empty((threads, passes, -(-b_panels // col_blocks), kc, nr), dtype=a.dtype)
    c = np.empty((nbatch, m, n), dtype=a.dtype)
    (a, a_t), (b, b_t) = _as_contiguous(a), _as_contiguous(b)
    (_gemm_serial if serial else _gemm_parallel)(a, a_t, b, b_t, a_blocks, slabs, c, k,
                                                 row_splits, col_blocks, kc < SHALLOW)
    return c


def matmul_numba(a, b):
    """C = A @ B with the blocked numba GEMM.

    - 2-D (m, k) @ (k, n), or batched (B, m, k) @ (B, k, n); float32 or float64, the
      same for both; any strides.
    - Returns a new C-contiguous array of that dtype."""
    a, b = np.asarray(a), np.asarray(b)
    _check_shapes("matmul_numba", a, b, batched=True)
    if a.ndim == 2:
        return gemm(a[None], b[None])[0]
    return gemm(_shared_batch(a), _shared_batch(b))


def _shared_batch(x):
    """x (batch, rows, cols) -> x[:1] when every batch item is the same memory (a batch
    axis of stride 0, as np.broadcast_to makes), so the GEMM packs it once."""
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
