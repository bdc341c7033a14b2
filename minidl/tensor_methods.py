"""Tensor's operators and methods, attached in one place once the ops exist.

minidl/tensor.py defines what a Tensor is and imports nothing above it; the
ops in minidl.functional and the graph walk in minidl.autograd are built on
it. This file closes the loop: `x + y`, `x.sum(dim=0)`, `x.backward()`,
`x.add_(1)` and the rest are the methods of `_Methods` below, each a line
that forwards to the op of the same name (PyTorch's names and arguments),
copied onto Tensor when minidl is imported.
"""
import numpy as np

from . import autograd, backend
from . import functional as F
from .functional import inplace
from .functional.shape import shape_arg
from .tensor import Tensor


class _Methods:
    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def clone(self):
        return F.clone(self)

    # ------------------------------------------------------------------ operators
    def __add__(self, other): return F.add(self, other)
    def __radd__(self, other): return F.add(other, self)
    def __sub__(self, other): return F.sub(self, other)
    def __rsub__(self, other): return F.sub(other, self)
    def __mul__(self, other): return F.mul(self, other)
    def __rmul__(self, other): return F.mul(other, self)
    def __truediv__(self, other): return F.div(self, other)
    def __rtruediv__(self, other): return F.div(other, self)
    def __pow__(self, other): return F.pow(self, other)
    def __rpow__(self, other): return F.pow(other, self)
    def __matmul__(self, other): return F.matmul(self, other)
    def __rmatmul__(self, other): return F.matmul(other, self)
    def __neg__(self): return F.neg(self)
    def __pos__(self): return self
    def __abs__(self): return F.abs(self)
    def __getitem__(self, index): return F.getitem(self, index)
    def __setitem__(self, index, value): inplace.setitem(self, index, value)
    def __iadd__(self, other): return inplace.add_(self, other)
    def __isub__(self, other): return inplace.sub_(self, other)
    def __imul__(self, other): return inplace.mul_(self, other)
    def __itruediv__(self, other): return inplace.div_(self, other)

    # comparisons give boolean tensors, outside the graph
    def __lt__(self, other): return F.lt(self, other)
    def __le__(self, other): return F.le(self, other)
    def __gt__(self, other): return F.gt(self, other)
    def __ge__(self, other): return F.ge(self, other)
    def __eq__(self, other): return F.eq(self, other)
    def __ne__(self, other): return F.ne(self, other)

    # ------------------------------------------------------------------ arithmetic
    def add(self, other, *, alpha=1): return F.add(self, other, alpha=alpha)
    def sub(self, other, *, alpha=1): return F.sub(self, other, alpha=alpha)
    def mul(self, other): return F.mul(self, other)
    def div(self, other, *, rounding_mode=None): return F.div(self, other, rounding_mode=rounding_mode)
    def pow(self, exponent): return F.pow(self, exponent)
    def neg(self): return F.neg(self)
    def exp(self): return F.exp(self)
    def log(self): return F.log(self)
    def sqrt(self): return F.sqrt(self)
    def abs(self): return F.abs(self)
    def square(self): return F.square(self)
    def relu(self): return F.relu(self)
    def sigmoid(self): return F.sigmoid(self)
    def tanh(self): return F.tanh(self)
    def clamp(self, min=None, max=None): return F.clamp(self, min, max)  # noqa: A002
    clip = clamp
    def maximum(self, other): return F.maximum(self, other)
    def minimum(self, other): return F.minimum(self, other)
    def matmul(self, other): return F.matmul(self, other)

    def mm(self, mat2):
        if self.ndim != 2 or mat2.ndim != 2:
            raise ValueError(f"mm: both operands must be 2-D, got shapes {self.shape} and "
                             f"{mat2.shape} (matmul takes any)")
        return F.matmul(self, mat2)
    def masked_fill(self, mask, value): return F.masked_fill(self, mask, value)
    def lt(self, other): return F.lt(self, other)
    def le(self, other): return F.le(self, other)
    def gt(self, other): return F.gt(self, other)
    def ge(self, other): return F.ge(self, other)
    def eq(self, other): return F.eq(self, other)
    def ne(self, other): return F.ne(self, other)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return F.sum(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return F.mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, other=None, axis=None, keepdims=None):
        return F.max(self, dim, keepdim, other=other, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, other=None, axis=None, keepdims=None):
        return F.min(self, dim, keepdim, other=other, axis=axis, keepdims=keepdims)

    def amax(self, dim=(), keepdim=False, *, axis=None, keepdims=None):
        return F.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=(), keepdim=False, *, axis=None, keepdims=None):
        return F.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None):
        return F.var(self, dim, unbiased, keepdim, correction=correction, axis=axis,
                     keepdims=keepdims)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None):
        return F.std(self, dim, unbiased, keepdim, correction=correction, axis=axis,
                     keepdims=keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return F.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return F.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return F.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    # the softmax family: dim is required, as in PyTorch's Tensor methods (F.softmax has a
    # default)
    def softmax(self, dim=None, dtype=None, *, axis=None):
        if dim is None and axis is None:
            raise TypeError("Tensor.softmax: missing dim (PyTorch's method has no default)")
        return F.softmax(self, dim, dtype, axis=axis)

    def log_softmax(self, dim=None, dtype=None, *, axis=None):
        if dim is None and axis is None:
            raise TypeError("Tensor.log_softmax: missing dim (PyTorch's method has no default)")
        return F.log_softmax(self, dim, dtype, axis=axis)

    # ------------------------------------------------------------------ shape
    # a shape as separate ints, one tuple, or by PyTorch's keyword name
    def reshape(self, *sizes, shape=None): return F.reshape(self, *sizes, shape=shape)
    def view(self, *sizes, size=None): return F.reshape(self, *sizes, shape=size)
    def view_as(self, other): return F.reshape(self, other.shape)
    def reshape_as(self, other): return F.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return F.flatten(self, start_dim, end_dim)
    def unflatten(self, dim, sizes): return F.unflatten(self, dim, sizes)
    def transpose(self, dim0, dim1): return F.transpose(self, dim0, dim1)
    def swapaxes(self, axis0, axis1): return F.swapaxes(self, axis0, axis1)
    def swapdims(self, dim0, dim1): return F.transpose(self, dim0, dim1)
    def permute(self, *order, dims=None): return F.permute(self, *order, dims=dims)
    def movedim(self, source, destination): return F.movedim(self, source, destination)
    def t(self): return F.t(self)
    def squeeze(self, dim=None, *, axis=None): return F.squeeze(self, dim, axis=axis)
    def unsqueeze(self, dim): return F.unsqueeze(self, dim)
    def expand(self, *sizes, size=None): return F.expand(self, *(sizes if size is None else size))
    def expand_as(self, other): return F.expand(self, other.shape)
    def broadcast_to(self, size): return F.broadcast_to(self, size)
    def repeat(self, *sizes, repeats=None):
        return F.repeat(self, *(sizes if repeats is None else repeats))

    def tile(self, *sizes, dims=None):
        return F.tile(self, shape_arg(sizes) if dims is None else dims)
    def split(self, split_size, dim=0): return F.split(self, split_size, dim)
    def chunk(self, chunks, dim=0): return F.chunk(self, chunks, dim)
    def tensor_split(self, indices_or_sections=None, dim=0, *, sections=None, indices=None):
        return F.tensor_split(self, indices_or_sections, dim, sections=sections, indices=indices)
    def unbind(self, dim=0): return F.unbind(self, dim)
    def gather(self, dim, index): return F.gather(self, dim, index)

    @property
    def T(self):
        return F.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return F.transpose(self, -2, -1)

    # ------------------------------------------------------------------ in place
    def add_(self, other, *, alpha=1): return inplace.add_(self, other, alpha=alpha)
    def sub_(self, other, *, alpha=1): return inplace.sub_(self, other, alpha=alpha)
    def mul_(self, other): return inplace.mul_(self, other)
    def div_(self, other, *, rounding_mode=None):
        return inplace.div_(self, other, rounding_mode=rounding_mode)
    def clamp_(self, min=None, max=None): return inplace.clamp_(self, min, max)  # noqa: A002
    clip_ = clamp_
    def zero_(self): return inplace.zero_(self)
    def fill_(self, value): return inplace.fill_(self, value)
    def copy_(self, src): return inplace.copy_(self, src)

    # ------------------------------------------------------------------ dtypes and devices
    def to(self, *args, dtype=None, device=None, copy=False):
        """to(device), to(dtype), to(device, dtype), to(other_tensor): a copy when
        anything changes (or copy=True); differentiable."""
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, str):
                device = arg
            else:
                dtype = arg
        out = self if dtype is None else F.cast(self, dtype)
        if device is not None and backend.check_device(device) != self.device:
            out = F.to_device(out, device)
        return F.clone(out) if copy and out is self else out

    def cpu(self): return self.to("cpu")
    def cuda(self): return self.to("cuda")
    def type(self, dtype): return F.cast(self, dtype)
    def astype(self, dtype): return F.cast(self, dtype)
    def float(self): return F.cast(self, np.float32)
    def double(self): return F.cast(self, np.float64)
    def half(self): return F.cast(self, np.float16)
    def long(self): return F.cast(self, np.int64)
    def int(self): return F.cast(self, np.int32)
    def bool(self): return F.cast(self, np.bool_)


def attach():
    """Copy every method of _Methods onto Tensor (run once, by minidl/__init__.py)."""
    for name, value in vars(_Methods).items():
        if name not in _CLASS_BOOKKEEPING:
            setattr(Tensor, name, value)


# (a class body that defines __eq__ gets __hash__ = None: Tensor keeps its own __hash__)
_CLASS_BOOKKEEPING = {"__module__", "__qualname__", "__dict__", "__weakref__", "__doc__", "__hash__"}
