"""The core layers: Dense, Activation, Softmax, Dropout, Flatten, Reshape, Lambda.

Dense is the one with weights. It is nn.Linear: Keras stores the kernel (in, units), the
transpose of nn.Linear's weight (units, in), and computes inputs @ kernel + bias, which is
nn.Linear's inputs @ weight.T + bias: the same numbers. What Keras adds is the activation
after it, and its initialization: glorot-uniform kernel, zero bias (nn.Linear draws both
from U(-1/sqrt(in), 1/sqrt(in))).
"""
from ... import functional as F
from ... import nn
from .. import activations
from .base import InputSpec, Layer

LARGE_NEGATIVE = -1e9   # what Keras adds to the logits of masked positions before a softmax


class Dense(Layer):
    """activation(inputs @ kernel + bias) over the last axis, on an nn.Linear."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(f"Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units!r}")
        self.units, self.use_bias = units, use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError("The last dimension of the inputs to a Dense layer should be "
                             f"defined. Found None. Full input shape received: {input_shape}")
        self.linear = nn.Linear(features, self.units, bias=self.use_bias, dtype=self.dtype)
        self.kernel = self._add_view("kernel", self.linear.weight, axes=(1, 0),
                                     initializer=self.kernel_initializer)
        self.bias = self._add_view("bias", self.linear.bias, initializer=self.bias_initializer) \
            if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: features})

    def call(self, inputs):
        return self.activation(self.linear(inputs))


class Activation(Layer):
    """An activation function as a layer: Activation("relu")."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)


class Softmax(Layer):
    """softmax over `axis`; masked positions (mask False) get a weight of about 0."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            keep = F.cast(mask, inputs.dtype)
            inputs = inputs + (1.0 - keep) * LARGE_NEGATIVE
        return activations.softmax(inputs, self.axis)


class Dropout(Layer):
    """Zero each input with probability `rate` while training, scaling the others by
    1 / (1 - rate) (nn.Dropout's op, F.dropout); the identity otherwise."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate <= 1.0:
            raise ValueError("Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported")
        self.rate = rate
        self.supports_masking = True

    def call(self, inputs, training=False):
        return F.dropout(inputs, self.rate, training=training) if training else inputs


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...), in the inputs' (channels-last) order."""

    def call(self, inputs):
        if inputs.ndim == 1:
            return F.reshape(inputs, (inputs.shape[0], 1))
        return F.flatten(inputs, 1)


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def call(self, inputs):
        return F.reshape(inputs, (inputs.shape[0],) + self.target_shape)


class Lambda(Layer):
    """A function of tensors as a layer: Lambda(lambda x: x ** 2). `arguments` are passed
    to it as keyword arguments."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function, self.arguments = function, dict(arguments or {})

    def call(self, inputs):
        return self.function(inputs, **self.arguments)


class TFOpLambda(Layer):
    """An array function (minidl.keras.ops, minidl.keras.tf, or an operator such as +)
    applied to KerasTensors: a node of the model that runs the function."""

    def __init__(self, function, name=None):
        super().__init__(name=name)
        self.function = function

    def call(self, *args, **kwargs):
        return self.function(*args, **kwargs)
