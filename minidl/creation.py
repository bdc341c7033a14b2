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
    return Tensor(fill(xp, _shape(shape), dtype), requires_grad=requires_grad)


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape, dtype=None, device="cpu", requires_grad=False):
    return _make(lambda xp, s, d: xp.zeros(s, dtype=d), shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device="cpu", requires_grad=False):
    return _make(lambda xp, s, d: xp.ones(s, dtype=d), shape, dtype, device, requires_grad)


def full(shape, value, dtype=None, device="cpu", requires_grad=False):
    return _make(lambda xp, s, d: xp.full(s, value, dtype=d), (shape,), dtype, device,
                 requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
    return _make(lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device, requires_grad)


def arange(start, stop=None, step=1, dtype=None, device="cpu"):
    values = np.arange(start, stop, step)
    if dtype is None and values.dtype.kind == "f":
        dtype = backend.default_dtype()
    return tensor(values, dtype=dtype, device=device)


def linspace(start, stop, num, dtype=None, device="cpu"):
    return tensor(np.linspace(start, stop, num), dtype=dtype or backend.default_dtype(),
                  device=device)


def _random(draw, shape, dtype, device, requires_grad):
    dtype = backend.default_dtype() if dtype is None else dtype
    values = draw(backend.rng(), _shape(shape)).astype(dtype)
    return Tensor(backend.to_device(values, device), requires_grad=requires_grad)


def randn(*shape, dtype=None, device="cpu", requires_grad=False):
    """Standard normal draws (from the generator `manual_seed` resets)."""
    return _random(lambda g, s: g.standard_normal(s), shape, dtype, device, requires_grad)


def rand(*shape, dtype=None, device="cpu", requires_grad=False):
    """Uniform draws in [0, 1)."""
    return _random(lambda g, s: g.random(s), shape, dtype, device, requires_grad)


def randint(low, high, shape, device="cpu"):
    values = backend.rng().integers(low, high, size=tuple(shape))
    return Tensor(backend.to_device(values, device))
