"""Attention and transformers: scaled dot-product attention (masks, gradients, second
derivatives), MultiheadAttention and TransformerEncoderLayer against PyTorch with the same
weights, positional encodings, and a one-layer transformer that learns."""
import numpy as np
import pytest
from helpers import assert_raises_naming, fit_batch, require

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from minidl.nn.attention import sinusoidal_positions


def rand(*shape, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape)


def leaf(*shape, seed=0):
    return mdl.tensor(rand(*shape, seed=seed), requires_grad=True)


def softmax_np(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


CAUSAL = np.tril(np.ones((4, 4), dtype=bool))
PADDING = np.array([[True, True, True, False], [True, True, False, False]])  # True = may attend


# ----------------------------------------------------------------------------
# scaled dot-product attention
# ----------------------------------------------------------------------------
def test_attention_is_the_formula():
    q, k, v = rand(2, 3, 4), rand(2, 5, 4, seed=1), rand(2, 5, 6, seed=2)
    out = F.scaled_dot_product_attention(mdl.tensor(q), mdl.tensor(k), mdl.tensor(v))
    weights = F.attention_weights(mdl.tensor(q), mdl.tensor(k))
    expected = softmax_np(q @ k.swapaxes(1, 2) / 2.0)  # sqrt(E) = 2
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), expected @ v, rtol=1e-12)


@pytest.mark.parametrize("mask, is_causal", [
    (None, False),
    (None, True),                                  # causal
    (PADDING[:, None, None, :], False),            # padding: (N, 1, 1, S), broadcast over heads
    (np.where(CAUSAL, 0.0, -np.inf), False),       # additive float mask
    (np.where(CAUSAL, rand(4, 4, seed=9), -np.inf), False),  # a bias and forbidden places
])
def test_attention_matches_pytorch_values_and_gradients(mask, is_causal):
    torch = require("torch")
    arrays = [rand(2, 3, 4, 5, seed=s) for s in range(3)]
    ours = [mdl.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.scaled_dot_product_attention(*ours, attn_mask=mask, is_causal=is_causal)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if mask is None else torch.tensor(mask), is_causal=is_causal)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    cotangent = rand(*out.shape, seed=7)
    out.backward(mdl.tensor(cotangent))
    expected.backward(torch.tensor(cotangent))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_grouped_query_attention_matches_pytorch():
    torch = require("torch")
    q, k, v = rand(2, 4, 3, 5), rand(2, 2, 6, 5, seed=1), rand(2, 2, 6, 3, seed=2)
    out = F.scaled_dot_product_attention(mdl.tensor(q), mdl.tensor(k), mdl.tensor(v),
                                         enable_gqa=True)
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), enable_gqa=True)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_causal_and_a_mask_together_are_refused_as_in_pytorch():
    q = mdl.zeros(1, 3, 2)
    with pytest.raises(RuntimeError, match="attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=CAUSAL[:3, :3], is_causal=True)


def test_masked_keys_get_zero_weight():
    q, k = (mdl.tensor(rand(2, 4, 3, seed=s)) for s in range(2))
    allowed = PADDING[:, None, :] & CAUSAL
    weights = F.attention_weights(q, k, attn_mask=allowed)
    assert (weights.numpy()[~np.broadcast_to(allowed, (2, 4, 4))] == 0).all()


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = leaf(1, 3, 4), leaf(1, 3, 4, seed=1), leaf(1, 3, 2, seed=2)
    mask = np.array([[True, False, True], [False, False, False], [True, True, True]])
    for m in (mask, np.where(mask, 0.0, -np.inf)):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        weights = F.attention_weights(q, k, attn_mask=m)
        (out.sum() + weights.sum()).backward()
        assert np.isfinite(out.numpy()).all()
        assert (out.numpy()[0, 1] == 0).all() and (weights.numpy()[0, 1] == 0).all()
        for t in (q, k, v):
            assert np.isfinite(t.grad.numpy()).all()
        assert (q.grad.numpy()[0, 1] == 0).all()  # the empty row depends on nothing
        q.grad = k.grad = v.grad = None


@pytest.mark.parametrize("mask, is_causal", [(None, True), (PADDING[:, None, None, :], False)])
def test_attention_gradients(mask, is_causal):
    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)

    assert mdl.gradcheck(fn, [leaf(2, 2, 4, 3), leaf(2, 2, 4, 3, seed=1), leaf(2, 2, 4, 2, seed=2)])
    assert mdl.gradcheck(lambda q, k: F.attention_weights(q, k, mask, is_causal),
                         [leaf(2, 2, 4, 3), leaf(2, 2, 4, 3, seed=1)])


def test_float_mask_tensor_gets_a_gradient():
    """A learned additive bias (relative positions, ALiBi-style) is differentiable."""
    def fn(q, k, v, bias):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)

    assert mdl.gradcheck(fn, [leaf(2, 3, 2), leaf(2, 4, 2, seed=1), leaf(2, 4, 2, seed=2),
                              leaf(3, 4, seed=3)])


def test_attention_second_derivatives():
    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    assert mdl.gradgradcheck(fn, [leaf(1, 3, 2), leaf(1, 3, 2, seed=1), leaf(1, 3, 2, seed=2)])
    assert mdl.gradgradcheck(lambda q, k: F.attention_weights(q, k),
                             [leaf(1, 3, 2), leaf(1, 3, 2, seed=1)])


def test_attention_dropout_drops_weights_and_rescales_the_rest():
    """With the identity as the values, the output IS the (dropped-out) weight matrix."""
    mdl.manual_seed(0)
    q, k = (mdl.tensor(rand(2, 8, 4, seed=s)) for s in range(2))
    v = mdl.tensor(np.broadcast_to(np.eye(8), (2, 8, 8)).copy())
    w = F.attention_weights(q, k).numpy()
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).numpy(), w, rtol=1e-12)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    zero = dropped == 0
    assert 0.3 < zero.mean() < 0.7
    np.testing.assert_allclose(dropped[~zero], 2 * w[~zero], rtol=1e-12)


@pytest.mark.parametrize("call, words", [
    (lambda: F.scaled_dot_product_attention(mdl.zeros(2, 3, 4), mdl.zeros(2, 5, 3),
                                            mdl.zeros(2, 5, 4)),
     ["scaled_dot_product_attention", "4 features", "3", "(2, 3, 4)", "(2, 5, 3)"]),
    (lambda: F.scaled_dot_product_attention(mdl.zeros(2, 3, 4), mdl.zeros(2, 5, 4),
                                            mdl.zeros(2, 6, 4)), ["5 positions", "6"]),
    (lambda: F.scaled_dot_product_attention(mdl.zeros(2, 3, 4), mdl.zeros(2, 5, 4),
                                            mdl.zeros(2, 5, 4), attn_mask=np.ones((3, 4), bool)),
     ["attn_mask of shape (3, 4)", "(2, 3, 5)"]),
])
def test_attention_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)


# ----------------------------------------------------------------------------
# MultiheadAttention
# ----------------------------------------------------------------------------
def torch_mha(embed_dim=8, num_heads=2, **kwargs):
    """PyTorch's layer (biases made non-zero) and ours, loaded with its state dict as it is."""
    torch = require("torch")
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, **kwargs).double().eval()
    with torch.no_grad():  # PyTorch starts the biases at 0: make them count
        theirs.in_proj_bias.uniform_(-0.5, 0.5)
        theirs.out_proj.bias.uniform_(-0.5, 0.5)
    ours = nn.MultiheadAttention(embed_dim, num_heads, **kwargs).double().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return torch, theirs, ours


def _compare_mha(torch, theirs, ours, arrays, **kwargs):
    """Outputs, weights and every gradient under a random cotangent, ours against PyTorch's."""
    inputs = [mdl.tensor(a, requires_grad=True) for a in arrays]
    t_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, weights = ours(*inputs, **kwargs)
    t_out, t_weights = theirs(*t_inputs, **{n: torch.tensor(m) if isinstance(m, np.ndarray) else m
                                            for n, m in kwargs.items()})
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12,
                               equal_nan=True)
    if t_weights is None:
        assert weights is None
    else:
        np.testing.assert_allclose(weights.numpy(), t_weights.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, equal_nan=True)
    if np.isnan(out.numpy()).any():
        return
    cotangent = rand(*out.shape, seed=11)
    out.backward(mdl.tensor(cotangent))
    t_out.backward(torch.tensor(cotangent))
    for a, b in zip(inputs, t_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(ours_params[name].grad.numpy(), p.grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def multihead_attention_np(params, heads, q, k, v, attn_mask=None, key_padding_mask=None):
    """PyTorch's documented MultiheadAttention on (N, L, E) inputs, in NumPy: project, cut
    the features into heads, softmax(q k^T / sqrt(head_dim) + masks) v, heads side by side,
    project out. Boolean masks: True = NOT allowed (attn_mask) or padding
    (key_padding_mask). Returns (output, weights of each head (N, heads, L, S))."""
    w_q, w_k, w_v = np.split(params["in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(params["in_proj_bias"], 3)

    def split_heads(x):                                     # (N, T, E) -> (N, heads, T, d)
        return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(0, 2, 1, 3)
    q, k, v = (split_heads(x @ w.T + b) for x, w, b in [(q, w_q, b_q), (k, w_k, b_k),
                                                         (v, w_v, b_v)])
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    if attn_mask is not None:
        bias = np.where(attn_mask, -np.inf, 0.0) if attn_mask.dtype == bool else attn_mask
        scores = scores + (bias.reshape(scores.shape) if bias.ndim == 3 else bias)
    if key_padding_mask is not None:
        scores = scores + np.where(key_padding_mask, -np.inf, 0.0)[:, None, None, :]
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[2], -1)
    return out @ params["out_proj.weight"].T + params["out_proj.bias"], weights


@pytest.mark.parametrize("masks", ["none", "padding", "attn_bool", "attn_float", "both",
                                   "per_head"])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_the_formula(masks, average):
    mdl.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double().eval()
    params = {name: p.numpy() for name, p in mha.named_parameters()}
    params["in_proj_bias"] = rand(24, seed=3)       # the biases start at zero: make them count
    params["out_proj.bias"] = rand(8, seed=4)
    mha.load_state_dict(params)
    q, k, v = rand(2, 3, 8), rand(2, 4, 8, seed=1), rand(2, 4, 8, seed=2)
    padding = ~PADDING                              # True = padding, for this layer
    attn = np.triu(np.ones((3, 4), dtype=bool), k=2)   # True = not allowed
    kwargs = {"none": {}, "padding": dict(key_padding_mask=padding),
              "attn_bool": dict(attn_mask=attn),
              "attn_float": dict(attn_mask=np.where(attn, -np.inf, rand(3, 4, seed=5))),
              "both": dict(attn_mask=attn, key_padding_mask=padding),
              "per_head": dict(attn_mask=rand(4, 3, 4, seed=6) > 0.3)}[masks]
    if masks == "per_head":
        kwargs["attn_mask"][:, :, 0] = False        # every query keeps a key
    expected_out, expected_weights = multihead_attention_np(params, 2, q, k, v, **kwargs)
    out, weights = mha(mdl.tensor(q), mdl.tensor(k), mdl.tensor(v),
                       average_attn_weights=average, **kwargs)
    np.testing.assert_allclose(out.numpy(), expected_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(),
                               expected_weights.mean(axis=1) if average else expected_weights,
                               rtol=1e-10, atol=1e-12)
    if "key_padding_mask" in kwargs:                # the padded keys get no weight at all
        w = weights.numpy()
        padded = padding[:, None, :] if average else padding[:, None, None, :]
        assert (w[np.broadcast_to(padded, w.shape)] == 0).all()


@pytest.mark.parametrize("masks", ["none", "padding", "attn_bool", "attn_float", "both",
                                   "per_head", "causal_hint"])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_pytorch(masks, average):
    torch, theirs, ours = torch_mha(batch_first=True)
    q, k, v = rand(2, 3, 8), rand(2, 4, 8, seed=1), rand(2, 4, 8, seed=2)
    padding = ~PADDING                            # nn.MultiheadAttention: True = padding
    attn = np.triu(np.ones((3, 4), dtype=bool), k=2)  # True = not allowed
    kwargs = {"none": {}, "padding": dict(key_padding_mask=padding),
              "attn_bool": dict(attn_mask=attn),
              "attn_float": dict(attn_mask=np.where(attn, -np.inf, rand(3, 4, seed=5))),
              "both": dict(attn_mask=attn, key_padding_mask=padding),
              "per_head": dict(attn_mask=np.repeat(attn[None], 4, axis=0)),
              "causal_hint": dict(attn_mask=np.triu(np.ones((3, 4), dtype=bool), k=1),
                                  is_causal=True)}[masks]
    _compare_mha(torch, theirs, ours, [q, k, v], average_attn_weights=average, **kwargs)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_sequence_first_self_attention(need_weights):
    torch, theirs, ours = torch_mha(batch_first=False)
    x = rand(3, 2, 8)  # (L, N, E)
    _compare_mha(torch, theirs, ours, [x, x + 0.5, x - 0.5], need_weights=need_weights)


@pytest.mark.parametrize("kwargs", [dict(kdim=5, vdim=3), dict(add_bias_kv=True),
                                    dict(add_zero_attn=True), dict(bias=False)])
def test_multihead_attention_options_match_pytorch(kwargs):
    torch = require("torch")
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True, **kwargs).double().eval()
    ours = nn.MultiheadAttention(8, 2, batch_first=True, **kwargs).double().eval()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    kdim, vdim = kwargs.get("kdim", 8), kwargs.get("vdim", 8)
    _compare_mha(torch, theirs, ours, [rand(2, 3, 8), rand(2, 4, kdim, seed=1),
                                       rand(2, 4, vdim, seed=2)],
                 key_padding_mask=~PADDING)


def test_multihead_attention_unbatched_matches_pytorch():
    torch, theirs, ours = torch_mha()
    _compare_mha(torch, theirs, ours, [rand(3, 8), rand(4, 8, seed=1), rand(4, 8, seed=2)],
                 key_padding_mask=~PADDING[1])


def test_multihead_attention_fully_padded_query_is_nan_as_in_pytorch():
    torch, theirs, ours = torch_mha(batch_first=True)
    x = rand(1, 3, 8)
    padding = np.ones((1, 3), dtype=bool)
    for need_weights in (True, False):
        _compare_mha(torch, theirs, ours, [x, x, x], key_padding_mask=padding,
                     need_weights=need_weights)


def test_multihead_attention_causal_hint_needs_the_mask():
    x = mdl.zeros(3, 2, 8)
    with pytest.raises(RuntimeError, match="attn_mask must be given"):
        nn.MultiheadAttention(8, 2)(x, x, x, is_causal=True)
    mask = nn.generate_square_subsequent_mask(3)
    assert mask.numpy().tolist() == [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]]


@pytest.mark.parametrize("masks", [dict(attn_mask=nn.generate_square_subsequent_mask(3).double(),
                                        is_causal=True),
                                   dict(key_padding_mask=~PADDING[:, :3])])
def test_multihead_attention_gradients(masks):
    mdl.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, batch_first=True).double()

    def fn(q, k, v):
        return mha(q, k, v, **masks)[0]

    assert mdl.gradcheck(fn, [leaf(2, 3, 4), leaf(2, 3, 4, seed=1), leaf(2, 3, 4, seed=2)])


def test_multihead_attention_init_and_names():
    mha = nn.MultiheadAttention(16, 4)
    assert [n for n, _ in mha.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    bound = np.sqrt(6 / (16 + 48))  # Xavier over the packed (3E, E) matrix, as PyTorch
    packed = mha.in_proj_weight.numpy()
    assert np.abs(packed).max() <= bound and np.abs(packed).max() > 0.9 * bound
    assert (mha.in_proj_bias.numpy() == 0).all() and (mha.out_proj.bias.numpy() == 0).all()


@pytest.mark.parametrize("call, words", [
    (lambda: nn.MultiheadAttention(10, 3), ["embed_dim 10", "num_heads 3"]),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=True)(
        mdl.zeros(2, 3, 8), mdl.zeros(2, 4, 8), mdl.zeros(2, 4, 8),
        key_padding_mask=np.ones((2, 3), bool)), ["key_padding_mask", "(2, 4)", "(2, 3)"]),
    (lambda: nn.MultiheadAttention(8, 2)(mdl.zeros(2, 3, 6), mdl.zeros(2, 4, 8),
                                         mdl.zeros(2, 4, 8)), ["query", "(L, N, 8)", "(2, 3, 6)"]),
])
def test_multihead_attention_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)


# ----------------------------------------------------------------------------
# transformer encoder
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_pytorch_in_eval_mode(norm_first, activation):
    torch = require("torch")
    torch.manual_seed(0)
    kwargs = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1, activation=activation,
                  batch_first=True, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoderLayer(**kwargs).double().eval()
    with torch.no_grad():
        for p in (theirs.norm1.weight, theirs.norm2.bias, theirs.self_attn.in_proj_bias):
            p.uniform_(-0.5, 1.5)
    ours = nn.TransformerEncoderLayer(**kwargs).double().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rand(2, 4, 8)
    for padding in (None, ~PADDING):
        out = ours(mdl.tensor(x), src_key_padding_mask=padding)
        expected = theirs(torch.tensor(x), src_key_padding_mask=None if padding is None
                          else torch.tensor(padding))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)


def test_encoder_layer_submodules_are_pytorchs():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [n for n, _ in layer.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"]


def test_encoder_copies_a_layer_or_calls_a_factory():
    mdl.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    copied = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(8))
    w0, w1 = (copied.layers[i].linear1.weight for i in range(2))
    np.testing.assert_array_equal(w0.numpy(), w1.numpy())  # same start, as in PyTorch
    assert w0 is not w1 and w0 is not layer.linear1.weight  # but separate parameters
    fresh = nn.TransformerEncoder(lambda: nn.TransformerEncoderLayer(8, 2, 16), num_layers=2)
    assert not np.allclose(fresh.layers[0].linear1.weight.numpy(),
                           fresh.layers[1].linear1.weight.numpy())
    assert len(list(copied.parameters())) == 2 * len(list(layer.parameters())) + 2
    out = copied(mdl.randn(2, 5, 8), src_key_padding_mask=np.zeros((2, 5), bool))
    assert out.shape == (2, 5, 8)


# ----------------------------------------------------------------------------
# positions
# ----------------------------------------------------------------------------
def test_sinusoidal_table():
    table = sinusoidal_positions(50, 6)
    pos, i = 7, 2  # columns 2i and 2i+1 share the frequency 1 / 10000^(2i/d)
    np.testing.assert_allclose(table[pos, 2 * i], np.sin(pos / 10000 ** (2 * i / 6)), rtol=1e-12)
    np.testing.assert_allclose(table[pos, 2 * i + 1], np.cos(pos / 10000 ** (2 * i / 6)),
                               rtol=1e-12)
    np.testing.assert_array_equal(table[0], [0, 1, 0, 1, 0, 1])
    assert sinusoidal_positions(4, 5).shape == (4, 5)  # odd width: one sine column more


def test_positional_encoding_adds_the_table():
    pe = nn.PositionalEncoding(6, max_len=20)
    x = mdl.randn(2, 5, 6, requires_grad=True)
    out = pe(x)
    np.testing.assert_allclose(out.numpy() - x.numpy(), np.broadcast_to(
        sinusoidal_positions(5, 6), (2, 5, 6)), rtol=1e-6, atol=1e-6)
    assert "pe" in pe.state_dict() and not list(pe.parameters())
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 5, 6)))
    with pytest.raises(ValueError, match="PositionalEncoding.*length 21.*max_len=20"):
        pe(mdl.randn(1, 21, 6))


def test_learned_positional_embedding_trains_the_rows_it_used():
    mdl.manual_seed(0)
    emb = nn.LearnedPositionalEmbedding(10, 4)
    x = mdl.randn(3, 6, 4)
    out = emb(x)
    np.testing.assert_allclose(out.numpy(), x.numpy() + emb.weight.numpy()[:6], rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:6], 3.0)
    np.testing.assert_array_equal(emb.weight.grad.numpy()[6:], 0.0)
    assert 0.01 < emb.weight.numpy().std() < 0.04


# ----------------------------------------------------------------------------
# it learns: a one-layer transformer classifier fits a fixed batch
# ----------------------------------------------------------------------------
class TransformerClassifier(nn.Module):
    def __init__(self, vocab, d_model, classes, length):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.positions = nn.LearnedPositionalEmbedding(length, d_model)
        self.encoder = nn.TransformerEncoderLayer(d_model, 2, dim_feedforward=32, dropout=0.0,
                                                  batch_first=True)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):
        h = self.encoder(self.positions(self.embedding(tokens)))
        return self.head(F.mean(h, axis=1))


def test_transformer_classifier_fits_a_batch(token_order_batch):
    """Label: does token 1 come before token 2? Needs the positions, not just the tokens."""
    mdl.manual_seed(0)
    tokens, labels = token_order_batch
    model = TransformerClassifier(10, 16, 2, 8)
    assert fit_batch(model, tokens, labels, lr=0.01, max_steps=300) == 1.0
