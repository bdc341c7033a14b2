"""Embedding: a learned vector per word index, on nn.Embedding.

Keras's `embeddings` (input_dim, output_dim) is nn.Embedding's weight as it is. Keras
differs in its initialization, U(-0.05, 0.05) (nn.Embedding draws N(0, 1)), and in
mask_zero: index 0 is padding, and the layer hands a mask (index != 0) to the layers after
it, so an LSTM skips the padded steps. Unlike nn.Embedding's padding_idx, mask_zero does
not fix row 0 at zero: Keras trains it like any other row (the mask keeps it from mattering).
"""
import numpy as np

from ... import functional as F
from ... import nn
from ...tensor import Tensor
from .base import Layer


class Embedding(Layer):
    """Integer indices (batch, steps) -> vectors (batch, steps, output_dim).

    input_length (Keras 2) fixes the number of steps, for summary() and a Flatten after it.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False,
                 input_length=None, **kwargs):
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Both `input_dim` and `output_dim` should be positive, "
                                 f"Received {name}={value!r}")
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero
        self.embeddings_initializer = embeddings_initializer

    def build(self, input_shape):
        self.embedding = nn.Embedding(self.input_dim, self.output_dim, dtype=self.dtype)
        self.embeddings = self._add_view("embeddings", self.embedding.weight,
                                         initializer=self.embeddings_initializer)

    def call(self, inputs):
        if inputs.dtype.kind not in "iu":   # Keras casts float indices to integers
            inputs = Tensor(inputs.data.astype(np.int64))
        indices = inputs.data
        if indices.size and (indices.min() < 0 or indices.max() >= self.input_dim):
            bad = indices[(indices < 0) | (indices >= self.input_dim)].flat[0]
            raise ValueError(f'Embedding "{self.name}": index {bad} is not in '
                             f"[0, {self.input_dim}) (input_dim={self.input_dim})")
        return self.embedding(inputs)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return F.ne(inputs, 0)
