"""Hot-path kernels on raw NumPy arrays: matmul, conv2d and pooling, each as a plain
reference loop (to read and to test against), a NumPy version and a numba version.

    matmul.py  matmul_reference, matmul_numba (a blocked, packed, parallel GEMM)
    conv.py    conv2d forward / backward-input / backward-weight: reference, numpy, numba
    pool.py    max and average pooling, forward and backward: reference, numpy, numba
    gpu.py     the same conv and pooling kernels for CuPy arrays (CUDA source in cuda/)

No autograd here: minidl.functional wraps these in differentiable ops and picks the
numpy or numba version with `mdl.set_kernels`. Importing this package compiles
nothing: a numba function is compiled the first time it is called (and cached on
disk for later runs).
"""
import os

# numba's parallel loops run on OpenMP threads, which by default spin while they wait for
# work. On a machine whose cores are shared (a laptop running other programs, a CI box)
# spinning threads take CPU time from the thread that has work. Passive waiting puts them
# to sleep; set the variable yourself to choose otherwise. It must be set before numba
# starts its threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import compiling, conv, matmul, pool  # noqa: E402

__all__ = ["compiling", "conv", "matmul", "pool"]
