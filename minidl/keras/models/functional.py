"""Model: Keras's functional model, a graph of layer calls from Input(s) to output(s).

    inputs = Input(shape=(30,))
    x = Embedding(2000, 32)(inputs)
    outputs = Dense(2, activation="softmax")(LSTM(32)(x))
    model = Model(inputs, outputs)

Calling the layers on KerasTensors recorded each call as a Node (minidl/keras/symbolic.py).
Model walks them back from the outputs to the inputs, orders them as Keras does (by depth:
the nodes farthest from the outputs first, ties in the order they were made), and runs
them in that order on real data. The layers become the model's submodules, so the
model's parameters() are theirs. Model is itself a Layer: it can be called on new inputs,
or used inside another model.

Subclassing Model (defining __init__ with layers and call(inputs)) works too: then the
layers are the model's Layer attributes, built on the first call.
"""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..backend import snake_case, unique_name
from ..layers.base import Layer
from ..layers.input_layer import InputLayer
from ..symbolic import KerasTensor, flatten, map_structure
from . import saving, summary
from .training import Training


class Model(Training, Layer):
    """Model(inputs, outputs, name=None): the graph between them; or subclass it."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        functional = inputs is not None or outputs is not None
        default = "model" if functional else snake_case(type(self).__name__)
        super().__init__(name=name or unique_name(default), **kwargs)
        self._nodes, self._graph_layers, self._outputs_by_layer = [], [], {}
        self.inputs = self.outputs = None
        if functional:
            self._init_graph(inputs, outputs)

    # ------------------------------------------------------------------ the graph
    def _init_graph(self, inputs, outputs):
        if inputs is None or outputs is None:
            raise ValueError("Model: give both inputs and outputs (KerasTensors)")
        self._nested_inputs, self._nested_outputs = inputs, outputs
        self.inputs, self.outputs = list(flatten(inputs)), list(flatten(outputs))
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise ValueError("Model: inputs and outputs must be KerasTensors (from Input "
                                 f"and layer calls), got {type(t).__name__}")
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model: every input must come from Input(...); "
                                 f"{t} was made by layer {t.node.layer.name!r}")
        self._nodes = _nodes_in_order(self.inputs, self.outputs)
        self._graph_layers = list(dict.fromkeys(node.layer for node in self._nodes))
        for node in self._nodes:
            for t in node.outputs:
                self._outputs_by_layer.setdefault(node.layer, []).append(t)
        _check_unique_names(self._graph_layers)
        for layer in self._graph_layers:
            self.add_module(_module_key(layer.name), layer)
        self.built = True

    @property
    def layers(self):
        """The layers, in Keras's order (the InputLayers of a functional model included)."""
        if self.inputs is not None:
            return list(self._graph_layers)
        return [m for m in self.children() if isinstance(m, Layer)]

    @property
    def input_names(self):
        if self.inputs is None:
            return ["input_1"]
        return [t.node.layer.name for t in self.inputs]

    @property
    def output_names(self):
        if self.outputs is None:
            return ["output_1"]
        return [t.node.layer.name for t in self.outputs]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or at position `index` of model.layers."""
        if index is not None:
            if not 0 <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self.layers]}.")

    # ------------------------------------------------------------------ running
    def call(self, inputs, training=False):
        if self.inputs is None:
            raise NotImplementedError(f"{type(self).__name__}: a subclassed Model defines "
                                      "call(inputs)")
        tensors = self._input_tensors(inputs)
        values = {id(t): tensor for t, tensor in zip(self.inputs, tensors)}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            for t, value in zip(node.outputs, node.run(values, training)):
                values[id(t)] = value
        return map_structure(lambda t: values[id(t)], self._nested_outputs)

    def _input_tensors(self, inputs):
        """The inputs as a list in the order of self.inputs, each cast to its Input's dtype
        and checked against its shape."""
        if isinstance(inputs, dict):
            inputs = [inputs[name] for name in self.input_names]
        given = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(given) != len(self.inputs):
            raise ValueError(f'Layer "{self.name}" expects {len(self.inputs)} input(s), but '
                             f"it received {len(given)} input tensors.")
        return [_conformed(t, value, self.name) for t, value in zip(self.inputs, given)]

    def summary_class_name(self):
        """tf.keras calls a model made from inputs and outputs "Functional"."""
        return "Functional" if type(self) is Model and self.inputs is not None \
            else type(self).__name__

    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print the table of layers, output shapes and parameter counts (Keras's format)."""
        summary.print_summary(self, line_length, positions, print_fn)

    save_weights = saving.save_weights
    load_weights = saving.load_weights

    def layer_outputs(self, layer):
        """The KerasTensors `layer` produced in this model (for summary())."""
        return self._outputs_by_layer.get(layer, [])


def _conformed(t, value, model_name, strict=True):
    """A model input as a Tensor of the Input's dtype, its shape checked against it (all
    of it, or with strict=False only its rank and last size)."""
    if not isinstance(value, Tensor):
        value = Tensor(np.asarray(value).astype(t.dtype))
    elif value.dtype != t.dtype and t.dtype.kind == "f":
        value = F.cast(value, t.dtype)
    elif value.dtype != t.dtype:
        value = Tensor(value.data.astype(t.dtype))
    shape = tuple(value.shape)
    checked = list(zip(t.shape, shape)) if strict else list(zip(t.shape, shape))[-1:]
    if len(shape) != len(t.shape) or any(d is not None and d != s for d, s in checked):
        raise ValueError(f'Input 0 of layer "{model_name}" is incompatible with the layer: '
                         f"expected shape={t.shape}, found shape={shape}")
    return value


def _nodes_in_order(inputs, outputs):
    """The nodes between inputs and outputs, the farthest from the outputs first (Keras's
    order by depth; ties in the order the nodes were made)."""
    order, seen = [], set()
    input_ids = {id(t) for t in inputs}
    reached = []

    def visit(node):
        if node in seen:
            return
        seen.add(node)
        for t in node.inputs:
            visit(t.node)
        if isinstance(node.layer, InputLayer) and id(node.outputs[0]) not in input_ids:
            raise ValueError(f"Graph disconnected: cannot obtain value for tensor "
                             f"{node.outputs[0]} at layer \"{node.layer.name}\". The following "
                             f"previous layers were accessed without issue: {reached}")
        reached.append(node.layer.name)
        order.append(node)

    for t in outputs:
        visit(t.node)
    depth = {}
    for node in reversed(order):                    # consumers before producers
        below = depth.setdefault(node, 0)
        for parent in node.parents:
            depth[parent] = max(depth.get(parent, 0), below + 1)
    return sorted(order, key=lambda node: (-depth[node], node.id))


def _check_unique_names(layers):
    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the '
                             "model. All layer names should be unique.")


def _module_key(name):
    """A layer's name as a submodule name (no dots: they separate state_dict keys)."""
    return name.replace(".", "_")
