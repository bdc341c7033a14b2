"""Matrix multiplication: 1-D, 2-D and batched with broadcasting, like `np.matmul`.

For C = A @ B the gradients are dA = dC @ B^T and dB = A^T @ dC, each summed
back over any batch dimensions that were broadcast. The products themselves run
in the kernel table's `matmul` (kernels/table.py): NumPy's BLAS by default, the
readable numba GEMM with `set_kernels("numba")`, cuBLAS on the GPU.
"""
import numpy as np

from .. import backend
from ..autograd import Function, as_tensors
from .shape import reshape, sum_to, swapaxes


def matmul_arrays(a, b):
    """a @ b on raw arrays, by the kernel table's matmul for the arrays' device."""
    return backend.kernels_for(a).matmul(a, b)


class MatMul(Function):
    """A @ B for A, B with at least 2 dims (the 1-D cases are reshaped by `matmul`)."""

    def forward(self, a, b):
        return matmul_arrays(a, b)

    def flops(self, inputs, outputs):
        """For the profiler: a multiply and an add per term of every output's sum."""
        return 2 * outputs[0].size * inputs[0].shape[-1]

    def backward(self, gy):
        a, b = self.inputs
        # BEGIN SOLUTION (exercise 03)
        ga = sum_to(gy @ swapaxes(b, -1, -2), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(swapaxes(a, -1, -2) @ gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb
        # END SOLUTION


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
