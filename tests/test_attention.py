"""Attention and transformers: scaled dot-product attention (masks, gradients, second
derivatives), MultiHeadAttention and TransformerEncoderLayer against PyTorch with the same
weights, positional encodings, and a one-layer transformer that learns."""
import numpy as np
import pytest
from helpers import fit_batch

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from minidl.nn.attention import sinusoidal_positions, unpack_in_proj


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
    out, weights = F.scaled_dot_product_attention(mdl.tensor(q), mdl.tensor(k), mdl.tensor(v))
    expected = softmax_np(q @ k.swapaxes(1, 2) / 2.0)  # sqrt(E) = 2
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), expected @ v, rtol=1e-12)


@pytest.mark.parametrize("mask, is_causal", [
    (None, True),                                  # causal
    (PADDING[:, None, None, :], False),            # padding: (N, 1, 1, S), broadcast over heads
    (np.where(CAUSAL, 0.0, -np.inf), False),       # additive float mask
    (PADDING[:, None, None, :], True),             # both
])
def test_masks_match_pytorch(mask, is_causal):
    torch = pytest.importorskip("torch")
    q, k, v = (rand(2, 3, 4, 5, seed=s) for s in range(3))
    out, weights = F.scaled_dot_product_attention(mdl.tensor(q), mdl.tensor(k), mdl.tensor(v),
                                                  mask=mask, is_causal=is_causal)
    t_mask = None if mask is None else torch.tensor(mask)
    if mask is not None and is_causal:  # PyTorch takes one or the other: merge them
        t_mask, is_causal = t_mask & torch.tensor(CAUSAL), False
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=t_mask, is_causal=is_causal)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy().sum(axis=-1), 1.0, rtol=1e-12)


def test_masked_keys_get_zero_weight():
    q, k, v = (mdl.tensor(rand(2, 4, 3, seed=s)) for s in range(3))
    _, weights = F.scaled_dot_product_attention(q, k, v, mask=PADDING[:, None, :], is_causal=True)
    allowed = PADDING[:, None, :] & CAUSAL
    assert (weights.numpy()[~np.broadcast_to(allowed, (2, 4, 4))] == 0).all()


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = leaf(1, 3, 4), leaf(1, 3, 4, seed=1), leaf(1, 3, 2, seed=2)
    mask = np.array([[True, False, True], [False, False, False], [True, True, True]])
    for m in (mask, np.where(mask, 0.0, -np.inf)):
        out, weights = F.scaled_dot_product_attention(q, k, v, mask=m)
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
        return F.scaled_dot_product_attention(q, k, v, mask=mask, is_causal=is_causal)

    assert mdl.gradcheck(fn, [leaf(2, 2, 4, 3), leaf(2, 2, 4, 3, seed=1), leaf(2, 2, 4, 2, seed=2)])


def test_float_mask_tensor_gets_a_gradient():
    """A learned additive bias (relative positions, ALiBi-style) is differentiable."""
    def fn(q, k, v, bias):
        return F.scaled_dot_product_attention(q, k, v, mask=bias)[0]

    assert mdl.gradcheck(fn, [leaf(2, 3, 2), leaf(2, 4, 2, seed=1), leaf(2, 4, 2, seed=2),
                              leaf(3, 4, seed=3)])


def test_attention_second_derivatives():
    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    assert mdl.gradgradcheck(fn, [leaf(1, 3, 2), leaf(1, 3, 2, seed=1), leaf(1, 3, 2, seed=2)])


def test_attention_dropout():
    mdl.manual_seed(0)
    q, k, v = (mdl.tensor(rand(2, 8, 4, seed=s)) for s in range(3))
    kept, w = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=False)
    plain, _ = F.scaled_dot_product_attention(q, k, v)
    np.testing.assert_array_equal(kept.numpy(), plain.numpy())
    _, dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    zero = dropped.numpy() == 0
    assert 0.3 < zero.mean() < 0.7
    np.testing.assert_allclose(dropped.numpy()[~zero], 2 * w.numpy()[~zero], rtol=1e-6)


@pytest.mark.parametrize("call, words", [
    (lambda: F.scaled_dot_product_attention(mdl.zeros(2, 3, 4), mdl.zeros(2, 5, 3),
                                            mdl.zeros(2, 5, 4)),
     ["scaled_dot_product_attention", "4 features", "3", "(2, 3, 4)", "(2, 5, 3)"]),
    (lambda: F.scaled_dot_product_attention(mdl.zeros(2, 3, 4), mdl.zeros(2, 5, 4),
                                            mdl.zeros(2, 6, 4)), ["5 positions", "6"]),
    (lambda: F.scaled_dot_product_attention(mdl.zeros(2, 3, 4), mdl.zeros(2, 5, 4),
                                            mdl.zeros(2, 5, 4), mask=np.ones((3, 4), bool)),
     ["mask of shape (3, 4)", "(2, 3, 5)"]),
])
def test_attention_errors_are_clear(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


# ----------------------------------------------------------------------------
# MultiHeadAttention
# ----------------------------------------------------------------------------
def torch_mha(embed_dim=8, num_heads=2, **kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, **kwargs).double().eval()
    with torch.no_grad():  # PyTorch starts the biases at 0: make them count
        theirs.in_proj_bias.uniform_(-0.5, 0.5)
        theirs.out_proj.bias.uniform_(-0.5, 0.5)
    ours = nn.MultiHeadAttention(embed_dim, num_heads, **kwargs).double().eval()
    ours.load_state_dict(unpack_in_proj(
        {k: v.detach().numpy() for k, v in theirs.state_dict().items()}))
    return torch, theirs, ours


@pytest.mark.parametrize("masks", ["none", "padding", "attn_bool", "attn_float", "both",
                                   "per_head"])
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
              "per_head": dict(attn_mask=np.repeat(attn[None], 4, axis=0))}[masks]
    out, weights = ours(mdl.tensor(q), mdl.tensor(k), mdl.tensor(v),
                        average_attn_weights=average, **kwargs)
    t_out, t_weights = theirs(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                              average_attn_weights=average,
                              **{n: torch.tensor(m) for n, m in kwargs.items()})
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), t_weights.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def test_multihead_attention_sequence_first_and_self_attention_gradients():
    torch, theirs, ours = torch_mha(batch_first=False)
    x = rand(3, 2, 8)  # (L, N, E)
    x_ours, x_theirs = mdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, w = ours(x_ours, x_ours, x_ours, need_weights=False)
    t_out, _ = theirs(x_theirs, x_theirs, x_theirs, need_weights=False)
    assert w is None and out.shape == (3, 2, 8)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rand(3, 2, 8, seed=4)
    (out * mdl.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, packed in (("weight", theirs.in_proj_weight), ("bias", theirs.in_proj_bias)):
        ours_grad = np.concatenate([getattr(getattr(ours, f"{p}_proj"), name).grad.numpy()
                                    for p in "qkv"])
        np.testing.assert_allclose(ours_grad, packed.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("masks", [dict(is_causal=True),
                                   dict(key_padding_mask=~PADDING[:, :3])])
def test_multihead_attention_gradients(masks):
    mdl.manual_seed(0)
    mha = nn.MultiHeadAttention(4, 2).double()

    def fn(q, k, v):
        return mha(q, k, v, **masks)

    assert mdl.gradcheck(fn, [leaf(2, 3, 4), leaf(2, 3, 4, seed=1), leaf(2, 3, 4, seed=2)])


def test_multihead_attention_init_and_names():
    mha = nn.MultiHeadAttention(16, 4)
    assert [n for n, _ in mha.named_parameters()] == [
        f"{p}_proj.{w}" for p in ("q", "k", "v", "out") for w in ("weight", "bias")]
    bound = np.sqrt(6 / (16 + 48))  # Xavier over the packed (3E, E) matrix, as PyTorch
    packed = np.concatenate([mha.q_proj.weight.numpy(), mha.k_proj.weight.numpy(),
                             mha.v_proj.weight.numpy()])
    assert np.abs(packed).max() <= bound and np.abs(packed).max() > 0.9 * bound
    assert (mha.q_proj.bias.numpy() == 0).all() and (mha.out_proj.bias.numpy() == 0).all()


@pytest.mark.parametrize("call, words", [
    (lambda: nn.MultiHeadAttention(10, 3), ["embed_dim 10", "num_heads 3"]),
    (lambda: nn.MultiHeadAttention(8, 2)(mdl.zeros(2, 3, 8), mdl.zeros(2, 4, 8), mdl.zeros(2, 4, 8),
                                         key_padding_mask=np.ones((2, 3), bool)),
     ["key_padding_mask", "(2, 4)", "(2, 3)"]),
    (lambda: nn.MultiHeadAttention(8, 2)(mdl.zeros(2, 3, 6), mdl.zeros(2, 4, 8),
                                         mdl.zeros(2, 4, 8)), ["query", "(N, T, 8)", "(2, 3, 6)"]),
])
def test_multihead_attention_errors_are_clear(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


# ----------------------------------------------------------------------------
# transformer encoder
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_pytorch_in_eval_mode(norm_first, activation):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    kwargs = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1, activation=activation,
                  batch_first=True, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoderLayer(**kwargs).double().eval()
    with torch.no_grad():
        for p in (theirs.norm1.weight, theirs.norm2.bias, theirs.self_attn.in_proj_bias):
            p.uniform_(-0.5, 1.5)
    ours = nn.TransformerEncoderLayer(**kwargs).double().eval()
    ours.load_state_dict(unpack_in_proj(
        {k: v.detach().numpy() for k, v in theirs.state_dict().items()}))
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
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
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
        self.encoder = nn.TransformerEncoderLayer(d_model, 2, dim_feedforward=32, dropout=0.0)
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
