"""Making tensors: tensor(), zeros, ones, full, arange, linspace, eye, randn, rand, randint.

Python floats become the default float dtype (float32); integers stay int64.
Random draws come from the generator that `minidl.manual_seed` resets.
"""
import numpy as np

from . import backend
from .tensor import Tensor


def tensor(data, dtype=None, device="cpu", requires_grad=False):
    """A new leaf tensor holding a copy of `data` (a number, list, array or Tensor)."""
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.array_module_for(device)
    if dtype is None and not hasattr(data, "dtype"):
        probe = np.asarray(data)
        dtype = backend.default_dtype() if probe.dtype.kind == "f" else probe.dtype
        if probe.dtype.kind not in "biufc":
            raise TypeError(f"tensor: cannot make a tensor from data of dtype {probe.dtype}")
    array = xp.array(backend.to_device(data, device) if hasattr(data, "dtype") else data,
                     dtype=dtype)
    return Tensor(array, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but without a copy when `data` already fits."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return tensor(data, dtype=dtype, device=device or "cpu")


def _make(fill, shape, dtype, device, requires_grad):
    xp = backend.array_module_for(device)
    dtype = backend.default_dtype() if dtype is None else dtype
    return Tensor(fill(xp, shape, dtype), requires_grad=requires_grad)


def _size(shape, size, op):
    """The size given as zeros(2, 3), zeros((2, 3)) or zeros(size=(2, 3)), as a tuple."""
    if size is not None:
        if shape:
            raise TypeError(f"{op}: give the size as arguments or as size=, not both")
        shape = (size,)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape, size=None, dtype=None, device="cpu", requires_grad=False):
    return _make(lambda xp, s, d: xp.zeros(s, dtype=d), _size(shape, size, "zeros"), dtype,
                 device, requires_grad)


def ones(*shape, size=None, dtype=None, device="cpu", requires_grad=False):
    return _make(lambda xp, s, d: xp.ones(s, dtype=d), _size(shape, size, "ones"), dtype,
                 device, requires_grad)


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False):
    """A tensor of `size` filled with `fill_value`; its dtype follows the value as in
    PyTorch (bool, int64, or the default float dtype) unless dtype is given."""
    if dtype is None:
        kind = np.asarray(fill_value).dtype.kind
        dtype = np.bool_ if kind == "b" else np.int64 if kind in "iu" else None
    return _make(lambda xp, s, d: xp.full(s, fill_value, dtype=d), _size((size,), None, "full"),
                 dtype, device, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return zeros(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return ones(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
    return _make(lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device, requires_grad)


def arange(start=0, end=None, step=1, dtype=None, device="cpu", requires_grad=False):
    """start, start + step, ... up to (not including) end; arange(n) is 0, 1, ..., n - 1.
    Integers give int64, any float the default float dtype."""
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None and values.dtype.kind == "f":
        dtype = backend.default_dtype()
    return tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device="cpu", requires_grad=False):
    """`steps` evenly spaced values from start to end, both included."""
    return tensor(np.linspace(start, end, steps), dtype=dtype or backend.default_dtype(),
                  device=device, requires_grad=requires_grad)


def _random(draw, shape, dtype, device, requires_grad):
    dtype = backend.default_dtype() if dtype is None else dtype
    values = draw(backend.rng(), shape).astype(dtype)
    return Tensor(backend.to_device(values, device), requires_grad=requires_grad)


def randn(*shape, size=None, dtype=None, device="cpu", requires_grad=False):
    """Standard normal draws (from the generator `manual_seed` resets)."""
    return _random(lambda g, s: g.standard_normal(s), _size(shape, size, "randn"), dtype, device,
                   requires_grad)


def rand(*shape, size=None, dtype=None, device="cpu", requires_grad=False):
    """Uniform draws in [0, 1)."""
    return _random(lambda g, s: g.random(s), _size(shape, size, "rand"), dtype, device,
                   requires_grad)


def randint(low, high=None, size=None, dtype=None, device="cpu", requires_grad=False):
    """Integers drawn uniformly from [low, high): randint(low, high, size), or
    randint(high, size) from [0, high), as in PyTorch. int64 unless dtype is given."""
    if size is None:           # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:         # randint(high, size=...)
        low, high = 0, low
    if size is None:
        raise TypeError("randint: missing size, the shape of the result")
    values = backend.rng().integers(low, high, size=_size((size,), None, "randint"))
    return Tensor(backend.to_device(values.astype(dtype or np.int64), device),
                  requires_grad=requires_grad)
