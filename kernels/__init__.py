"""Hot-path kernels on raw arrays, installed as minidl.kernels: each file has a plain
reference version first (to read, and to test against), then the fast ones.

    table.py     the kernel table: for each setting ("fast", "numpy", "numba", "cuda") one
                 namespace with the same kernels; the ops in minidl.functional ask it
    geometry.py  window sizes and their checks, for convolution and pooling
    matmul.py    matmul_reference, then a blocked, packed numba GEMM you can read
    conv.py      conv2d forward / backward-input / backward-weight: reference, numpy
                 (im2col + BLAS), numba (im2col + the numba GEMM), fast (numba + BLAS)
    pool.py      max and average pooling, forward and backward: reference, numpy, numba
    recurrent.py one time step of an RNN, LSTM or GRU, forward and backward, fused: numpy
                 (the reference), numba
    elementary.py  exp-based tanh and sigmoid that numba can vectorize, for the kernels
    denormal.py  flushing denormal floats to zero (mdl.set_flush_denormal)
    fused.py     relu, where, softmax, log_softmax, cross-entropy and layer norm, forward
                 and backward, in one or two passes per row: numpy, numba
    compiling.py the first compilation says so; `python -m minidl.kernels --warm`
    cuda/        the kernels for CuPy arrays, in numba.cuda (the "cuda" row)

No autograd here: minidl.functional wraps these in differentiable ops. Importing this
package imports neither numba nor any kernel: a module is imported when the table (or
you) first asks for it, and a numba function is compiled the first time it is called
(and cached on disk for later runs).
"""
import os

# numba's parallel loops run on OpenMP threads, which by default spin while they wait for
# work. On a machine whose cores are shared (a laptop running other programs, a CI box)
# spinning threads take CPU time from the thread that has work. Passive waiting puts them
# to sleep; set the variable yourself to choose otherwise. It must be set before numba
# starts its threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
