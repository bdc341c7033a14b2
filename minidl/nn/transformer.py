"""The transformer encoder: TransformerEncoderLayer and a stack of them, TransformerEncoder.

One encoder layer is two blocks, each wrapped in a residual connection and a
layer norm:

    self-attention block:   every position gathers information from the others
    feed-forward block:     linear2(dropout(activation(linear1(x)))), position by position

Post-norm (norm_first=False, the original paper):  x = norm(x + block(x))
Pre-norm  (norm_first=True, GPT-2 and most models since): x = x + block(norm(x))
Pre-norm leaves the residual path untouched, which makes deep stacks easier to train.

Submodule names, parameters and the forward are PyTorch's (self_attn, linear1,
dropout, linear2, norm1, norm2, dropout1, dropout2), so a PyTorch state dict
loads and gives the same outputs.
"""
import copy

from .. import functional as F
from .attention import MultiheadAttention
from .dropout import Dropout
from .linear import Linear
from .module import Module, ModuleList
from .norm import LayerNorm

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, each with a residual connection and LayerNorm.

    Input (T, N, d_model) (or (N, T, d_model) with batch_first=True); the
    output has the same shape. `activation` is "relu", "gelu" or a function.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' "
                                 f"or a function, not {activation!r}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation
        self.norm_first = norm_first
        make = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **make)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **make)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **make)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **make)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **make)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    def extra_repr(self):
        return "norm_first=True" if self.norm_first else ""

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src_mask and src_key_padding_mask as in nn.MultiheadAttention (True = not allowed);
        is_causal=True is a hint that src_mask is the causal mask (which must be given)."""
        x = src
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), src_mask, src_key_padding_mask,
                                          is_causal)
            x = x + self._feed_forward_block(self.norm2(x))
        else:
            x = self.norm1(x + self._attention_block(x, src_mask, src_key_padding_mask,
                                                     is_causal))
            x = self.norm2(x + self._feed_forward_block(x))
        return x

    def _attention_block(self, x, mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _feed_forward_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """`num_layers` encoder layers applied in turn, then an optional final norm.

    encoder_layer is either a layer, deep-copied num_layers times (as in
    PyTorch: every copy starts from the SAME weights, then they train apart),
    or a function with no arguments that builds a layer, called num_layers
    times (every layer independently initialised):

        TransformerEncoder(TransformerEncoderLayer(64, 4), num_layers=2)
        TransformerEncoder(lambda: TransformerEncoderLayer(64, 4), num_layers=2)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        if isinstance(encoder_layer, Module):
            layers = [copy.deepcopy(encoder_layer) for _ in range(num_layers)]
        elif callable(encoder_layer):
            layers = [encoder_layer() for _ in range(num_layers)]
        else:
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module or a function "
                            f"that builds one, not {type(encoder_layer).__name__}")
        self.layers = ModuleList(layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """is_causal: a hint that mask is the causal mask (None: not said), as in PyTorch."""
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
