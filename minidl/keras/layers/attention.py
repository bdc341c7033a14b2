"""MultiHeadAttention, Keras's, on four nn.Linear projections.

Keras's layer is called as mha(query, value, key=None) and sizes each head by key_dim,
which need not be the query's width divided by the heads (Keras's examples use
MultiHeadAttention(num_heads=2, key_dim=embed_dim)). So it is built from what
nn.MultiheadAttention is built from, without its packing: a query, a key and a value
projection to num_heads * key_dim features (value_dim for the values), attention in each
head, and an output projection back to the query's width. When num_heads * key_dim is
the query's width and the three inputs have it, this is nn.MultiheadAttention with
in_proj_weight = the three projections' weights stacked (a test checks that).

Keras stores each projection's kernel per head: query/kernel (width, num_heads, key_dim)
is the nn.Linear weight (num_heads * key_dim, width) transposed and cut into heads,
attention_output/kernel (num_heads, value_dim, width) likewise. Keras's masks say where
attention is ALLOWED (True), the opposite of nn.MultiheadAttention's attn_mask; a
disallowed score gets -1e9 added before the softmax, as Keras does. The masks of the
query and the value (an Embedding with mask_zero=True) and use_causal_mask=True are
combined with attention_mask as in Keras.
"""
import math

import numpy as np

from ... import backend
from ... import functional as F
from ... import nn
from ...tensor import Tensor
from .base import Layer
from .core import LARGE_NEGATIVE


class MultiHeadAttention(Layer):
    """Scaled dot-product attention in num_heads heads of key_dim (value_dim) features."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if attention_axes is not None:
            raise NotImplementedError("MultiHeadAttention: attention_axes is not supported "
                                      "(attention runs over the steps, axis 1)")
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = key_dim if value_dim is None else value_dim
        self.dropout, self.use_bias = dropout, use_bias
        self.output_features = output_shape[-1] if isinstance(output_shape, (tuple, list)) \
            else output_shape
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.supports_masking = True
        self._projections_built = False

    def _build_projections(self, query, value, key):
        """The four projections, made when the widths of the inputs are first seen."""
        h, d, dv = self.num_heads, self.key_dim, self.value_dim
        width = query.shape[-1]
        out = self.output_features or width
        self.query_dense = self._projection("query", width, h, d)
        self.key_dense = self._projection("key", key.shape[-1], h, d)
        self.value_dense = self._projection("value", value.shape[-1], h, dv)
        self.output_dense = nn.Linear(h * dv, out, bias=self.use_bias, dtype=self.dtype)
        self._add_view("attention_output/kernel", self.output_dense.weight, axes=(1, 0),
                       shape=(h, dv, out), initializer=self.kernel_initializer)
        if self.use_bias:
            self._add_view("attention_output/bias", self.output_dense.bias,
                           initializer=self.bias_initializer)
        self._projections_built = True

    def _projection(self, name, width, heads, size):
        linear = nn.Linear(width, heads * size, bias=self.use_bias, dtype=self.dtype)
        self._add_view(f"{name}/kernel", linear.weight, axes=(1, 0), shape=(width, heads, size),
                       initializer=self.kernel_initializer)
        if self.use_bias:
            self._add_view(f"{name}/bias", linear.bias, shape=(heads, size),
                           initializer=self.bias_initializer)
        return linear

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=False,
             use_causal_mask=False):
        value = _tensor(value)
        key = value if key is None else _tensor(key)
        if not self._projections_built:
            self._build_projections(query, value, key)
        allowed = self._allowed(query, value, key, query_mask, value_mask, key_mask,
                                attention_mask, use_causal_mask)
        q = self._heads(self.query_dense(query), self.key_dim)     # (batch, heads, T, key_dim)
        k = self._heads(self.key_dense(key), self.key_dim)         # (batch, heads, S, key_dim)
        v = self._heads(self.value_dense(value), self.value_dim)   # (batch, heads, S, value_dim)
        scores = F.matmul(q * (1.0 / math.sqrt(self.key_dim)), F.swapaxes(k, -1, -2))
        if allowed is not None:
            blocked = (~allowed[:, None]).astype(scores.dtype) * LARGE_NEGATIVE
            scores = scores + Tensor(backend.to_device(blocked, scores.device))
        weights = F.softmax(scores, -1)                             # (batch, heads, T, S)
        dropped = F.dropout(weights, self.dropout, training=True) \
            if training and self.dropout > 0 else weights
        heads = F.matmul(dropped, v)                                # (batch, heads, T, value_dim)
        batch, steps = heads.shape[0], heads.shape[2]
        joined = F.reshape(F.permute(heads, (0, 2, 1, 3)), (batch, steps, -1))
        output = self.output_dense(joined)
        return (output, weights) if return_attention_scores else output

    def _heads(self, x, size):
        """(batch, steps, heads * size) -> (batch, heads, steps, size)."""
        batch, steps = x.shape[:2]
        return F.permute(F.reshape(x, (batch, steps, self.num_heads, size)), (0, 2, 1, 3))

    @staticmethod
    def _allowed(query, value, key, query_mask, value_mask, key_mask, attention_mask, causal):
        """Where each query step may look: a boolean (batch, T, S) array, or None for
        everywhere. Keras's rule: the AND of every mask given or carried."""
        query_mask = _mask_array(query_mask, query)
        value_mask = _mask_array(value_mask, value)
        key_mask = _mask_array(key_mask, key if key is not value else None)
        parts = []
        if query_mask is not None:
            parts.append(query_mask[:, :, None])
        if value_mask is not None:
            parts.append(value_mask[:, None, :])
        if key_mask is not None:
            parts.append(key_mask[:, None, :])
        if causal:
            t, s = query.shape[1], value.shape[1]
            parts.append(np.tril(np.ones((t, s), dtype=bool))[None])
        if attention_mask is not None:
            given = attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask
            parts.append(np.asarray(given).astype(bool))
        if not parts:
            return None
        allowed = parts[0]
        for part in parts[1:]:
            allowed = allowed & part
        return np.broadcast_to(allowed, (query.shape[0], query.shape[1], value.shape[1]))


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))


def _mask_array(given, tensor):
    """A mask passed explicitly, else the one the tensor carries, as a boolean array."""
    mask = given if given is not None else getattr(tensor, "_keras_mask", None)
    if mask is None:
        return None
    return backend.to_numpy(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
