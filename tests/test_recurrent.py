"""Recurrent layers: gradients by finite differences (float64), second derivatives, the fused
LSTM and GRU ops against the plain layers built from ordinary ops, the same numbers as PyTorch
with the same weights, a 1,000-step backward, and an LSTM that learns."""
import numpy as np
import pytest
from helpers import fit_batch

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from minidl.functional.recurrent import gru_sequence, lstm_sequence
from minidl.nn import recurrent


def rand(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape) * scale


def leaf(*shape, seed=0, scale=1.0):
    return mdl.tensor(rand(*shape, seed=seed, scale=scale), requires_grad=True)


def layer_weights(gates, features, hidden, seed=10):
    """float64 (w_ih, w_hh, b_ih, b_hh) of one layer, small enough to keep tanh unsaturated."""
    return (mdl.tensor(rand(gates * hidden, features, seed=seed, scale=0.5)),
            mdl.tensor(rand(gates * hidden, hidden, seed=seed + 1, scale=0.5)),
            mdl.tensor(rand(gates * hidden, seed=seed + 2, scale=0.5)),
            mdl.tensor(rand(gates * hidden, seed=seed + 3, scale=0.5)))


# ----------------------------------------------------------------------------
# gradients: 3 steps, with an initial state, with respect to input, state and a weight
# ----------------------------------------------------------------------------
def test_lstm_gradients_wrt_input_initial_state_and_weights():
    w_ih, w_hh, b_ih, b_hh = layer_weights(4, 3, 4)

    def fn(x, h0, c0, w_hh, b_ih):
        out, (h, c) = recurrent.lstm_layer(x, (h0, c0), w_ih, w_hh, b_ih, b_hh)
        return out, h, c

    w_hh.requires_grad = b_ih.requires_grad = True
    assert mdl.gradcheck(fn, [leaf(2, 3, 3), leaf(2, 4, seed=1), leaf(2, 4, seed=2), w_hh, b_ih])


def test_gru_gradients_wrt_input_initial_state_and_weights():
    w_ih, w_hh, b_ih, b_hh = layer_weights(3, 3, 4)

    def fn(x, h0, w_ih, b_hh):
        return recurrent.gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh)

    w_ih.requires_grad = b_hh.requires_grad = True
    assert mdl.gradcheck(fn, [leaf(2, 3, 3), leaf(2, 4, seed=1), w_ih, b_hh])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_gradients(nonlinearity):
    w_ih, w_hh, b_ih, b_hh = layer_weights(1, 3, 4)

    def fn(x, h0, w_hh):
        return recurrent.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity)

    w_hh.requires_grad = True
    assert mdl.gradcheck(fn, [leaf(2, 3, 3), leaf(2, 4, seed=1), w_hh])


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_two_layer_module_gradients(cls):
    """The module wiring: layer 2 reads layer 1's outputs, h_n stacks both layers."""
    mdl.manual_seed(0)
    layer = cls(3, 4, num_layers=2).double()
    states = 2 if cls is nn.LSTM else 1

    def fn(x, *state):
        out, last = layer(x, tuple(state) if states == 2 else state[0])
        return (out,) + (tuple(last) if states == 2 else (last,))

    state = [leaf(2, 2, 4, seed=s) for s in range(1, states + 1)]
    assert mdl.gradcheck(fn, [leaf(2, 3, 3)] + state)


def test_rnn_second_derivatives():
    w_ih, w_hh, b_ih, b_hh = layer_weights(1, 2, 3)

    def fn(x, h0, w_hh):
        return recurrent.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh)

    w_hh.requires_grad = True
    assert mdl.gradgradcheck(fn, [leaf(2, 2, 2), leaf(2, 3, seed=1), w_hh])


def test_cells_gradients():
    w_ih, w_hh, b_ih, b_hh = layer_weights(4, 3, 2)
    assert mdl.gradcheck(lambda x, h, c: recurrent.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh),
                         [leaf(2, 3), leaf(2, 2, seed=1), leaf(2, 2, seed=2)])
    w_ih, w_hh, b_ih, b_hh = layer_weights(3, 3, 2)
    assert mdl.gradcheck(lambda x, h: recurrent.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh),
                         [leaf(2, 3), leaf(2, 2, seed=1)])


# ----------------------------------------------------------------------------
# the fused ops (minidl.functional.recurrent): first and second derivatives
# ----------------------------------------------------------------------------
def test_lstm_sequence_gradients():
    """With respect to every input, through both outputs (h and c of every step)."""
    assert mdl.gradcheck(lstm_sequence, [leaf(2, 4, 12), leaf(12, 3, seed=1, scale=0.5),
                                         leaf(2, 3, seed=2), leaf(2, 3, seed=3)])


def test_lstm_sequence_second_derivatives():
    assert mdl.gradgradcheck(lstm_sequence, [leaf(2, 3, 8), leaf(8, 2, seed=1, scale=0.5),
                                             leaf(2, 2, seed=2), leaf(2, 2, seed=3)])


@pytest.mark.parametrize("bias", [True, False])
def test_gru_sequence_gradients(bias):
    b_hh = [leaf(9, seed=3)] if bias else []
    fn = (lambda xw, w_hh, h0, b_hh: gru_sequence(xw, w_hh, b_hh, h0)) if bias else \
        (lambda xw, w_hh, h0: gru_sequence(xw, w_hh, None, h0))
    assert mdl.gradcheck(fn, [leaf(2, 4, 9), leaf(9, 3, seed=1, scale=0.5), leaf(2, 3, seed=2)]
                         + b_hh)


def test_gru_sequence_second_derivatives():
    fn = lambda xw, w_hh, b_hh, h0: gru_sequence(xw, w_hh, b_hh, h0)  # noqa: E731
    assert mdl.gradgradcheck(fn, [leaf(2, 3, 6), leaf(6, 2, seed=1, scale=0.5), leaf(6, seed=2),
                                  leaf(2, 2, seed=3)])


def fused_and_reference(kind):
    """(fused layer, plain layer, their inputs): x (N, T, F), the initial state and the 4
    weights, all requiring grad. Both layers are functions of these tensors returning a
    flat tuple: (every step's h, then the final state)."""
    gates, states = {"lstm": (4, 2), "gru": (3, 1)}[kind]
    weights = layer_weights(gates, 4, 3)
    for w in weights:
        w.requires_grad = True
    inputs = [leaf(3, 5, 4)] + [leaf(3, 3, seed=s) for s in range(1, states + 1)] + list(weights)
    fused, plain = {"lstm": (recurrent.lstm_layer, recurrent.lstm_layer_reference),
                    "gru": (recurrent.gru_layer, recurrent.gru_layer_reference)}[kind]
    return as_function(fused, states), as_function(plain, states), inputs


def as_function(layer, states):
    """layer(x, state, *weights) as a function of flat tensors, returning a flat tuple."""
    def fn(x, *args):
        state = tuple(args[:states]) if states == 2 else args[0]
        out, last = layer(x, state, *args[states:])
        return (out,) + (tuple(last) if states == 2 else (last,))
    return fn


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_layer_equals_the_plain_one(kind):
    """Outputs, gradients of every input and weight, and a Hessian-vector product."""
    fused, plain, inputs = fused_and_reference(kind)
    results = []
    for layer in (fused, plain):
        outputs = layer(*inputs)
        loss = sum((y * mdl.tensor(rand(*y.shape, seed=k))).sum() for k, y in enumerate(outputs))
        grads = mdl.grad(loss, inputs, create_graph=True)
        # the second derivative along a fixed direction v: d/dinputs of sum(grads * v)
        hvp = mdl.grad(sum((g * mdl.tensor(rand(*g.shape, seed=20 + k))).sum()
                           for k, g in enumerate(grads)), inputs)
        results.append([y.numpy() for y in outputs + grads + hvp])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_backward_is_the_same_with_and_without_create_graph(kind):
    """Without create_graph backward uses what forward saved; with it, it recomputes."""
    fused, _, inputs = fused_and_reference(kind)
    grads = []
    for create_graph in (False, True):
        outputs = fused(*inputs)
        loss = sum((y * mdl.tensor(rand(*y.shape, seed=k))).sum() for k, y in enumerate(outputs))
        grads.append([g.numpy() for g in mdl.grad(loss, inputs, create_graph=create_graph)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_layer_under_no_grad(kind):
    """No graph, nothing saved for a backward, and the same outputs."""
    fused, _, inputs = fused_and_reference(kind)
    expected = [y.numpy() for y in fused(*inputs)]
    with mdl.no_grad():
        outputs = fused(*inputs)
    assert not any(y.requires_grad for y in outputs)
    for y, e in zip(outputs, expected):
        np.testing.assert_array_equal(y.numpy(), e)


def test_one_step_sequences():
    for kind in ("lstm", "gru"):
        fused, plain, inputs = fused_and_reference(kind)
        inputs[0] = leaf(3, 1, 4)
        for a, b in zip(fused(*inputs), plain(*inputs)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
        assert mdl.gradcheck(fused, inputs)


@pytest.mark.parametrize("call, words", [
    (lambda: lstm_sequence(mdl.zeros(2, 3, 8), mdl.zeros(8, 3), mdl.zeros(2, 3), mdl.zeros(2, 3)),
     ["lstm_sequence", "w_hh", "(4*H, H)", "(8, 3)"]),
    (lambda: lstm_sequence(mdl.zeros(2, 3, 12), mdl.zeros(8, 2), mdl.zeros(2, 2), mdl.zeros(2, 2)),
     ["lstm_sequence", "xw", "(N, T, 8)", "(2, 3, 12)"]),
    (lambda: lstm_sequence(mdl.zeros(2, 0, 8), mdl.zeros(8, 2), mdl.zeros(2, 2), mdl.zeros(2, 2)),
     ["lstm_sequence", "T > 0", "(2, 0, 8)"]),
    (lambda: gru_sequence(mdl.zeros(2, 3, 6), mdl.zeros(6, 2), None, mdl.zeros(3, 2)),
     ["gru_sequence", "initial state", "(3, 2)", "(2, 2)"]),
    (lambda: gru_sequence(mdl.zeros(2, 3, 6), mdl.zeros(6, 2), mdl.zeros(4), mdl.zeros(2, 2)),
     ["gru_sequence", "b_hh", "(4,)", "(6,)"]),
])
def test_fused_op_errors_are_clear(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


# ----------------------------------------------------------------------------
# the fast sequence loop against the plain one, a step at a time with the cells
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("layer_cls, cell_cls", [(nn.RNN, nn.RNNCell), (nn.LSTM, nn.LSTMCell),
                                                 (nn.GRU, nn.GRUCell)])
def test_layer_equals_its_cell_applied_step_by_step(layer_cls, cell_cls):
    mdl.manual_seed(1)
    layer, cell = layer_cls(3, 5).double(), cell_cls(3, 5).double()
    cell.load_state_dict({name[:-3]: value for name, value in layer.state_dict().items()})
    x = mdl.tensor(rand(2, 6, 3))
    out, last = layer(x)
    state = None
    for t in range(6):
        state = cell(x[:, t], state)
        h = state[0] if layer_cls is nn.LSTM else state
        np.testing.assert_allclose(out.numpy()[:, t], h.numpy(), rtol=1e-12, atol=1e-12)
    h_n = last[0] if layer_cls is nn.LSTM else last
    np.testing.assert_allclose(h_n.numpy()[0], h.numpy(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------
# PyTorch: same weights, same outputs and gradients
# ----------------------------------------------------------------------------
def torch_pair(name, **kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(**kwargs).double()
    ours = getattr(nn, name)(**kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    return torch, theirs, ours


@pytest.mark.parametrize("name, kwargs", [
    ("LSTM", dict(num_layers=2)),
    ("LSTM", dict(bias=False)),
    ("GRU", dict(num_layers=2)),
    ("GRU", dict(batch_first=False)),
    ("GRU", dict(bias=False)),
    ("RNN", dict(num_layers=2)),
    ("RNN", dict(nonlinearity="relu")),
])
def test_layers_match_pytorch(name, kwargs):
    batch_first = kwargs.setdefault("batch_first", True)
    torch, theirs, ours = torch_pair(name, input_size=3, hidden_size=5, **kwargs)
    layers = kwargs.get("num_layers", 1)
    x = rand(2, 4, 3) if batch_first else rand(4, 2, 3)
    h0 = rand(layers, 2, 5, seed=1)
    c0 = rand(layers, 2, 5, seed=2)
    initial = (h0, c0) if name == "LSTM" else h0

    x_ours = mdl.tensor(x, requires_grad=True)
    out, last = ours(x_ours, tuple(map(mdl.tensor, initial)) if name == "LSTM"
                     else mdl.tensor(initial))
    x_theirs = torch.tensor(x, requires_grad=True)
    t_out, t_last = theirs(x_theirs, tuple(map(torch.tensor, initial)) if name == "LSTM"
                           else torch.tensor(initial))

    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(last if name == "LSTM" else [last], t_last if name == "LSTM" else [t_last]):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)

    weights = rand(*out.shape, seed=3)
    (out * mdl.tensor(weights)).sum().backward()
    (t_out * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=n)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_pytorch(name):
    torch, theirs, ours = torch_pair(name, input_size=3, hidden_size=4)
    x, h, c = rand(2, 3), rand(2, 4, seed=1), rand(2, 4, seed=2)
    if name == "LSTMCell":
        mine = ours(mdl.tensor(x), (mdl.tensor(h), mdl.tensor(c)))
        ref = theirs(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    else:
        mine, ref = [ours(mdl.tensor(x), mdl.tensor(h))], [theirs(torch.tensor(x),
                                                                  torch.tensor(h))]
    for a, b in zip(mine, ref):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_init_is_pytorchs_uniform():
    mdl.manual_seed(0)
    lstm = nn.LSTM(8, 25, num_layers=2)
    assert [n for n, _ in lstm.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]
    assert lstm.weight_ih_l0.shape == (100, 8) and lstm.weight_hh_l1.shape == (100, 25)
    values = np.concatenate([p.numpy().ravel() for p in lstm.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= 0.2 and np.abs(values).max() > 0.19  # 1/sqrt(25)
    assert abs(values.mean()) < 0.01


# ----------------------------------------------------------------------------
# long sequences, modes, errors
# ----------------------------------------------------------------------------
def test_thousand_step_lstm_backward():
    mdl.manual_seed(0)
    lstm = nn.LSTM(2, 3)
    x = mdl.randn(1, 1000, 2, requires_grad=True)
    out, (h, c) = lstm(x)
    (h.sum() + c.sum()).backward()  # through all 1,000 steps, no RecursionError
    assert x.grad.shape == (1, 1000, 2) and np.isfinite(x.grad.numpy()).all()
    assert np.abs(x.grad.numpy()[0, -1]).sum() > 0
    assert all(p.grad is not None for p in lstm.parameters())


def test_dropout_between_layers_only_in_training():
    mdl.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = mdl.randn(2, 5, 3)
    lstm.eval()
    first, _ = lstm(x)
    again, _ = lstm(x)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    lstm.train()
    dropped, _ = lstm(x)
    assert not np.allclose(dropped.numpy(), first.numpy())


def test_float32_in_float32_out():
    gru = nn.GRU(3, 4)
    out, h = gru(mdl.randn(2, 5, 3))
    assert out.dtype == np.float32 and h.dtype == np.float32 and h.shape == (1, 2, 4)


@pytest.mark.parametrize("call, words", [
    (lambda: nn.LSTM(3, 4)(mdl.randn(2, 5, 7)), ["LSTM", "7 features", "input_size is 3"]),
    (lambda: nn.GRU(3, 4)(mdl.randn(5, 3)), ["GRU", "3-D", "(5, 3)"]),
    (lambda: nn.RNN(3, 4, num_layers=2)(mdl.randn(2, 5, 3), mdl.zeros(1, 2, 4)),
     ["RNN", "h0", "(1, 2, 4)", "(2, 2, 4)"]),
    (lambda: nn.LSTM(3, 4, num_layers=2)(mdl.randn(2, 5, 3), mdl.zeros(2, 2, 4)),
     ["LSTM", "(h0, c0)"]),
    (lambda: nn.LSTMCell(3, 4)(mdl.randn(2, 3), mdl.zeros(2, 4)), ["LSTMCell", "(h, c)"]),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ["RNN", "nonlinearity", "sigmoid"]),
    (lambda: nn.LSTMCell(3, 4)(mdl.randn(2, 5)), ["LSTMCell", "(N, 3)", "(2, 5)"]),
])
def test_errors_are_clear(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


# ----------------------------------------------------------------------------
# it learns: an LSTM classifier fits a fixed batch
# ----------------------------------------------------------------------------
class SequenceClassifier(nn.Module):
    def __init__(self, vocab, embed, hidden, classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.embedding(tokens))
        return self.head(h[-1])


def test_lstm_classifier_fits_a_batch(token_order_batch):
    """Label: does token 1 come before token 2? The order matters, so bag-of-words cannot do it."""
    mdl.manual_seed(0)
    tokens, labels = token_order_batch
    model = SequenceClassifier(10, 8, 16, 2)
    assert fit_batch(model, tokens, labels, lr=0.03, max_steps=200) == 1.0


# ----------------------------------------------------------------------------
# summary() of the text model: Embedding -> LSTM -> Dense -> Dense softmax
# ----------------------------------------------------------------------------
class TextModel(nn.Module):
    def __init__(self, vocab=1000, embed=32, hidden=64, dense=32, classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden)
        self.dense = nn.Linear(hidden, dense)
        self.out = nn.Linear(dense, classes)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.embedding(tokens))
        return F.softmax(self.out(F.relu(self.dense(h[-1]))), axis=-1)


def test_summary_of_the_text_model_counts_parameters_by_the_formula():
    vocab, embed, hidden, dense, classes = 1000, 32, 64, 32, 2
    embedding = vocab * embed                                   # 32,000
    lstm = 4 * hidden * (embed + hidden) + 2 * 4 * hidden       # 25,088: PyTorch has 2 biases
    layers = hidden * dense + dense, dense * classes + classes  # 2,080 and 66
    text = nn.summary(TextModel(), (1, 20), dtype=np.int64)
    rows = {line.split()[0]: line for line in text.splitlines()}
    assert rows["embedding"].endswith(f"{embedding:,}")
    assert rows["lstm"].endswith(f"{lstm:,}") and "(1, 20, 64)" in rows["lstm"]
    assert rows["dense"].endswith(f"{layers[0]:,}") and rows["out"].endswith(f"{layers[1]:,}")
    assert f"Total params: {embedding + lstm + sum(layers):,}" in text  # 59,234


@pytest.mark.parametrize("layer, function", [(nn.LSTM, "LSTMSequence"), (nn.GRU, "GRUSequence")])
def test_layers_run_the_sequence_as_one_fused_function(layer, function):
    out, _ = layer(3, 4)(mdl.tensor(rand(2, 5, 3), requires_grad=True))
    names, stack = set(), [out]
    while stack:
        t = stack.pop()
        if t.creator is not None:
            names.add(type(t.creator).__name__)
            stack.extend(t.creator.inputs)
    assert function in names
