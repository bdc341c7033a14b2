"""Scaled dot-product attention, the core of every transformer.

For queries q (..., L, E), keys k (..., S, E) and values v (..., S, Ev):

    weights = softmax(q @ k^T / sqrt(E))     (..., L, S)   row i: how much query i looks at each key
    out     = weights @ v                    (..., L, Ev)  row i: that mix of the values

`scaled_dot_product_attention` is PyTorch's function: it returns `out`.
`attention_weights` returns the weights themselves, for looking at them (the
tutorials draw them) and for nn.MultiheadAttention, which hands them back.
Both are written with ordinary tensor ops (matmul, where, softmax), so their
gradients, and the gradients of those, come from those ops for free.

Masks (`attn_mask`), as in PyTorch's scaled_dot_product_attention:
- boolean: True where a query MAY attend to a key;
- floating: added to the scores (0 keeps a score, -inf forbids it; a learned
  float Tensor, such as a relative-position bias, gets a gradient).
`is_causal=True` forbids every key after the query's own position (and may not
be combined with attn_mask). nn.MultiheadAttention uses the opposite boolean
convention (True = NOT allowed), as PyTorch's does, and converts before calling.

Forbidden scores are replaced by the most negative finite number, never
-inf: a row with every key forbidden would otherwise be softmax(-inf, ...,
-inf) = 0/0 = NaN. Such a row gets weights of exactly 0 (so its output is 0
and its gradients are 0) instead of NaN, as PyTorch's function gives.
"""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .activation import softmax
from .dense import dropout
from .elementwise import where
from .shape import repeat, reshape, transpose

NAME = "scaled_dot_product_attention"


def attention_weights(query, key, attn_mask=None, is_causal=False, scale=None):
    """softmax(query key^T * scale + mask) over the keys: (..., L, S); rows that may
    attend to no key are all 0."""
    _check_shapes(query, key, None)
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{NAME}: give attn_mask or is_causal=True, not both")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    scores = (query @ transpose(key, -1, -2)) * scale
    scores, allowed = _apply_mask(scores, attn_mask, is_causal)
    weights = softmax(scores, -1)
    if allowed is not None:
        # rows with no allowed key came out uniform; multiplying by the mask makes them 0
        # (elsewhere it changes nothing: forbidden entries are already exp(-huge) = 0)
        weights = weights * Tensor(allowed.astype(weights.dtype))
    return weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """dropout(attention_weights(query, key, ...)) @ value: (..., L, Ev), as in PyTorch.

    enable_gqa=True lets key and value have fewer heads (dim -3) than query, a divisor
    of its count: each key/value head then serves a group of query heads."""
    _check_shapes(query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{NAME}: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa:
        key, value = _shared_heads(query, key), _shared_heads(query, value)
    weights = attention_weights(query, key, attn_mask, is_causal, scale)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ value


def _shared_heads(query, t):
    """Repeat each of t's heads so that t has as many heads as query (grouped-query attention)."""
    heads, groups = query.shape[-3], t.shape[-3]
    if heads % groups:
        raise RuntimeError(f"{NAME}: with enable_gqa the query's {heads} heads must be a "
                           f"multiple of the key/value's {groups}")
    if heads == groups:
        return t
    copies = repeat(t.unsqueeze(-3), *([1] * (t.ndim - 2) + [heads // groups, 1, 1]))
    return reshape(copies, t.shape[:-3] + (heads,) + t.shape[-2:])


def _check_shapes(q, k, v):
    for label, t in (("query", q), ("key", k), ("value", v)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{NAME}: {label} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{NAME}: {label} needs shape (..., length, features), got {t.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{NAME}: query has {q.shape[-1]} features but key has {k.shape[-1]} "
                         f"(shapes {q.shape} and {k.shape})")
    if v is not None and k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{NAME}: key has {k.shape[-2]} positions but value has "
                         f"{v.shape[-2]} (shapes {k.shape} and {v.shape})")


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
        allowed = xp.tril(xp.ones((length, keys), dtype=bool))  # query i sees keys 0..i
    if allowed is None:
        return scores, None
    lowest = float(np.finfo(scores.dtype).min)
    return where(allowed, scores, lowest), allowed


def _check_mask(data, scores_shape):
    if data.dtype != bool and data.dtype.kind != "f":
        raise TypeError(f"{NAME}: attn_mask must be boolean (True = may attend) or floating "
                        f"(added to the scores), got dtype {data.dtype}")
    try:
        fits = np.broadcast_shapes(data.shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{NAME}: attn_mask of shape {data.shape} does not broadcast to the "
                         f"attention scores' shape {tuple(scores_shape)} (..., L, S)")
