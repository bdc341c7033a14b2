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
from . import conv, matmul, pool

__all__ = ["conv", "matmul", "pool"]
