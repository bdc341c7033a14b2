"""Tensor: an array, its gradient, and the Function that made it.

A Tensor wraps a NumPy (CPU) or CuPy (GPU) array in `data`. When it was
computed by an op while gradients were being recorded, `creator` is that
op's Function; tensors the user makes are leaves (`creator is None`).
`backward()` fills `grad` (a Tensor) on every leaf that requires it.

This file holds only what a Tensor *is*. Its operators and methods (`+`,
`.sum()`, `.backward()`, `.add_()`, ...) forward to minidl.functional and
minidl.autograd, which are built on top of this file; minidl/tensor_methods.py
attaches them once both exist, so that nothing here imports anything above it.

Every tensor also carries a version counter: a one-element list, shared with
the tensors that view the same memory, that every in-place change bumps.
Autograd compares it with the version an op saved (see autograd.py). Writing
into `t.data` directly is the escape hatch, as in PyTorch: autograd does not
see it, and checks nothing.
"""
import numpy as np

from . import backend


class Tensor:
    # The attributes every tensor sets have slots; the ones few tensors need keep their
    # class-level default until set (in the instance's __dict__): a Tensor is made for
    # every result of every op, so its construction is on the hot path.
    __slots__ = ("data", "grad", "creator", "_requires_grad", "_version_counter",
                 "__weakref__", "__dict__")
    _output_nr = 0           # which output of its creator this tensor is
    retains_grad = False     # keep .grad although not a leaf (retain_grad())
    _base = None             # (tensor, index) when this is a view of that tensor
    _backward_hooks = None   # {key: hook} once register_hook is called

    # numpy must hand `array * tensor` to Tensor.__rmul__ instead of looping over us
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False):
        if type(data) is not np.ndarray and not hasattr(data, "dtype"):
            data = np.asarray(data, dtype=backend.default_dtype())  # Tensor([[1, 2]]): floats
        self.data = data
        self.grad = None
        self.creator = None
        self._requires_grad = False
        self._version_counter = [0]
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
        if not flag and self.creator is not None:
            raise RuntimeError("requires_grad: can only change it on leaf tensors; use detach()")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def grad_fn(self):
        """PyTorch's name for the Function that made this tensor (None for a leaf)."""
        return self.creator

    @property
    def _version(self):
        """How many times this tensor's memory was changed in place."""
        return self._version_counter[0]

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward (leaves always keep it)."""
        if self.creator is None and not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self.retains_grad = True

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; a Tensor it returns
        replaces the gradient. Returns a handle whose .remove() unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "does not require grad")
        if self._backward_hooks is None:
            self._backward_hooks = {}
        return RemovableHandle(self._backward_hooks, hook)

    def detach(self):
        """The same data (and memory, and version counter), cut from the graph."""
        out = Tensor(self.data)
        out._version_counter = self._version_counter
        return out

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
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    def size(self, dim=None):
        """The shape (a tuple), or the length of dimension `dim`, as in PyTorch."""
        if dim is None:
            return self.data.shape
        if not -self.ndim <= dim < max(self.ndim, 1):
            raise IndexError(f"size: dim {dim} is out of range for a tensor with "
                             f"{self.ndim} dims")
        return self.data.shape[dim]

    def numel(self):
        """The number of elements."""
        return self.data.size

    def dim(self):
        return self.data.ndim

    def element_size(self):
        return self.data.itemsize

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

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
        if self.numel() != 1:
            raise ValueError(f"item: only a one-element tensor has an item, got shape {self.shape}")
        return self.numpy().item()

    def tolist(self):
        return self.numpy().tolist()

    def __bool__(self):
        if self.numel() != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iub" or self.numel() != 1:
            raise TypeError(f"only a one-element integer tensor can be used as an index, "
                            f"got shape {self.shape} and dtype {self.dtype}")
        return int(self.item())

    __hash__ = object.__hash__


class RemovableHandle:
    """Returned by the register_*hook methods; `handle.remove()` unregisters the hook."""
    _next_key = 0

    def __init__(self, hooks, hook):
        RemovableHandle._next_key += 1
        self._hooks, self.id = hooks, RemovableHandle._next_key
        hooks[self.id] = hook

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
