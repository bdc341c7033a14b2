"""Symbolic tensors: how Input(...) and the layers called on it describe a model before any data.

`Input(shape=(30,))` returns a KerasTensor: no numbers, only a shape (None, 30) (None is
the batch size, not known yet), a dtype, and the call that made it. Calling a layer on
KerasTensors builds the layer (its weights can be made now that the input shapes are
known), records the call as a Node of the model's graph, and returns KerasTensors for the
outputs. Model(inputs, outputs) then walks the nodes back from the outputs to the inputs.

The output shapes come from running the layer, twice, on zeros of the input shapes: a
stand-in size for each unknown (None) dimension, a different one the second time, in
inference mode and without a graph. A dimension of the output that differs between the
two runs depends on an unknown one and is None; the others are fixed. So no layer has to
spell out its output shape: running it is the definition.
"""
import itertools

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor

# (batch size, size of any other unknown dimension) of the two stand-in runs
STANDIN_SIZES = ((2, 16), (3, 32))


class KerasTensor:
    """A tensor of a model being described: shape (None for unknown sizes), dtype, and the
    Node (layer call) that produced it. `mask_rank` is the number of leading dims of its
    mask when it carries one (an Embedding with mask_zero=True: the (batch, steps) mask)."""

    def __init__(self, shape, dtype, node=None, index=0, mask_rank=None, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.node, self.index, self.mask_rank, self.name = node, index, mask_rank, name

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def _keras_history(self):
        """(layer, node index, tensor index), as Keras names where a tensor came from."""
        layer = self.node.layer
        return layer, layer._inbound_nodes.index(self.node), self.index

    def __repr__(self):
        made_by = f", made by {self.node.layer.name!r}" if self.node is not None else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}{made_by}>"

    def __bool__(self):
        raise TypeError("A KerasTensor is symbolic: it has no value to test with `if` or "
                        "`bool()`; use it as a layer's input")

    def __len__(self):
        raise TypeError(f"A KerasTensor has no len(); its shape is {self.shape}")


class Node:
    """One call of a layer on KerasTensors: the layer, its arguments (KerasTensors among
    them), and the KerasTensors it returned."""

    _ids = itertools.count()

    def __init__(self, layer, args, kwargs, outputs):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs
        self.id = next(Node._ids)    # creation order: ties in the model's layer order
        self.inputs = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]

    @property
    def parents(self):
        """The nodes that made this node's inputs, each once, in order."""
        return list(dict.fromkeys(t.node for t in self.inputs))

    def run(self, values, training):
        """Call the layer on the real tensors `values` {id(KerasTensor): Tensor} stands
        for; return the flat list of outputs."""
        def real(leaf):
            return values[id(leaf)] if isinstance(leaf, KerasTensor) else leaf
        args, kwargs = map_structure(real, (self.args, self.kwargs))
        return list(flatten(self.layer(*args, training=training, **kwargs)))


# ----------------------------------------------------------------------------
# nested structures (lists, tuples, dicts) of tensors
# ----------------------------------------------------------------------------
def flatten(structure):
    """The leaves of nested lists, tuples and dicts (dict values in key order), in order."""
    if isinstance(structure, (list, tuple)):
        for item in structure:
            yield from flatten(item)
    elif isinstance(structure, dict):
        for key in structure:
            yield from flatten(structure[key])
    else:
        yield structure


def map_structure(function, structure):
    """The same nesting with function applied to every leaf."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(function, item) for item in structure)
    if isinstance(structure, dict):
        return {key: map_structure(function, value) for key, value in structure.items()}
    return function(structure)


def is_symbolic(structure):
    return any(isinstance(leaf, KerasTensor) for leaf in flatten(structure))


# ----------------------------------------------------------------------------
# calling a layer on KerasTensors
# ----------------------------------------------------------------------------
def symbolic_call(layer, args, kwargs):
    """layer(*args, **kwargs) with KerasTensors among the args: build the layer, find the
    output shapes by the stand-in runs, record the Node; return KerasTensors."""
    inputs = args[0] if args else None
    layer._maybe_build(inputs)
    layer._check_input_spec(inputs)
    runs = [_run_on_standins(layer, args, kwargs, sizes) for sizes in STANDIN_SIZES]
    outputs = _merged(runs[0], runs[1], layer)
    flat = list(flatten(outputs))
    node = Node(layer, args, kwargs, flat)
    for index, tensor in enumerate(flat):
        tensor.node, tensor.index = node, index
    layer._inbound_nodes.append(node)
    return outputs


def _standin(t, batch, other):
    """Zeros of t's shape, each unknown size replaced: `batch` for the first dim, `other`
    for the rest; with an all-True mask when t carries one."""
    if not isinstance(t, KerasTensor):
        return t
    shape = tuple((batch if i == 0 else other) if d is None else d for i, d in enumerate(t.shape))
    tensor = Tensor(np.zeros(shape, dtype=t.dtype))
    if t.mask_rank is not None:
        tensor._keras_mask = Tensor(np.ones(shape[:t.mask_rank], dtype=bool))
    return tensor


def _run_on_standins(layer, args, kwargs, sizes):
    args, kwargs = map_structure(lambda t: _standin(t, *sizes), (args, kwargs))
    with no_grad():
        return layer(*args, training=False, **kwargs)


def _merged(first, second, layer):
    """KerasTensors from the outputs of the two stand-in runs: sizes that differ are None."""
    if isinstance(first, (list, tuple)):
        return [_merged(a, b, layer) for a, b in zip(first, second)]
    if not isinstance(first, Tensor):
        raise TypeError(f"layer {layer.name!r} returned a {type(first).__name__}, not a "
                        "tensor; a layer in a model must return tensors")
    shape = [a if a == b else None for a, b in zip(first.shape, second.shape)]
    mask = getattr(first, "_keras_mask", None)
    return KerasTensor(shape, first.dtype, mask_rank=None if mask is None else mask.ndim)
