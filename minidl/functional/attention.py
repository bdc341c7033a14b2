"""Scaled dot-product attention, the core of every transformer.

For queries q (..., L, E), keys k (..., S, E) and values v (..., S, Ev):

    weights = softmax(q @ k^T / sqrt(E))     (..., L, S)   row i: how much query i looks at each key
    out     = weights @ v                    (..., L, Ev)  row i: that mix of the values

It is written with ordinary tensor ops (matmul, where, softmax), so its
gradient, and the gradient of its gradient, come from those ops for free.

Masks. `mask` is either
- boolean, True where a query MAY attend to a key (PyTorch's SDPA convention), or
- floating, added to the scores (0 keeps a score, -inf forbids it; a learned
  float Tensor, such as a relative-position bias, gets a gradient).
`is_causal=True` also forbids every key after the query's own position.
nn.MultiHeadAttention uses the opposite boolean convention (True = NOT
allowed), as PyTorch's nn.MultiheadAttention does; it converts before calling here.

Forbidden scores are replaced by the most negative finite number, never
-inf: a row with every key forbidden would otherwise be softmax(-inf, ...,
-inf) = 0/0 = NaN. Such a row gets weights of exactly 0 (so its output is 0
and its gradients are 0) instead of NaN.
"""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .activation import softmax
from .elementwise import where
from .nn import dropout
from .shape import swapaxes


def scaled_dot_product_attention(q, k, v, mask=None, is_causal=False, dropout_p=0.0,
                                 training=True, return_weights=True, scale=None):
    """softmax(q k^T * scale + mask) v, with scale = 1/sqrt(E) by default.

    Returns (out, weights): out (..., L, Ev) and the attention weights
    (..., L, S) that mixed the values (after dropout, as in PyTorch), or
    (out, None) with return_weights=False.
    """
    _check_shapes(q, k, v)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), "
                         f"got {dropout_p}")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ swapaxes(k, -1, -2)) * scale
    scores, allowed = _apply_mask(scores, mask, is_causal)
    weights = softmax(scores, axis=-1)
    if allowed is not None:
        # rows with no allowed key came out uniform; multiplying by the mask makes them 0
        # (elsewhere it changes nothing: forbidden entries are already exp(-huge) = 0)
        weights = weights * Tensor(allowed.astype(weights.dtype))
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p)
    out = weights @ v
    return out, (weights if return_weights else None)


def _check_shapes(q, k, v):
    name = "scaled_dot_product_attention"
    for label, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {label} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{name}: {label} needs shape (..., length, features), "
                             f"got {t.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{name}: query has {q.shape[-1]} features but key has {k.shape[-1]} "
                         f"(shapes {q.shape} and {k.shape})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{name}: key has {k.shape[-2]} positions but value has "
                         f"{v.shape[-2]} (shapes {k.shape} and {v.shape})")
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{name}: batch dims of query {q.shape}, key {k.shape} and value "
                         f"{v.shape} do not broadcast") from None


def _apply_mask(scores, mask, is_causal):
    """Add a float mask, then push forbidden scores to the most negative finite value.

    Returns the masked scores and the boolean array of allowed positions
    (None when everything is allowed).
    """
    xp = backend.get_array_module(scores.data)
    allowed = None
    if mask is not None:
        data = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
        _check_mask(data, scores.shape)
        if data.dtype == bool:
            allowed = data
        else:
            allowed = data != -xp.inf  # -inf in an additive mask means "forbidden"
            bias = mask if isinstance(mask, Tensor) else Tensor(data.astype(scores.dtype))
            scores = scores + where(allowed, bias, 0.0)
    if is_causal:
        length, keys = scores.shape[-2:]
        causal = xp.tril(xp.ones((length, keys), dtype=bool))  # query i sees keys 0..i
        allowed = causal if allowed is None else allowed & causal
    if allowed is None:
        return scores, None
    lowest = float(np.finfo(scores.dtype).min)
    return where(allowed, scores, lowest), allowed


def _check_mask(data, scores_shape):
    name = "scaled_dot_product_attention"
    if data.dtype != bool and data.dtype.kind != "f":
        raise TypeError(f"{name}: mask must be boolean (True = may attend) or floating "
                        f"(added to the scores), got dtype {data.dtype}")
    try:
        fits = np.broadcast_shapes(data.shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: mask of shape {data.shape} does not broadcast to the "
                         f"attention scores' shape {tuple(scores_shape)} (..., L, S)")
