"""Matrix multiplication in numba: the naive triple loop, then a blocked one.

Both compute out = a @ b for a (n, k) and b (k, m), compiled by numba to machine code.
The naive loop walks down a column of b for every output: m*k jumps of a whole row
length through memory, each likely a cache miss once b is larger than the cache. The
blocked loop works on tiles small enough to stay in the cache, and inside a tile it
runs along rows (i, p, j order), so the innermost loop reads b and writes out
contiguously, which the compiler can turn into vector instructions.
"""
import numpy as np
from numba import njit


@njit
def matmul_naive(a, b, out):
    """out = a @ b, the textbook way: out[i, j] = sum_p a[i, p] * b[p, j]."""
    n, k = a.shape
    m = b.shape[1]
    for i in range(n):
        for j in range(m):
            total = 0.0
            for p in range(k):
                total += a[i, p] * b[p, j]
            out[i, j] = total


@njit
def matmul_blocked(a, b, out, block):
    """out = a @ b, computed tile by tile: block x block tiles of out, a and b, and
    inside a tile the loops in i, p, j order. `out` may hold anything on entry; any
    block >= 1 works, whether or not it divides the sizes."""
    # BEGIN SOLUTION
    n, k = a.shape
    m = b.shape[1]
    out[:, :] = 0.0
    for i0 in range(0, n, block):
        i1 = min(i0 + block, n)
        for p0 in range(0, k, block):
            p1 = min(p0 + block, k)
            for j0 in range(0, m, block):
                j1 = min(j0 + block, m)
                for i in range(i0, i1):
                    for p in range(p0, p1):
                        a_ip = a[i, p]
                        for j in range(j0, j1):   # contiguous in b and out
                            out[i, j] += a_ip * b[p, j]
    # END SOLUTION


def matmul(a, b, block=64, kernel=matmul_blocked):
    """a @ b for 2-D float arrays of one dtype, by `kernel` (the blocked one by default)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not multiply")
    if a.dtype != b.dtype:
        raise ValueError(f"matmul: dtypes {a.dtype} and {b.dtype} differ")
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    if kernel is matmul_naive:
        kernel(a, b, out)
    else:
        kernel(a, b, out, block)
    return out
