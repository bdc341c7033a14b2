"""Each Keras layer of minidl.keras against the minidl module it is built from, with the
weights transposed as Keras stores them, and against Keras's own definition (its cell
equations, its padding rule, its initializers and parameter counts, written out here in
NumPy from the Keras documentation)."""
import math

import numpy as np
import pytest

import minidl as mdl
from minidl import nn
from minidl.keras import layers
from minidl.keras.utils import set_random_seed

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def run_with_gradient(function, x, cotangent):
    """function(x) and d<function(x), cotangent>/dx."""
    xt = mdl.tensor(x, requires_grad=True)
    out = function(xt)
    (out * mdl.tensor(cotangent)).sum().backward()
    return out.numpy(), xt.grad.numpy()


def assert_same_layer(keras_layer, module, x, rtol=1e-5, atol=1e-5):
    """The same outputs, and the same input gradient under a random cotangent."""
    ours = keras_layer(mdl.tensor(x)).numpy()
    theirs = module(mdl.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
    g = randn(*ours.shape)
    _, ours_grad = run_with_gradient(keras_layer, x, g)
    _, their_grad = run_with_gradient(module, x, g)
    np.testing.assert_allclose(ours_grad, their_grad, rtol=rtol, atol=atol)


def set_module(module, **arrays):
    with mdl.no_grad():
        for name, value in arrays.items():
            getattr(module, name).data[...] = value


# ---------------------------------------------------------------------------- Dense
def test_dense_is_nn_linear_with_the_kernel_transposed():
    layer = layers.Dense(3)
    layer(randn(2, 4))
    kernel, bias = randn(4, 3), randn(3)
    layer.set_weights([kernel, bias])
    np.testing.assert_array_equal(layer.linear.weight.numpy(), kernel.T)   # stored (out, in)
    linear = nn.Linear(4, 3)
    set_module(linear, weight=kernel.T, bias=bias)
    assert_same_layer(layer, linear, randn(5, 4))
    x = randn(5, 4)
    np.testing.assert_allclose(layer(x).numpy(), x @ kernel + bias, rtol=1e-5)  # Keras's formula


def test_dense_applies_its_activation_on_the_last_axis():
    layer = layers.Dense(3, activation="relu", use_bias=False)
    x = randn(2, 5, 4)
    out = layer(x).numpy()
    (kernel,) = layer.get_weights()
    np.testing.assert_allclose(out, np.maximum(x @ kernel, 0), rtol=1e-5, atol=1e-6)
    assert layer.count_params() == 4 * 3


def test_dense_initialization_is_glorot_uniform_and_zero_bias():
    set_random_seed(0)
    layer = layers.Dense(300)
    layer(randn(1, 200))
    kernel, bias = layer.get_weights()
    limit = math.sqrt(6 / (200 + 300))            # Keras: glorot_uniform, fan_in + fan_out
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.99 * limit
    assert kernel.var() == pytest.approx(limit ** 2 / 3, rel=0.05)
    np.testing.assert_array_equal(bias, 0)


def test_dense_refuses_an_input_of_another_width():
    layer = layers.Dense(3)
    layer(randn(2, 4))
    with pytest.raises(ValueError, match=r'"dense.*" is incompatible.*axis -1.*4.*\(None, 5\)'):
        layer(randn(2, 5))


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_dense_needs_positive_units(bad):
    with pytest.raises(ValueError, match="units"):
        layers.Dense(bad)


def test_unknown_strings_and_arguments_are_errors():
    with pytest.raises(ValueError, match="Unknown activation function: 'relux'"):
        layers.Dense(3, activation="relux")
    with pytest.raises(TypeError, match="not understood.*kernel_size"):
        layers.Dense(3, kernel_size=2)
    with pytest.raises(ValueError, match="Unknown initializer"):
        layers.Dense(3, kernel_initializer="glorot")(randn(1, 2))


# ---------------------------------------------------------------------------- Embedding
def test_embedding_is_nn_embedding_and_masks_zero():
    layer = layers.Embedding(10, 4, mask_zero=True)
    tokens = np.array([[0, 3, 9], [5, 0, 0]])
    out = layer(tokens)
    table = layer.get_weights()[0]
    np.testing.assert_array_equal(out.numpy(), table[tokens])
    np.testing.assert_array_equal(out._keras_mask.numpy(), tokens != 0)
    assert np.abs(table).max() <= 0.05             # Keras: 'uniform' = U(-0.05, 0.05)
    assert layer.count_params() == 10 * 4


def test_embedding_names_an_index_out_of_range():
    layer = layers.Embedding(10, 4)
    with pytest.raises(ValueError, match="index 12 is not in \\[0, 10\\)"):
        layer(np.array([[1, 12]]))


# ---------------------------------------------------------------------------- recurrent
def keras_simple_rnn(x, kernel, recurrent, bias):
    """Keras's SimpleRNN cell: h = tanh(x kernel + h recurrent + bias)."""
    h, outputs = np.zeros((x.shape[0], kernel.shape[1])), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        outputs.append(h)
    return np.stack(outputs, 1), [h]


def keras_lstm(x, kernel, recurrent, bias):
    """Keras's LSTM cell, gates i, f, c, o: c = f c + i tanh(z_c), h = o tanh(c)."""
    units = recurrent.shape[0]
    h = c = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), [h, c]


def keras_gru(x, kernel, recurrent, bias):
    """Keras's GRU cell with reset_after=True, gates z, r, h, bias (input, recurrent):
    hh = tanh(x_h + r (h U_h + b_h)), h = z h + (1 - z) hh."""
    units = recurrent.shape[0]
    h, outputs = np.zeros((x.shape[0], units)), []
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
        rz, rr, rh = np.split(h @ recurrent + bias[1], 3, axis=1)
        z, r = sigmoid(xz + rz), sigmoid(xr + rr)
        h = z * h + (1 - z) * np.tanh(xh + r * rh)
        outputs.append(h)
    return np.stack(outputs, 1), [h]


RECURRENT = [(layers.SimpleRNN, keras_simple_rnn, 1), (layers.LSTM, keras_lstm, 4),
             (layers.GRU, keras_gru, 3)]


def random_keras_weights(layer):
    weights = [randn(*w.shape) * 0.5 for w in layer.weights]
    layer.set_weights(weights)
    return weights


@pytest.mark.parametrize("cls, reference, gates", RECURRENT)
def test_recurrent_layers_follow_keras_equations(cls, reference, gates):
    x = randn(3, 5, 4)
    layer = cls(6, return_sequences=True, return_state=True)
    layer(x)
    weights = random_keras_weights(layer)
    sequence, states = reference(x.astype(np.float64), *weights)
    out = layer(x)
    np.testing.assert_allclose(out[0].numpy(), sequence, rtol=1e-4, atol=1e-5)
    for ours, theirs in zip(out[1:], states):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-4, atol=1e-5)
    # the steps written out (taken with a mask) compute the same as the module
    everything = mdl.tensor(np.ones((3, 5), dtype=bool))
    np.testing.assert_allclose(layer(x, mask=everything)[0].numpy(), sequence, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("cls, reference, gates", RECURRENT)
def test_recurrent_layers_are_their_nn_module_transposed(cls, reference, gates):
    x = randn(3, 5, 4)
    layer = cls(6, return_sequences=True)
    layer(x)
    kernel, recurrent, bias = random_keras_weights(layer)
    module = {layers.SimpleRNN: nn.RNN, layers.LSTM: nn.LSTM, layers.GRU: nn.GRU}[cls](
        4, 6, batch_first=True)
    if cls is layers.GRU:   # Keras's gates z, r, h are PyTorch's r, z, n
        order = lambda a: np.concatenate([a[..., 6:12], a[..., :6], a[..., 12:]], -1)  # noqa: E731
        set_module(module, weight_ih_l0=order(kernel).T, weight_hh_l0=order(recurrent).T,
                   bias_ih_l0=order(bias[0]), bias_hh_l0=order(bias[1]))
    else:                   # one bias: PyTorch's second is zero
        set_module(module, weight_ih_l0=kernel.T, weight_hh_l0=recurrent.T, bias_ih_l0=bias,
                   bias_hh_l0=np.zeros_like(bias))
    assert_same_layer(layer, lambda t: module(t)[0], x, rtol=1e-4, atol=1e-5)


def test_lstm_with_other_activations_runs_the_keras_equations():
    x = randn(2, 4, 3)
    layer = layers.LSTM(5, activation="relu", recurrent_activation="tanh",
                        return_sequences=True)
    layer(x)
    kernel, recurrent, bias = random_keras_weights(layer)
    h = c = np.zeros((2, 5))
    for t in range(4):
        i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent + bias, 4, axis=1)
        c = np.tanh(f) * c + np.tanh(i) * np.maximum(g, 0)
        h = np.tanh(o) * np.maximum(c, 0)
    np.testing.assert_allclose(layer(x).numpy()[:, -1], h, rtol=1e-4, atol=1e-5)


def test_keras_gru_is_torch_gru_with_the_gates_reordered():
    torch = pytest.importorskip("torch")
    x = randn(3, 6, 4)
    layer = layers.GRU(5, return_sequences=True)
    layer(x)
    kernel, recurrent, bias = random_keras_weights(layer)
    gru = torch.nn.GRU(4, 5, batch_first=True)
    order = lambda a: np.concatenate([a[..., 5:10], a[..., :5], a[..., 10:]], -1)  # noqa: E731
    with torch.no_grad():
        for name, value in (("weight_ih_l0", order(kernel).T), ("weight_hh_l0", order(recurrent).T),
                            ("bias_ih_l0", order(bias[0])), ("bias_hh_l0", order(bias[1]))):
            getattr(gru, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        expected = gru(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls, units, expected", [
    (layers.SimpleRNN, 6, 6 * (4 + 6 + 1)),             # units (features + units + 1)
    (layers.LSTM, 6, 4 * 6 * (4 + 6 + 1)),              # 4 gates, one bias each
    (layers.GRU, 6, 3 * 6 * (4 + 6 + 2)),               # 3 gates, reset_after: 2 biases
])
def test_recurrent_parameter_counts_are_keras(cls, units, expected):
    layer = cls(units)
    layer(randn(2, 3, 4))
    assert layer.count_params() == expected == sum(p.numel() for p in layer.parameters())


def test_recurrent_initialization_is_keras():
    set_random_seed(0)
    layer = layers.LSTM(8)
    layer(randn(2, 3, 5))
    kernel, recurrent, bias = layer.get_weights()
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)  # orthogonal
    assert np.abs(kernel).max() <= math.sqrt(6 / (5 + 32))                    # glorot
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])


def test_a_masked_step_keeps_the_state():
    set_random_seed(0)
    lstm = layers.LSTM(5, return_sequences=True)
    words = randn(2, 3, 4)
    padded = np.concatenate([np.zeros((2, 2, 4), np.float32), words], axis=1)   # "pre"
    keep = mdl.tensor(np.r_[[False, False], [True] * 3][None].repeat(2, 0))
    out = lstm(padded, mask=keep).numpy()
    np.testing.assert_allclose(out[:, 2:], lstm(words).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out[:, :2], 0)       # outputs before: the initial state
    post = np.concatenate([words, randn(2, 2, 4)], axis=1)
    keep_post = mdl.tensor(np.r_[[True] * 3, [False, False]][None].repeat(2, 0))
    out = lstm(post, mask=keep_post).numpy()
    np.testing.assert_allclose(out[:, 3], out[:, 2])   # a masked step repeats the last output


def test_embedding_mask_reaches_the_lstm():
    set_random_seed(0)
    tokens = np.array([[0, 0, 3, 4], [1, 2, 3, 4]])
    embedding, lstm = layers.Embedding(6, 3, mask_zero=True), layers.LSTM(5)
    last = lstm(embedding(tokens)).numpy()
    alone = lstm(embedding(tokens[:1, 2:])).numpy()
    np.testing.assert_allclose(last[0], alone[0], rtol=1e-5, atol=1e-6)


def test_recurrent_dropout_is_drawn_in_training_only():
    set_random_seed(0)
    layer = layers.GRU(5, dropout=0.3, recurrent_dropout=0.3)
    x = randn(4, 3, 2)
    plain = layer(x).numpy()
    assert not np.allclose(layer(x, training=True).numpy(), plain)
    layer_without = layers.GRU(5)
    layer_without(x)
    layer_without.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer_without(x).numpy(), plain, rtol=1e-6)


def test_go_backwards_reads_the_sequence_reversed():
    set_random_seed(0)
    x = randn(2, 5, 3)
    backwards, forwards = layers.SimpleRNN(4, go_backwards=True), layers.SimpleRNN(4)
    backwards(x)
    forwards(x)
    forwards.set_weights(backwards.get_weights())
    np.testing.assert_allclose(backwards(x).numpy(), forwards(x[:, ::-1].copy()).numpy(),
                               rtol=1e-5)


def test_return_state_and_initial_state():
    set_random_seed(0)
    x = randn(2, 5, 3)
    lstm = layers.LSTM(4, return_state=True)
    out, h, c = lstm(x)
    np.testing.assert_allclose(out.numpy(), h.numpy())
    _, h2, c2 = lstm(x[:, :2])                       # two steps, then the other three
    continued = lstm(x[:, 2:], initial_state=[h2, c2])[0]
    np.testing.assert_allclose(continued.numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="initial_state"):
        lstm(x, initial_state=[h])


def test_recurrent_layers_want_three_dimensions():
    layer = layers.LSTM(3)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(randn(4, 5))


# ---------------------------------------------------------------------------- convolution
def keras_conv2d(x, kernel, bias, stride, padding):
    """Cross-correlation on (N, H, W, C) with kernel (kh, kw, C, O). padding "same" is
    TensorFlow's: ceil(size / stride) outputs, the padding split with the odd one after."""
    kh, kw = kernel.shape[:2]
    pads = []
    for size, k in zip(x.shape[1:3], (kh, kw)):
        out = -(-size // stride) if padding == "same" else (size - k) // stride + 1
        total = max((out - 1) * stride + k - size, 0) if padding == "same" else 0
        pads.append((total // 2, total - total // 2))
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    rows = (x.shape[1] - kh) // stride + 1
    cols = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], rows, cols, kernel.shape[3]))
    for i in range(rows):
        for j in range(cols):
            window = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = np.tensordot(window, kernel, axes=3)
    return out + bias


@pytest.mark.parametrize("stride, padding", [(1, "valid"), (1, "same"), (2, "same"),
                                             (2, "valid")])
def test_conv2d_is_keras_channels_last_convolution(stride, padding):
    x = randn(2, 7, 6, 3)
    layer = layers.Conv2D(4, (3, 2), strides=stride, padding=padding)
    layer(x)
    kernel, bias = random_keras_weights(layer)
    expected = keras_conv2d(x, kernel, bias, stride, padding)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert layer.count_params() == (3 * 2 * 3 + 1) * 4


def test_conv2d_is_nn_conv2d_with_the_kernel_permuted():
    x = randn(2, 6, 6, 3)
    layer = layers.Conv2D(4, 3, padding="same")
    layer(x)
    kernel, bias = random_keras_weights(layer)
    conv = nn.Conv2d(3, 4, 3, padding="same")
    set_module(conv, weight=kernel.transpose(3, 2, 0, 1), bias=bias)
    assert_same_layer(layer, lambda t: conv(t.permute(0, 3, 1, 2)).permute(0, 2, 3, 1), x,
                      rtol=1e-4)


def test_conv1d_causal_sees_only_the_past():
    layer = layers.Conv1D(2, 3, padding="causal")
    x = randn(1, 6, 2)
    before = layer(x).numpy()
    x[0, 4:] += 1.0
    after = layer(x).numpy()
    assert before.shape == (1, 6, 2)
    np.testing.assert_array_equal(before[0, :4], after[0, :4])


def test_conv2d_wants_four_dimensions_and_known_channels():
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        layers.Conv2D(2, 3)(randn(2, 5, 5))
    with pytest.raises(ValueError, match="padding"):
        layers.Conv2D(2, 3, padding="causal")


# ---------------------------------------------------------------------------- pooling
def numpy_pool(x, size, stride, padding, reduce):
    pads = []
    for length in x.shape[1:3]:
        out = -(-length // stride) if padding == "same" else (length - size) // stride + 1
        total = max((out - 1) * stride + size - length, 0) if padding == "same" else 0
        pads.append((total // 2, total - total // 2))
    padded = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=np.nan)
    rows = (padded.shape[1] - size) // stride + 1
    cols = (padded.shape[2] - size) // stride + 1
    out = np.zeros((x.shape[0], rows, cols, x.shape[3]))
    for i in range(rows):
        for j in range(cols):
            window = padded[:, i * stride:i * stride + size, j * stride:j * stride + size]
            out[:, i, j] = reduce(window, axis=(1, 2))   # nan: the padding, ignored
    return out


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("cls, reduce", [(layers.MaxPooling2D, np.nanmax),
                                         (layers.AveragePooling2D, np.nanmean)])
def test_pooling_2d_is_keras(cls, reduce, padding):
    x = randn(2, 5, 7, 3)
    expected = numpy_pool(x, 2, 2, padding, reduce)
    np.testing.assert_allclose(cls(padding=padding)(x).numpy(), expected, rtol=1e-5)


def test_pooling_1d_and_global_pooling():
    x = randn(2, 6, 3)
    np.testing.assert_allclose(layers.MaxPooling1D()(x).numpy(),
                               x.reshape(2, 3, 2, 3).max(2), rtol=1e-6)
    np.testing.assert_allclose(layers.AveragePooling1D(3)(x).numpy(),
                               x.reshape(2, 2, 3, 3).mean(2), rtol=1e-5)
    np.testing.assert_allclose(layers.GlobalMaxPooling1D()(x).numpy(), x.max(1))
    np.testing.assert_allclose(layers.GlobalAveragePooling1D()(x).numpy(), x.mean(1),
                               rtol=1e-5)
    keep = np.array([[True] * 4 + [False] * 2, [True] * 6])
    masked = layers.GlobalAveragePooling1D()(x, mask=mdl.tensor(keep)).numpy()
    np.testing.assert_allclose(masked[0], x[0, :4].mean(0), rtol=1e-5)


# ---------------------------------------------------------------------------- normalization
def test_batch_normalization_is_keras():
    layer = layers.BatchNormalization()
    x = randn(8, 3, 4) * 2 + 1
    gamma, beta = randn(4), randn(4)
    layer(x)
    layer.set_weights([gamma, beta, np.zeros(4), np.ones(4)])
    rows = x.reshape(-1, 4)
    mean, var = rows.mean(0), rows.var(0)           # biased: Keras's batch variance
    out = layer(x, training=True).numpy()
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3) * gamma + beta,
                               rtol=1e-4, atol=1e-5)
    _, _, moving_mean, moving_var = layer.get_weights()
    np.testing.assert_allclose(moving_mean, 0.01 * mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(moving_var, 0.99 + 0.01 * var, rtol=1e-5)
    # inference: nn.BatchNorm1d in eval mode with the same four weights
    norm = nn.BatchNorm1d(4, eps=1e-3)
    set_module(norm, weight=gamma, bias=beta, running_mean=moving_mean, running_var=moving_var)
    norm.eval()
    assert_same_layer(layer, lambda t: norm(t.reshape(-1, 4)).reshape(8, 3, 4), x, rtol=1e-4)
    assert layer.count_params() == 4 * 4
    assert [w.trainable for w in layer.weights] == [True, True, False, False]


def test_layer_normalization_is_nn_layer_norm_with_keras_epsilon():
    layer = layers.LayerNormalization()
    x = randn(3, 5, 6)
    layer(x)
    gamma, beta = randn(6), randn(6)
    layer.set_weights([gamma, beta])
    norm = nn.LayerNorm(6, eps=1e-3)
    set_module(norm, weight=gamma, bias=beta)
    assert_same_layer(layer, norm, x, rtol=1e-4)


# ---------------------------------------------------------------------------- attention
def test_multi_head_attention_is_nn_multihead_attention():
    embed, heads = 8, 2
    q, kv = randn(2, 5, embed), randn(2, 4, embed)
    layer = layers.MultiHeadAttention(num_heads=heads, key_dim=embed // heads)
    layer(q, kv)
    weights = random_keras_weights(layer)
    mha = nn.MultiheadAttention(embed, heads, batch_first=True)
    stacked = [w.reshape(embed, embed).T for w in weights[0:6:2]]     # (E, h, d) -> (E, E).T
    set_module(mha, in_proj_weight=np.concatenate(stacked),
               in_proj_bias=np.concatenate([b.reshape(-1) for b in weights[1:6:2]]))
    set_module(mha.out_proj, weight=weights[6].reshape(embed, embed).T, bias=weights[7])
    expected, expected_weights = mha(mdl.tensor(q), mdl.tensor(kv), mdl.tensor(kv),
                                     average_attn_weights=False)
    out, scores = layer(q, kv, return_attention_scores=True)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), expected_weights.numpy(), rtol=1e-4, atol=1e-6)
    # Keras's attention_mask says where attention is ALLOWED (nn's attn_mask: where not)
    allowed = RNG.random((2, 5, 4)) > 0.3
    allowed[..., 0] = True
    masked = layer(q, kv, attention_mask=allowed).numpy()
    blocked = mdl.tensor(np.repeat(~allowed, heads, axis=0))
    np.testing.assert_allclose(masked, mha(mdl.tensor(q), mdl.tensor(kv), mdl.tensor(kv),
                                           attn_mask=blocked)[0].numpy(), rtol=1e-4, atol=1e-5)


def test_multi_head_attention_parameter_count_and_causal_mask():
    # Keras's example: num_heads=2, key_dim=embed_dim: each projection embed x (2 * embed)
    embed, heads = 6, 2
    layer = layers.MultiHeadAttention(num_heads=heads, key_dim=embed)
    x = randn(2, 5, embed)
    out = layer(x, x, use_causal_mask=True).numpy()
    assert layer.count_params() == 3 * (embed * heads * embed + heads * embed) + \
        heads * embed * embed + embed
    changed = x.copy()
    changed[:, 3:] += 1.0
    np.testing.assert_allclose(layer(changed, changed, use_causal_mask=True).numpy()[:, :3],
                               out[:, :3], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- the rest
def test_dropout_in_training_only():
    set_random_seed(0)
    x = np.ones((100, 100), np.float32)
    layer = layers.Dropout(0.25)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    dropped = layer(x, training=True).numpy()
    assert set(np.unique(dropped)) == {0.0, np.float32(1 / 0.75)}
    assert np.mean(dropped == 0) == pytest.approx(0.25, abs=0.02)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)


def test_merges_and_their_shape_errors():
    a, b = randn(2, 3), randn(2, 3)
    np.testing.assert_allclose(layers.Add()([a, b]).numpy(), a + b)
    np.testing.assert_allclose(layers.Average()([a, b]).numpy(), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(layers.Concatenate()([a, randn(2, 1)]).numpy()[:, :3], a)
    with pytest.raises(ValueError, match=r"incompatible shapes.*\(None, 3\).*\(None, 4\)"):
        layers.Add()([a, randn(2, 4)])
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate(axis=1)([randn(2, 3, 4), randn(2, 3, 5)])
    with pytest.raises(ValueError, match="list of at least 2 inputs"):
        layers.Add()([a])


def test_flatten_reshape_activation_softmax():
    x = randn(2, 3, 4)
    assert layers.Flatten()(x).shape == (2, 12)
    assert layers.Reshape((4, 3))(x).shape == (2, 4, 3)
    np.testing.assert_allclose(layers.Activation("tanh")(x).numpy(), np.tanh(x), rtol=1e-6)
    soft = layers.Softmax()(x).numpy()
    np.testing.assert_allclose(soft, np.exp(x) / np.exp(x).sum(-1, keepdims=True), rtol=1e-5)


def test_frozen_layers_have_no_trainable_weights():
    layer = layers.Dense(3, trainable=False)
    layer(randn(1, 2))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert not any(p.requires_grad for p in layer.parameters())
    layer.trainable = True
    assert all(p.requires_grad for p in layer.parameters())


def test_custom_layers_add_weights():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(name="scale", shape=(input_shape[-1],),
                                         initializer="ones")

        def call(self, inputs):
            return inputs * self.scale

    layer = Scale()
    x = randn(2, 3)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    assert [w.name for w in layer.weights] == ["scale"] and layer.count_params() == 3
