"""Scaled dot-product attention with masks, and multi-head attention from it.

For queries q (..., L, E), keys k (..., S, E) and values v (..., S, Ev):

    scores  = q @ k^T / sqrt(E)                   (..., L, S)
    weights = softmax(scores over the keys)       row i: how much query i looks at each key
    out     = weights @ v                         (..., L, Ev)

Everything is written with minidl's Tensor ops, so the gradients come from the engine.
Multi-head attention projects the inputs, cuts the E features into `num_heads` slices
that attend separately ("heads"), and glues them back together: the split is a reshape
and a permutation, no copy of the idea.
"""
import math

import numpy as np

import minidl.functional as F
from minidl import Tensor


def attention(q, k, v, attn_mask=None, is_causal=False):
    """(out, weights) of scaled dot-product attention, as F.scaled_dot_product_attention.

    attn_mask: boolean, True where a query MAY attend to a key, or floating, added to the
    scores; either broadcasts to (..., L, S). is_causal=True lets query i see keys 0..i.
    A query that may attend to no key gets weights of 0 (so an output of 0), not NaN.
    """
    # BEGIN SOLUTION
    scores = (q @ F.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    allowed = None
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if mask.dtype == bool:
            allowed = mask
        else:
            allowed = mask != -np.inf
            bias = attn_mask if isinstance(attn_mask, Tensor) else Tensor(mask)
            scores = scores + F.where(allowed, bias.astype(scores.dtype), 0.0)
    if is_causal:
        allowed = np.tril(np.ones(scores.shape[-2:], dtype=bool))
    if allowed is not None:
        # the most negative finite number, not -inf: a row with no allowed key would
        # otherwise be softmax(-inf, ..., -inf) = 0/0
        scores = F.where(allowed, scores, float(np.finfo(scores.dtype).min))
    weights = F.softmax(scores, -1)
    if allowed is not None:   # rows with no allowed key came out uniform: make them 0
        weights = weights * Tensor(allowed.astype(weights.dtype))
    return weights @ v, weights
    # END SOLUTION


def split_heads(x, num_heads):
    """(N, L, E) -> (N, num_heads, L, E // num_heads): head h gets features
    h*d .. (h+1)*d - 1 of every position."""
    # BEGIN SOLUTION
    n, length, e = x.shape
    if e % num_heads:
        raise ValueError(f"split_heads: {e} features do not split into {num_heads} heads")
    return F.permute(F.reshape(x, (n, length, num_heads, e // num_heads)), 0, 2, 1, 3)
    # END SOLUTION


def merge_heads(x):
    """(N, num_heads, L, d) -> (N, L, num_heads * d): split_heads undone."""
    # BEGIN SOLUTION
    n, heads, length, d = x.shape
    return F.reshape(F.permute(x, 0, 2, 1, 3), (n, length, heads * d))
    # END SOLUTION


def multi_head_attention(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                         out_proj_weight, out_proj_bias, key_padding_mask=None,
                         is_causal=False):
    """nn.MultiheadAttention(E, num_heads, batch_first=True)'s output (N, L, E).

    in_proj_weight (3E, E) holds the query, key and value projections one under the
    other (in_proj_bias (3E,) likewise); out_proj mixes the merged heads. key_padding_mask
    (N, S) is True where a key is PADDING (nn.MultiheadAttention's convention)."""
    # BEGIN SOLUTION
    e = query.shape[-1]
    w_q, w_k, w_v = (in_proj_weight[i * e:(i + 1) * e] for i in range(3))
    b_q, b_k, b_v = (in_proj_bias[i * e:(i + 1) * e] for i in range(3))
    q = split_heads(F.linear(query, w_q, b_q), num_heads)
    k = split_heads(F.linear(key, w_k, b_k), num_heads)
    v = split_heads(F.linear(value, w_v, b_v), num_heads)
    mask = None
    if key_padding_mask is not None:
        padding = np.asarray(getattr(key_padding_mask, "data", key_padding_mask), dtype=bool)
        mask = ~padding[:, None, None, :]          # (N, 1, 1, S): True = may attend
        if is_causal:
            mask = mask & np.tril(np.ones((q.shape[2], k.shape[2]), dtype=bool))
            is_causal = False
    out, _ = attention(q, k, v, attn_mask=mask, is_causal=is_causal)
    return F.linear(merge_heads(out), out_proj_weight, out_proj_bias)
    # END SOLUTION
