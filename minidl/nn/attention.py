"""Multi-head attention and positional encodings, the layers a transformer is made of.

Multi-head attention projects queries, keys and values with three Linear
layers, cuts the E features into `num_heads` heads of E/num_heads features,
lets every head attend on its own (scaled dot-product attention), glues the
heads back together and mixes them with a fourth Linear layer (`out_proj`).

Masks follow nn.MultiheadAttention's convention, which is the OPPOSITE of
F.scaled_dot_product_attention's for boolean masks:
    attn_mask         (L, S) or (N*num_heads, L, S): boolean True = NOT allowed,
                      or float, added to the scores (-inf = not allowed)
    key_padding_mask  (N, S): boolean True = this key is PADDING, ignore it
                      (or float, added to the scores)
Both are turned into one additive float mask before the attention.

Attention has no idea of order: shuffle the positions and the outputs are
shuffled the same way. Positional encodings add a different vector to each
position so that order can matter: fixed sinusoids (PositionalEncoding) or
trained vectors (LearnedPositionalEmbedding).

PyTorch keeps the three input projections in one packed `in_proj_weight`
(3E, E); `unpack_in_proj` converts such a state dict to these names.
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


class MultiHeadAttention(Module):
    """Multi-head attention with separate q_proj, k_proj, v_proj and out_proj Linear layers.

    forward(query (N, L, E), key (N, S, kdim), value (N, S, vdim)) ->
    (out (N, L, E), weights (N, L, S) averaged over the heads, or
    (N, num_heads, L, S) with average_attn_weights=False, or None with
    need_weights=False). With batch_first=False the sequences are (L, N, E).
    is_causal=True forbids each query to look at later keys (it builds the
    mask itself; in PyTorch it is only a hint about a given attn_mask).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=True,
                 kdim=None, vdim=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(self.kdim, embed_dim, bias=bias)
        self.v_proj = Linear(self.vdim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        self._reset_parameters(bias)

    def _reset_parameters(self, bias):
        """PyTorch's init: Xavier-uniform in-projections and zero biases.

        PyTorch packs the three (E, E) projections into one (3E, E) matrix when
        kdim = vdim = E, and Xavier's bound for that matrix is sqrt(6 / (E + 3E));
        otherwise each projection gets its own Xavier bound.
        """
        packed = self.kdim == self.vdim == self.embed_dim
        packed_bound = math.sqrt(6.0 / (self.embed_dim + 3 * self.embed_dim))
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            if packed:
                init.uniform_(proj.weight, -packed_bound, packed_bound)
            else:
                init.xavier_uniform_(proj.weight)
        if bias:
            for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
                init.zeros_(proj.bias)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"

    def forward(self, query, key, value, attn_mask=None, key_padding_mask=None,
                need_weights=True, average_attn_weights=True, is_causal=False):
        self._check_inputs(query, key, value)
        if not self.batch_first:
            query, key, value = (F.swapaxes(t, 0, 1) for t in (query, key, value))
        n, length, keys = query.shape[0], query.shape[1], key.shape[1]
        q = self._heads(self.q_proj(query))                      # (N, heads, L, head_dim)
        k = self._heads(self.k_proj(key))                        # (N, heads, S, head_dim)
        v = self._heads(self.v_proj(value))
        mask = self._merged_mask(attn_mask, key_padding_mask, n, length, keys, q)
        out, weights = scaled_dot_product_attention(
            q, k, v, mask=mask, is_causal=is_causal, dropout_p=self.dropout,
            training=self.training, return_weights=need_weights)
        out = F.reshape(F.swapaxes(out, 1, 2), (n, length, self.embed_dim))  # heads side by side
        out = self.out_proj(out)
        if not self.batch_first:
            out = F.swapaxes(out, 0, 1)
        if need_weights and average_attn_weights:
            weights = F.mean(weights, axis=1)
        return out, weights

    def _heads(self, x):
        """(N, T, E) -> (N, heads, T, head_dim): each head gets its own slice of the features."""
        n, steps = x.shape[:2]
        return F.swapaxes(F.reshape(x, (n, steps, self.num_heads, self.head_dim)), 1, 2)

    def _check_inputs(self, query, key, value):
        name = "MultiHeadAttention"
        for label, t, dim in (("query", query, self.embed_dim), ("key", key, self.kdim),
                              ("value", value, self.vdim)):
            if not isinstance(t, Tensor) or t.ndim != 3 or t.shape[2] != dim:
                layout = "(N, T, {})" if self.batch_first else "(T, N, {})"
                raise ValueError(f"{name}: {label} must have shape {layout.format(dim)}, got "
                                 f"{getattr(t, 'shape', type(t).__name__)}")
        batch = 0 if self.batch_first else 1
        if not query.shape[batch] == key.shape[batch] == value.shape[batch]:
            raise ValueError(f"{name}: query {query.shape}, key {key.shape} and value "
                             f"{value.shape} have different batch sizes")
        if key.shape[1 - batch] != value.shape[1 - batch]:
            raise ValueError(f"{name}: key {key.shape} and value {value.shape} have "
                             "different lengths")

    def _merged_mask(self, attn_mask, key_padding_mask, n, length, keys, like):
        """One additive float mask (N or 1, heads or 1, L, S) from both masks, or None."""
        merged = None
        if attn_mask is not None:
            merged = _additive(attn_mask, like, "attn_mask")
            if merged.shape == (n * self.num_heads, length, keys):
                merged = F.reshape(merged, (n, self.num_heads, length, keys))
            elif merged.shape != (length, keys):
                raise ValueError(f"MultiHeadAttention: attn_mask must be (L, S) = "
                                 f"{(length, keys)} or (N*num_heads, L, S) = "
                                 f"{(n * self.num_heads, length, keys)}, got {merged.shape}")
        if key_padding_mask is not None:
            padding = _additive(key_padding_mask, like, "key_padding_mask")
            if padding.shape != (n, keys):
                raise ValueError(f"MultiHeadAttention: key_padding_mask must be (N, S) = "
                                 f"{(n, keys)}, got {padding.shape}")
            padding = F.reshape(padding, (n, 1, 1, keys))
            merged = padding if merged is None else merged + padding
        return merged


def _additive(mask, like, label):
    """A boolean 'True = not allowed' mask as 0 / -inf floats; a float mask as it is."""
    data = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype == bool:
        data = backend.to_device(data, like.device)
        xp = backend.get_array_module(data)
        return Tensor(xp.where(data, -xp.inf, 0.0).astype(like.dtype))
    if data.dtype.kind != "f":
        raise TypeError(f"MultiHeadAttention: {label} must be boolean or floating, "
                        f"got dtype {data.dtype}")
    if isinstance(mask, Tensor):
        return mask
    return Tensor(backend.to_device(data.astype(like.dtype), like.device))


def unpack_in_proj(state_dict):
    """Convert a PyTorch state dict with packed attention projections to minidl's names.

    Every `<prefix>in_proj_weight` (3E, E) becomes `<prefix>q_proj.weight`,
    `k_proj.weight` and `v_proj.weight` (E, E each, in that order), and
    `<prefix>in_proj_bias` likewise. Other entries are kept. Values may be
    NumPy arrays or Tensors; pass torch tensors through `.numpy()` first:

        state = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
        model.load_state_dict(unpack_in_proj(state))
    """
    out = {}
    for name, value in state_dict.items():
        for packed, suffix in (("in_proj_weight", "weight"), ("in_proj_bias", "bias")):
            if name.endswith(packed):
                prefix = name[:-len(packed)]
                array = value.data if isinstance(value, Tensor) else np.asarray(value)
                for part, chunk in zip("qkv", np.split(array, 3, axis=0)):
                    out[f"{prefix}{part}_proj.{suffix}"] = chunk
                break
        else:
            out[name] = value
    return out


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
