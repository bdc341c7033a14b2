"""Shape ops: reshape, transpose, broadcast_to / sum_to, squeeze, concat, stack, split, getitem.

They move numbers around without changing them, so each backward moves the
gradient back: reshape's is a reshape, transpose's the inverse transpose,
broadcast_to's a sum (`sum_to`) and sum_to's a broadcast. Indexing scatters
the gradient into a zero array with `np.add.at`, so an element picked twice
collects both gradients.
"""
import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor


def normalize_axis(axis, ndim, op="op"):
    """axis (None, int or tuple, negatives allowed) -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
        result.append(int(a) % max(ndim, 1))
    return tuple(sorted(result))


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return a.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        return a.transpose(self.axes)

    def backward(self, gy):
        inverse = tuple(np.argsort(self.axes))
        return transpose(gy, inverse)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return backend.get_array_module(a).broadcast_to(a, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """Sum an array down to `shape`, undoing a broadcast to a larger one."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        lead = a.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(self.shape) if n == 1 and a.shape[lead + i] != 1)
        y = a.sum(axis=axes, keepdims=True)
        return y.reshape(self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class Concat(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return backend.get_array_module(arrays[0]).concatenate(arrays, axis=self.axis)

    def backward(self, gy):
        sizes = [x.shape[self.axis] for x in self.inputs]
        return tuple(split(gy, list(np.cumsum(sizes)[:-1]), self.axis))


class Split(Function):
    def __init__(self, indices, axis):
        self.indices, self.axis = indices, axis

    def forward(self, a):
        return tuple(backend.get_array_module(a).split(a, self.indices, axis=self.axis))

    def backward(self, *gys):
        return concat(list(gys), self.axis)


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, a):
        return a[self.index]

    def backward(self, gy):
        return ScatterAdd(self.index, self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    """The gradient of a[index]: zeros of the input's shape with gy added at `index`."""

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, gy):
        xp = backend.get_array_module(gy)
        out = xp.zeros(self.shape, dtype=gy.dtype)
        if _has_integer_array(self.index):
            xp.add.at(out, self.index, gy)  # repeated indices must add up, not overwrite
        else:
            out[self.index] = gy
        return out

    def backward(self, ggx):
        return getitem(ggx, self.index)


def _has_integer_array(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" for p in parts)


# ----------------------------------------------------------------------------
# the functional names
# ----------------------------------------------------------------------------
def reshape(a, shape):
    shape = tuple(shape) if not isinstance(shape, (int, np.integer)) else (shape,)
    if a.shape == shape:
        return a
    return Reshape(_resolve_shape(shape, a))(a)


def _resolve_shape(shape, a):
    """Fill in one -1 and check that the element count is kept."""
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) == 1 and known and a.size % known == 0:
        shape = tuple(a.size // known if n == -1 else n for n in shape)
    if -1 in shape or math.prod(shape) != a.size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                         f"({a.size} elements) into {shape}")
    return shape


def transpose(a, axes=None):
    if axes is None:
        axes = tuple(reversed(range(a.ndim)))
    axes = tuple(int(ax) % max(a.ndim, 1) for ax in axes)
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the "
                         f"{a.ndim} dims of shape {a.shape}")
    return Transpose(axes)(a)


permute = transpose


def swapaxes(a, axis1, axis2):
    axes = list(range(a.ndim))
    axis1, axis2 = axis1 % a.ndim, axis2 % a.ndim
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, axes)


def broadcast_to(a, shape):
    shape = tuple(shape)
    if a.shape == shape:
        return a
    try:
        np.broadcast_shapes(a.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None
    return BroadcastTo(shape)(a)


def sum_to(a, shape):
    """Sum `a` down to `shape` (the reverse of broadcasting `shape` up to a.shape)."""
    shape = tuple(shape)
    if a.shape == shape:
        return a
    return SumTo(shape)(a)


def squeeze(a, axis=None):
    if axis is None:
        return reshape(a, tuple(n for n in a.shape if n != 1))
    axes = normalize_axis(axis, a.ndim, "squeeze")
    for ax in axes:
        if a.shape[ax] != 1:
            raise ValueError(f"squeeze: dim {ax} of shape {a.shape} has size {a.shape[ax]}, not 1")
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def unsqueeze(a, axis):
    axis = axis % (a.ndim + 1)
    return reshape(a, a.shape[:axis] + (1,) + a.shape[axis:])


expand_dims = unsqueeze


def flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return reshape(a, (1,))
    start, end = start_dim % a.ndim, end_dim % a.ndim
    merged = math.prod(a.shape[start:end + 1])
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def concat(tensors, axis=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concat: needs at least one tensor")
    first = tensors[0]
    ndim = first.ndim
    axis = normalize_axis(axis, ndim, "concat")[0]
    for t in tensors[1:]:
        if t.ndim != ndim or any(m != n for i, (m, n) in enumerate(zip(t.shape, first.shape))
                                 if i != axis):
            raise ValueError(f"concat: shapes {first.shape} and {t.shape} differ outside "
                             f"axis {axis}")
    return Concat(axis)(*tensors)


cat = concat


def stack(tensors, axis=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors need one shape, got {tensors[0].shape} "
                             f"and {t.shape}")
    axis = axis % (tensors[0].ndim + 1)
    return concat([unsqueeze(t, axis) for t in tensors], axis)


def split(a, indices_or_sections, axis=0):
    """Split along `axis` at the given indices (list) or into equal sections (int)."""
    axis = normalize_axis(axis, a.ndim, "split")[0]
    if isinstance(indices_or_sections, (int, np.integer)):
        if a.shape[axis] % indices_or_sections:
            raise ValueError(f"split: dim {axis} of shape {a.shape} does not divide "
                             f"into {indices_or_sections} equal parts")
        step = a.shape[axis] // indices_or_sections
        indices = [step * i for i in range(1, indices_or_sections)]
    else:
        indices = [int(i) for i in indices_or_sections]
    return list(Split(indices, axis)(a)) if indices else [a]


def getitem(a, index):
    """a[index] with slices, ints, None, Ellipsis, integer arrays or boolean masks."""
    return GetItem(_array_index(index, a))(a)


def _array_index(index, a):
    """Tensors and lists inside an index become arrays on a's device."""
    xp = backend.get_array_module(a.data)
    if isinstance(index, tuple):
        return tuple(_array_index(i, a) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return xp.asarray(index)
    return index
