"""Recurrent layers: gradients by finite differences (float64), second derivatives, the fused
RNN, LSTM and GRU ops against the plain layers built from ordinary ops (under every kernel
setting), the same numbers as PyTorch with the same weights (uni- and bidirectional, stacked,
every input layout), the signatures, the initialisation, a 1,000-step backward, and an LSTM
that learns. The kernels of the fused steps themselves: tests/test_recurrent_kernels.py."""
import inspect

import numpy as np
import pytest
from helpers import assert_raises_naming, fit_batch, require

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from minidl.functional import recurrent
from minidl.functional.recurrent import gru_sequence, lstm_sequence, rnn_sequence


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
# (x is time-major, (T, N, F))
# ----------------------------------------------------------------------------
def test_lstm_gradients_wrt_input_initial_state_and_weights(kernels):
    w_ih, w_hh, b_ih, b_hh = layer_weights(4, 3, 4)

    def fn(x, h0, c0, w_hh, b_ih):
        out, (h, c) = recurrent.lstm_layer(x, (h0, c0), w_ih, w_hh, b_ih, b_hh)
        return out, h, c

    w_hh.requires_grad = b_ih.requires_grad = True
    assert mdl.gradcheck(fn, [leaf(3, 2, 3), leaf(2, 4, seed=1), leaf(2, 4, seed=2), w_hh, b_ih])


def test_gru_gradients_wrt_input_initial_state_and_weights(kernels):
    w_ih, w_hh, b_ih, b_hh = layer_weights(3, 3, 4)

    def fn(x, h0, w_ih, b_hh):
        return recurrent.gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh)

    w_ih.requires_grad = b_hh.requires_grad = True
    assert mdl.gradcheck(fn, [leaf(3, 2, 3), leaf(2, 4, seed=1), w_ih, b_hh])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_gradients(nonlinearity, kernels):
    w_ih, w_hh, b_ih, b_hh = layer_weights(1, 3, 4)

    def fn(x, h0, w_hh):
        return recurrent.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity)

    w_hh.requires_grad = True
    assert mdl.gradcheck(fn, [leaf(3, 2, 3), leaf(2, 4, seed=1), w_hh])


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_two_layer_module_gradients(cls, bidirectional):
    """The module wiring: layer 2 reads layer 1's outputs, h_n stacks every layer and
    direction. Input (T, N, F) = (3, 2, 3), the default layout."""
    mdl.manual_seed(0)
    layer = cls(3, 4, num_layers=2, bidirectional=bidirectional).double()
    states = 2 if cls is nn.LSTM else 1
    stacked = 4 if bidirectional else 2
    fn = module_function(layer, states)
    state = [leaf(stacked, 2, 4, seed=s) for s in range(1, states + 1)]
    assert mdl.gradcheck(fn, [leaf(3, 2, 3)] + state)


def module_function(layer, states, weight_names=()):
    """layer(x, state) as a function of flat tensors (x, the states, the weights named in
    `weight_names`), returning (output, h_n[, c_n]). The given weights stand in for the
    layer's own, so that gradcheck can perturb them."""
    def fn(x, *args):
        for name, w in zip(weight_names, args[states:]):
            layer._parameters[name] = w
        state = tuple(args[:states]) if states == 2 else args[0]
        out, last = layer(x, state)
        return (out,) + (tuple(last) if states == 2 else (last,))
    return fn


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_bidirectional_two_layer_gradients_wrt_everything(cls, kernels):
    """gradcheck of a small bidirectional 2-layer RNN, LSTM and GRU: input, initial states
    and every weight and bias, through the output and h_n (and c_n)."""
    mdl.manual_seed(0)
    layer = cls(2, 2, num_layers=2, bidirectional=True).double()
    states = 2 if cls is nn.LSTM else 1
    names = [n for n, _ in layer.named_parameters()]
    weights = [mdl.tensor(p.numpy(), requires_grad=True) for p in layer.parameters()]
    inputs = [leaf(3, 2, 2)] + [leaf(4, 2, 2, seed=s) for s in range(1, states + 1)] + weights
    assert mdl.gradcheck(module_function(layer, states, names), inputs)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_bidirectional_two_layer_second_derivatives(cls, kernels):
    """gradgradcheck: input, initial states and every weight of the reverse direction in
    both layers (the forward direction runs the fused ops, whose second derivatives are
    checked below, on the 2H features that the reverse direction also feeds)."""
    mdl.manual_seed(0)
    layer = cls(2, 2, num_layers=2, bidirectional=True).double()
    states = 2 if cls is nn.LSTM else 1
    names = [n for n, _ in layer.named_parameters() if n.endswith("_reverse")]
    weights = [mdl.tensor(getattr(layer, n).numpy(), requires_grad=True) for n in names]
    inputs = [leaf(3, 2, 2)] + [leaf(4, 2, 2, seed=s) for s in range(1, states + 1)] + weights
    assert mdl.gradgradcheck(module_function(layer, states, names), inputs)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_second_derivatives(nonlinearity, kernels):
    w_ih, w_hh, b_ih, b_hh = layer_weights(1, 2, 3)

    def fn(x, h0, w_hh):
        return recurrent.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity)

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
# xw is time-major, (T, N, gates*H)
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_sequence_gradients(bias, kernels):
    """With respect to every input, through both outputs (h and c of every step)."""
    b = [leaf(12, seed=4)] if bias else []
    fn = (lambda xw, w_hh, h0, c0, b: lstm_sequence(xw, w_hh, b, h0, c0)) if bias else \
        (lambda xw, w_hh, h0, c0: lstm_sequence(xw, w_hh, None, h0, c0))
    assert mdl.gradcheck(fn, [leaf(4, 2, 12), leaf(12, 3, seed=1, scale=0.5),
                              leaf(2, 3, seed=2), leaf(2, 3, seed=3)] + b)


def test_lstm_sequence_second_derivatives(kernels):
    assert mdl.gradgradcheck(lstm_sequence, [leaf(3, 2, 8), leaf(8, 2, seed=1, scale=0.5),
                                             leaf(8, seed=4), leaf(2, 2, seed=2),
                                             leaf(2, 2, seed=3)])


@pytest.mark.parametrize("bias", [True, False])
def test_gru_sequence_gradients(bias, kernels):
    b_hh = [leaf(9, seed=3)] if bias else []
    fn = (lambda xw, w_hh, h0, b_hh: gru_sequence(xw, w_hh, b_hh, h0)) if bias else \
        (lambda xw, w_hh, h0: gru_sequence(xw, w_hh, None, h0))
    assert mdl.gradcheck(fn, [leaf(4, 2, 9), leaf(9, 3, seed=1, scale=0.5), leaf(2, 3, seed=2)]
                         + b_hh)


def test_gru_sequence_second_derivatives(kernels):
    fn = lambda xw, w_hh, b_hh, h0: gru_sequence(xw, w_hh, b_hh, h0)  # noqa: E731
    assert mdl.gradgradcheck(fn, [leaf(3, 2, 6), leaf(6, 2, seed=1, scale=0.5), leaf(6, seed=2),
                                  leaf(2, 2, seed=3)])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_sequence_gradients(nonlinearity, kernels):
    def fn(xw, w_hh, b, h0):
        return rnn_sequence(xw, w_hh, b, h0, nonlinearity)
    inputs = [leaf(4, 2, 3), leaf(3, 3, seed=1, scale=0.5), leaf(3, seed=3), leaf(2, 3, seed=2)]
    assert mdl.gradcheck(fn, inputs)
    assert mdl.gradgradcheck(fn, inputs)


def fused_and_reference(kind):
    """(fused layer, plain layer, their inputs): x (T, N, F) = (5, 3, 4), the initial state
    and the 4 weights, all requiring grad. Both layers are functions of these tensors
    returning a flat tuple: (every step's h, then the final state)."""
    gates, states = {"rnn": (1, 1), "rnn-relu": (1, 1), "lstm": (4, 2), "gru": (3, 1)}[kind]
    weights = layer_weights(gates, 4, 3)
    for w in weights:
        w.requires_grad = True
    inputs = [leaf(5, 3, 4)] + [leaf(3, 3, seed=s) for s in range(1, states + 1)] + list(weights)
    fused, plain = {"rnn": (recurrent.rnn_layer, recurrent.rnn_layer_reference),
                    "rnn-relu": (relu_layer(recurrent.rnn_layer),
                                 relu_layer(recurrent.rnn_layer_reference)),
                    "lstm": (recurrent.lstm_layer, recurrent.lstm_layer_reference),
                    "gru": (recurrent.gru_layer, recurrent.gru_layer_reference)}[kind]
    return as_function(fused, states), as_function(plain, states), inputs


def relu_layer(layer):
    return lambda *args: layer(*args, nonlinearity="relu")


KINDS = ["rnn", "rnn-relu", "lstm", "gru"]


def as_function(layer, states):
    """layer(x, state, *weights) as a function of flat tensors, returning a flat tuple."""
    def fn(x, *args):
        state = tuple(args[:states]) if states == 2 else args[0]
        out, last = layer(x, state, *args[states:])
        return (out,) + (tuple(last) if states == 2 else (last,))
    return fn


@pytest.mark.parametrize("kind", KINDS)
def test_fused_layer_equals_the_plain_one(kind, kernels):
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


@pytest.mark.parametrize("kind", KINDS)
def test_fused_backward_is_the_same_with_and_without_create_graph(kind, kernels):
    """Without create_graph the backward runs the fused kernels on what forward saved; with
    it, Tensor ops that recompute the local derivatives: the same gradients."""
    fused, _, inputs = fused_and_reference(kind)
    grads = []
    for create_graph in (False, True):
        outputs = fused(*inputs)
        loss = sum((y * mdl.tensor(rand(*y.shape, seed=k))).sum() for k, y in enumerate(outputs))
        grads.append([g.numpy() for g in mdl.grad(loss, inputs, create_graph=create_graph)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_layer_under_no_grad(kind, kernels):
    """No graph, nothing saved for a backward, and the same outputs."""
    fused, _, inputs = fused_and_reference(kind)
    expected = [y.numpy() for y in fused(*inputs)]
    with mdl.no_grad():
        outputs = fused(*inputs)
    assert not any(y.requires_grad for y in outputs)
    for y, e in zip(outputs, expected):
        np.testing.assert_array_equal(y.numpy(), e)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_backward_twice_with_retain_graph(kind, kernels):
    """The fused backward leaves what forward saved as it was: a second one agrees."""
    fused, _, inputs = fused_and_reference(kind)
    outputs = fused(*inputs)
    loss = sum((y * mdl.tensor(rand(*y.shape, seed=k))).sum() for k, y in enumerate(outputs))
    first = [g.numpy() for g in mdl.grad(loss, inputs, retain_graph=True)]
    again = [g.numpy() for g in mdl.grad(loss, inputs)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_backward_refuses_an_output_changed_in_place(kind):
    """The fused backward reads the outputs' memory, so changing one in place is an error."""
    fused, _, inputs = fused_and_reference(kind)
    outputs = fused(*inputs)
    loss = sum(y.sum() for y in outputs)
    with mdl.no_grad():
        outputs[0][0] += 1  # the first step's h
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_one_step_sequences(kernels):
    for kind in KINDS:
        fused, plain, inputs = fused_and_reference(kind)
        inputs[0] = leaf(1, 3, 4)
        for a, b in zip(fused(*inputs), plain(*inputs)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
        assert mdl.gradcheck(fused, inputs)


@pytest.mark.parametrize("call, words", [
    (lambda: lstm_sequence(mdl.zeros(3, 2, 8), mdl.zeros(8, 3), None, mdl.zeros(2, 3),
                           mdl.zeros(2, 3)),
     ["lstm_sequence", "w_hh", "(4*H, H)", "(8, 3)"]),
    (lambda: lstm_sequence(mdl.zeros(3, 2, 12), mdl.zeros(8, 2), None, mdl.zeros(2, 2),
                           mdl.zeros(2, 2)),
     ["lstm_sequence", "xw", "(T, N, 8)", "(3, 2, 12)"]),
    (lambda: lstm_sequence(mdl.zeros(0, 2, 8), mdl.zeros(8, 2), None, mdl.zeros(2, 2),
                           mdl.zeros(2, 2)),
     ["lstm_sequence", "T > 0", "(0, 2, 8)"]),
    (lambda: gru_sequence(mdl.zeros(3, 2, 6), mdl.zeros(6, 2), None, mdl.zeros(3, 2)),
     ["gru_sequence", "initial state", "(3, 2)", "(2, 2)"]),
    (lambda: gru_sequence(mdl.zeros(3, 2, 6), mdl.zeros(6, 2), mdl.zeros(4), mdl.zeros(2, 2)),
     ["gru_sequence", "bias", "(4,)", "(6,)"]),
    (lambda: rnn_sequence(mdl.zeros(3, 2, 2), mdl.zeros(2, 2), None, mdl.zeros(2, 2), "sigmoid"),
     ["rnn_sequence", "nonlinearity", "sigmoid"]),
])
def test_fused_op_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)


@pytest.mark.parametrize("call", [
    lambda: lstm_sequence(mdl.zeros(3, 2, 8), mdl.zeros(8, 2), None, mdl.zeros(2, 2),
                          mdl.zeros(2, 2, dtype=np.float64)),
    lambda: gru_sequence(mdl.zeros(3, 2, 6, dtype=np.float16), mdl.zeros(6, 2, dtype=np.float16),
                         None, mdl.zeros(2, 2, dtype=np.float16)),
    lambda: gru_sequence(mdl.zeros(3, 2, 6), mdl.zeros(6, 2), mdl.zeros(6, dtype=np.float64),
                         mdl.zeros(2, 2)),
    lambda: rnn_sequence(mdl.zeros(3, 2, 2, dtype=np.float64), mdl.zeros(2, 2), None,
                         mdl.zeros(2, 2)),
])
def test_fused_ops_want_one_float_dtype(call):
    """float32 or float64, the same for every array (the kernels are compiled for those)."""
    with pytest.raises(TypeError, match="_sequence: .*float32 or all float64"):
        call()


# ----------------------------------------------------------------------------
# the fast sequence loop against the plain one, a step at a time with the cells
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("layer_cls, cell_cls", [(nn.RNN, nn.RNNCell), (nn.LSTM, nn.LSTMCell),
                                                 (nn.GRU, nn.GRUCell)])
def test_layer_equals_its_cell_applied_step_by_step(layer_cls, cell_cls):
    """The default layout is time-major, as in PyTorch: x[t] is step t of every sequence."""
    mdl.manual_seed(1)
    layer, cell = layer_cls(3, 5).double(), cell_cls(3, 5).double()
    assert layer.batch_first is False
    cell.load_state_dict({name[:-3]: value for name, value in layer.state_dict().items()})
    x = mdl.tensor(rand(6, 2, 3))                                    # (T, N, F)
    out, last = layer(x)
    state = None
    for t in range(6):
        state = cell(x[t], state)
        h = state[0] if layer_cls is nn.LSTM else state
        np.testing.assert_allclose(out.numpy()[t], h.numpy(), rtol=1e-12, atol=1e-12)
    h_n = last[0] if layer_cls is nn.LSTM else last
    np.testing.assert_allclose(h_n.numpy()[0], h.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_reverse_direction_is_the_layer_on_the_reversed_sequence(cls):
    """A bidirectional layer's second half is a one-way layer, with the _reverse weights,
    run on the sequence read backwards, its outputs put back in time order; h_n[1] is its
    state after reading x_1."""
    mdl.manual_seed(2)
    both, one_way = cls(3, 4, bidirectional=True).double(), cls(3, 4).double()
    both_state = both.state_dict()
    one_way.load_state_dict({name: both_state[name + "_reverse"] for name in one_way.state_dict()})
    x = rand(5, 2, 3)
    out, last = both(mdl.tensor(x))
    backwards_out, backwards_last = one_way(mdl.tensor(x[::-1].copy()))
    np.testing.assert_allclose(out.numpy()[..., 4:], backwards_out.numpy()[::-1], rtol=1e-12,
                               atol=1e-13)
    for a, b in zip(*(s if cls is nn.LSTM else (s,) for s in (last, backwards_last))):
        np.testing.assert_allclose(a.numpy()[1], b.numpy()[0], rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------
# NumPy: PyTorch's documented equations, written out (so they hold without PyTorch)
# ----------------------------------------------------------------------------
def sigmoid_np(z):
    return 1 / (1 + np.exp(-z))


def step_np(kind, x, state, w_ih, w_hh, b_ih, b_hh):
    """One step from the equations in PyTorch's documentation; weights stacked by gate,
    in PyTorch's order (LSTM i, f, g, o; GRU r, z, n). state is (h,) or (h, c)."""
    h = state[0]
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind in ("tanh", "relu"):
        z = gi + gh
        return (np.tanh(z) if kind == "tanh" else np.maximum(z, 0),)
    if kind == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sigmoid_np(f) * state[1] + sigmoid_np(i) * np.tanh(g)
        return sigmoid_np(o) * np.tanh(c), c
    (i_r, i_z, i_n), (h_r, h_z, h_n) = np.split(gi, 3, axis=-1), np.split(gh, 3, axis=-1)
    r, z = sigmoid_np(i_r + h_r), sigmoid_np(i_z + h_z)
    n = np.tanh(i_n + r * h_n)
    return ((1 - z) * n + z * h,)


def layers_np(kind, params, x, initial, num_layers, directions):
    """x (T, N, F), initial a tuple of (layers * directions, N, H) -> (output (T, N, D*H),
    the final states stacked as in PyTorch: layer 0 forward, layer 0 reverse, layer 1 ...)."""
    finals = []
    for layer in range(num_layers):
        outputs = []
        for d in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            weights = [params.get(f"{n}{suffix}", 0.0)
                       for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            state = tuple(s[layer * directions + d] for s in initial)
            hs = []
            for x_t in (x[::-1] if d else x):            # the reverse direction reads T..1
                state = step_np(kind, x_t, state, *weights)
                hs.append(state[0])
            outputs.append(np.stack(hs[::-1] if d else hs))
            finals.append(state)
        x = np.concatenate(outputs, axis=-1)
    return x, [np.stack([f[i] for f in finals]) for i in range(len(finals[0]))]


RECURRENT_KINDS = {"RNN-tanh": (nn.RNN, "tanh", {}), "RNN-relu": (nn.RNN, "relu",
                                                                   {"nonlinearity": "relu"}),
                   "LSTM": (nn.LSTM, "LSTM", {}), "GRU": (nn.GRU, "GRU", {})}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("layout", ["time-major", "batch-first", "unbatched"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("name", RECURRENT_KINDS)
def test_layers_match_the_equations(name, num_layers, bidirectional, layout, bias):
    cls, kind, kwargs = RECURRENT_KINDS[name]
    mdl.manual_seed(3)
    layer = cls(3, 4, num_layers=num_layers, bidirectional=bidirectional, bias=bias,
                batch_first=layout == "batch-first", **kwargs).double()
    params = {n: p.numpy() for n, p in layer.named_parameters()}
    directions, states = 1 + bidirectional, 2 if kind == "LSTM" else 1
    x = rand(5, 2, 3)                                   # (T, N, F)
    initial = [rand(num_layers * directions, 2, 4, seed=s) for s in range(1, states + 1)]
    out_np, finals_np = layers_np(kind, params, x, initial, num_layers, directions)
    if layout == "unbatched":
        x, initial = x[:, 0], [s[:, 0] for s in initial]
        out_np, finals_np = out_np[:, 0], [f[:, 0] for f in finals_np]
    elif layout == "batch-first":
        x, out_np = x.swapaxes(0, 1), out_np.swapaxes(0, 1)
    hx = [mdl.tensor(s) for s in initial]
    out, last = layer(mdl.tensor(x), tuple(hx) if states == 2 else hx[0])
    last = list(last) if states == 2 else [last]
    np.testing.assert_allclose(out.numpy(), out_np, rtol=1e-12, atol=1e-14)
    for label, a, b in zip(["h_n", "c_n"], last, finals_np):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-14, err_msg=label)


@pytest.mark.parametrize("name, kind", [("RNNCell", "tanh"), ("LSTMCell", "LSTM"),
                                        ("GRUCell", "GRU")])
def test_cells_match_the_equations(name, kind):
    mdl.manual_seed(4)
    cell = getattr(nn, name)(3, 4).double()
    weights = [p.numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    x, state = rand(2, 3), tuple(rand(2, 4, seed=s) for s in range(1, 3 if kind == "LSTM" else 2))
    expected = step_np(kind, x, state, *weights)
    got = cell(mdl.tensor(x), tuple(mdl.tensor(s) for s in state) if kind == "LSTM"
               else mdl.tensor(state[0]))
    got = list(got) if kind == "LSTM" else [got]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-14)


def test_lstm_step_by_hand():
    # one unit, one step; weight_ih is the identity, so gate k's pre-activation is input
    # k: x = (z_i, z_f, z_g, z_o) in PyTorch's gate order
    cell = nn.LSTMCell(4, 1, bias=False).double()
    cell.load_state_dict({"weight_ih": np.eye(4), "weight_hh": np.zeros((4, 1))})
    zi, zf, zg, zo, c0 = 0.3, -1.2, 0.7, 2.0, 0.5
    x = mdl.tensor(np.array([[zi, zf, zg, zo]]))
    h, c = cell(x, (mdl.tensor(np.zeros((1, 1))), mdl.tensor(np.array([[c0]]))))
    c_expected = sigmoid_np(zf) * c0 + sigmoid_np(zi) * np.tanh(zg)
    assert c.item() == pytest.approx(c_expected, rel=1e-14)
    assert h.item() == pytest.approx(sigmoid_np(zo) * np.tanh(c_expected), rel=1e-14)


# ----------------------------------------------------------------------------
# PyTorch: same weights (copied by name), same outputs and gradients
# ----------------------------------------------------------------------------
def torch_pair(name, **kwargs):
    torch = require("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(**kwargs).double()
    ours = getattr(nn, name)(**kwargs).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return torch, theirs, ours


def compare_with_pytorch(name, layout="time-major", initial=True, train=False, steps=4, batch=2,
                         **kwargs):
    """Run ours and PyTorch's on one input (T = steps, N = batch, F = 3, H = 5) and compare
    the output, h_n (and c_n), and the gradients of the input, the initial states and every
    weight under random cotangents on all the outputs."""
    torch, theirs, ours = torch_pair(name, input_size=3, hidden_size=5,
                                     batch_first=layout == "batch-first", **kwargs)
    ours.train(train), theirs.train(train)
    states = 2 if name == "LSTM" else 1
    stacked = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x_shape = {"time-major": (steps, batch, 3), "batch-first": (batch, steps, 3),
               "unbatched": (steps, 3)}[layout]
    state_shape = (stacked, 5) if layout == "unbatched" else (stacked, batch, 5)
    arrays = [rand(*x_shape)] + ([rand(*state_shape, seed=s) for s in range(1, states + 1)]
                                 if initial else [])

    def run(module, make):
        inputs = [make(a) for a in arrays]
        hx = None if not initial else tuple(inputs[1:]) if states == 2 else inputs[1]
        out, last = module(inputs[0], hx)
        outputs = [out] + (list(last) if states == 2 else [last])
        cotangents = [make(rand(*y.shape, seed=10 + k)) for k, y in enumerate(outputs)]
        sum((y * c).sum() for y, c in zip(outputs, cotangents)).backward()
        return outputs, inputs

    mine, my_inputs = run(ours, lambda a: mdl.tensor(a, requires_grad=True))
    ref, ref_inputs = run(theirs, lambda a: torch.tensor(a, requires_grad=True))
    for label, a, b in zip(["output", "h_n", "c_n"], mine, ref):
        assert a.shape == tuple(b.shape), label
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=label)
    for label, a, b in zip(["input", "h0", "c0"], my_inputs, ref_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of {label}")
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of {n}")


@pytest.mark.parametrize("initial", [True, False], ids=["h0-given", "h0-zeros"])
@pytest.mark.parametrize("layout", ["time-major", "batch-first", "unbatched"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_layers_match_pytorch(name, num_layers, bidirectional, layout, initial):
    compare_with_pytorch(name, layout, initial, num_layers=num_layers,
                         bidirectional=bidirectional)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_layers_match_pytorch_under_every_kernel_setting(name, kernels):
    compare_with_pytorch(name, "batch-first", steps=5, batch=3, num_layers=2,
                         bidirectional=True)


@pytest.mark.parametrize("name, kwargs", [
    ("RNN", dict(bias=False)), ("LSTM", dict(bias=False)), ("GRU", dict(bias=False)),
    ("RNN", dict(nonlinearity="relu")),
])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
def test_options_match_pytorch(name, kwargs, bidirectional):
    compare_with_pytorch(name, "batch-first", num_layers=2, bidirectional=bidirectional,
                         **kwargs)


@pytest.mark.parametrize("steps, batch", [(1, 1), (1, 3), (3, 1), (2, 0)])
@pytest.mark.parametrize("layout", ["time-major", "batch-first"])
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_edge_shapes_match_pytorch(name, layout, steps, batch, kernels):
    """One step, one sequence, an empty batch."""
    compare_with_pytorch(name, layout, steps=steps, batch=batch, num_layers=2,
                         bidirectional=True)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers_matches_pytorch(name):
    """dropout=1 in training zeroes what reaches layer 2 (its 2H features), and nothing
    after the last layer: deterministic, so it can be compared with PyTorch."""
    compare_with_pytorch(name, num_layers=2, bidirectional=True, dropout=1.0, train=True)


@pytest.mark.parametrize("layout", ["batched", "unbatched"])
@pytest.mark.parametrize("initial", [True, False], ids=["state-given", "state-zeros"])
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_pytorch(name, initial, layout):
    """Output and the gradients of input, state and every weight, batched (N, F) or
    unbatched (F,)."""
    torch, theirs, ours = torch_pair(name, input_size=3, hidden_size=4)
    states = 2 if name == "LSTMCell" else 1
    lead = (2,) if layout == "batched" else ()
    arrays = [rand(*lead, 3)] + ([rand(*lead, 4, seed=s) for s in range(1, states + 1)]
                                 if initial else [])

    def run(module, make):
        inputs = [make(a) for a in arrays]
        hx = None if not initial else tuple(inputs[1:]) if states == 2 else inputs[1]
        outputs = module(inputs[0], hx)
        outputs = list(outputs) if states == 2 else [outputs]
        cotangents = [make(rand(*y.shape, seed=10 + k)) for k, y in enumerate(outputs)]
        sum((y * c).sum() for y, c in zip(outputs, cotangents)).backward()
        return outputs, inputs

    mine, my_inputs = run(ours, lambda a: mdl.tensor(a, requires_grad=True))
    ref, ref_inputs = run(theirs, lambda a: torch.tensor(a, requires_grad=True))
    for a, b in zip(mine, ref):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(my_inputs, ref_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=n)


LAYER_SIGNATURES = {  # PyTorch's documented signatures (its own are *args, **kwargs)
    "RNN": "input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, "
           "batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None",
    "LSTM": "input_size, hidden_size, num_layers=1, bias=True, batch_first=False, "
            "dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None",
    "GRU": "input_size, hidden_size, num_layers=1, bias=True, batch_first=False, "
           "dropout=0.0, bidirectional=False, device=None, dtype=None",
}


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_signatures_are_pytorchs(name):
    torch = require("torch")

    def spelled(cls, method):
        params = list(inspect.signature(getattr(cls, method)).parameters.values())[1:]
        return ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}"
                         for p in params)

    theirs = getattr(torch.nn, name)
    expected = LAYER_SIGNATURES.get(name) or spelled(theirs, "__init__")
    assert spelled(getattr(nn, name), "__init__") == expected
    assert spelled(getattr(nn, name), "forward") == spelled(theirs, "forward")


@pytest.mark.parametrize("kwargs", [dict(), dict(num_layers=2, bidirectional=True),
                                    dict(batch_first=True, dropout=0.25, num_layers=3),
                                    dict(bias=False)])
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_repr_is_pytorchs(name, kwargs):
    torch = require("torch")
    assert repr(getattr(nn, name)(3, 4, **kwargs)) == repr(getattr(torch.nn, name)(3, 4, **kwargs))


# ----------------------------------------------------------------------------
# initialisation, dtype and device
# ----------------------------------------------------------------------------
def test_parameter_names_and_shapes_are_pytorchs():
    lstm = nn.LSTM(8, 25, num_layers=2, bidirectional=True)
    names = [f"{kind}_l{k}{suffix}" for k in range(2) for suffix in ("", "_reverse")
             for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert [n for n, _ in lstm.named_parameters()] == names
    assert lstm.weight_ih_l0.shape == lstm.weight_ih_l0_reverse.shape == (100, 8)
    assert lstm.weight_ih_l1.shape == lstm.weight_ih_l1_reverse.shape == (100, 50)  # reads 2H
    assert lstm.weight_hh_l1_reverse.shape == (100, 25) and lstm.bias_hh_l1.shape == (100,)
    assert [n for n, _ in nn.GRU(3, 4, bias=False).named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("make", [
    lambda: nn.LSTM(8, 25, num_layers=2, bidirectional=True),
    lambda: nn.GRU(8, 25, bidirectional=True),
    lambda: nn.RNN(8, 25, num_layers=3),
    lambda: nn.LSTMCell(8, 25),
    lambda: nn.GRUCell(8, 25),
], ids=["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell"])
def test_init_and_reset_parameters_are_pytorchs_uniform(make):
    """Every weight and bias, of every layer and direction, from U(-1/sqrt(H), 1/sqrt(H))
    (a Kolmogorov-Smirnov test on fixed seeds); reset_parameters draws them again."""
    stats = pytest.importorskip("scipy.stats")
    mdl.manual_seed(0)
    module = make()
    bound = 1 / np.sqrt(25)
    for p in module.parameters():
        values = p.numpy().ravel()
        assert p.dtype == np.float32 and np.abs(values).max() <= bound
        assert stats.kstest(values, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3
    before = [p.numpy().copy() for p in module.parameters()]
    module.reset_parameters()
    after = np.concatenate([p.numpy().ravel() for p in module.parameters()])
    assert not np.allclose(after, np.concatenate([b.ravel() for b in before]))
    assert stats.kstest(after, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3


@pytest.mark.parametrize("make", [
    lambda **kw: nn.RNN(3, 4, bidirectional=True, **kw),
    lambda **kw: nn.LSTM(3, 4, num_layers=2, **kw),
    lambda **kw: nn.GRU(3, 4, **kw),
    lambda **kw: nn.LSTMCell(3, 4, **kw),
    lambda **kw: nn.RNNCell(3, 4, **kw),
], ids=["RNN", "LSTM", "GRU", "LSTMCell", "RNNCell"])
def test_dtype_and_device_arguments(make):
    module = make(dtype=np.float64, device="cpu")
    assert all(p.dtype == np.float64 and p.device == "cpu" for p in module.parameters())
    assert all(p.dtype == np.float16 for p in make(dtype="float16").parameters())
    assert all(p.dtype == mdl.default_dtype() for p in make().parameters())
    x = mdl.tensor(rand(2, 3) if "Cell" in type(module).__name__ else rand(5, 2, 3))
    out = module(x)
    assert (out[0] if isinstance(out, tuple) else out).dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        make(dtype=np.int64)
    with pytest.raises(ValueError, match="device"):
        make(device="tpu")


# ----------------------------------------------------------------------------
# long sequences, modes, errors
# ----------------------------------------------------------------------------
def test_thousand_step_lstm_backward():
    mdl.manual_seed(0)
    lstm = nn.LSTM(2, 3, bidirectional=True)
    x = mdl.randn(1000, 1, 2, requires_grad=True)
    out, (h, c) = lstm(x)
    (h.sum() + c.sum()).backward()  # through all 1,000 steps, no RecursionError
    assert x.grad.shape == (1000, 1, 2) and np.isfinite(x.grad.numpy()).all()
    assert np.abs(x.grad.numpy()[-1]).sum() > 0 and np.abs(x.grad.numpy()[0]).sum() > 0
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
    gru = nn.GRU(3, 4, bidirectional=True)
    out, h = gru(mdl.randn(5, 2, 3))
    assert out.dtype == np.float32 and h.dtype == np.float32
    assert out.shape == (5, 2, 8) and h.shape == (2, 2, 4)


def test_dropout_with_one_layer_warns_as_pytorch():
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.GRU(3, 4, dropout=0.5)


@pytest.mark.parametrize("call, words", [
    (lambda: nn.LSTM(3, 4)(mdl.randn(5, 2, 7)), ["LSTM", "7 features", "input_size is 3"]),
    (lambda: nn.GRU(3, 4)(mdl.randn(5, 3)[0]), ["GRU", "(T, N, features)", "(3,)"]),
    (lambda: nn.GRU(3, 4, batch_first=True)(mdl.randn(1, 5, 2, 3)),
     ["GRU", "(N, T, features)", "(T, features)", "(1, 5, 2, 3)"]),
    (lambda: nn.RNN(3, 4)(mdl.randn(0, 2, 3)), ["RNN", "empty", "(T, N, features)"]),
    (lambda: nn.RNN(3, 4, num_layers=2)(mdl.randn(5, 2, 3), mdl.zeros(1, 2, 4)),
     ["RNN", "h0", "(1, 2, 4)", "(num_layers * num_directions, N, hidden_size) = (2, 2, 4)"]),
    (lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True)(mdl.randn(5, 2, 3),
                                                            mdl.zeros(2, 2, 4)),
     ["GRU", "h0", "(2, 2, 4)", "(num_layers * num_directions, N, hidden_size) = (4, 2, 4)"]),
    (lambda: nn.LSTM(3, 4, bidirectional=True, batch_first=True)(
        mdl.randn(2, 5, 3), (mdl.zeros(2, 2, 4), mdl.zeros(1, 2, 4))),
     ["LSTM", "c0", "(1, 2, 4)", "= (2, 2, 4)"]),
    (lambda: nn.GRU(3, 4, bidirectional=True)(mdl.randn(5, 3), mdl.zeros(2, 1, 4)),
     ["GRU", "h0", "(2, 1, 4)", "unbatched",
      "(num_layers * num_directions, hidden_size) = (2, 4)"]),
    (lambda: nn.GRU(3, 4)(mdl.randn(5, 2, 3), mdl.zeros(1, 4)), ["GRU", "(1, 4)", "(1, 2, 4)"]),
    (lambda: nn.LSTM(3, 4, num_layers=2)(mdl.randn(5, 2, 3), mdl.zeros(2, 2, 4)),
     ["LSTM", "(h0, c0)"]),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ["RNN", "nonlinearity", "sigmoid"]),
    (lambda: nn.LSTM(3, 4, dropout=1.5), ["LSTM", "dropout", "[0, 1]", "1.5"]),
    (lambda: nn.GRU(3, 0), ["GRU", "hidden_size", "positive"]),
    (lambda: nn.LSTMCell(3, 4)(mdl.randn(2, 3), mdl.zeros(2, 4)), ["LSTMCell", "(h, c)"]),
    (lambda: nn.LSTMCell(3, 4)(mdl.randn(2, 5)), ["LSTMCell", "(N, 3)", "(3,)", "(2, 5)"]),
    (lambda: nn.GRUCell(3, 4)(mdl.randn(3), mdl.zeros(1, 4)),
     ["GRUCell", "(1, 4)", "expected (4,)", "input of shape (3,)"]),
    (lambda: nn.RNNCell(3, 4)(mdl.randn(2, 3), mdl.zeros(3, 4)),
     ["RNNCell", "(3, 4)", "expected (2, 4)"]),
])
def test_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)


def test_proj_size_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="LSTM: proj_size=2 .*not supported"):
        nn.LSTM(3, 4, proj_size=2)
    assert nn.LSTM(3, 4, proj_size=0).proj_size == 0


# ----------------------------------------------------------------------------
# it learns: an LSTM classifier fits a fixed batch
# ----------------------------------------------------------------------------
class SequenceClassifier(nn.Module):
    def __init__(self, vocab, embed, hidden, classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
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
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
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


@pytest.mark.parametrize("layer, function", [(nn.RNN, "RNNSequence"), (nn.LSTM, "LSTMSequence"),
                                             (nn.GRU, "GRUSequence")])
def test_layers_run_the_sequence_as_one_fused_function(layer, function):
    out, _ = layer(3, 4).double()(mdl.tensor(rand(2, 5, 3), requires_grad=True))
    names, stack = set(), [out]
    while stack:
        t = stack.pop()
        if t.creator is not None:
            names.add(type(t.creator).__name__)
            stack.extend(t.creator.inputs)
    assert function in names
