"""pad: add (or, with negative widths, remove) elements at both ends of the last dims.

    pad(input, (left, right))                              the last dim
    pad(input, (left, right, top, bottom))                 the last two
    pad(input, (left, right, top, bottom, front, back))    the last three

as in PyTorch: the widths come in pairs, starting from the last dim. The modes
fill the new elements with
    "constant"   value (0 by default); negative widths crop
    "reflect"    the mirror image, without repeating the edge:   2 1 | 0 1 2 3 | 2 1
    "replicate"  the edge element:                              0 0 | 0 1 2 3 | 3 3
    "circular"   the other end, as if the axis wrapped around:  2 3 | 0 1 2 3 | 0 1
                 (after cropping by any negative width, as PyTorch)

Gradients. Constant padding is linear and its adjoint is cropping, which is
constant padding by the negated widths: the backward of ConstantPad is
ConstantPad again, so it can be differentiated any number of times. The other
modes copy input elements to the output (one element may be copied several
times), so each is an index into the input, one padded axis at a time, and
indexing (getitem) already has a differentiable backward that adds up the copies.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from .shape import getitem

MODES = ("constant", "reflect", "replicate", "circular")


class ConstantPad(Function):
    """Pad each axis by widths[axis] = (before, after) elements of `value`; a negative
    width removes elements instead."""

    def __init__(self, widths, value=0.0):
        self.widths, self.value = widths, value

    def forward(self, a):
        xp = self.xp
        crop = tuple(slice(max(-before, 0), size - max(-after, 0))
                     for size, (before, after) in zip(a.shape, self.widths))
        grow = [(max(before, 0), max(after, 0)) for before, after in self.widths]
        return xp.pad(a[crop], grow, constant_values=self.value)

    def backward(self, gy):
        return ConstantPad([(-before, -after) for before, after in self.widths])(gy)


def _source_positions(size, before, after, mode):
    """For each position of the padded axis, the input position it copies (the
    positions run from -before to size + after - 1 in the input's coordinates)."""
    position = np.arange(-before, size + after)
    if mode == "replicate":
        return np.clip(position, 0, size - 1)
    if mode == "circular":  # around what a negative width leaves, as PyTorch
        start, stop = max(-before, 0), size - max(-after, 0)
        return (position - start) % (stop - start) + start
    # reflect: mirror about the first and the last element (widths < size: one bounce)
    return np.where(position < 0, -position,
                    np.where(position >= size, 2 * (size - 1) - position, position))


def _check(op, input, pad, mode, value):
    """Raise a clear error unless PyTorch would accept these arguments."""
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if len(pad) % 2 or not all(isinstance(p, (int, np.integer)) for p in pad):
        raise ValueError(f"{op}: pad must be an even number of ints (before, after pairs "
                         f"from the last dim), got {tuple(pad)!r}")
    dims = len(pad) // 2
    if dims > input.ndim:
        raise ValueError(f"{op}: pad {tuple(pad)} has {dims} pairs, more than the input's "
                         f"{input.ndim} dims (shape {input.shape})")
    if mode == "constant":
        return
    if value not in (None, 0):
        raise ValueError(f"{op}: mode {mode!r} takes no value (got value={value!r})")
    if dims not in (1, 2, 3) or input.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{op}: mode {mode!r} pads the last 1, 2 or 3 dims of an input "
                         "with 1 or 2 more dims (2-D or 3-D for 1 pair, 3-D or 4-D for 2, "
                         f"4-D or 5-D for 3); got {dims} pairs for shape {input.shape}")
    for k in range(dims):
        size, before, after = input.shape[-1 - k], pad[2 * k], pad[2 * k + 1]
        kept = size - max(-before, 0) - max(-after, 0)  # after cropping by negative widths
        too_wide = {"reflect": max(before, after) >= size,
                    "circular": kept < 1 or max(before, after) > kept,
                    "replicate": size == 0}[mode]
        if too_wide or size + before + after < 0:
            raise ValueError(f"{op}: mode {mode!r} cannot pad dim {input.ndim - 1 - k} of size "
                             f"{size} by ({before}, {after}); reflect needs each width "
                             "< the size, circular <= the size left after cropping, "
                             "replicate a non-empty dim")


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims of input; pad = (before, after) pairs from the
    last dim backwards, as in PyTorch's torch.nn.functional.pad."""
    op = "pad"
    pad = tuple(pad)
    _check(op, input, pad, mode, value)
    dims = len(pad) // 2
    widths = [(0, 0)] * (input.ndim - dims) + [
        (pad[2 * k], pad[2 * k + 1]) for k in reversed(range(dims))]
    if mode == "constant":
        for axis, (before, after) in enumerate(widths):
            if input.shape[axis] + before + after < 0:
                raise ValueError(f"{op}: widths ({before}, {after}) crop more than the "
                                 f"{input.shape[axis]} elements of dim {axis} "
                                 f"(shape {input.shape})")
        return ConstantPad(widths, 0.0 if value is None else value)(input)
    xp = backend.get_array_module(input.data)
    out = input
    for axis in range(input.ndim - dims, input.ndim):
        before, after = widths[axis]
        source = xp.asarray(_source_positions(input.shape[axis], before, after, mode))
        out = getitem(out, (slice(None),) * axis + (source,))
    return out
