"""A stand-in for CuPy, for testing minidl's device path on a machine without a GPU.

Its arrays keep their numbers in NumPy arrays (the computer's memory standing in
for the GPU's), but they are a type of their own that behaves as CuPy's does
where a program could go wrong:

- no implicit conversion to NumPy: np.asarray(a), np.array(a) and anything that
  calls __array__ raise CuPy's TypeError; `.get()` copies to the host, as in CuPy;
- no mixing with NumPy arrays: an operator or function given a NumPy array next
  to one of these raises TypeError (Python and NumPy scalars are fine, as in CuPy);
  `device_array[...] = numpy_array` raises as CuPy's does, except for the whole
  array `[:]`, which CuPy allows;
- reductions and indexing to a single element give 0-d arrays, not scalars;
- NumPy's ufuncs given one of these (np.exp(a), or a NumPy scalar times a) run
  this module's ufunc, as CuPy's __array_ufunc__ does.

One deliberate difference: NumPy's other functions (np.sum(a), np.pad(a), ...)
raise TypeError on these arrays, where CuPy would run its own function of that
name when it has one. minidl's convention is `xp = backend.get_array_module(a)`,
so a NumPy function called on a device array is a mistake this catches.

The module functions (zeros, matmul, where, ...) and submodules (random, cuda,
linalg, lib.stride_tricks, and cupyx.scipy.special) are those minidl calls, each a
name that CuPy has, with NumPy's meaning (which is CuPy's).

Under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) the arrays publish their
memory through the CUDA array interface, as CuPy's do, so that minidl's numba.cuda
kernels run on them (the simulator runs kernels on the CPU, where this memory
is). Outside it they do not: numba would take the memory for the GPU's, and the
kernel table then gives the stand-in's arrays its array-code versions
(kernels/cuda/arrays.py).

tests/conftest.py's `cuda_backend` fixture installs this module as minidl's cupy.
"""
import os
import sys
import types

import numpy as np
import scipy.special

__version__ = "0.0-stand-in"
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")

_NO_IMPLICIT_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. "
                           "Please use `.get()` to construct a NumPy array explicitly.")


# ----------------------------------------------------------------------------
# moving values in and out of the stand-in's arrays
# ----------------------------------------------------------------------------
def _operand(value):
    """What NumPy computes with for an operand: the array underneath one of ours; a
    scalar as it is; a NumPy array refused, as CuPy refuses it."""
    if isinstance(value, ndarray):
        return value._data
    if isinstance(value, np.ndarray):
        raise TypeError(f"Unsupported type {type(value)}")
    if isinstance(value, (list, tuple)):
        return type(value)(_operand(v) for v in value)
    return value


def _index(key):
    """An index for NumPy: our arrays unwrapped. CuPy accepts host index lists and arrays
    (it copies them over), so they pass."""
    if isinstance(key, ndarray):
        return key._data
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    return key


def _result(value):
    """A NumPy result as ours: arrays and NumPy scalars become our arrays (CuPy returns
    0-d arrays where NumPy returns scalars); tuples and lists of them element by element."""
    if isinstance(value, np.ndarray):
        return ndarray._of(value)
    if isinstance(value, np.generic):
        return ndarray._of(np.asarray(value))
    if isinstance(value, (tuple, list)):
        return type(value)(_result(v) for v in value)
    return value


def _with_operands(function):
    """A NumPy function as one of ours: operands checked and unwrapped, results wrapped."""
    def wrapped(*args, **kwargs):
        args = tuple(_operand(a) for a in args)
        kwargs = {k: _operand(v) for k, v in kwargs.items()}
        return _result(function(*args, **kwargs))
    wrapped.__name__ = getattr(function, "__name__", "function")
    return wrapped


# ----------------------------------------------------------------------------
# the array
# ----------------------------------------------------------------------------
class ndarray:
    """A device array of the stand-in: NumPy memory that refuses to be taken for NumPy."""
    __slots__ = ("_data",)
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._data = np.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _of(cls, array):
        a = cls.__new__(cls)
        a._data = array
        return a

    # --- the host boundary -------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_NO_IMPLICIT_CONVERSION)

    def get(self, stream=None, order="C", out=None):
        """A NumPy copy, as CuPy's copy from the GPU."""
        if out is not None:
            out[...] = self._data
            return out
        return np.array(self._data, order=order, copy=True)

    def set(self, arr, stream=None):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch: {self.shape} != {arr.shape}")
        self._data[...] = arr

    def item(self, *args):
        return self._data.item(*args)

    def tolist(self):
        return self._data.tolist()

    def tobytes(self, order="C"):
        return self._data.tobytes(order)

    if SIMULATOR:
        @property
        def __cuda_array_interface__(self):
            interface = self._data.__array_interface__
            return {"shape": interface["shape"], "typestr": interface["typestr"],
                    "data": interface["data"], "strides": interface["strides"],
                    "descr": interface["descr"], "version": 3, "stream": None}

    # --- NumPy's protocols: ufuncs run ours, other functions are refused ---------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        ours = globals().get(ufunc.__name__)
        if not isinstance(ours, _Ufunc):
            return NotImplemented
        return getattr(ours, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented

    # --- attributes ------------------------------------------------------------
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    itemsize = property(lambda self: self._data.itemsize)
    nbytes = property(lambda self: self._data.nbytes)
    strides = property(lambda self: self._data.strides)
    flags = property(lambda self: self._data.flags)
    T = property(lambda self: ndarray._of(self._data.T))
    mT = property(lambda self: ndarray._of(np.swapaxes(self._data, -1, -2)))
    real = property(lambda self: ndarray._of(self._data.real))
    imag = property(lambda self: ndarray._of(self._data.imag))

    @property
    def base(self):
        return None if self._data.base is None else ndarray._of(self._data.base)

    # --- Python's protocols ------------------------------------------------------
    def __repr__(self):
        return repr(self._data)

    def __str__(self):
        return str(self._data)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        return bool(self._data)

    def __int__(self):
        return int(self._data)

    def __float__(self):
        return float(self._data)

    def __complex__(self):
        return complex(self._data)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __getitem__(self, key):
        return _result(self._data[_index(key)])

    def __setitem__(self, key, value):
        if isinstance(value, np.ndarray):
            if value.ndim and not (isinstance(key, slice) and key == slice(None)):
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        else:
            value = _operand(value)
        self._data[_index(key)] = value


def _method(name):
    def method(self, *args, **kwargs):
        return _with_operands(getattr(self._data, name))(*args, **kwargs)
    method.__name__ = name
    return method


def _in_place_operator(name):
    def operator(self, other):
        getattr(self._data, name)(_operand(other))
        return self
    operator.__name__ = name
    return operator


for _name in ("all", "any", "argmax", "argmin", "argsort", "astype", "clip", "conj",
              "copy", "cumprod", "cumsum", "diagonal", "dot", "fill", "flatten", "max",
              "mean", "min", "nonzero", "prod", "ptp", "ravel", "repeat", "reshape",
              "round", "sort", "squeeze", "std", "sum", "swapaxes", "take", "trace",
              "transpose", "var", "view",
              # operators: a NumPy array operand raises, as in CuPy
              "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__",
              "__rmod__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__and__",
              "__rand__", "__or__", "__ror__", "__xor__", "__rxor__", "__lshift__",
              "__rshift__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
              "__neg__", "__pos__", "__abs__", "__invert__", "__divmod__"):
    setattr(ndarray, _name, _method(_name))
for _name in ("__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__",
              "__imod__", "__ipow__", "__iand__", "__ior__", "__ixor__"):
    setattr(ndarray, _name, _in_place_operator(_name))


# ----------------------------------------------------------------------------
# ufuncs: callable, with the methods minidl uses (at, reduce, accumulate, outer)
# ----------------------------------------------------------------------------
class _Ufunc:
    def __init__(self, numpy_ufunc, name=None):
        self._ufunc = numpy_ufunc
        self.__name__ = name or numpy_ufunc.__name__
        self.nin, self.nout = numpy_ufunc.nin, numpy_ufunc.nout

    def __call__(self, *args, **kwargs):
        for a in args:
            if isinstance(a, (list, tuple)):
                raise TypeError(f"Unsupported type {type(a)}")
        return _with_operands(self._ufunc)(*args, **kwargs)

    def at(self, a, indices, b=None):
        if not isinstance(a, ndarray):
            raise TypeError(f"{self.__name__}.at: expects a cupy.ndarray, got {type(a)}")
        args = (_index(indices),) + (() if b is None else (_operand(b),))
        self._ufunc.at(a._data, *args)

    def reduce(self, *args, **kwargs):
        return _with_operands(self._ufunc.reduce)(*args, **kwargs)

    def accumulate(self, *args, **kwargs):
        return _with_operands(self._ufunc.accumulate)(*args, **kwargs)

    def outer(self, *args, **kwargs):
        return _with_operands(self._ufunc.outer)(*args, **kwargs)

    def __repr__(self):
        return f"<ufunc '{self.__name__}' (stand-in)>"


UFUNCS = ("abs", "absolute", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
          "arctan2", "arctanh", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor",
          "cbrt", "ceil", "conjugate", "copysign", "cos", "cosh", "deg2rad", "degrees",
          "divide", "equal", "exp", "exp2", "expm1", "fabs", "floor", "floor_divide", "fmax",
          "fmin", "fmod", "greater", "greater_equal", "hypot", "invert", "isfinite", "isinf",
          "isnan", "ldexp", "left_shift", "less", "less_equal", "log", "log10", "log1p",
          "log2", "logaddexp", "logaddexp2", "logical_and", "logical_not", "logical_or",
          "logical_xor", "maximum", "minimum", "mod", "modf", "multiply", "negative",
          "nextafter", "not_equal", "positive", "power", "rad2deg", "radians", "reciprocal",
          "remainder", "right_shift", "rint", "sign", "signbit", "sin", "sinh", "sqrt",
          "square", "subtract", "tan", "tanh", "true_divide", "trunc")
for _name in UFUNCS:
    globals()[_name] = _Ufunc(getattr(np, _name), _name)


# ----------------------------------------------------------------------------
# functions on device arrays: NumPy's, with operands checked
# ----------------------------------------------------------------------------
FUNCTIONS = ("all", "allclose", "amax", "amin", "any", "argmax", "argmin", "argsort",
             "argwhere", "around", "array_equal", "array_split", "atleast_1d", "atleast_2d",
             "atleast_3d", "average", "bincount", "broadcast_arrays", "broadcast_to", "clip",
             "concatenate", "copyto", "count_nonzero", "cumprod", "cumsum", "diag",
             "diagonal", "diff", "dot", "dstack", "einsum", "empty_like", "expand_dims",
             "flatnonzero", "flip", "fliplr", "flipud", "full_like", "hstack", "inner",
             "isclose", "ix_", "kron", "matmul", "max", "may_share_memory", "mean", "median",
             "min", "moveaxis", "nan_to_num", "nanmax", "nanmin", "nansum", "nonzero",
             "ones_like", "outer", "pad", "prod", "ptp", "put_along_axis", "ravel", "repeat",
             "reshape", "roll", "rollaxis", "round", "searchsorted", "shares_memory", "sort",
             "split", "squeeze", "stack", "std", "sum", "swapaxes", "take", "take_along_axis",
             "tensordot", "tile", "trace", "transpose", "tril", "triu", "unique", "var",
             "vstack", "where", "zeros_like")
for _name in FUNCTIONS:
    globals()[_name] = _with_operands(getattr(np, _name))

# names CuPy shares with NumPy: types, constants, dtype helpers
for _name in ("bool_", "float16", "float32", "float64", "int8", "int16", "int32", "int64",
              "uint8", "uint16", "uint32", "uint64", "complex64", "complex128", "intp",
              "dtype", "finfo", "iinfo", "result_type", "can_cast", "promote_types",
              "inf", "nan", "pi", "e", "newaxis", "ndim", "shape", "size"):
    globals()[_name] = getattr(np, _name)


# ----------------------------------------------------------------------------
# making arrays: from host data (the copy to the device), or new
# ----------------------------------------------------------------------------
def _host(obj):
    """Host data for a new array: ours unwrapped, anything else (NumPy arrays, lists,
    numbers) as given: CuPy copies host data over."""
    if isinstance(obj, ndarray):
        return obj._data
    if isinstance(obj, (list, tuple)):
        return type(obj)(_host(v) for v in obj)
    return obj


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
    return ndarray._of(np.array(_host(obj), dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asarray(a, dtype=None, order=None):
    if isinstance(a, ndarray) and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return ndarray._of(np.array(_host(a), dtype=dtype, order=order))


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):
        raise TypeError(f"Argument 'a' has incorrect type (expected cupy.ndarray, got "
                        f"{type(a).__name__})")
    return ndarray._of(np.ascontiguousarray(a._data, dtype=dtype))


def asnumpy(a, stream=None, order="C", out=None):
    return a.get(order=order, out=out) if isinstance(a, ndarray) else np.asarray(a)


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else np


def _new(function):
    def new(*args, **kwargs):
        return ndarray._of(function(*args, **kwargs))
    new.__name__ = function.__name__
    return new


for _name in ("empty", "zeros", "ones", "full", "arange", "linspace", "logspace", "eye",
              "identity", "tri", "indices"):
    globals()[_name] = _new(getattr(np, _name))


# ----------------------------------------------------------------------------
# submodules
# ----------------------------------------------------------------------------
def _submodule(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


class _RandomState:
    """cupy.random's global generator, here NumPy's legacy one underneath."""

    def __init__(self, seed=None):
        self._numpy = np.random.RandomState(seed)

    def __getattr__(self, name):
        return _with_operands(getattr(self._numpy, name))


_random_state = _RandomState()


def _random_seed(seed=None):
    _random_state._numpy.seed(seed)


def _random_function(name):
    def draw(*args, **kwargs):
        return getattr(_random_state, name)(*args, **kwargs)
    draw.__name__ = name
    return draw


random = _submodule("cupy.random", seed=_random_seed, RandomState=_RandomState, **{
    name: _random_function(name) for name in (
        "rand", "randn", "random", "random_sample", "standard_normal", "normal", "uniform",
        "randint", "permutation", "choice", "shuffle", "binomial")})

linalg = _submodule("cupy.linalg", **{name: _with_operands(getattr(np.linalg, name))
                                      for name in ("norm", "inv", "solve", "det", "svd", "qr",
                                                   "cholesky", "eigh", "pinv", "lstsq")})

lib = _submodule("cupy.lib", stride_tricks=_submodule(
    "cupy.lib.stride_tricks",
    as_strided=lambda x, shape=None, strides=None: ndarray._of(
        np.lib.stride_tricks.as_strided(_operand(x), shape, strides))))


class _Stream:
    """A CUDA stream: pointer 0 is the default stream."""

    def __init__(self, ptr=0):
        self.ptr = ptr

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Device:
    def __init__(self, device=0):
        self.id = device

    def synchronize(self):
        pass


cuda = _submodule(
    "cupy.cuda", Stream=_Stream, Device=_Device,
    get_current_stream=lambda device=None: _Stream(0),
    runtime=_submodule("cupy.cuda.runtime", getDeviceCount=lambda: 1))

# cupyx: the SciPy functions minidl calls on device arrays
_special = _submodule("cupyx.scipy.special", erf=_Ufunc(scipy.special.erf, "erf"))
_scipy = _submodule("cupyx.scipy", special=_special)
cupyx = _submodule("cupyx", scipy=_scipy)
MODULES = {"cupyx": cupyx, "cupyx.scipy": _scipy, "cupyx.scipy.special": _special}
