"""Multi-head attention and positional encodings, the layers a transformer is made of.

Multi-head attention projects queries, keys and values with three linear
maps, cuts the E features into `num_heads` heads of E/num_heads features,
lets every head attend on its own (scaled dot-product attention), glues the
heads back together and mixes them with a fourth linear layer (`out_proj`).

nn.MultiheadAttention is PyTorch's, parameters and all, so that a PyTorch
state dict loads into it: when keys and values have the query's width the
three projections are one packed `in_proj_weight` (3E, E) (rows 0..E-1 for
the queries, then keys, then values) with `in_proj_bias` (3E,); otherwise
`q_proj_weight`, `k_proj_weight`, `v_proj_weight`.

Masks follow nn.MultiheadAttention's convention, which is the OPPOSITE of
F.scaled_dot_product_attention's for boolean masks:
    attn_mask         (L, S) or (N*num_heads, L, S): boolean True = NOT allowed,
                      or float, added to the scores (-inf = not allowed)
    key_padding_mask  (N, S): boolean True = this key is PADDING, ignore it
                      (or float, added to the scores)
Both are turned into one additive float mask before the attention. As in
PyTorch, a query that may attend to no key at all gets NaN weights (a softmax
over nothing) when the weights are asked for (need_weights=True), and zeros
otherwise.

Attention has no idea of order: shuffle the positions and the outputs are
shuffled the same way. Positional encodings add a different vector to each
position so that order can matter: fixed sinusoids (PositionalEncoding) or
trained vectors (LearnedPositionalEmbedding).
"""
import math

import numpy as np

from .. import backend
from .. import functional as F
from ..functional.attention import scaled_dot_product_attention
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Multi-head attention, as torch.nn.MultiheadAttention.

    forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) ->
    (out, weights): out (L, N, E) ((N, L, E) with batch_first=True, (L, E)
    unbatched); weights (N, L, S) averaged over the heads, (N, num_heads, L, S)
    with average_attn_weights=False, or None with need_weights=False.
    is_causal=True is only a hint that attn_mask is the causal mask (PyTorch's
    meaning): attn_mask must still be given, e.g. nn.generate_square_subsequent_mask(L).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, "
                             f"got {embed_dim} and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == self.vdim == embed_dim
        self.add_zero_attn = add_zero_attn
        dtype = backend.default_dtype() if dtype is None else np.dtype(dtype)
        empty = lambda *shape: Parameter(np.empty(shape, dtype=dtype))  # noqa: E731
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty(3 * embed_dim, embed_dim)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = empty(embed_dim, embed_dim)
            self.k_proj_weight = empty(embed_dim, self.kdim)
            self.v_proj_weight = empty(embed_dim, self.vdim)
            self.in_proj_weight = None
        self.in_proj_bias = empty(3 * embed_dim) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.bias_k = empty(1, 1, embed_dim) if add_bias_kv else None
        self.bias_v = empty(1, 1, embed_dim) if add_bias_kv else None
        self._reset_parameters()
        if device is not None:
            self.to(device)

    def _reset_parameters(self):
        """PyTorch's init: Xavier-uniform projections (the packed (3E, E) matrix as one),
        zero biases, Xavier-normal bias_k and bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"

    def projection_weights(self):
        """(W_q, W_k, W_v) and (b_q, b_k, b_v) (None without bias), cut from the packed ones."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            weights = tuple(self.in_proj_weight[i * e:(i + 1) * e] for i in range(3))
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        if self.in_proj_bias is None:
            return weights, (None, None, None)
        return weights, tuple(self.in_proj_bias[i * e:(i + 1) * e] for i in range(3))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        unbatched = self._check_inputs(query, key, value)
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True is a hint that attn_mask is "
                               "the causal mask, so attn_mask must be given too; build it with "
                               "nn.generate_square_subsequent_mask(L)")
        if unbatched:
            query, key, value = (F.unsqueeze(t, 1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = F.unsqueeze(_as_tensor(key_padding_mask), 0)
        elif self.batch_first:
            query, key, value = (F.transpose(t, 0, 1) for t in (query, key, value))
        out, weights = self._attend(query, key, value, key_padding_mask, need_weights,
                                    attn_mask, average_attn_weights)
        if unbatched:
            out = F.squeeze(out, 1)
            weights = None if weights is None else F.squeeze(weights, 0)
        elif self.batch_first:
            out = F.transpose(out, 0, 1)
        return out, weights

    def _attend(self, query, key, value, key_padding_mask, need_weights, attn_mask, average):
        """The computation on (L, N, E) sequences, PyTorch's internal layout."""
        length, n = query.shape[:2]
        (w_q, w_k, w_v), (b_q, b_k, b_v) = self.projection_weights()
        q = self._heads(F.linear(query, w_q, b_q))                # (N, heads, L, head_dim)
        k, v = F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)  # (S, N, E)
        if self.bias_k is not None:  # one more key and value, learned, that every query sees
            k = F.cat([k, F.expand(self.bias_k, 1, n, self.embed_dim)], 0)
            v = F.cat([v, F.expand(self.bias_v, 1, n, self.embed_dim)], 0)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        k, v = self._heads(k), self._heads(v)
        if self.add_zero_attn:  # and one more of zeros
            zeros = Tensor(backend.get_array_module(k.data).zeros(k.shape[:2] + (1, self.head_dim),
                                                                  dtype=k.dtype))
            k, v = F.cat([k, zeros], 2), F.cat([v, zeros], 2)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        mask = self._merged_mask(attn_mask, key_padding_mask, n, length, k.shape[2], q)
        dropout = self.dropout if self.training else 0.0
        if need_weights:
            scores = q @ F.transpose(k, -1, -2) * (1.0 / math.sqrt(self.head_dim))
            weights = F.softmax(scores if mask is None else scores + mask, -1)
            out = F.dropout(weights, dropout) @ v if dropout else weights @ v
        else:
            out, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                        dropout_p=dropout), None
        out = F.reshape(F.permute(out, 2, 0, 1, 3), (length, n, self.embed_dim))  # heads side by side
        out = self.out_proj(out)
        if need_weights and average:
            weights = F.mean(weights, 1)
        return out, weights

    def _heads(self, x):
        """(T, N, E) -> (N, heads, T, head_dim): each head gets its own slice of the features."""
        steps, n = x.shape[:2]
        return F.permute(F.reshape(x, (steps, n, self.num_heads, self.head_dim)), 1, 2, 0, 3)

    def _check_inputs(self, query, key, value):
        """Check the shapes; True when the inputs are unbatched (L, E)."""
        name = "MultiheadAttention"
        for label, t, dim in (("query", query, self.embed_dim), ("key", key, self.kdim),
                              ("value", value, self.vdim)):
            if not isinstance(t, Tensor) or t.ndim not in (2, 3) or t.shape[-1] != dim:
                layout = "(N, L, {})" if self.batch_first else "(L, N, {})"
                raise ValueError(f"{name}: {label} must have shape {layout.format(dim)} or "
                                 f"(L, {dim}) unbatched, got "
                                 f"{getattr(t, 'shape', type(t).__name__)}")
        if not query.ndim == key.ndim == value.ndim:
            raise ValueError(f"{name}: query {query.shape}, key {key.shape} and value "
                             f"{value.shape} must all be batched or all unbatched")
        if query.ndim == 2:
            if key.shape[0] != value.shape[0]:
                raise ValueError(f"{name}: key {key.shape} and value {value.shape} have "
                                 "different lengths")
            return True
        batch = 0 if self.batch_first else 1
        if not query.shape[batch] == key.shape[batch] == value.shape[batch]:
            raise ValueError(f"{name}: query {query.shape}, key {key.shape} and value "
                             f"{value.shape} have different batch sizes")
        if key.shape[1 - batch] != value.shape[1 - batch]:
            raise ValueError(f"{name}: key {key.shape} and value {value.shape} have "
                             "different lengths")
        return False

    def _merged_mask(self, attn_mask, key_padding_mask, n, length, keys, like):
        """One additive float mask (N or 1, heads or 1, L, S) from both masks, or None."""
        merged = None
        if attn_mask is not None:
            merged = _additive(attn_mask, like, "attn_mask")
            if merged.shape == (n * self.num_heads, length, keys):
                merged = F.reshape(merged, (n, self.num_heads, length, keys))
            elif merged.shape != (length, keys):
                raise ValueError(f"MultiheadAttention: attn_mask must be (L, S) = "
                                 f"{(length, keys)} or (N*num_heads, L, S) = "
                                 f"{(n * self.num_heads, length, keys)}, got {merged.shape}")
        if key_padding_mask is not None:
            padding = _additive(key_padding_mask, like, "key_padding_mask")
            if padding.shape != (n, keys):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be (N, S) = "
                                 f"{(n, keys)}, got {padding.shape}")
            padding = F.reshape(padding, (n, 1, 1, keys))
            merged = padding if merged is None else merged + padding
        return merged


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """The causal mask for nn.MultiheadAttention: (sz, sz) floats, -inf above the diagonal
    (query i may not see key j > i) and 0 elsewhere (PyTorch's
    nn.Transformer.generate_square_subsequent_mask)."""
    dtype = backend.default_dtype() if dtype is None else np.dtype(dtype)
    mask = np.triu(np.full((sz, sz), -np.inf, dtype=dtype), k=1)
    return Tensor(backend.to_device(mask, device or "cpu"))


def _as_tensor(mask):
    return mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))


def _pad_masks(attn_mask, key_padding_mask):
    """One more key was appended: let every query attend to it (a column of 'allowed')."""
    def pad(mask):
        if mask is None:
            return None
        mask = _as_tensor(mask)
        xp = backend.get_array_module(mask.data)
        column = Tensor(xp.zeros(mask.shape[:-1] + (1,), dtype=mask.dtype))
        return F.cat([mask, column], -1)
    return pad(attn_mask), pad(key_padding_mask)


def _additive(mask, like, label):
    """A boolean 'True = not allowed' mask as 0 / -inf floats; a float mask as it is."""
    data = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype == bool:
        data = backend.to_device(data, like.device)
        xp = backend.get_array_module(data)
        return Tensor(xp.where(data, -xp.inf, 0.0).astype(like.dtype))
    if data.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {label} must be boolean or floating, "
                        f"got dtype {data.dtype}")
    if isinstance(mask, Tensor):
        return mask
    return Tensor(backend.to_device(data.astype(like.dtype), like.device))


# ----------------------------------------------------------------------------
# positions
# ----------------------------------------------------------------------------
def sinusoidal_positions(length, d_model):
    """The (length, d_model) table of "Attention Is All You Need":

        PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
        PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))

    Each pair of columns is a clock ticking at its own rate, from one turn
    every 2 pi positions down to one every 10000 * 2 pi, so every position
    gets a distinct pattern, and PE[pos + k] is a rotation of PE[pos].
    """
    position = np.arange(length)[:, None]
    rates = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = np.zeros((length, d_model))
    table[:, 0::2] = np.sin(position * rates)
    table[:, 1::2] = np.cos(position * rates[:d_model // 2])  # an odd d_model has one sin more
    return table


class PositionalEncoding(Module):
    """x (N, T, d_model) + the sinusoidal table's first T rows, then dropout.

    The table is a buffer (`pe`, (max_len, d_model)): saved and moved with
    the module but not trained.
    """

    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.d_model, self.max_len, self.dropout = d_model, max_len, dropout
        table = sinusoidal_positions(max_len, d_model).astype(backend.default_dtype())
        self.register_buffer("pe", Tensor(table))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, dropout={self.dropout}"

    def forward(self, x):
        _check_positions(x, self.d_model, self.max_len, "PositionalEncoding")
        table = self.pe.data[:x.shape[1]]
        out = x + Tensor(table.astype(x.dtype, copy=False))
        return F.dropout(out, self.dropout, self.training)


class LearnedPositionalEmbedding(Module):
    """x (N, T, d_model) + weight[:T]: one trained vector per position, as in BERT and GPT.

    weight (max_len, d_model) starts from N(0, 0.02^2), GPT-2's choice: small
    next to the token embeddings, so that training decides how much position matters.
    """

    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.weight = Parameter(np.empty((max_len, d_model), dtype=backend.default_dtype()))
        init.normal_(self.weight, 0.0, 0.02)

    def extra_repr(self):
        return f"max_len={self.max_len}, d_model={self.d_model}"

    def forward(self, x):
        _check_positions(x, self.d_model, self.max_len, "LearnedPositionalEmbedding")
        return x + self.weight[:x.shape[1]]


def _check_positions(x, d_model, max_len, name):
    if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[2] != d_model:
        raise ValueError(f"{name}: input must be (N, T, {d_model}), "
                         f"got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[1] > max_len:
        raise ValueError(f"{name}: sequence of length {x.shape[1]} is longer than "
                         f"max_len={max_len}")
