"""A tiled matrix product C = A @ B on the GPU, written to be read (cuBLAS is faster).

A is M x K, B is K x N, C is M x N, all row-major and C-contiguous.

Why tiles. The plain kernel gives each thread one C[row, col] and lets it read
row `row` of A and column `col` of B straight from global memory: two loads per
multiply-add, so it runs at the speed of memory, not of arithmetic. Here a block
of threads first copies a TILE x TILE piece of A and one of B into shared memory
(on the chip, about as fast as registers), and then every thread of the block
reads them from there. Each number fetched from global memory is used TILE
times, so global traffic drops by a factor of TILE.

Which thread handles which data. The grid covers C with TILE x TILE blocks of
TILE x TILE threads. Block (blockIdx.x, blockIdx.y) owns the tile of C whose
top-left corner is (blockIdx.y * TILE, blockIdx.x * TILE); thread (threadIdx.x,
threadIdx.y) computes C[row, col] with row = blockIdx.y * TILE + threadIdx.y and
col = blockIdx.x * TILE + threadIdx.x.

Memory access. The block walks along K one tile at a time. At each step thread
(tx, ty) copies A[row, t + tx] into a_tile[ty, tx] and B[t + ty, col] into
b_tile[ty, tx]. threadIdx.x varies fastest inside a warp, and it indexes the
column, the contiguous direction of a row-major matrix, so the neighbouring
threads of a warp read neighbouring numbers: coalesced loads. In the inner loop
a warp reads a_tile[ty, k] (one address for the whole warp: a broadcast) and
b_tile[k, tx] (consecutive words: different banks), so shared memory has no bank
conflicts either.

The two syncthreads(): the first makes sure the whole tile is loaded before
anyone reads it, the second that everyone is done reading before the next step
overwrites it. Every thread must reach both, so the threads outside C do not
return early: they load zeros (which add nothing to the dot products) and skip
the store. M, N and K need not be multiples of TILE.
"""
import numba
from numba import cuda

from ... import backend
from .checks import check_arrays, contiguous
from .launch import launch

TILE = 16  # a block is TILE x TILE threads, and multiplies TILE x TILE tiles
MAX_GRID_Y = 65535  # the most blocks a grid may have along y


# ----------------------------------------------------------------------------
# the kernel
# ----------------------------------------------------------------------------
@cuda.jit
def matmul_tiled_kernel(a, b, c):
    a_tile = cuda.shared.array((TILE, TILE), a.dtype)
    b_tile = cuda.shared.array((TILE, TILE), a.dtype)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    m, k = a.shape
    n = b.shape[1]
    zero = a.dtype.type(0)

    total = zero
    for t in range(0, k, TILE):
        a_tile[ty, tx] = a[row, t + tx] if row < m and t + tx < k else zero
        b_tile[ty, tx] = b[t + ty, col] if t + ty < k and col < n else zero
        cuda.syncthreads()
        for i in range(TILE):
            total += a_tile[ty, i] * b_tile[i, tx]
        cuda.syncthreads()

    if row < m and col < n:
        c[row, col] = total


def signatures(dtype):
    """The kernel with the argument types launch() gives it for arrays of dtype."""
    matrix = numba.types.Array(numba.from_dtype(dtype), 2, "C")
    return {matmul_tiled_kernel: (matrix, matrix, matrix)}


# ----------------------------------------------------------------------------
# the caller
# ----------------------------------------------------------------------------
def matmul_tiled_cuda(a, b):
    """a @ b for 2-D float32 or float64 CuPy arrays, by the tiled kernel."""
    op = "matmul_tiled_cuda"
    check_arrays(op, a, b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{op}: needs 2-D arrays, got shapes {a.shape} and {b.shape}")
    (m, k), (k_b, n) = a.shape, b.shape
    if k != k_b:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not align: {k} != {k_b}")
    if -(-m // TILE) > MAX_GRID_Y:
        raise ValueError(f"{op}: a has {m} rows; the kernel's grid allows at most "
                         f"{MAX_GRID_Y * TILE}")
    a, b = contiguous(a, b)
    c = backend.get_array_module(a).empty((m, n), dtype=a.dtype)
    grid = (-(-n // TILE), -(-m // TILE))  # blocks along the columns (x) and rows (y) of C
    launch(matmul_tiled_kernel, grid, (TILE, TILE), a, b, c)
    return c
