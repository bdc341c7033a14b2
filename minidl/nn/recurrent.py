"""Recurrent layers: RNN, LSTM and GRU over whole sequences, and their one-step cells.

A recurrent layer reads a sequence x_1 .. x_T one step at a time and keeps a
hidden state h_t (an LSTM also a cell state c_t) that summarises what it has
seen. Every step applies the same update:

    RNN   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)           (or relu)
    LSTM  i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)   four gates
          c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
          h_t = sigmoid(o) * tanh(c_t)
    GRU   r, z = sigmoid(split(W_i[rz] x_t + b_i[rz] + W_h[rz] h_{t-1} + b_h[rz]))
          n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
          h_t = (1 - z) * n + z * h_{t-1}

Weight names, layouts, gate orders and the initialisation U(-1/sqrt(H),
1/sqrt(H)) are PyTorch's, so its state dicts load: weight_ih_l{k} is
(gates*H, F_in), weight_hh_l{k} (gates*H, H), biases bias_ih_l{k}, bias_hh_l{k}.
Sequences are batch-first (N, T, F) unless batch_first=False.

The cells and the plain layers (`lstm_layer_reference`, ...) are built from
ordinary tensor ops, so backpropagation through time is just the graph walk
(iterative: a 1,000-step sequence is fine), and second derivatives work too.
That is the definition to read. The LSTM and GRU layers that nn.LSTM and
nn.GRU run are the same computation as one fused op each
(minidl.functional.recurrent): the whole loop over time in one Function,
several times faster to train, and still twice differentiable.
"""
import math

import numpy as np

from .. import backend
from .. import functional as F
from ..functional.recurrent import gru_sequence, lstm_sequence
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


# ----------------------------------------------------------------------------
# One time step. Each update gets the two projections already computed:
#   xw = W_ih x + b_ih   and   hw = W_hh h + b_hh   (both (N, gates*H))
# ----------------------------------------------------------------------------
def rnn_update(xw, hw, nonlinearity="tanh"):
    z = xw + hw
    return F.tanh(z) if nonlinearity == "tanh" else F.relu(z)


def lstm_update(xw, hw, c):
    """New (h, c) from the projections and the old cell state c."""
    i, f, g, o = F.chunk(xw + hw, 4, -1)
    c = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
    h = F.sigmoid(o) * F.tanh(c)
    return h, c


def gru_update(xw, hw, h):
    """New h. The reset gate r scales W_hn h + b_hn, bias included (PyTorch's formula)."""
    x_r, x_z, x_n = F.chunk(xw, 3, -1)
    h_r, h_z, h_n = F.chunk(hw, 3, -1)
    r = F.sigmoid(x_r + h_r)
    z = F.sigmoid(x_z + h_z)
    n = F.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


# The plain version: one step with both projections written out. The cells use it.
def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    return rnn_update(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), nonlinearity)


def lstm_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = state
    return lstm_update(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), c)


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    return gru_update(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), h)


# ----------------------------------------------------------------------------
# One layer over a whole sequence: the plain way, a cell per step
# ----------------------------------------------------------------------------
def rnn_layer(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (N, T, F) from h (N, H) -> (the h of every step (N, T, H), the last h)."""
    def step(xw, hw, state):
        return (rnn_update(xw, hw, nonlinearity),)
    out, (h,) = _run_sequence(step, x, (h,), w_ih, w_hh, _summed(b_ih, b_hh), None)
    return out, h


def lstm_layer_reference(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """What lstm_layer computes, with ordinary ops (its tests compare the two)."""
    def step(xw, hw, state):
        return lstm_update(xw, hw, state[1])
    return _run_sequence(step, x, tuple(state), w_ih, w_hh, _summed(b_ih, b_hh), None)


def gru_layer_reference(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """What gru_layer computes, with ordinary ops (its tests compare the two)."""
    def step(xw, hw, state):
        return (gru_update(xw, hw, state[0]),)
    # b_hn is multiplied by r, so b_hh cannot join b_ih: it is added at every step
    out, (h,) = _run_sequence(step, x, (h,), w_ih, w_hh, b_ih, b_hh)
    return out, h


def _summed(b_ih, b_hh):
    """In RNN and LSTM the two biases simply add up: add them once, not at every step."""
    return None if b_ih is None else b_ih + b_hh


def _run_sequence(step, x, state, w_ih, w_hh, input_bias, step_bias):
    """Apply `step(xw_t, hw_t, state) -> state` for t = 1..T; state[0] is h.

    The plain way would call a cell T times, each doing both projections.
    This is faster: the input projection W_ih x_t + b does not depend on the
    state, so it is computed for all T steps in one matmul of N*T rows, and
    cut into steps with one split (whose backward is one concat). Only the
    hidden projection W_hh h_{t-1} has to wait for the previous step: one
    (N, H) x (H, gates*H) matmul per step.
    Returns (every step's h stacked to (N, T, H), the final state).
    """
    n, steps = x.shape[0], x.shape[1]
    xw = F.linear(x, w_ih, input_bias)                                   # (N, T, gates*H)
    xw_steps = [F.reshape(s, (n, xw.shape[2])) for s in F.chunk(xw, steps, 1)]
    outputs = []
    for xw_t in xw_steps:
        state = step(xw_t, F.linear(state[0], w_hh, step_bias), state)
        outputs.append(state[0])
    return F.stack(outputs, axis=1), state


# ----------------------------------------------------------------------------
# The fast LSTM and GRU layers: the loop over time is one fused op
# ----------------------------------------------------------------------------
# The plain layers above put ~15 ops per step in the graph for an LSTM (~12 for
# a GRU), and every op costs microseconds of Python in forward and again in
# backward: a 50-step LSTM's training step made ~2,300 Functions. The fused
# ops run the loop over time on raw arrays, and backpropagate through time
# with ~8 ops per step and one matmul for the whole dW_hh
# (minidl.functional.recurrent explains how): ~440 Functions. One training
# step (zero_grad, forward, backward, SGD) of the LSTM in
# benchmarks/train_step.py (input 32, hidden 128, 50 steps, batch 32), one
# thread, median of 20 steps taking turns on a busy 2-core machine: plain
# 92 ms, fused 48 ms, PyTorch 23 ms. Most of what is left is the 100 small
# matmuls (one per step each way) and NumPy's per-call cost on (32, 128) arrays.
# nn.RNN keeps the plain layer: its step is only three ops.
def lstm_layer(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (N, T, F) from state (h, c), (N, H) each -> (every step's h (N, T, H), (h_T, c_T))."""
    h0, c0 = state
    hs, cs = lstm_sequence(F.linear(x, w_ih, _summed(b_ih, b_hh)), w_hh, h0, c0)
    return hs, (hs[:, -1], cs[:, -1])


def gru_layer(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (N, T, F) from h (N, H) -> (the h of every step (N, T, H), the last h)."""
    hs = gru_sequence(F.linear(x, w_ih, b_ih), w_hh, b_hh, h)
    return hs, hs[:, -1]


# ----------------------------------------------------------------------------
# The layers, with their weights
# ----------------------------------------------------------------------------
class _RecurrentLayer(Module):
    """What RNN, LSTM and GRU share: the weights of each layer, and running the layers in turn.

    Subclasses set `gates` (1, 4, 3), `states` (1, or 2 for the LSTM's (h, c))
    and define `layer(x, state, w_ih, w_hh, b_ih, b_hh) -> (outputs, state)`,
    state a tuple of tensors.
    """
    gates = 1
    states = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True,
                 dropout=0.0):
        super().__init__()
        name = type(self).__name__
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be "
                             f"positive, got {input_size}, {hidden_size}, {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        rows = self.gates * hidden_size
        for k in range(num_layers):
            features = input_size if k == 0 else hidden_size
            setattr(self, f"weight_ih_l{k}", Parameter(_empty(rows, features)))
            setattr(self, f"weight_hh_l{k}", Parameter(_empty(rows, hidden_size)))
            if bias:
                setattr(self, f"bias_ih_l{k}", Parameter(_empty(rows)))
                setattr(self, f"bias_hh_l{k}", Parameter(_empty(rows)))
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if not self.batch_first:
            text += ", batch_first=False"
        if self.dropout:
            text += f", dropout={self.dropout}"
        return text

    def layer_weights(self, k):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k; biases None without bias."""
        weights = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
        if not self.bias:
            return weights + (None, None)
        return weights + (getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}"))

    def forward(self, x, hx=None):
        """x (N, T, F) -> (output (N, T, H), h_n (layers, N, H)); the LSTM's h_n is (h_n, c_n)."""
        self._check_input(x)
        if not self.batch_first:
            x = F.swapaxes(x, 0, 1)
        initial = self._initial_state(x, hx)
        finals = []
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout)  # between layers, not after the last
            x, state = self.layer(x, tuple(s[k] for s in initial), *self.layer_weights(k))
            finals.append(state)
        output = x if self.batch_first else F.swapaxes(x, 0, 1)
        last = tuple(F.stack([state[i] for state in finals], axis=0) for i in range(self.states))
        return output, (last if self.states > 1 else last[0])

    def _check_input(self, x):
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim != 3:
            layout = "(N, T, features)" if self.batch_first else "(T, N, features)"
            raise ValueError(f"{name}: input must be a 3-D Tensor {layout}, "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        if x.shape[2] != self.input_size:
            raise ValueError(f"{name}: input has {x.shape[2]} features but input_size is "
                             f"{self.input_size} (input shape {x.shape})")

    def _initial_state(self, x, hx):
        """The initial state as a tuple of (layers, N, H) tensors; zeros when not given."""
        name = type(self).__name__
        expected = (self.num_layers, x.shape[0], self.hidden_size)
        if hx is None:
            return (_zeros(x, expected),) * self.states
        if self.states == 1:
            parts = (hx,)
        elif isinstance(hx, (tuple, list)) and len(hx) == 2:
            parts = tuple(hx)
        else:
            raise ValueError(f"{name}: the initial state must be a pair (h0, c0)")
        for label, t in zip(("h0", "c0"), parts):
            if t.shape != expected:
                raise ValueError(f"{name}: {label} has shape {t.shape}, expected "
                                 f"(num_layers, N, hidden_size) = {expected}")
        return parts


class RNN(_RecurrentLayer):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), or relu."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=True, dropout=0.0):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"

    def layer(self, x, state, *weights):
        out, h = rnn_layer(x, state[0], *weights, nonlinearity=self.nonlinearity)
        return out, (h,)


class LSTM(_RecurrentLayer):
    """Long short-term memory. Returns (output, (h_n, c_n)); gate order i, f, g, o."""
    gates = 4
    states = 2

    def layer(self, x, state, *weights):
        return lstm_layer(x, state, *weights)


class GRU(_RecurrentLayer):
    """Gated recurrent unit; gate order r, z, n."""
    gates = 3

    def layer(self, x, state, *weights):
        out, h = gru_layer(x, state[0], *weights)
        return out, (h,)


# ----------------------------------------------------------------------------
# One step at a time
# ----------------------------------------------------------------------------
class _Cell(Module):
    """What the cells share: weight_ih (gates*H, F), weight_hh (gates*H, H), biases."""
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        self.weight_ih = Parameter(_empty(rows, input_size))
        self.weight_hh = Parameter(_empty(rows, hidden_size))
        self.bias_ih = Parameter(_empty(rows)) if bias else None
        self.bias_hh = Parameter(_empty(rows)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def _state(self, x, state, count):
        """Check x (N, F); return the `count` state tensors, zeros of (N, H) when not given."""
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{name}: input must be (N, {self.input_size}), "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        expected = (x.shape[0], self.hidden_size)
        if state is None:
            return (_zeros(x, expected),) * count
        state = tuple(state) if count == 2 and isinstance(state, (tuple, list)) else (state,)
        if len(state) != count:
            raise ValueError(f"{name}: the state must be a pair (h, c)")
        for t in state:
            if t.shape != expected:
                raise ValueError(f"{name}: state has shape {t.shape}, expected {expected}")
        return state


class RNNCell(_Cell):
    """One RNN step: forward(x (N, F), h (N, H) or None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', "
                             f"not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        h, = self._state(x, h, 1)
        return rnn_cell(x, h, *self.weights(), nonlinearity=self.nonlinearity)


class LSTMCell(_Cell):
    """One LSTM step: forward(x (N, F), (h, c) or None) -> (h', c')."""
    gates = 4

    def forward(self, x, state=None):
        return lstm_cell(x, self._state(x, state, 2), *self.weights())


class GRUCell(_Cell):
    """One GRU step: forward(x (N, F), h (N, H) or None) -> h'."""
    gates = 3

    def forward(self, x, h=None):
        h, = self._state(x, h, 1)
        return gru_cell(x, h, *self.weights())


def _empty(*shape):
    """An uninitialised array of the default float dtype (the init fills it)."""
    return np.empty(shape, dtype=backend.default_dtype())


def _zeros(x, shape):
    """A zero state with x's dtype and device."""
    return Tensor(backend.get_array_module(x.data).zeros(shape, dtype=x.dtype))
