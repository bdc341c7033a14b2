"""Keras 3's array functions (keras.ops), on minidl tensors: matmul, softmax, split, ...

The names, arguments and meanings are Keras's, which are NumPy's (split takes NumPy's
indices_or_sections, transpose reverses the axes by default); each is one or two
minidl.functional ops, so gradients flow through them. Arguments may be Tensors, NumPy
arrays or numbers; floating arrays become float32 (Keras's floatx).

Called on KerasTensors (inside a functional model), a function does not compute: it
becomes a node of the model (a TFOpLambda layer), as in Keras. So does Python
arithmetic on KerasTensors (q @ k, x + y, x[:, 0]).
"""
import functools
import types

import numpy as np

from .. import functional as F
from ..creation import arange as _arange
from ..tensor import Tensor
from . import activations
from .backend import floatx, unique_name
from .layers.core import TFOpLambda
from .symbolic import KerasTensor, is_symbolic


def symbolic_aware(prefix):
    """Make a function work on KerasTensors too: then it adds a TFOpLambda node to the
    model named prefix.name, instead of computing."""
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if is_symbolic((args, kwargs)):
                layer = TFOpLambda(function, name=unique_name(f"{prefix}.{function.__name__}"))
                return layer(*args, **kwargs)
            return function(*args, **kwargs)
        return wrapper
    return decorate


op = symbolic_aware("tf")


def convert_to_tensor(x, dtype=None):
    """x as a Tensor (floating NumPy data as float32, Keras's floatx)."""
    if isinstance(x, Tensor):
        return x if dtype is None else F.cast(x, np.dtype(dtype))
    array = np.asarray(x)
    if dtype is not None:
        array = array.astype(dtype)
    elif array.dtype.kind == "f":
        array = array.astype(floatx())
    return Tensor(array)


def convert_to_numpy(x):
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


_t = convert_to_tensor


def _operands(x1, x2):
    """Two operands as tensors; a Python number stays a number (it takes the tensor's dtype)."""
    return tuple(x if isinstance(x, (int, float)) and not isinstance(x, bool) else _t(x)
                 for x in (x1, x2))


# ---------------------------------------------------------------- linear algebra
@op
def matmul(x1, x2):
    return F.matmul(_t(x1), _t(x2))


# ---------------------------------------------------------------- elementwise
@op
def add(x1, x2):
    a, b = _operands(x1, x2)
    return a + b


@op
def subtract(x1, x2):
    a, b = _operands(x1, x2)
    return a - b


@op
def multiply(x1, x2):
    a, b = _operands(x1, x2)
    return a * b


@op
def divide(x1, x2):
    a, b = _operands(x1, x2)
    return a / b


@op
def power(x1, x2):
    a, b = _operands(x1, x2)
    return a ** b


@op
def negative(x):
    return -_t(x)


@op
def maximum(x1, x2):
    return F.maximum(*(_t(x) for x in (x1, x2)))


@op
def minimum(x1, x2):
    return F.minimum(*(_t(x) for x in (x1, x2)))


@op
def sqrt(x):
    return F.sqrt(_t(x))


@op
def square(x):
    return F.square(_t(x))


@op
def exp(x):
    return F.exp(_t(x))


@op
def log(x):
    return F.log(_t(x))


@op
def abs(x):  # noqa: A001 (Keras's name)
    return F.abs(_t(x))


@op
def clip(x, x_min, x_max):
    return F.clamp(_t(x), x_min, x_max)


@op
def where(condition, x1=None, x2=None):
    condition = _t(condition)
    if x1 is None and x2 is None:
        return tuple(Tensor(i) for i in np.nonzero(condition.numpy()))
    return F.where(condition.data.astype(bool), *(_t(x) for x in (x1, x2)))


@op
def cast(x, dtype):
    return F.cast(_t(x), np.dtype(dtype))


# ---------------------------------------------------------------- comparisons (boolean)
@op
def equal(x1, x2):
    return F.eq(*_operands(x1, x2))


@op
def not_equal(x1, x2):
    return F.ne(*_operands(x1, x2))


@op
def greater(x1, x2):
    return F.gt(*_operands(x1, x2))


@op
def less(x1, x2):
    return F.lt(*_operands(x1, x2))


# ---------------------------------------------------------------- reductions
@op
def sum(x, axis=None, keepdims=False):  # noqa: A001
    return F.sum(_t(x), axis, keepdims)


@op
def mean(x, axis=None, keepdims=False):
    return F.mean(_t(x), axis, keepdims)


@op
def max(x, axis=None, keepdims=False):  # noqa: A001
    return F.amax(_t(x), () if axis is None else axis, keepdims)


@op
def min(x, axis=None, keepdims=False):  # noqa: A001
    return F.amin(_t(x), () if axis is None else axis, keepdims)


@op
def argmax(x, axis=None, keepdims=False):
    return F.argmax(_t(x), axis, keepdims)


@op
def argmin(x, axis=None, keepdims=False):
    return F.argmin(_t(x), axis, keepdims)


# ---------------------------------------------------------------- shapes
def shape(x):
    """The shape as a tuple (None for sizes a KerasTensor does not know yet)."""
    return tuple(x.shape)


@op
def reshape(x, newshape):
    return F.reshape(_t(x), tuple(newshape) if not isinstance(newshape, int) else (newshape,))


@op
def transpose(x, axes=None):
    """The axes in the order given; by default reversed (NumPy's transpose)."""
    x = _t(x)
    return F.permute(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


@op
def swapaxes(x, axis1, axis2):
    return F.swapaxes(_t(x), axis1, axis2)


@op
def expand_dims(x, axis):
    return F.unsqueeze(_t(x), axis)


@op
def squeeze(x, axis=None):
    return F.squeeze(_t(x), axis)


@op
def tile(x, repeats):
    return F.tile(_t(x), repeats)


@op
def concatenate(xs, axis=0):
    return F.concat([_t(x) for x in xs], axis)


@op
def stack(x, axis=0):
    return F.stack([_t(t) for t in x], axis)


@op
def split(x, indices_or_sections, axis=0):
    """NumPy's split: an int n gives n equal parts (it must divide the axis), a list the
    indices to cut before."""
    x = _t(x)
    if isinstance(indices_or_sections, (int, np.integer)) and x.shape[axis] % indices_or_sections:
        raise ValueError(f"split: an axis of length {x.shape[axis]} cannot be split into "
                         f"{indices_or_sections} equal parts (shape {x.shape}, axis {axis})")
    return list(F.tensor_split(x, indices_or_sections, axis))


@op
def tril(x, k=0):
    x = _t(x)
    keep = np.tril(np.ones(x.shape[-2:], dtype=bool), k)
    return F.where(keep, x, Tensor(np.zeros((), dtype=x.dtype)))


@op
def triu(x, k=0):
    x = _t(x)
    keep = np.triu(np.ones(x.shape[-2:], dtype=bool), k)
    return F.where(keep, x, Tensor(np.zeros((), dtype=x.dtype)))


# ---------------------------------------------------------------- creation
def zeros(shape, dtype=None):
    return Tensor(np.zeros(shape, dtype=dtype or floatx()))


def ones(shape, dtype=None):
    return Tensor(np.ones(shape, dtype=dtype or floatx()))


def zeros_like(x, dtype=None):
    return Tensor(np.zeros(tuple(x.shape), dtype=dtype or x.dtype))


def ones_like(x, dtype=None):
    return Tensor(np.ones(tuple(x.shape), dtype=dtype or x.dtype))


def arange(start, stop=None, step=1, dtype=None):
    return _arange(start, stop, step, dtype=dtype)


def one_hot(x, num_classes, axis=-1, dtype=None):
    """(..., ) integer classes -> (..., num_classes) rows with a single 1 (outside the graph)."""
    labels = convert_to_numpy(x).astype(np.int64)
    out = (labels[..., None] == np.arange(num_classes)).astype(dtype or floatx())
    return Tensor(np.moveaxis(out, -1, axis))


# ---------------------------------------------------------------- neural network functions
@op
def softmax(x, axis=-1):
    return activations.softmax(_t(x), axis)


@op
def log_softmax(x, axis=-1):
    return F.log_softmax(_t(x), axis)


@op
def relu(x):
    return F.relu(_t(x))


@op
def sigmoid(x):
    return activations.sigmoid(_t(x))


@op
def tanh(x):
    return F.tanh(_t(x))


@op
def gelu(x, approximate=True):
    """Keras's ops.gelu uses the tanh approximation by default (the GELU layer does not)."""
    return activations.gelu(_t(x), approximate)


# keras.ops.nn holds the neural network functions again under their own namespace
nn = types.SimpleNamespace(softmax=softmax, log_softmax=log_softmax, relu=relu,
                           sigmoid=sigmoid, tanh=tanh, gelu=gelu, one_hot=one_hot)


# ---------------------------------------------------------------- arithmetic on KerasTensors
def _operator(name, function):
    named = symbolic_aware("tf.__operators__")(function)
    return lambda self, *others: named(self, *others)


def _attach_operators():
    """x + y, x @ y, x[...], ... on KerasTensors: nodes of the model, as in Keras."""
    def getitem(x, index):
        return x[index]

    pairs = {
        "__add__": lambda a, b: a + b, "__radd__": lambda a, b: b + a,
        "__sub__": lambda a, b: a - b, "__rsub__": lambda a, b: b - a,
        "__mul__": lambda a, b: a * b, "__rmul__": lambda a, b: b * a,
        "__truediv__": lambda a, b: a / b, "__rtruediv__": lambda a, b: b / a,
        "__matmul__": lambda a, b: a @ b, "__rmatmul__": lambda a, b: b @ a,
        "__pow__": lambda a, b: a ** b, "__neg__": lambda a: -a, "__getitem__": getitem,
    }
    for name, function in pairs.items():
        function.__name__ = name.strip("_")
        setattr(KerasTensor, name, _operator(name, function))


_attach_operators()
