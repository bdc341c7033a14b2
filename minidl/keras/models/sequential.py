"""Sequential: a plain stack of layers, each feeding the next.

    model = Sequential([Embedding(2000, 32, input_length=30), LSTM(32), Dense(1, "sigmoid")])

It knows its input shape from an Input(...) first in the list, or an input_shape= (or
Embedding's input_length=) on its first layer; then each added layer is built at once and
summary() works before training. Otherwise it is built on the first data it sees (fit,
predict, or calling it), as Keras does, and then accepts inputs whose other sizes differ
from that first data's. Running it calls the layers in turn.
"""
import numpy as np

from ..backend import floatx, unique_name
from ..layers.base import Layer
from ..layers.input_layer import Input, InputLayer
from ..symbolic import KerasTensor
from .functional import Model, _check_unique_names, _conformed, _module_key


class Sequential(Model):
    def __init__(self, layers=None, name=None):
        super().__init__(name=name or unique_name("sequential"))
        self._stack = []
        self._input_tensor = self._last_output = None
        self._inferred = False   # input shape taken from the first data (Keras relaxes it)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Put `layer` on top of the stack (an Input, to fix the input shape)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack:
                raise ValueError("Sequential: an Input must come before the other layers")
            self._start_graph(layer.output_tensor)
            return
        if not isinstance(layer, Layer):
            raise TypeError("The added layer must be an instance of class Layer. Received: "
                            f"layer={layer} of type {type(layer)}.")
        _check_unique_names(self._stack + [layer])
        self._stack.append(layer)
        self.add_module(_module_key(layer.name), layer)
        if self._input_tensor is None and len(self._stack) == 1 and layer._batch_input_shape:
            dtype = "int64" if type(layer).__name__ == "Embedding" else floatx()
            self._start_graph(Input(batch_shape=layer._batch_input_shape, dtype=dtype))
        elif self._last_output is not None:
            self._extend_graph(layer)

    def _start_graph(self, input_tensor):
        self._input_tensor = self._last_output = input_tensor
        for layer in self._stack:
            self._extend_graph(layer)

    def _extend_graph(self, layer):
        output = layer(self._last_output)
        if not isinstance(output, KerasTensor):
            raise ValueError("All layers in a Sequential model should have a single output "
                             "tensor. For multi-output layers, use the functional API.")
        self._outputs_by_layer[layer] = [output]
        self._last_output = output
        self.built = True

    def build(self, input_shape=None):
        """Fix the input shape (batch included, e.g. (None, 30)) and build every layer."""
        if input_shape is None:
            if self._input_tensor is None:
                raise ValueError("You must provide an `input_shape` argument.")
            return
        if self._input_tensor is None:
            self._start_graph(Input(batch_shape=tuple(input_shape)))
        self.built = True

    def _maybe_build(self, inputs):
        if self._input_tensor is None and hasattr(inputs, "shape"):
            self._inferred = True
            dtype = inputs.dtype if np.dtype(inputs.dtype).kind in "iu" else floatx()
            self._start_graph(Input(batch_shape=(None,) + tuple(inputs.shape[1:]), dtype=dtype))
        self.built = True

    @property
    def layers(self):
        return list(self._stack)

    @property
    def inputs(self):
        return None if self._input_tensor is None else [self._input_tensor]

    @inputs.setter
    def inputs(self, value):   # Model.__init__ sets it; a Sequential's comes from its stack
        pass

    @property
    def outputs(self):
        return None if self._input_tensor is None else [self._last_output]

    @outputs.setter
    def outputs(self, value):
        pass

    @property
    def output_names(self):
        return [self._stack[-1].name] if self._stack else ["output_1"]

    def call(self, inputs, training=False):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            inputs = inputs[0]
        x = _conformed(self._input_tensor, inputs, self.name, strict=not self._inferred)
        for layer in self._stack:
            x = layer(x, training=training)
        return x
