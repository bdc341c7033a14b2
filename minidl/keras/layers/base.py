"""Layer: Keras's layer, on minidl's Module.

A Keras layer is a Module (its minidl modules and parameters are registered as usual, so
`parameters()`, `state_dict()` and minidl's optimizers see them) with Keras's ways:

- It is built on first call, when the input shapes are known: `build(input_shape)` makes
  the minidl modules (a Dense makes its nn.Linear once it knows the input features).
- Called on KerasTensors (from Input) it records the call for a functional Model
  (minidl/keras/symbolic.py); called on arrays or Tensors it computes.
- `training` is an argument of the call, as in Keras, not a mode of the layer: fit()
  passes training=True, predict() and evaluate() False. A layer called inside another
  layer's call without `training` takes the outer call's; one called on its own takes
  its mode, which is inference (train(False)) from the start, as Keras layers run.
- Masks ride along on tensors as `_keras_mask` (an Embedding with mask_zero=True makes
  one, an LSTM reads it), as in Keras.
- Its weights, as Keras shows them, are `Weight`s: views of the minidl parameters in
  Keras's layout. get_weights() gives a Dense kernel as (in, units), which is nn.Linear's
  weight (units, in) transposed; set_weights() writes it back transposed.
"""
import inspect
import math
import threading

import numpy as np

from ... import backend as mdl_backend
from ... import functional as F
from ...autograd import increment_version, no_grad
from ...nn.module import Module, Parameter
from ...tensor import Tensor
from .. import initializers
from ..backend import floatx, snake_case, unique_name
from ..symbolic import KerasTensor, is_symbolic, map_structure, symbolic_call

_call_context = threading.local()   # the `training` of the layer calls under way


class Weight:
    """One weight of a layer as Keras shows it: a name, a shape, and how it is stored in
    a minidl tensor. `read()` returns a NumPy array in Keras's layout, `assign(value)`
    writes one back; `tensors` are the minidl tensors behind it."""

    def __init__(self, name, read, write, tensors, trainable=True):
        self.name, self._read, self._write = name, read, write
        self.tensors, self._trainable = tuple(tensors), trainable

    @classmethod
    def view(cls, name, tensor, axes=None, shape=None, trainable=True):
        """The weight stored in `tensor`, permuted by `axes` (Keras's layout =
        tensor.permute(axes)) and then reshaped to `shape`, if given."""
        axes = tuple(range(tensor.ndim)) if axes is None else tuple(axes)
        keras_shape = shape or tuple(tensor.shape[a] for a in axes)
        permuted_shape = tuple(tensor.shape[a] for a in axes)

        def read():
            return mdl_backend.to_numpy(tensor.data).transpose(axes).reshape(keras_shape).copy()

        def write(value):
            stored = value.reshape(permuted_shape).transpose(np.argsort(axes))
            write_into(tensor, stored)

        return cls(name, read, write, [tensor], trainable)

    @property
    def shape(self):
        return tuple(self._read().shape)

    @property
    def trainable(self):
        return self._trainable and all(t.requires_grad for t in self.tensors)

    def numpy(self):
        return self._read()

    def assign(self, value):
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError(f"Weight {self.name!r} has shape {self.shape}, but the value "
                             f"given has shape {value.shape}")
        self._write(value)

    def __repr__(self):
        return f"<Weight {self.name!r} shape={self.shape}>"


def write_into(tensor, value):
    """tensor.data[...] = value, outside the graph, bumping its version (nn.init's way)."""
    value = np.asarray(value, dtype=tensor.dtype)
    with no_grad():
        tensor.data[...] = mdl_backend.to_device(value, tensor.device)
    increment_version(tensor)


class InputSpec:
    """What a layer accepts: ndim (exact), min_ndim, and axes {axis: size}."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, dict(axes or {})

    def problem(self, shape):
        """What is wrong with an input of this shape, or None."""
        if self.ndim is not None and len(shape) != self.ndim:
            return f"expected ndim={self.ndim}, found ndim={len(shape)}"
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            return f"expected min_ndim={self.min_ndim}, found ndim={len(shape)}"
        for axis, size in self.axes.items():
            if len(shape) < abs(axis) + (axis >= 0):
                return f"expected axis {axis} of input shape to exist"
            if shape[axis] is not None and shape[axis] != size:
                return f"expected axis {axis} of input shape to have value {size}"
        return None


_ACCEPTS = {}


def _accepts(layer, name):
    """Does layer.call take an argument called `name` (by name, not through **kwargs)?"""
    key = (type(layer), name)
    if key not in _ACCEPTS:
        _ACCEPTS[key] = name in inspect.signature(layer.call).parameters
    return _ACCEPTS[key]


class Layer(Module):
    """Base class of Keras layers (see the module docstring). Subclasses define
    `build(input_shape)` and `call(inputs, ...)`; `call` may take `training` and `mask`.

    Keyword arguments every layer takes: name, trainable, dtype (its float type), and,
    for the first layer of a Sequential, input_shape (without the batch) or
    batch_input_shape (with it), or input_dim for a 2-D input.
    """

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None,
                 batch_input_shape=None, batch_size=None, input_dim=None, **unknown):
        super().__init__()
        if unknown:
            raise TypeError(f"{type(self).__name__}: keyword arguments not understood: "
                            f"{sorted(unknown)}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = np.dtype(dtype or floatx())
        self._trainable = trainable
        self.built = False
        self.supports_masking = False
        self.input_spec = None
        self._inbound_nodes = []
        self._own_weights = []
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None and batch_input_shape is None:
            shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
            batch_input_shape = (batch_size,) + shape
        self._batch_input_shape = batch_input_shape
        self.train(False)   # inference unless a call says training=True

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        """Make the layer's modules and weights for inputs of this shape (None: unknown)."""

    def _maybe_build(self, inputs):
        """Build from the shapes of the first call's inputs (the batch size as None)."""
        if self.built:
            return
        self.build(map_structure(_build_shape, inputs))
        self.built = True
        if not self._trainable:
            self.trainable = False   # freeze the weights just made

    def add_weight(self, name=None, shape=None, dtype=None, initializer=None, trainable=True,
                   **unsupported):
        """Keras's add_weight for custom layers: a new weight of `shape`, stored as is (a
        Parameter, or a buffer when not trainable); returns the minidl tensor."""
        if unsupported:
            raise TypeError(f"add_weight: arguments not supported: {sorted(unsupported)}")
        name = name or f"weight_{len(self._own_weights)}"
        attribute = name if not hasattr(self, name) else f"{name}_{len(self._own_weights)}"
        dtype = np.dtype(dtype or self.dtype)
        values = initializers.get(initializer or "glorot_uniform")(tuple(shape), dtype)
        tensor = Parameter(Tensor(values.astype(dtype)))
        if trainable:
            self.register_parameter(attribute, tensor)
        else:
            tensor.requires_grad = False
            self.register_buffer(attribute, tensor)
        self._own_weights.append(Weight.view(name, tensor, trainable=trainable))
        return tensor

    def _add_view(self, name, tensor, axes=None, shape=None, initializer=None, trainable=True):
        """Register `tensor` (a minidl parameter or buffer) as the Keras weight `name` in
        Keras's layout (see Weight.view) and fill it from `initializer`, drawn in that
        layout."""
        weight = Weight.view(name, tensor, axes, shape, trainable)
        self._own_weights.append(weight)
        if initializer is not None:
            weight.assign(initializers.get(initializer)(weight.shape, tensor.dtype))
        return weight

    def _add_weight_object(self, weight, initial=None):
        self._own_weights.append(weight)
        if initial is not None:
            weight.assign(initial)
        return weight

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if is_symbolic((args, kwargs)):
            kwargs.pop("training", None)
            return symbolic_call(self, args, kwargs)
        if args:
            args = (map_structure(lambda t: _as_tensor(t, self.dtype), args[0]),) + args[1:]
        inputs = args[0] if args else None
        self._maybe_build(inputs)
        self._check_input_spec(inputs)
        training = self._resolved_training(kwargs.pop("training", None))
        mask = kwargs.pop("mask", None)
        if mask is None and isinstance(inputs, (Tensor, list, tuple)):
            mask = map_structure(lambda t: getattr(t, "_keras_mask", None), inputs)
            mask = None if all(m is None for m in _leaves(mask)) else mask
        if _accepts(self, "training"):
            kwargs["training"] = training
        if _accepts(self, "mask") and mask is not None:
            kwargs["mask"] = mask
        outer = getattr(_call_context, "training", None)
        _call_context.training = training
        try:
            outputs = super().__call__(*args, **kwargs)   # Module.__call__: forward, hooks
        finally:
            _call_context.training = outer
        return self._with_masks(outputs, self.compute_mask(inputs, mask))

    def _resolved_training(self, training):
        """An explicit training wins, then the enclosing layer call's, then our mode."""
        if training is not None:
            return bool(training)
        outer = getattr(_call_context, "training", None)
        return self.training if outer is None else outer

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def call(self, inputs):
        raise NotImplementedError(f"{type(self).__name__} does not define call()")

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs: the input's when the layer keeps the steps
        (supports_masking), else none."""
        return mask if self.supports_masking else None

    @staticmethod
    def _with_masks(outputs, masks):
        if masks is None:
            return outputs
        if isinstance(outputs, Tensor):
            outputs._keras_mask = masks if not isinstance(masks, (list, tuple)) else masks[0]
        else:
            for output, m in zip(outputs, masks if isinstance(masks, (list, tuple))
                                 else [masks] * len(outputs)):
                if m is not None:
                    output._keras_mask = m
        return outputs

    def _check_input_spec(self, inputs):
        if self.input_spec is None or not hasattr(inputs, "shape"):
            return
        shape = tuple(inputs.shape)
        problem = self.input_spec.problem(shape)
        if problem:
            shown = (None,) + shape[1:] if shape else shape
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: '
                             f"{problem}, but received input with shape {shown}")

    # ------------------------------------------------------------------ weights
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freeze (False) or unfreeze the layer: its parameters stop or start requiring grad."""
        self._trainable = bool(value)
        for layer in self._layers_within():
            layer._trainable = bool(value)
            for weight in layer._own_weights:
                if weight._trainable:
                    for t in weight.tensors:
                        t.requires_grad = bool(value)

    def _layers_within(self):
        """This layer and every Keras layer inside it, each once."""
        return [m for m in self.modules() if isinstance(m, Layer)]

    @property
    def weights(self):
        """The Keras weights of this layer and of the layers inside it, in order."""
        found = []
        for layer in self._layers_within():
            found += [w for w in layer._own_weights if w not in found]
        return found

    @property
    def trainable_weights(self):
        return [w for w in self.weights if w.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        trainable = self.trainable_weights
        return [w for w in self.weights if w not in trainable]

    def get_weights(self):
        """The weights as NumPy arrays, in Keras's layouts and order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Write arrays given in Keras's layouts and order (as get_weights returns them)."""
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(f'Layer "{self.name}" expects {len(mine)} weight(s), but the '
                             f"weight list given has {len(weights)} element(s)")
        for weight, value in zip(mine, weights):
            if tuple(np.shape(value)) != weight.shape:
                raise ValueError(f'Layer "{self.name}" weight shape {weight.shape} is not '
                                 f"compatible with provided weight shape {np.shape(value)}")
        for weight, value in zip(mine, weights):
            weight.assign(value)

    def count_params(self):
        """The number of numbers in the layer's weights, trainable or not (Keras's count)."""
        if not self.built:
            raise ValueError(f'You tried to call `count_params` on layer "{self.name}", but '
                             "the layer isn't built. You can build it manually via: "
                             "`layer.build(input_shape)`.")
        return sum(math.prod(w.shape) for w in self.weights)

    # ------------------------------------------------------------------ graph info
    def _only_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f'The layer "{self.name}" has never been called and thus '
                                 f"has no defined {what}.")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f'The layer "{self.name}" has multiple inbound nodes, so its '
                                 f"{what} is ill-defined.")
        return self._inbound_nodes[0]

    @property
    def input(self):
        inputs = self._only_node("input").inputs
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self):
        outputs = self._only_node("output").outputs
        return outputs[0] if len(outputs) == 1 else outputs

    @property
    def output_shape(self):
        outputs = self._only_node("output shape").outputs
        return outputs[0].shape if len(outputs) == 1 else [t.shape for t in outputs]

    def summary_class_name(self):
        """The type summary() shows: the class name."""
        return type(self).__name__

    def extra_repr(self):
        return f"name={self.name!r}"


def _build_shape(t):
    """The shape build() sees: a KerasTensor's as it is, a real tensor's without its batch size."""
    if isinstance(t, KerasTensor):
        return t.shape
    return (None,) + tuple(t.shape[1:]) if hasattr(t, "shape") else t


def _leaves(structure):
    if isinstance(structure, (list, tuple)):
        for item in structure:
            yield from _leaves(item)
    else:
        yield structure


def _as_tensor(value, dtype):
    """A layer's input as a Tensor: arrays and numbers are wrapped, and floating inputs
    take the layer's float type (Keras's autocasting; integers stay integers)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if not isinstance(value, Tensor):
        array = np.asarray(value)
        return Tensor(array.astype(dtype) if array.dtype.kind == "f" else array)
    if value.dtype.kind == "f" and value.dtype != dtype:
        cast = F.cast(value, dtype)
        if getattr(value, "_keras_mask", None) is not None:
            cast._keras_mask = value._keras_mask
        return cast
    return value
