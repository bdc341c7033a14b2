"""Shape ops: reshape, permute / transpose, expand / sum_to, squeeze, cat, stack, split, indexing.

They move numbers around without changing them, so each backward moves the
gradient back: reshape's is a reshape, a permutation's the inverse
permutation, broadcast_to's a sum (`sum_to`) and sum_to's a broadcast.
Indexing scatters the gradient into a zero array with `np.add.at`, so an
element picked twice collects both gradients.

Names and arguments are PyTorch's: `transpose(x, 0, 1)` swaps two dims
(NumPy's all-axes `transpose` is `permute` here), `split(x, 2)` cuts pieces
of size 2 (NumPy's "2 equal sections" is `tensor_split`), `dim=` names a
dimension (NumPy's `axis=` is accepted too).
"""
import math

import numpy as np
from numpy.exceptions import AxisError  # both an IndexError and a ValueError

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
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise AxisError(f"{op}: dim {a} is out of range for a tensor with {ndim} dims")
        result.append(int(a) % max(ndim, 1))
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: dim {axis} names a dimension twice")
    return tuple(sorted(result))


def one_dim(dim, ndim, op):
    """One dim (negatives allowed) -> its non-negative index, with a clear error."""
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return normalize_axis(int(dim), ndim, op)[0]


def dim_alias(dim, axis, op, default=None):
    """Accept NumPy's axis= beside PyTorch's dim= (not both)."""
    if axis is not None:
        if dim is not None and dim is not default:
            raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r}; give one")
        return axis
    return dim


def keepdim_alias(keepdim, keepdims, op):
    """Accept NumPy's keepdims= beside PyTorch's keepdim= (not both)."""
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{op}: got both keepdim and keepdims; give one")
        return bool(keepdims)
    return bool(keepdim)


def shape_arg(args):
    """Accept both f(x, 2, 3) and f(x, (2, 3)), as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    if len(args) == 1 and isinstance(args[0], Tensor):
        return tuple(int(n) for n in args[0].tolist())
    return tuple(args)


class Reshape(Function):
    reads_inputs = False
    returns_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return a.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


class Permute(Function):
    reads_inputs = False
    returns_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, a):
        return a.transpose(self.dims)

    def backward(self, gy):
        return permute(gy, tuple(np.argsort(self.dims)))


class BroadcastTo(Function):
    reads_inputs = False
    returns_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return self.xp.broadcast_to(a, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """Sum an array down to `shape`, undoing a broadcast to a larger one."""
    reads_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        # BEGIN SOLUTION (exercise 03)
        lead = a.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(self.shape) if n == 1 and a.shape[lead + i] != 1)
        y = a.sum(axis=axes, keepdims=True)
        return y.reshape(self.shape)
        # END SOLUTION

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class Concat(Function):
    reads_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return self.xp.concatenate(arrays, axis=self.axis)

    def backward(self, gy):
        sizes = [x.shape[self.axis] for x in self.inputs]
        return tuple(split(gy, sizes, self.axis))


class Split(Function):
    """Cut along `axis` at the given indices (NumPy's np.split convention)."""
    reads_inputs = False
    returns_view = True

    def __init__(self, indices, axis):
        self.indices, self.axis = indices, axis

    def forward(self, a):
        return tuple(self.xp.split(a, self.indices, axis=self.axis))

    def backward(self, *gys):
        return cat(list(gys), self.axis)


class GetItem(Function):
    reads_inputs = False
    returns_view = True  # basic indexing (slices, ints) gives a view; fancy indexing a copy

    def __init__(self, index):
        self.index = index

    def forward(self, a):
        return a[self.index]

    def backward(self, gy):
        return ScatterAdd(self.index, self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    """The gradient of a[index]: zeros of the input's shape with gy added at `index`."""
    reads_inputs = False

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, gy):
        xp = self.xp
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
def reshape(input, *sizes, shape=None):  # noqa: A002
    """input with a new shape of the same size, given as reshape(x, 2, 3),
    reshape(x, (2, 3)) or reshape(x, shape=(2, 3)); one entry may be -1 (inferred)."""
    shape = shape_arg(sizes) if shape is None else tuple(shape)
    if input.shape == shape:
        return input
    return Reshape(_resolve_shape(shape, input))(input)


def _resolve_shape(shape, a):
    """Fill in one -1 and check that the element count is kept."""
    known = math.prod(n for n in shape if n != -1)
    size = a.numel()
    if shape.count(-1) == 1 and known and size % known == 0:
        shape = tuple(size // known if n == -1 else n for n in shape)
    if -1 in shape or math.prod(shape) != size or min(shape, default=0) < 0:
        raise ValueError(f"reshape: shape {shape} is invalid for a tensor of shape "
                           f"{a.shape} ({size} elements)")
    return shape


view = reshape


def permute(input, *order, dims=None):  # noqa: A002
    """Reorder all the dims: output dim i is input dim dims[i] (NumPy's transpose), given
    as permute(x, 2, 0, 1), permute(x, (2, 0, 1)) or permute(x, dims=(2, 0, 1))."""
    dims = shape_arg(order) if dims is None else tuple(dims)
    if len(dims) != input.ndim:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor with "
                           f"{input.ndim} dims (shape {input.shape})")
    dims = tuple(one_dim(d, input.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the "
                           f"{input.ndim} dims of shape {input.shape}")
    if dims == tuple(range(input.ndim)):
        return input
    return Permute(dims)(input)


def transpose(input, dim0, dim1):  # noqa: A002
    """Swap two dims (PyTorch's transpose; for every dim at once use permute)."""
    dims = list(range(input.ndim))
    if input.ndim == 0:
        one_dim(dim0, 1, "transpose"), one_dim(dim1, 1, "transpose")
        return input
    dim0, dim1 = one_dim(dim0, input.ndim, "transpose"), one_dim(dim1, input.ndim, "transpose")
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(input, dims)


swapdims = transpose


def swapaxes(input, axis0, axis1):  # noqa: A002
    """transpose under NumPy's name, with PyTorch's argument names for it."""
    return transpose(input, axis0, axis1)


def t(input):  # noqa: A002
    """Transpose a matrix (a 0-d or 1-d tensor is returned as it is)."""
    if input.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dims, got shape {input.shape}; "
                           "use transpose(dim0, dim1) or permute")
    return input if input.ndim < 2 else transpose(input, 0, 1)


def movedim(input, source, destination):  # noqa: A002 (PyTorch's argument names)
    """Move dim `source` to position `destination`, keeping the others in order; source and
    destination may also be sequences of as many dims."""
    sources = source if isinstance(source, (tuple, list)) else (source,)
    destinations = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(sources) != len(destinations):
        raise ValueError(f"movedim: {len(sources)} source dims {tuple(sources)} but "
                         f"{len(destinations)} destinations {tuple(destinations)}")
    n = max(input.ndim, 1)
    sources = [one_dim(d, n, "movedim") for d in sources]
    destinations = [one_dim(d, n, "movedim") for d in destinations]
    if len(set(sources)) != len(sources) or len(set(destinations)) != len(destinations):
        raise ValueError(f"movedim: repeated dim in source {tuple(sources)} or destination "
                         f"{tuple(destinations)}")
    rest = iter(d for d in range(input.ndim) if d not in sources)
    placed = dict(zip(destinations, sources))
    return permute(input, [placed[i] if i in placed else next(rest) for i in range(input.ndim)])


def broadcast_to(input, size):  # noqa: A002
    """A view of input repeated along its size-1 dims (and new leading dims) to `size`."""
    shape = tuple(size)
    if input.shape == shape:
        return input
    try:
        if np.broadcast_shapes(input.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {input.shape} to {shape}") from None
    return BroadcastTo(shape)(input)


def expand(a, *sizes):
    """A view with size-1 dims repeated to `sizes` (-1 keeps a dim; new dims go in front)."""
    sizes = shape_arg(sizes)
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes {len(sizes)} is less than the "
                           f"number of dims {a.ndim} of shape {a.shape}")
    shape = []
    for i, n in enumerate(sizes):
        if n == -1:
            if i < lead:
                raise ValueError(f"expand: -1 is not allowed for a new leading dim ({sizes})")
            n = a.shape[i - lead]
        elif i >= lead and a.shape[i - lead] not in (1, n):
            raise ValueError(f"expand: the size {a.shape[i - lead]} of dim {i - lead} of "
                               f"shape {a.shape} must be 1 or match {n} (sizes {sizes})")
        shape.append(n)
    return broadcast_to(a, tuple(shape))


def expand_as(a, other):
    return expand(a, other.shape)


def sum_to(a, shape):
    """Sum `a` down to `shape` (the reverse of broadcasting `shape` up to a.shape)."""
    shape = tuple(shape)
    if a.shape == shape:
        return a
    return SumTo(shape)(a)


def repeat(a, *sizes):
    """Tile a: dim i repeated sizes[i] times (PyTorch's Tensor.repeat; len(sizes) >= ndim)."""
    sizes = shape_arg(sizes)
    if len(sizes) < a.ndim:
        raise ValueError(f"repeat: give at least as many sizes as dims: {len(sizes)} sizes "
                           f"for shape {a.shape}")
    shape = (1,) * (len(sizes) - a.ndim) + a.shape
    # (d0, d1) -> (1, d0, 1, d1) -> expanded to (r0, d0, r1, d1) -> (r0*d0, r1*d1)
    spread = reshape(a, [n for d in shape for n in (1, d)])
    copies = expand(spread, [n for r, d in zip(sizes, shape) for n in (r, d)])
    return reshape(copies, tuple(r * d for r, d in zip(sizes, shape)))


def tile(input, dims):  # noqa: A002
    """Like repeat, but fewer dims than a.ndim are padded with 1s in front (torch.tile)."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def squeeze(input, dim=None, *, axis=None):  # noqa: A002
    """Drop dims of size 1 (all of them, or those in `dim` that have size 1)."""
    dim = dim_alias(dim, axis, "squeeze")
    if dim is None:
        return reshape(input, tuple(n for n in input.shape if n != 1))
    dims = normalize_axis(dim, input.ndim, "squeeze")
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if i not in dims or n != 1))


def unsqueeze(input, dim):  # noqa: A002
    """Insert a dim of size 1 at position `dim` (-1 appends one)."""
    dim = normalize_axis(dim, input.ndim + 1, "unsqueeze")[0]
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


def expand_dims(a, axis):
    """NumPy's name for unsqueeze."""
    return unsqueeze(a, axis)


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    if input.ndim == 0:
        return reshape(input, (1,))
    start, end = one_dim(start_dim, input.ndim, "flatten"), one_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = math.prod(input.shape[start:end + 1])
    return reshape(input, input.shape[:start] + (merged,) + input.shape[end + 1:])


def unflatten(input, dim, sizes):  # noqa: A002
    """Split dim `dim` into several dims of `sizes` (one may be -1)."""
    dim = one_dim(dim, input.ndim, "unflatten")
    known = math.prod(n for n in sizes if n != -1)
    sizes = tuple(input.shape[dim] // known if n == -1 else n for n in sizes)
    if math.prod(sizes) != input.shape[dim]:
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to {input.shape[dim]}, "
                           f"the size of dim {dim} of shape {input.shape}")
    return reshape(input, input.shape[:dim] + sizes + input.shape[dim + 1:])


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing dim; all other dims must match."""
    dim = dim_alias(dim, axis, "cat", default=0)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    first = tensors[0]
    axis = one_dim(dim, first.ndim, "cat")
    for t_ in tensors[1:]:
        if t_.ndim != first.ndim or any(m != n for i, (m, n) in enumerate(zip(t_.shape, first.shape))
                                        if i != axis):
            raise ValueError(f"cat: shapes {first.shape} and {t_.shape} differ outside "
                               f"dim {axis}")
    if len(tensors) == 1:
        return first
    return Concat(axis)(*tensors)


concat = concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    """Join tensors of one shape along a new dim."""
    dim = dim_alias(dim, axis, "stack", default=0)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    for t_ in tensors[1:]:
        if t_.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors need one shape, got {tensors[0].shape} "
                               f"and {t_.shape}")
    dim = normalize_axis(dim, tensors[0].ndim + 1, "stack")[0]
    return cat([unsqueeze(t_, dim) for t_ in tensors], dim)


def _cut(a, indices, dim):
    """Pieces of a along dim, cut before each of `indices` (ascending), as a tuple."""
    return tuple(Split(list(indices), dim)(a)) if indices else (a,)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces along `dim`: of `split_size` each (the last may be shorter) when given an
    int, or of the listed sizes, which must add up to the dim's length (PyTorch's split)."""
    dim = one_dim(dim, tensor.ndim, "split")
    length = tensor.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and length:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, length - start) for start in range(0, length, size)] or [0]
    else:
        sizes = [int(n) for n in split_size_or_sections]
        if sum(sizes) != length or min(sizes, default=0) < 0:
            raise ValueError(f"split: sizes {sizes} do not add up to {length}, the size of "
                               f"dim {dim} of shape {tensor.shape}")
    return _cut(tensor, np.cumsum(sizes)[:-1].tolist(), dim)


def chunk(input, chunks, dim=0):  # noqa: A002
    """About `chunks` pieces of equal size ceil(n / chunks) along dim (maybe fewer)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    dim = one_dim(dim, input.ndim, "chunk")
    return split(input, max(1, -(-input.shape[dim] // chunks)), dim)


def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None,  # noqa: A002
                 indices=None):
    """NumPy's split: an int n gives n pieces as equal as can be (the first n % len are one
    longer); a list gives the indices to cut before. By name, PyTorch calls the int
    sections= and the list indices=."""
    given = [v for v in (indices_or_sections, sections, indices) if v is not None]
    if len(given) != 1:
        raise TypeError("tensor_split: give one of indices_or_sections, sections= or indices=")
    indices_or_sections = given[0]
    dim = one_dim(dim, input.ndim, "tensor_split")
    length = input.shape[dim]
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if n <= 0:
            raise ValueError(f"tensor_split: the number of sections must be positive, got {n}")
        sizes = [length // n + (1 if i < length % n else 0) for i in range(n)]
        return _cut(input, np.cumsum(sizes)[:-1].tolist(), dim)
    indices = [min(max(int(i) if i >= 0 else int(i) + length, 0), length)
               for i in indices_or_sections]
    pieces, start = [], 0
    for stop in indices + [length]:
        pieces.append(getitem(input, (slice(None),) * dim + (slice(start, max(start, stop)),)))
        start = max(start, stop)
    return tuple(pieces)


def unbind(input, dim=0):  # noqa: A002
    """The slices along dim, each without that dim."""
    dim = one_dim(dim, input.ndim, "unbind")
    return tuple(squeeze(piece, dim) for piece in split(input, 1, dim))


def getitem(a, index):
    """a[index] with slices, ints, None, Ellipsis, integer arrays or boolean masks."""
    return GetItem(array_index(index, a))(a)


def array_index(index, a):
    """Tensors and lists inside an index become arrays on a's device."""
    xp = backend.get_array_module(a.data)
    if isinstance(index, tuple):
        return tuple(array_index(i, a) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return xp.asarray(index)
    return index


def gather(input, dim, index):  # noqa: A002
    """out[i][j][k] = a[index[i][j][k]][j][k] for dim 0 (and so on): PyTorch's gather."""
    dim = one_dim(dim, input.ndim, "gather")
    index = index.data if isinstance(index, Tensor) else index
    xp = backend.get_array_module(input.data)
    index = xp.asarray(index)
    if index.ndim != input.ndim or index.dtype.kind not in "iu":
        raise ValueError(f"gather: index must be an integer tensor with {input.ndim} dims like "
                           f"the input {input.shape}, got shape {index.shape}, dtype {index.dtype}")
    size = input.shape[dim]
    if index.size and (int(index.min()) < -size or int(index.max()) >= size):
        raise IndexError(f"gather: index out of range for dim {dim} of size {size}")
    full = list(xp.ix_(*[xp.arange(n) for n in index.shape]))
    full[dim] = index
    return getitem(input, tuple(full))


def take_along_dim(input, indices, dim=None):  # noqa: A002
    """Pick along `dim` at `indices` (broadcast with input's other dims), like
    np.take_along_axis; without dim, from the flattened input at the flattened indices."""
    indices = indices.data if isinstance(indices, Tensor) else indices
    if dim is None:
        return take_along_dim(reshape(input, -1), indices.reshape(-1), 0)
    dim = one_dim(dim, input.ndim, "take_along_dim")
    shape = list(np.broadcast_shapes(input.shape[:dim] + (1,) + input.shape[dim + 1:],
                                     indices.shape[:dim] + (1,) + indices.shape[dim + 1:]))
    shape[dim] = indices.shape[dim]
    xp = backend.get_array_module(input.data)
    a_shape = list(shape)
    a_shape[dim] = input.shape[dim]
    return gather(expand(input, a_shape), dim, xp.broadcast_to(indices, tuple(shape)))
