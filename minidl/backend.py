"""Array backends: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every other module asks this one which array library holds an array
(`get_array_module`) instead of importing numpy or cupy itself, so the same
op code runs on both. CuPy is imported only when a GPU is first asked for:
minidl imports and runs on a machine without CUDA.

This module also owns the few global settings: the default float dtype,
the random generator that `manual_seed` resets, which row of the kernel table the
performance-critical ops use ("cuda" for CuPy arrays; for NumPy arrays the CPU
setting chosen with `set_kernels`: "fast", "numpy" or "numba"), and whether
denormal floats are flushed to zero.

The tests replace CuPy with a stand-in (tests/fake_cupy.py) by setting `_cupy`.
"""
import os

import numpy as np

# ----------------------------------------------------------------------------
# CuPy, imported lazily
# ----------------------------------------------------------------------------
_cupy = None


def cupy():
    """Return the cupy module, importing it on first use with a clear error."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
            cp.cuda.runtime.getDeviceCount()
        except Exception as exc:  # ImportError, or CUDA present but unusable
            raise RuntimeError(
                "device 'cuda' needs CuPy and a working NVIDIA GPU "
                f"(pip install 'minidl[gpu]'); it failed with: {exc}") from exc
        _cupy = cp
    return _cupy


def cuda_is_available():
    """True when CuPy imports and sees at least one GPU."""
    try:
        cupy()
        return True
    except RuntimeError:
        return False


def get_array_module(array):
    """numpy for NumPy arrays (and Python numbers), cupy for CuPy arrays."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def device_of(array):
    """'cpu' or 'cuda' for an array."""
    return "cuda" if get_array_module(array) is not np else "cpu"


def check_device(device):
    """Normalise a device name ('cpu', 'cuda', 'cuda:0') to 'cpu' or 'cuda'."""
    name = str(device).split(":")[0]
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    return name


def array_module_for(device):
    return cupy() if check_device(device) == "cuda" else np


def to_numpy(value):
    """A NumPy array of value: a Tensor (anything with .numpy()), a CuPy array (copied
    from the GPU), an array, a list or a number."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    if device_of(value) == "cuda":
        return value.get()
    return np.asarray(value)


def to_device(array, device):
    """Copy an array to 'cpu' or 'cuda' (no copy when it is already there)."""
    device = check_device(device)
    if device_of(array) == device:
        return array
    if device == "cuda":
        return cupy().asarray(array)
    return array.get()


# ----------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------
_default_dtype = np.dtype(np.float32)


def default_dtype():
    return _default_dtype


def set_default_dtype(dtype):
    """Set the float dtype that new tensors get from Python floats (float32 by default)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: {dtype} is not a floating dtype")
    _default_dtype = dtype


# ----------------------------------------------------------------------------
# random numbers
# ----------------------------------------------------------------------------
_rng = np.random.default_rng()


def manual_seed(seed):
    """Make every random draw in minidl (init, dropout, shuffling) reproducible."""
    global _rng
    _rng = np.random.default_rng(seed)
    if _cupy is not None:
        _cupy.random.seed(seed)


def rng():
    """The global NumPy random Generator (reset by `manual_seed`)."""
    return _rng


# ----------------------------------------------------------------------------
# kernels: which row of the kernel table (kernels/table.py) the CPU ops use
# ----------------------------------------------------------------------------
KERNEL_CHOICES = ("fast", "numpy", "numba")
_kernels = os.environ.get("MINIDL_KERNELS", "fast")
if _kernels not in KERNEL_CHOICES:
    raise ValueError(f"MINIDL_KERNELS={_kernels!r}: use one of {KERNEL_CHOICES}")
_table = None


def set_kernels(name):
    """Choose the CPU kernels: "fast" (the default: BLAS for products, numba for the
    rest), "numpy" (NumPy and BLAS only, the reference) or "numba" (numba everywhere)."""
    global _kernels
    if name not in KERNEL_CHOICES:
        raise ValueError(f"set_kernels: {name!r} is not one of {KERNEL_CHOICES}")
    _kernels = name


def get_kernels():
    return _kernels


def kernels_for(array):
    """The kernel table's namespace for an array: "cuda" for a CuPy array, else the
    chosen CPU setting."""
    global _table
    if _table is None:
        from .kernels import table as _table_module
        _table = _table_module
    return _table.get("cuda" if device_of(array) == "cuda" else _kernels)


# ----------------------------------------------------------------------------
# denormal floats
# ----------------------------------------------------------------------------
def set_flush_denormal(mode):
    """Flush denormal floats to zero on the CPU (mode True), or not (False, the default),
    as torch.set_flush_denormal. It holds on the calling thread: for NumPy, and for BLAS and
    the numba kernels as far as they run on it (entirely, with one thread). Returns True
    if the setting could be made (x86-64), False where it cannot be made here
    (kernels/denormal.py explains why and how)."""
    from .kernels import denormal
    return denormal.set_flush_denormal(mode)
