"""Recurrent layers: RNN, LSTM and GRU over whole sequences, and their one-step cells.

The modules hold the weights and check the inputs; the math is in
minidl.functional.recurrent (the update of each kind of layer, the plain layers built
from it, and the fused ops that these modules run). They follow PyTorch: signatures
and defaults, weight names, layouts and gate orders (so its state dicts load), the
initialisation U(-1/sqrt(H), 1/sqrt(H)) of every weight and bias, and the shapes:

    input   (T, N, F), or (N, T, F) with batch_first=True, or unbatched (T, F)
    output  (T, N, D*H) (likewise), D = 2 directions if bidirectional else 1
    h_n     (num_layers * D, N, H), or (num_layers * D, H) for unbatched input;
            the LSTM returns (h_n, c_n), and takes (h_0, c_0) of the same shapes

weight_ih_l{k} is (gates*H, F_in), weight_hh_l{k} (gates*H, H), biases bias_ih_l{k}
and bias_hh_l{k}; the reverse direction's weights end in "_reverse". A
bidirectional layer runs a second, separate recurrence from x_T back to x_1; at
every step its output is the forward state and the reverse state side by side
(forward first), and the next layer reads those 2H features. h_n lists layer 0
forward, layer 0 reverse, layer 1 forward, ...

The layers run time-major inside, (T, N, F), as PyTorch's: a batch-first input is
read through a transposed view.
"""
import math
import numbers
import warnings

import numpy as np

from .. import backend
from .. import functional as F
from ..creation import zeros
from ..functional.recurrent import (gru_cell, gru_layer, lstm_cell, lstm_layer, reversed_layer,
                                    rnn_cell, rnn_layer)
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


# ----------------------------------------------------------------------------
# The layers, with their weights
# ----------------------------------------------------------------------------
class _RecurrentLayer(Module):
    """What RNN, LSTM and GRU share: the weights of each layer and direction, the checks,
    and running the layers in turn.

    Subclasses set `gates` (1, 4, 3), `states` (1, or 2 for the LSTM's (h, c))
    and define `layer(x, state, w_ih, w_hh, b_ih, b_hh) -> (outputs, state)`
    for x (T, N, F), state a tuple of (N, H) tensors.
    """
    gates = 1
    states = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be "
                             f"positive, got {input_size}, {hidden_size}, {num_layers}")
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0.0 <= dropout <= 1.0):
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability "
                             f"of zeroing an element), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout acts between stacked layers, not after the last, "
                          f"so dropout={dropout} does nothing with num_layers=1", stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, 0
        dtype = _float_dtype(name, dtype)
        rows = self.gates * hidden_size
        for k in range(num_layers):
            features = input_size if k == 0 else hidden_size * self.num_directions
            for suffix in ("", "_reverse")[:self.num_directions]:
                shapes = {"weight_ih": (rows, features), "weight_hh": (rows, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                for kind, shape in shapes.items():
                    setattr(self, f"{kind}_l{k}{suffix}", _parameter(shape, device, dtype))
        self.reset_parameters()

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        _uniform_init(self, self.hidden_size)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text

    def layer_weights(self, k, reverse=False):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k (its reverse direction if
        `reverse`); the biases are None without bias."""
        suffix = "_reverse" if reverse else ""
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        weights = tuple(getattr(self, f"{n}_l{k}{suffix}") for n in names)
        return weights if self.bias else weights + (None, None)

    def forward(self, input, hx=None):
        """input (T, N, F) ((N, T, F) if batch_first, (T, F) unbatched) ->
        (output (T, N, D*H), h_n (num_layers*D, N, H)); the LSTM's h_n is (h_n, c_n)."""
        x, batched = self._as_time_major(input)                 # (T, N, F)
        output, finals = self._run_layers(x, self._initial_state(x, hx, batched))
        if not batched:
            output = F.squeeze(output, 1)
        elif self.batch_first:
            output = F.swapaxes(output, 0, 1)
        return output, self._stacked(finals, batched)

    def _run_layers(self, x, initial):
        """x (T, N, F), initial a tuple of (layers*D, N, H) -> (last layer's output
        (T, N, D*H), the final state of each layer and direction in PyTorch's order)."""
        finals = []
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout)  # between layers, not after the last
            outputs = []
            for d in range(self.num_directions):
                state = tuple(s[k * self.num_directions + d] for s in initial)
                weights = self.layer_weights(k, reverse=d == 1)
                if d == 0:
                    out, state = self.layer(x, state, *weights)
                else:
                    out, state = reversed_layer(self.layer, x, state, *weights)
                outputs.append(out)
                finals.append(state)
            x = outputs[0] if len(outputs) == 1 else F.concat(outputs, -1)
        return x, finals

    def _as_time_major(self, x):
        """Check the input; return it as (T, N, F) and whether it was batched."""
        name = type(self).__name__
        layout = "(N, T, features)" if self.batch_first else "(T, N, features)"
        if not isinstance(x, Tensor) or x.ndim not in (2, 3):
            raise ValueError(f"{name}: input must be a Tensor {layout}, or (T, features) "
                             f"unbatched, got {getattr(x, 'shape', type(x).__name__)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {x.shape[-1]} features but input_size is "
                             f"{self.input_size} (input shape {x.shape})")
        batched = x.ndim == 3
        if x.shape[1 if batched and self.batch_first else 0] == 0:
            raise ValueError(f"{name}: the sequence is empty (input shape {x.shape}, "
                             f"layout {layout if batched else '(T, features)'})")
        if not batched:
            return F.unsqueeze(x, 1), False
        return (F.swapaxes(x, 0, 1) if self.batch_first else x), True

    def _initial_state(self, x, hx, batched):
        """The initial state as a tuple of (layers*D, N, H) tensors; zeros when not given."""
        name = type(self).__name__
        stacked = self.num_layers * self.num_directions
        expected = (stacked, x.shape[1], self.hidden_size) if batched else \
            (stacked, self.hidden_size)
        if hx is None:
            zero = zeros(stacked, x.shape[1], self.hidden_size, dtype=x.dtype, device=x.device)
            return (zero,) * self.states
        if self.states == 1:
            parts = (hx,)
        elif isinstance(hx, (tuple, list)) and len(hx) == 2:
            parts = tuple(hx)
        else:
            raise ValueError(f"{name}: the initial state must be a pair (h0, c0)")
        for label, t in zip(("h0", "c0"), parts):
            if not isinstance(t, Tensor) or t.shape != expected:
                layout = "(num_layers * num_directions, N, hidden_size)" if batched else \
                    "(num_layers * num_directions, hidden_size)"
                raise ValueError(f"{name}: {label} has shape "
                                 f"{getattr(t, 'shape', type(t).__name__)}, expected "
                                 f"{layout} = {expected}"
                                 + ("" if batched else " for unbatched input (T, features)"))
        return parts if batched else tuple(F.unsqueeze(t, 1) for t in parts)

    def _stacked(self, finals, batched):
        """h_n (and c_n): the final states stacked to (layers*D, N, H), or (layers*D, H)."""
        last = []
        for i in range(self.states):
            stacked = F.stack([state[i] for state in finals], 0)
            last.append(stacked if batched else F.squeeze(stacked, 1))
        return tuple(last) if self.states > 1 else last[0]


class RNN(_RecurrentLayer):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), or relu."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"

    def layer(self, x, state, *weights):
        out, h = rnn_layer(x, state[0], *weights, nonlinearity=self.nonlinearity)
        return out, (h,)


class LSTM(_RecurrentLayer):
    """Long short-term memory. Returns (output, (h_n, c_n)); gate order i, f, g, o.

    proj_size (PyTorch's LSTM with projections) is not supported: it must be 0.
    """
    gates = 4
    states = 2

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        if proj_size != 0:
            raise NotImplementedError(f"LSTM: proj_size={proj_size!r} (an LSTM with projected "
                                      f"hidden states) is not supported; use proj_size=0")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)

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
    """What the cells share: weight_ih (gates*H, F), weight_hh (gates*H, H), biases, and
    the input checks. Input (N, F) with state (N, H), or unbatched (F,) with (H,)."""
    gates = 1
    states = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{name}: input_size and hidden_size must be positive, got "
                             f"{input_size}, {hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = _float_dtype(name, dtype)
        rows = self.gates * hidden_size
        self.weight_ih = _parameter((rows, input_size), device, dtype)
        self.weight_hh = _parameter((rows, hidden_size), device, dtype)
        self.bias_ih = _parameter((rows,), device, dtype) if bias else None
        self.bias_hh = _parameter((rows,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        _uniform_init(self, self.hidden_size)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def forward(self, input, hx=None):
        """input (N, F) or (F,); hx the state ((h, c) for the LSTM cell) or None for zeros.
        Returns the new state, batched or not as the input."""
        batched = self._check_input(input)
        x = input if batched else F.unsqueeze(input, 0)
        state = self._state(x, hx, batched)
        new = self.step(x, state)
        if batched:
            return new
        return tuple(F.squeeze(t, 0) for t in new) if self.states > 1 else F.squeeze(new, 0)

    def _check_input(self, x):
        """Raise unless x is (N, F) or (F,); return whether it is batched."""
        if not isinstance(x, Tensor) or x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input must be (N, {self.input_size}) or "
                             f"unbatched ({self.input_size},), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        return x.ndim == 2

    def _state(self, x, hx, batched):
        """The state tensors as (N, H); zeros when hx is None."""
        name = type(self).__name__
        if hx is None:
            return (zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device),) * self.states
        if self.states == 1:
            parts = (hx,)
        elif isinstance(hx, (tuple, list)) and len(hx) == 2:
            parts = tuple(hx)
        else:
            raise ValueError(f"{name}: the state must be a pair (h, c)")
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        for t in parts:
            if not isinstance(t, Tensor) or t.shape != expected:
                raise ValueError(f"{name}: state has shape "
                                 f"{getattr(t, 'shape', type(t).__name__)}, expected {expected} "
                                 f"for input of shape {x.shape if batched else x.shape[1:]}")
        return parts if batched else tuple(F.unsqueeze(t, 0) for t in parts)


class RNNCell(_Cell):
    """One RNN step: forward(input (N, F), h (N, H) or None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', "
                             f"not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"

    def step(self, x, state):
        return rnn_cell(x, state[0], *self.weights(), nonlinearity=self.nonlinearity)


class LSTMCell(_Cell):
    """One LSTM step: forward(input (N, F), (h, c) or None) -> (h', c')."""
    gates = 4
    states = 2

    def step(self, x, state):
        return lstm_cell(x, state, *self.weights())


class GRUCell(_Cell):
    """One GRU step: forward(input (N, F), h (N, H) or None) -> h'."""
    gates = 3

    def step(self, x, state):
        return gru_cell(x, state[0], *self.weights())


# ----------------------------------------------------------------------------
# shared
# ----------------------------------------------------------------------------
def _float_dtype(name, dtype):
    """The parameters' dtype: `dtype`, or the default float dtype when None."""
    dtype = backend.default_dtype() if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name}: dtype must be a floating dtype, got {dtype}")
    return dtype


def _parameter(shape, device, dtype):
    """A parameter of `shape` on `device` (cpu when None), to be filled by reset_parameters."""
    return Parameter(zeros(*shape, dtype=dtype, device=device or "cpu"))


def _uniform_init(module, hidden_size):
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


