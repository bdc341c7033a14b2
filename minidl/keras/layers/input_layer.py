"""Input: where a functional model starts. `Input(shape=(30,))` is a KerasTensor (None, 30)."""
import numpy as np

from ..backend import floatx, unique_name
from ..symbolic import KerasTensor, Node
from .base import Layer


class InputLayer(Layer):
    """The layer behind an Input: it makes the first KerasTensor and passes data through."""

    def __init__(self, input_shape=None, batch_size=None, dtype=None, name=None,
                 batch_shape=None):
        if batch_shape is None:
            if input_shape is None:
                raise ValueError("Input: give shape (without the batch dimension), e.g. "
                                 "Input(shape=(30,)), or batch_shape")
            shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
            batch_shape = (batch_size,) + shape
        super().__init__(name=name or unique_name("input", zero_based=False),
                         dtype=dtype or floatx())
        self.built = True
        tensor = KerasTensor(batch_shape, self.dtype, name=self.name)
        node = Node(self, (), {}, [tensor])
        tensor.node = node
        self._inbound_nodes.append(node)
        self.output_tensor = tensor

    def call(self, inputs):
        return inputs

    @property
    def batch_shape(self):
        return self.output_tensor.shape


def Input(shape=None, batch_size=None, name=None, dtype=None, batch_shape=None):  # noqa: N802
    """A symbolic input of `shape` (per sample; the batch dimension is added as None).
    dtype defaults to float32 (Keras's floatx); the data given to the model is cast to it."""
    return InputLayer(shape, batch_size, np.dtype(dtype) if dtype else None, name,
                      batch_shape).output_tensor
