"""Recurrent layers: SimpleRNN, LSTM and GRU, on nn.RNN, nn.LSTM and nn.GRU.

Keras's and PyTorch's recurrent layers compute the same thing with the weights stored
differently:

                Keras                                minidl (PyTorch's layout)
    kernel      (features, gates * units)            weight_ih_l0 = kernel.T
    recurrent   (units, gates * units)               weight_hh_l0 = recurrent_kernel.T
    bias        one, (gates * units,)                bias_ih_l0 (+ bias_hh_l0, here zero)
    LSTM gates  i, f, c, o                           i, f, g, o: the same order
    GRU gates   z, r, h                              r, z, n: the first two swapped
    GRU bias    (2, 3 * units): input, recurrent     bias_ih_l0, bias_hh_l0

SimpleRNN and LSTM have one bias in Keras, two in PyTorch (they only ever add up): here
bias_ih_l0 holds Keras's bias and bias_hh_l0 becomes a zero buffer, so the parameters
are Keras's and count as Keras counts them. Keras's GRU (reset_after=True, its default)
keeps two biases, because the recurrent one sits inside the reset gate, as in PyTorch.
Keras's initialization: glorot-uniform kernel, orthogonal recurrent kernel, zero bias,
and 1 for the LSTM's forget-gate bias (unit_forget_bias).

Inputs are (batch, steps, features), Keras's layout (batch_first=True). Without the
options below a layer is its minidl module (nn.LSTM runs its fused loop). With a mask (an
Embedding with mask_zero=True before it), a dropout while training, or activations other
than the defaults, it runs the steps written out in `_run_steps`: a masked step keeps the
previous state, so padding before or after a message changes nothing; dropout draws one
mask per sequence and uses it at every step (variational dropout, as Keras does).
"""
import numpy as np

from ... import functional as F
from ... import nn
from ...backend import to_numpy
from ...creation import ones, zeros
from .. import activations, initializers
from .base import InputSpec, Layer, Weight, write_into


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share. Subclasses set the module class, the number of
    gates and states, and `step(xw, hw, state) -> new state`, where xw = W_ih x + b_ih and
    hw = W_hh h + b_hh are one step's projections (PyTorch's gate order)."""

    module_class = None
    module_name = None
    gates = 1
    states = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units!r}.")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{type(self).__name__}: {name} must be in [0, 1], got {rate}")
        if stateful:
            raise NotImplementedError(f"{type(self).__name__}: stateful=True is not supported")
        self.units, self.use_bias = units, use_bias
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards = go_backwards   # unroll is a speed option of Keras's: no effect here
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{type(self).__name__}: the last dimension of the inputs "
                             f"(features) must be known, got input shape {input_shape}")
        self.input_spec = InputSpec(ndim=3, axes={-1: features})
        module = self.make_module(features)
        setattr(self, self.module_name, module)
        if self.use_bias and self.gates != 3:   # one bias, as Keras: bias_hh is a fixed zero
            module.register_buffer("bias_hh_l0", zeros(self.gates * self.units,
                                                       dtype=self.dtype), persistent=False)
        self.add_keras_weights(module, features)

    def make_module(self, features):
        return self.module_class(features, self.units, bias=self.use_bias, batch_first=True,
                                 dtype=self.dtype)

    @property
    def module(self):
        return getattr(self, self.module_name)

    def add_keras_weights(self, module, features):
        """kernel, recurrent_kernel, bias: the module's weights transposed (SimpleRNN, LSTM)."""
        self.kernel = self._add_view("kernel", module.weight_ih_l0, axes=(1, 0),
                                     initializer=self.kernel_initializer)
        self.recurrent_kernel = self._add_view("recurrent_kernel", module.weight_hh_l0,
                                               axes=(1, 0), initializer=self.recurrent_initializer)
        if self.use_bias:
            self.bias = self._add_view("bias", module.bias_ih_l0,
                                       initializer=self.bias_initializer)

    # ------------------------------------------------------------------ running
    def call(self, inputs, mask=None, training=False, initial_state=None):
        x = inputs
        keep = None if mask is None else mask.data.astype(bool)   # (batch, steps)
        if self.go_backwards:
            x = x[:, ::-1]
            keep = None if keep is None else keep[:, ::-1]
        state = self._initial_state(x, initial_state)
        if self._module_suffices(keep, training):
            sequence, state = self._run_module(x, state)
        else:
            sequence, state = self._run_steps(x, state, keep, training)
        output = sequence if self.return_sequences else state[0]
        return [output, *state] if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        return [output_mask] + [None] * self.states if self.return_state else output_mask

    def _module_suffices(self, keep, training):
        dropping = training and (self.dropout > 0 or self.recurrent_dropout > 0)
        return keep is None and not dropping and self.default_activations()

    def default_activations(self):
        return (self.activation is activations.tanh
                and self.recurrent_activation is activations.sigmoid)

    def _initial_state(self, x, initial_state):
        """The initial states as a list of (batch, units) tensors (zeros when not given)."""
        if initial_state is None:
            return [zeros(x.shape[0], self.units, dtype=x.dtype) for _ in range(self.states)]
        given = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        expected = (x.shape[0], self.units)
        if len(given) != self.states or any(tuple(s.shape) != expected for s in given):
            raise ValueError(f"{type(self).__name__} '{self.name}': initial_state must be "
                             f"{self.states} tensor(s) of shape {expected}, got "
                             f"{[tuple(getattr(s, 'shape', ())) for s in given]}")
        return given

    def _run_module(self, x, state):
        """The minidl module over the whole sequence: (every step's h, final states)."""
        hx = [F.unsqueeze(s, 0) for s in state]
        sequence, final = self.module(x, hx[0] if self.states == 1 else tuple(hx))
        final = [final] if self.states == 1 else list(final)
        return sequence, [F.squeeze(s, 0) for s in final]

    def _run_steps(self, x, state, keep, training):
        """The steps one by one, with the mask and the dropout masks (see the docstring)."""
        w_ih, w_hh, b_ih, b_hh = self.module.layer_weights(0)
        if training and self.dropout > 0:
            x = x * F.unsqueeze(_dropout_mask(x.shape[0], x.shape[2], self.dropout, x), 1)
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = _dropout_mask(x.shape[0], self.units, self.recurrent_dropout, x)
        outputs = []
        for t, xw in enumerate(F.unbind(F.linear(x, w_ih, b_ih), 1)):
            h = state[0] if recurrent_mask is None else state[0] * recurrent_mask
            new = self.step(xw, F.linear(h, w_hh, b_hh), state)
            if keep is not None:   # a masked step keeps the previous state
                new = [F.where(keep[:, t:t + 1], n, s) for n, s in zip(new, state)]
            state = new
            outputs.append(state[0])
        return F.stack(outputs, 1), state

    def step(self, xw, hw, state):
        raise NotImplementedError


def _dropout_mask(rows, columns, rate, like):
    """One (rows, columns) dropout mask: 0 with probability rate, else 1 / (1 - rate)."""
    return F.dropout(ones(rows, columns, dtype=like.dtype), rate, training=True)


class SimpleRNN(_Recurrent):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias), on nn.RNN."""

    module_class = nn.RNN
    module_name = "rnn"

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, **kwargs):
        super().__init__(units, activation, None, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll, **kwargs)

    def make_module(self, features):
        nonlinearity = "relu" if self.activation is activations.relu else "tanh"
        return nn.RNN(features, self.units, nonlinearity=nonlinearity, bias=self.use_bias,
                      batch_first=True, dtype=self.dtype)

    def default_activations(self):
        return self.activation in (activations.tanh, activations.relu)

    def step(self, xw, hw, state):
        return [self.activation(xw + hw)]


class LSTM(_Recurrent):
    """Long short-term memory, on nn.LSTM: gates i, f, c, o (PyTorch's i, f, g, o);
    c_t = f * c_{t-1} + i * activation(g), h_t = o * activation(c_t)."""

    module_class = nn.LSTM
    module_name = "lstm"
    gates = 4
    states = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        self.unit_forget_bias = unit_forget_bias
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll, **kwargs)

    def add_keras_weights(self, module, features):
        super().add_keras_weights(module, features)
        if self.use_bias and self.unit_forget_bias:   # the forget gate starts open
            bias = self.bias.numpy()
            bias[self.units:2 * self.units] = 1.0
            self.bias.assign(bias)

    def step(self, xw, hw, state):
        i, f, g, o = F.chunk(xw + hw, 4, -1)
        gate = self.recurrent_activation
        c = gate(f) * state[1] + gate(i) * self.activation(g)
        return [gate(o) * self.activation(c), c]


class GRU(_Recurrent):
    """Gated recurrent unit (reset_after=True, Keras's default), on nn.GRU:
    z, r = gates; n = activation(W_n x + b_n + r * (U_n h + b_hn)); h = z * h + (1 - z) * n."""

    module_class = nn.GRU
    module_name = "gru"
    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, reset_after=True, **kwargs):
        if not reset_after:
            raise NotImplementedError("GRU: reset_after=False (the reset gate applied before "
                                      "the recurrent matmul) is not supported; nn.GRU is the "
                                      "reset_after=True form, Keras's default")
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll, **kwargs)

    def add_keras_weights(self, module, features):
        """As the base class, with Keras's gate order z, r, h for PyTorch's r, z, n."""
        u = self.units
        self.kernel = self._add_weight_object(
            _gru_view("kernel", [module.weight_ih_l0], u),
            initializers.get(self.kernel_initializer)((features, 3 * u), self.dtype))
        self.recurrent_kernel = self._add_weight_object(
            _gru_view("recurrent_kernel", [module.weight_hh_l0], u),
            initializers.get(self.recurrent_initializer)((u, 3 * u), self.dtype))
        if self.use_bias:
            self.bias = self._add_weight_object(
                _gru_view("bias", [module.bias_ih_l0, module.bias_hh_l0], u),
                initializers.get(self.bias_initializer)((2, 3 * u), self.dtype))

    def step(self, xw, hw, state):
        x_r, x_z, x_n = F.chunk(xw, 3, -1)
        h_r, h_z, h_n = F.chunk(hw, 3, -1)
        r = self.recurrent_activation(x_r + h_r)
        z = self.recurrent_activation(x_z + h_z)
        n = self.activation(x_n + r * h_n)
        return [z * state[0] + (1 - z) * n]


def _swap_first_two_gates(array, units):
    """Blocks (a, b, c) of `units` along the last axis -> (b, a, c): r, z, n <-> z, r, h."""
    a, b, c = array[..., :units], array[..., units:2 * units], array[..., 2 * units:]
    return np.concatenate([b, a, c], axis=-1)


def _gru_view(name, tensors, units):
    """A Keras GRU weight over minidl tensors: one matrix transposed, or the two biases
    stacked, with the gates in Keras's order."""

    def read():
        arrays = [to_numpy(t.data) for t in tensors]
        stacked = arrays[0].T if arrays[0].ndim == 2 else np.stack(arrays)
        return _swap_first_two_gates(stacked, units).copy()

    def write(value):
        value = _swap_first_two_gates(value, units)
        if len(tensors) == 1:
            write_into(tensors[0], value.T)
        else:
            for t, row in zip(tensors, value):
                write_into(t, row)

    return Weight(name, read, write, tensors)
