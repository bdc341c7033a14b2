"""Layers that merge a list of tensors: Add, Subtract, Multiply, Average, Maximum, Minimum
and Concatenate. They have no weights: Add()([a, b]) is a + b, as a node of the model.

The inputs must have the same shape (Concatenate: except along its axis); a mismatch is
Keras's ValueError, naming the shapes. Masks merge too: a step is kept where every input
keeps it.
"""
from functools import reduce

from ... import functional as F
from ...tensor import Tensor
from .base import Layer


class _Merge(Layer):
    """Base class: `merge(tensors)` combines the list of inputs."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        name = type(self).__name__
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f"A `{name}` layer should be called on a list of at least 2 "
                             f"inputs. Received: input_shape={input_shape}")
        self.check_shapes(input_shape)

    def check_shapes(self, shapes):
        first = shapes[0]
        for shape in shapes[1:]:
            if len(shape) != len(first) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(first[1:], shape[1:])):
                raise ValueError(f"Inputs have incompatible shapes. Received shapes {first} "
                                 f"and {shape}")

    def call(self, inputs):
        return self.merge(list(inputs))

    def compute_mask(self, inputs, mask=None):
        masks = [m.data for m in (mask or []) if m is not None]
        return Tensor(reduce(lambda a, b: a & b, masks)) if masks else None


class Add(_Merge):
    def merge(self, tensors):
        return reduce(lambda a, b: a + b, tensors)


class Subtract(_Merge):
    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={input_shape}")

    def merge(self, tensors):
        return tensors[0] - tensors[1]


class Multiply(_Merge):
    def merge(self, tensors):
        return reduce(lambda a, b: a * b, tensors)


class Average(_Merge):
    def merge(self, tensors):
        return reduce(lambda a, b: a + b, tensors) / len(tensors)


class Maximum(_Merge):
    def merge(self, tensors):
        return reduce(F.maximum, tensors)


class Minimum(_Merge):
    def merge(self, tensors):
        return reduce(F.minimum, tensors)


class Concatenate(_Merge):
    """Join the inputs along `axis` (the last by default)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def check_shapes(self, shapes):
        rank = len(shapes[0])
        axis = self.axis % rank
        for shape in shapes[1:]:
            if len(shape) != rank or any(
                    i != axis and a is not None and b is not None and a != b
                    for i, (a, b) in enumerate(zip(shapes[0], shape)) if i > 0):
                raise ValueError("A `Concatenate` layer requires inputs with matching shapes "
                                 "except for the concatenation axis. Received: "
                                 f"input_shape={shapes}")

    def merge(self, tensors):
        return F.concat(tensors, self.axis)


def add(inputs, **kwargs):
    """Add()(inputs), Keras's functional form."""
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Concatenate(axis)(inputs), Keras's functional form."""
    return Concatenate(axis=axis, **kwargs)(inputs)
