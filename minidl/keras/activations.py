"""Keras's activation functions by name: Dense(64, activation="relu") and the like.

Each is a minidl.functional op with Keras's defaults (softmax over the last axis, the
exact GELU). softmax and sigmoid leave their input on the result as `_keras_logits`, as
Keras does, so that a cross-entropy loss on a softmax (or sigmoid) output can be computed
from the logits underneath: stable, where log(softmax(z)) would round small
probabilities to 0 and give inf.
"""
from .. import functional as F


def linear(x):
    """The identity: a layer without activation."""
    return x


def relu(x):
    return F.relu(x)


def sigmoid(x):
    output = F.sigmoid(x)
    output._keras_logits = x
    return output


def softmax(x, axis=-1):
    output = F.softmax(x, axis)
    output._keras_logits = x if axis in (-1, x.ndim - 1) else None
    return output


def log_softmax(x, axis=-1):
    return F.log_softmax(x, axis)


def tanh(x):
    return F.tanh(x)


def elu(x, alpha=1.0):
    return F.elu(x, alpha)


def selu(x):
    return F.selu(x)


def gelu(x, approximate=False):
    return F.gelu(x, "tanh" if approximate else "none")


def silu(x):
    return F.silu(x)


def softplus(x):
    return F.softplus(x)


def softsign(x):
    return F.softsign(x)


def exponential(x):
    return F.exp(x)


def leaky_relu(x, negative_slope=0.2):
    """Keras's default slope is 0.2 (PyTorch's 0.01)."""
    return F.leaky_relu(x, negative_slope)


swish = silu

ALL = {f.__name__: f for f in (linear, relu, sigmoid, softmax, log_softmax, tanh, elu, selu,
                               gelu, silu, softplus, softsign, exponential, leaky_relu)}
ALL["swish"] = silu


def get(identifier):
    """The function for a name ('relu'), a function itself, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in ALL:
        return ALL[identifier]
    raise ValueError(f"Unknown activation function: {identifier!r}; the known ones are "
                     f"{sorted(ALL)} (or pass a function)")


def name_of(function):
    """The name Keras shows for an activation function."""
    return getattr(function, "__name__", repr(function))
