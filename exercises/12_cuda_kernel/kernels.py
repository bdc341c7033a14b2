"""Two numba.cuda kernels: an elementwise one on a 2-D grid, and a block reduction.

A CUDA kernel is one function that every thread runs; each thread finds its own piece of
the work from its coordinates: cuda.grid(2) is (row, column) of this thread in the whole
grid (blockIdx * blockDim + threadIdx along each axis). The grid is rounded up to whole
blocks, so some threads fall outside the data and must do nothing.

A reduction needs the threads of a block to cooperate: each loads one element into
shared memory (fast, visible to its block only), then, halving the number of active
threads at each step, thread i adds element i + stride into element i, with
cuda.syncthreads() between steps so that no thread reads a value before it is written.
Thread 0 then holds the block's sum.

Without a GPU these run in numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), which runs
every thread as Python on the CPU: slow, so keep the arrays small, but the same code.
"""
import math

import numpy as np
from numba import cuda, float64

THREADS = 64          # threads per block for the reduction (a power of two)
TILE = (8, 8)         # threads per block for the 2-D kernel


@cuda.jit
def bias_relu_kernel(x, bias, out):
    """out[i, j] = max(x[i, j] + bias[j], 0), one thread per element."""
    # BEGIN SOLUTION
    i, j = cuda.grid(2)
    if i < x.shape[0] and j < x.shape[1]:      # threads past the edge do nothing
        value = x[i, j] + bias[j]
        out[i, j] = value if value > 0.0 else 0.0
    # END SOLUTION


@cuda.jit
def block_sum_kernel(x, partial):
    """partial[b] = the sum of x[b*THREADS : (b+1)*THREADS] (the elements of block b),
    by a tree reduction in shared memory."""
    # BEGIN SOLUTION
    shared = cuda.shared.array(THREADS, float64)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    shared[t] = x[i] if i < x.shape[0] else 0.0
    cuda.syncthreads()
    stride = THREADS // 2
    while stride > 0:
        if t < stride:
            shared[t] += shared[t + stride]
        cuda.syncthreads()                     # every thread, not only the active ones
        stride //= 2
    if t == 0:
        partial[cuda.blockIdx.x] = shared[0]
    # END SOLUTION


def bias_relu(x, bias):
    """relu(x + bias) for x (N, M) and bias (M,), float64, on the GPU (or the simulator)."""
    x, bias = np.ascontiguousarray(x, np.float64), np.ascontiguousarray(bias, np.float64)
    out = cuda.device_array(x.shape, dtype=np.float64)
    blocks = (math.ceil(x.shape[0] / TILE[0]), math.ceil(x.shape[1] / TILE[1]))
    bias_relu_kernel[blocks, TILE](cuda.to_device(x), cuda.to_device(bias), out)
    return out.copy_to_host()


def total(x):
    """The sum of a 1-D float64 array: block sums, then block sums of those, until one."""
    values = cuda.to_device(np.ascontiguousarray(x, np.float64))
    while True:
        blocks = math.ceil(values.shape[0] / THREADS)
        partial = cuda.device_array(blocks, dtype=np.float64)
        block_sum_kernel[blocks, THREADS](values, partial)
        if blocks == 1:
            return float(partial.copy_to_host()[0])
        values = partial
