"""Matrix multiplication: 1-D, 2-D and batched with broadcasting, like `np.matmul`.

For C = A @ B the gradients are dA = dC @ B^T and dB = A^T @ dC, each summed
back over any batch dimensions that were broadcast. On the CPU with
`set_kernels("numba")` the products run through minidl.kernels.matmul (a
blocked numba GEMM you can read); otherwise through NumPy/BLAS or cuBLAS.
"""
import numpy as np

from .. import backend
from ..autograd import Function, as_tensors
from .shape import reshape, sum_to, swapaxes


def matmul_arrays(a, b):
    """a @ b on raw arrays, through the numba kernel when it is selected and applies."""
    xp = backend.get_array_module(a)
    if (xp is np and backend.get_kernels() == "numba" and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64) and a.ndim >= 2 and b.ndim >= 2):
        from ..kernels import matmul as kernel
        if a.ndim == 2 and b.ndim == 2:
            return kernel.matmul_numba(a, b)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a3 = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
        b3 = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
        return kernel.matmul_numba(a3, b3).reshape(batch + (a.shape[-2], b.shape[-1]))
    return xp.matmul(a, b)


class MatMul(Function):
    """A @ B for A, B with at least 2 dims (the 1-D cases are reshaped by `matmul`)."""

    def forward(self, a, b):
        return matmul_arrays(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy @ swapaxes(b, -1, -2), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(swapaxes(a, -1, -2) @ gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def matmul(input, other):  # noqa: A002 (PyTorch's argument names)
    """input @ other. A 1-D left operand is a row vector, a 1-D right operand a column vector."""
    a, b = as_tensors((input, other), "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: {k_a} != {k_b}")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dims of shapes {a.shape} and {b.shape} "
                         "do not broadcast") from None
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul()(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        y = MatMul()(reshape(a, (1, -1)), b)
        return reshape(y, y.shape[:-2] + y.shape[-1:])
    if b.ndim == 1:
        return reshape(MatMul()(a, reshape(b, (-1, 1))), a.shape[:-1])
    return MatMul()(a, b)
