"""In-place changes (add_, mul_, zero_, copy_, x[i] = v, ...) and how autograd stays right.

Changing a tensor in place writes into its memory, so every view of that
memory sees the change, and its version counter (shared with those views)
goes up by one. Three cases:

- Nothing is being recorded (under no_grad, or no tensor involved requires
  grad): the new values are simply written. An op that saved this tensor for
  its backward will notice the new version and refuse to run (autograd.py).
- The tensor is a leaf that requires grad (a parameter): refused, as in
  PyTorch. Its gradient would be for a value it no longer has. Optimizers and
  initializers change parameters under no_grad.
- The tensor is inside a graph: the change is recorded as the out-of-place op
  followed by a write. The tensor hands its place in the graph (its creator)
  to a stand-in for its old value, the op computes the new value from that
  stand-in, and the tensor becomes the op's output. So `x.mul_(2)` records
  the same graph as `x = x * 2`, and gradients stay right. `x[i] = v` is
  recorded as an index-put, whose gradient is the output gradient with zeros
  at i (for x) and the output gradient at i (for v).

A view made by indexing (`x[0]`) remembers its base and index: changing the
view in place, inside a graph, is recorded as an index-put on the base.
"""
import weakref

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled, no_grad
from ..tensor import Tensor
from .elementwise import add, cast, clamp, div, mul, sub
from .shape import array_index, getitem, sum_to


class IndexPut_(Function):
    """a[index] = v, written into a's own memory (so forward changes its input).

    Only the in-place machinery below calls it, on a tensor that has already
    handed its old value's place in the graph to a stand-in: nothing reads the
    old values again, and its backward needs only the index.
    """
    reads_inputs = False

    def __init__(self, index):
        self.index = index

    def forward(self, a, v):
        a[self.index] = v
        return a

    def backward(self, gy):
        a, v = self.inputs
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = gy * Tensor(_unset_mask(a.data, self.index, gy.dtype))
        if self.needs_input_grad[1]:
            gv = sum_to(getitem(gy, self.index), v.shape)
        return ga, gv


def _unset_mask(a, index, dtype):
    """1 where a[index] = v did not write, 0 where it did."""
    xp = backend.get_array_module(a)
    mask = xp.ones(a.shape, dtype=dtype)
    mask[index] = 0
    return mask


class Fill(Function):
    """Every element set to one value: the old values get a zero gradient."""
    reads_inputs = False

    def __init__(self, value):
        self.value = value

    def forward(self, a):
        return self.xp.full(a.shape, self.value, dtype=a.dtype)

    def backward(self, gy):
        return _zeros_like(gy)


def _zeros_like(t):
    return Tensor(backend.get_array_module(t.data).zeros(t.shape, dtype=t.dtype))


class Copy(Function):
    """a's values replaced by src's (broadcast, cast to a's dtype): the gradient goes to src
    (the old values get zero)."""
    reads_inputs = False

    def forward(self, a, src):
        xp = self.xp
        return xp.broadcast_to(src, a.shape).astype(a.dtype, copy=True)

    def backward(self, gy):
        src = self.inputs[1]
        ga = _zeros_like(gy) if self.needs_input_grad[0] else None
        gsrc = sum_to(cast(gy, src.dtype), src.shape) if self.needs_input_grad[1] else None
        return ga, gsrc


# ----------------------------------------------------------------------------
# the machinery
# ----------------------------------------------------------------------------
def change(t, op, fn, *args, reads_self=False):
    """Replace t's values by fn(t, *args) in place; `op` names the change in errors.

    reads_self says whether fn's gradient needs t's old values (mul_ does,
    add_ does not): then fn works on a copy of them, as the values in t's
    memory are about to be overwritten.
    """
    others = [a for a in args if isinstance(a, Tensor)]
    if not (is_grad_enabled() and (t.requires_grad or any(a.requires_grad for a in others))):
        with no_grad():
            _write(t, fn(t, *args).data, op)
        return t
    if t._base is not None and t._base[0].requires_grad:
        return _change_through_base(t, op, fn, args, reads_self)
    if t.creator is None and t.requires_grad:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {t.shape}) cannot be changed in "
            "place while gradients are recorded: its gradient would be for values it no "
            "longer has. Change it under `with mdl.no_grad():` (as optimizers do), or "
            "change a clone().")
    old = _stand_in(t)
    new = fn(old.clone() if reads_self else old, *args)
    _write(t, new.data, op)
    _become(t, new)
    return t


def setitem(t, index, value):
    """t[index] = value (Tensor.__setitem__)."""
    index = array_index(index, t)
    if isinstance(value, Tensor) and value.device != t.device:
        raise RuntimeError(f"setitem: value on {value.device} cannot be written into a "
                           f"tensor on {t.device}")

    def put(old, v):
        if not isinstance(v, Tensor):
            v = Tensor(backend.get_array_module(old.data).asarray(v, dtype=old.dtype))
        return IndexPut_(index)(old, cast(v, old.dtype))
    return change(t, "setitem", put, value)


def _stand_in(t):
    """A new Tensor that takes t's place as its creator's output (same memory and counter)."""
    old = Tensor(t.data)
    old._version_counter, old._requires_grad = t._version_counter, t._requires_grad
    old.creator, old._output_nr = t.creator, t._output_nr
    if t.creator is not None:
        t.creator.outputs[t._output_nr] = weakref.ref(old)
    return old


def _become(t, new):
    """t takes new's place in the graph (its values are already in t's memory)."""
    f, i = new.creator, new._output_nr
    t.creator, t._output_nr, t._requires_grad = f, i, new.requires_grad
    if f is not None:
        f.outputs[i] = weakref.ref(t)
        f.output_data = f.output_data[:i] + (t.data,) + f.output_data[i + 1:]
        f.output_versions[i] = (t._version_counter, t._version_counter[0])


def _write(t, values, op):
    """Write values into t's memory (unless they are there already) and bump the version."""
    if values is not t.data:
        if values.shape != t.shape:
            raise RuntimeError(f"{op}: the result has shape {values.shape}, which does not fit "
                               f"in place into a tensor of shape {t.shape}")
        if not np.can_cast(values.dtype, t.dtype, "same_kind"):
            raise RuntimeError(f"{op}: a result of dtype {values.dtype} cannot be written in "
                               f"place into a tensor of dtype {t.dtype}")
        try:
            t.data[...] = values
        except ValueError as exc:  # numpy: "assignment destination is read-only"
            raise RuntimeError(f"{op}: this tensor's memory cannot be written ({exc}); it is "
                               "probably an expanded view: change a clone() instead") from None
    t._version_counter[0] += 1


def _change_through_base(t, op, fn, args, reads_self):
    """t is a view of a tensor in a graph: record the change on the base, then view again."""
    base, index = t._base
    if index is None:
        raise RuntimeError(
            f"{op}: t is a view (made by reshape, transpose, expand, ...) of a tensor that "
            "requires grad; changing it in place is supported only for views made by "
            "indexing (x[i]). Use an out-of-place op instead.")
    new_value = fn(t.clone() if reads_self else t, *args)
    setitem(base, index, new_value)
    _become(t, getitem(base, index))
    return t


# ----------------------------------------------------------------------------
# the methods (attached to Tensor in minidl/tensor_methods.py)
# ----------------------------------------------------------------------------
def add_(t, other, *, alpha=1):
    return change(t, "add_", lambda a, b: add(a, b, alpha=alpha), other)


def sub_(t, other, *, alpha=1):
    return change(t, "sub_", lambda a, b: sub(a, b, alpha=alpha), other)


def mul_(t, other):
    return change(t, "mul_", mul, other, reads_self=_requires_grad(other))


def div_(t, other, *, rounding_mode=None):
    if rounding_mode is not None:   # a step function: its gradient reads nothing
        return change(t, "div_", lambda a, b: div(a, b, rounding_mode=rounding_mode), other)
    return change(t, "div_", div, other, reads_self=_requires_grad(other))


def _requires_grad(value):
    return isinstance(value, Tensor) and value.requires_grad


def clamp_(t, min=None, max=None):  # noqa: A002
    return change(t, "clamp_", lambda a: clamp(a, min, max), reads_self=True)


def zero_(t):
    return change(t, "zero_", lambda a: Fill(0)(a))


def fill_(t, value):
    if isinstance(value, Tensor):
        return copy_(t, value)
    return change(t, "fill_", lambda a: Fill(value)(a))


def copy_(t, src):
    """Copy src's values (broadcast to t's shape, cast to its dtype) into t."""
    if not isinstance(src, Tensor):
        src = Tensor(backend.get_array_module(t.data).asarray(src))
    try:
        fits = np.broadcast_shapes(src.shape, t.shape) == t.shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"copy_: a source of shape {src.shape} does not broadcast to the "
                           f"shape {t.shape} of the tensor it is copied into")
    if src.device != t.device:
        src = src.to(t.device)
    return change(t, "copy_", lambda a, s: Copy()(a, s), src)
