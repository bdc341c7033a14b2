"""Tensor: an array, its gradient, and the Function that made it.

A Tensor wraps a NumPy (CPU) or CuPy (GPU) array in `data`. When it was
computed by an op while gradients were being recorded, `creator` is that
op's Function; tensors the user makes are leaves (`creator is None`).
`backward()` fills `grad` (a Tensor) on every leaf that requires it.

The operators and methods here only forward to minidl.functional, where
each op is written out.
"""
import numpy as np

from . import backend


class Tensor:
    __slots__ = ("data", "grad", "creator", "_requires_grad", "retains_grad", "__weakref__")

    # numpy must hand `array * tensor` to Tensor.__rmul__ instead of looping over us
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False):
        self.data = data
        self.grad = None
        self.creator = None
        self.retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    # ------------------------------------------------------------------ autograd
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require grad, not {self.dtype}")
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag=True):
        if self.creator is not None and not flag:
            raise RuntimeError("requires_grad_: can only change it on leaf tensors; use detach()")
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self):
        return self.creator is None

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward (leaves always keep it)."""
        self.retains_grad = True

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        autograd.backward(self, gradient, retain_graph, create_graph)

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self):
        self.grad = None

    # ------------------------------------------------------------------ array facts
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def numel(self):
        return self.size

    def dim(self):
        return self.ndim

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", precision=4, threshold=50,
                               prefix="tensor(")
        extras = ""
        if self.dtype != backend.default_dtype() and self.dtype.kind == "f":
            extras += f", dtype={self.dtype}"
        if self.device != "cpu":
            extras += f", device='{self.device}'"
        if self.creator is not None:
            extras += f", creator={self.creator.name}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    # ------------------------------------------------------------------ conversion
    def numpy(self):
        """The data as a NumPy array (copied from the GPU when needed)."""
        return self.data if self.device == "cpu" else self.data.get()

    def item(self):
        if self.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item, got shape {self.shape}")
        return self.numpy().item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, device=None, dtype=None):
        """Copy to another device ('cpu', 'cuda') and/or dtype; differentiable."""
        out = self
        if dtype is not None:
            out = out.astype(dtype)
        if device is not None and backend.check_device(device) != self.device:
            out = F.to_device(out, device)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def astype(self, dtype):
        return F.cast(self, dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    __hash__ = object.__hash__

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

    # comparisons give boolean tensors, outside the graph
    def __lt__(self, other): return F.compare("lt", self, other)
    def __le__(self, other): return F.compare("le", self, other)
    def __gt__(self, other): return F.compare("gt", self, other)
    def __ge__(self, other): return F.compare("ge", self, other)
    def __eq__(self, other): return F.compare("eq", self, other)
    def __ne__(self, other): return F.compare("ne", self, other)

    # ------------------------------------------------------------------ methods
    def sum(self, axis=None, keepdims=False): return F.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return F.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return F.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return F.min(self, axis, keepdims)
    def var(self, axis=None, keepdims=False, ddof=0): return F.var(self, axis, keepdims, ddof)
    def argmax(self, axis=None): return Tensor(self.data.argmax(axis=axis))
    def argmin(self, axis=None): return Tensor(self.data.argmin(axis=axis))
    def exp(self): return F.exp(self)
    def log(self): return F.log(self)
    def sqrt(self): return F.sqrt(self)
    def abs(self): return F.abs(self)
    def relu(self): return F.relu(self)
    def sigmoid(self): return F.sigmoid(self)
    def tanh(self): return F.tanh(self)

    # the softmax family: dim is required, as in PyTorch's Tensor methods (F.softmax
    # has a default); axis / keepdims are accepted as NumPy's names
    def softmax(self, dim=None, dtype=None, *, axis=None):
        if dim is None and axis is None:
            raise TypeError("Tensor.softmax: missing dim (PyTorch's method has no default)")
        return F.softmax(self, dim, dtype, axis=axis)

    def log_softmax(self, dim=None, dtype=None, *, axis=None):
        if dim is None and axis is None:
            raise TypeError("Tensor.log_softmax: missing dim (PyTorch's method has no default)")
        return F.log_softmax(self, dim, dtype, axis=axis)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return F.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def clip(self, min=None, max=None): return F.clip(self, min, max)
    clamp = clip
    def matmul(self, other): return F.matmul(self, other)
    def reshape(self, *shape): return F.reshape(self, _shape_arg(shape))
    view = reshape
    def flatten(self, start_dim=0, end_dim=-1): return F.flatten(self, start_dim, end_dim)
    def transpose(self, *axes): return F.transpose(self, _shape_arg(axes) or None)
    def permute(self, *axes): return F.transpose(self, _shape_arg(axes))
    def swapaxes(self, a, b): return F.swapaxes(self, a, b)
    def squeeze(self, axis=None): return F.squeeze(self, axis)
    def unsqueeze(self, axis): return F.unsqueeze(self, axis)
    def broadcast_to(self, shape): return F.broadcast_to(self, shape)
    expand = broadcast_to

    @property
    def T(self):
        return F.transpose(self)

    @property
    def mT(self):
        return F.swapaxes(self, -1, -2)


def _shape_arg(args):
    """Accept both t.reshape(2, 3) and t.reshape((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# The ops and the graph walk use Tensor, so they are imported once it exists.
from . import autograd  # noqa: E402
from . import functional as F  # noqa: E402
