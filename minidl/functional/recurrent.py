"""The math of the recurrent layers: one step of an RNN, LSTM or GRU, a layer over a whole
sequence built from those steps (the definition), and the same layers as one fused op
each (what nn.RNN, nn.LSTM and nn.GRU run).

A recurrent layer reads a sequence x_1 .. x_T one step at a time and keeps a hidden
state h_t (an LSTM also a cell state c_t). Every step applies the same update, with
xw = W_ih x_t + b_ih and hw = W_hh h_{t-1} + b_hh:

    RNN   h_t = tanh(xw + hw)                                   (or relu)
    LSTM  i, f, g, o = split(xw + hw)                           four gates
          c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
          h_t = sigmoid(o) * tanh(c_t)
    GRU   r, z = sigmoid(xw_r + hw_r), sigmoid(xw_z + hw_z)
          n = tanh(xw_n + r * hw_n)
          h_t = (1 - z) * n + z * h_{t-1}

Gate orders and weight layouts are PyTorch's. Sequences are time-major here, (T, N, F),
as the layers' default input: step t is the contiguous block x[t].

The plain layers (`lstm_layer_reference`, ...) apply a cell made of ordinary tensor ops
at every step, so backpropagation through time is just the graph walk, and second
derivatives work too. That is the definition to read. But every op is a Python object
in the graph with a backward of a few more: an LSTM step is ~15 of them, and a 50-step
layer made ~2,300 Functions per training step, whose Python overhead took most of the
time.

The fused layers (`lstm_layer`, ...) compute the same thing in three ops: the input
projection of every step as one matrix product (x has N*T rows; its gradients are
then one product each as well), the recurrence over time as one Function
(RNNSequence, LSTMSequence, GRUSequence), and taking the last step. The Function's
forward runs the steps on raw arrays: per step one product h_{t-1} W_hh^T (BLAS) and
one fused kernel from the kernel table (kernels/recurrent.py) for everything else:
the gates, the new state, and the gate values the backward needs. Its backward is
backpropagation through time written out: going back, per step one fused kernel (the
gradients of the gates' pre-activations, from the saved gate values) and one product
gz_t W_hh; then the weight gradient dW_hh = sum_t gz_t^T h_{t-1} as one product over
all N*T rows. All of it on preallocated arrays.

Second derivatives: a backward that is to be differentiated again
(mdl.grad(..., create_graph=True)) must be made of Tensor ops. Then the same backward
runs as Tensor ops instead, the local derivatives recomputed from the op's inputs and
outputs (`lstm_local_derivatives`, ...); the tests check that both give the same
gradients.
"""
from .. import backend
from ..autograd import Function, is_grad_enabled
from ..creation import zeros_like
from ..tensor import Tensor
from .activation import relu, sigmoid, tanh
from .dense import linear
from .reduce import sum
from .shape import chunk, concat, reshape, stack, unbind, unsqueeze


# ----------------------------------------------------------------------------
# One time step. Each update gets the two projections already computed:
#   xw = W_ih x + b_ih   and   hw = W_hh h + b_hh   (both (N, gates*H))
# ----------------------------------------------------------------------------
def rnn_update(xw, hw, nonlinearity="tanh"):
    z = xw + hw
    return tanh(z) if nonlinearity == "tanh" else relu(z)


def lstm_update(xw, hw, c):
    """New (h, c) from the projections and the old cell state c."""
    i, f, g, o = chunk(xw + hw, 4, -1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
    return h, c


def gru_update(xw, hw, h):
    """New h. The reset gate r scales W_hn h + b_hn, bias included (PyTorch's formula)."""
    x_r, x_z, x_n = chunk(xw, 3, -1)
    h_r, h_z, h_n = chunk(hw, 3, -1)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


# The cells: one step with both projections written out (nn.RNNCell, ... run these).
def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    return rnn_update(linear(x, w_ih, b_ih), linear(h, w_hh, b_hh), nonlinearity)


def lstm_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = state
    return lstm_update(linear(x, w_ih, b_ih), linear(h, w_hh, b_hh), c)


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    return gru_update(linear(x, w_ih, b_ih), linear(h, w_hh, b_hh), h)


# ----------------------------------------------------------------------------
# One layer over a whole sequence, the plain way: a cell per step
# ----------------------------------------------------------------------------
def rnn_layer_reference(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (T, N, F) from h (N, H) -> (the h of every step (T, N, H), the last h)."""
    def step(xw, hw, state):
        return (rnn_update(xw, hw, nonlinearity),)
    out, (h,) = _run_sequence(step, x, (h,), w_ih, w_hh, _summed(b_ih, b_hh), None)
    return out, h


def lstm_layer_reference(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (T, N, F) from state (h, c), (N, H) each -> (every step's h (T, N, H), (h_T, c_T))."""
    def step(xw, hw, state):
        return lstm_update(xw, hw, state[1])
    return _run_sequence(step, x, tuple(state), w_ih, w_hh, _summed(b_ih, b_hh), None)


def gru_layer_reference(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (T, N, F) from h (N, H) -> (the h of every step (T, N, H), the last h)."""
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

    The input projection W_ih x_t + b does not depend on the state, so it is computed
    for all T steps in one matmul of T*N rows and cut into steps; only the hidden
    projection W_hh h_{t-1} has to wait for the previous step.
    Returns (every step's h stacked to (T, N, H), the final state).
    """
    outputs = []
    for xw_t in unbind(linear(x, w_ih, input_bias), 0):              # T x (N, gates*H)
        state = step(xw_t, linear(state[0], w_hh, step_bias), state)
        outputs.append(state[0])
    return stack(outputs, 0), state


# ----------------------------------------------------------------------------
# RNN: the recurrence as one op
# ----------------------------------------------------------------------------
class RNNSequence(Function):
    """(xw (T, N, H), w_hh (H, H), b (H,), h0 (N, H)) -> h of every step (T, N, H).

    Step t: h = act(xw[t] + h W_hh^T + b), act = tanh or relu.
    """

    def __init__(self, nonlinearity):
        self.relu = nonlinearity == "relu"

    def forward(self, xw, w_hh, b, h0):
        xp, kernels = self.xp, backend.kernels_for(xw)
        xw, b = xp.ascontiguousarray(xw), xp.ascontiguousarray(b)
        w_t = xp.ascontiguousarray(w_hh.T)  # transposed once: the product reads it T times
        self.hs = _states(xp, h0, xw.shape[0])
        hw = xp.empty(xw.shape[1:], dtype=xw.dtype)
        for t in range(xw.shape[0]):
            kernels.matmul_into(self.hs[t], w_t, hw)
            kernels.rnn_cell_forward(t, xw, hw, b, self.hs, self.relu)
        return self.hs[1:]

    def backward(self, g_hs):
        if is_grad_enabled():  # create_graph: a backward that can be differentiated again
            return self._backward_in_graph(g_hs)
        return self._backward_fused(g_hs.data)

    def _backward_fused(self, g_hs):
        """Backpropagation through time on arrays: per step one fused kernel, one product."""
        _check_outputs_unchanged(self)
        xp, kernels = self.xp, backend.kernels_for(g_hs)
        xw, w_hh, _, h0 = (t.data for t in self.inputs)
        g_hs = xp.ascontiguousarray(g_hs, dtype=xw.dtype)
        gz = xp.empty_like(g_hs)
        gh = xp.zeros(h0.shape, dtype=xw.dtype)       # gz_{t+1} W_hh: nothing after the last step
        for t in reversed(range(xw.shape[0])):
            kernels.rnn_cell_backward(t, g_hs, gh, self.hs, self.relu, gz)
            if t > 0 or self.needs_input_grad[3]:      # at t = 0, the gradient of h0
                kernels.matmul_into(gz[t], w_hh, gh)
        return _gradients(self, gz, gz, self.hs, gh)

    def _backward_in_graph(self, g_hs):
        xw, w_hh, _, h0 = self.inputs
        hs = self.output()
        slope = Tensor((hs.data > 0).astype(hs.dtype)) if self.relu else 1 - hs * hs
        gz_steps, g_h0 = _rnn_through_time(unbind(g_hs, 0), unbind(slope, 0), w_hh,
                                           zeros_like(h0))
        return _gradients_in_graph(self, stack(gz_steps, 0), _shifted(h0, hs), g_h0)


def _rnn_through_time(g_hs, slope, w_hh, zero):
    """The loop of the RNN's backward, last step first, on lists of T pieces (N, H):
    gz_t = (g_hs[t] + gz_{t+1} W_hh) act'(z_t). Returns (the gz pieces, the gradient of h0)."""
    gh_next = zero
    gz_steps = [None] * len(g_hs)
    for t in reversed(range(len(g_hs))):
        gz_steps[t] = (gh_next + g_hs[t]) * slope[t]
        gh_next = gz_steps[t] @ w_hh
    return gz_steps, gh_next


def rnn_sequence(xw, w_hh, b, h0, nonlinearity="tanh"):
    """Run an Elman RNN over a sequence: h of every step (T, N, H).

    xw (T, N, H) holds each step's input projection x_t W_ih^T, w_hh (H, H) the hidden
    weight, b (H,) the bias added at every step (b_ih + b_hh; None for none), h0 (N, H)
    the initial state; nonlinearity "tanh" or "relu".
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_sequence: nonlinearity must be 'tanh' or 'relu', "
                         f"not {nonlinearity!r}")
    b = _check("rnn_sequence", xw, w_hh, b, 1, h0)
    return RNNSequence(nonlinearity)(xw, w_hh, b, h0)


# ----------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------
def lstm_local_derivatives(i, f, g, o, tanh_c, c_prev):
    """How one step's pre-activations z = (z_i, z_f, z_g, z_o) move with its new c and h.

    With i, f, o = sigmoid(z_i, z_f, z_o), g = tanh(z_g), c = f c_prev + i g and
    h = o tanh(c), and gc, gh the gradients of c and h:
        gz = (gc dz_i, gc dz_f, gc dz_g, gh dz_o)   and c gets gh * dh_dc from h.
    Returns (dz_i, dz_f, dz_g, dz_o, dh_dc): the products that the fused kernels form
    from the saved gates. Only * and - are used, so arrays or Tensors alike.
    """
    return (g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o),
            o * (1 - tanh_c * tanh_c))


class LSTMSequence(Function):
    """(xw (T, N, 4H), w_hh (4H, H), b (4H,), h0 (N, H), c0 (N, H)) -> (h, c of every step,
    (T, N, H) each).

    Step t: z = xw[t] + h W_hh^T + b, split into the gates i, f, g, o;
            c = sigmoid(f) * c + sigmoid(i) * tanh(g),  h = sigmoid(o) * tanh(c).
    """

    def forward(self, xw, w_hh, b, h0, c0):
        xp, kernels = self.xp, backend.kernels_for(xw)
        xw, b = xp.ascontiguousarray(xw), xp.ascontiguousarray(b)
        w_t = xp.ascontiguousarray(w_hh.T)  # transposed once: the product reads it T times
        steps = xw.shape[0]
        self.hs, self.cs = _states(xp, h0, steps), _states(xp, c0, steps)
        self.gates, self.tanh_c = xp.empty_like(xw), xp.empty_like(self.hs[1:])
        hw = xp.empty(xw.shape[1:], dtype=xw.dtype)
        for t in range(steps):
            kernels.matmul_into(self.hs[t], w_t, hw)
            kernels.lstm_cell_forward(t, xw, hw, b, self.hs, self.cs, self.gates, self.tanh_c)
        return self.hs[1:], self.cs[1:]

    def backward(self, g_hs, g_cs):
        if is_grad_enabled():  # create_graph: a backward that can be differentiated again
            return self._backward_in_graph(g_hs, g_cs)
        return self._backward_fused(g_hs.data, g_cs.data)

    def _backward_fused(self, g_hs, g_cs):
        """Backpropagation through time on arrays: per step one fused kernel, one product."""
        _check_outputs_unchanged(self)
        xp, kernels = self.xp, backend.kernels_for(g_hs)
        xw, w_hh, _, h0, _ = (t.data for t in self.inputs)
        g_hs = xp.ascontiguousarray(g_hs, dtype=xw.dtype)
        g_cs = xp.ascontiguousarray(g_cs, dtype=xw.dtype)
        gz = xp.empty_like(self.gates)
        gh = xp.zeros(h0.shape, dtype=xw.dtype)  # gz_{t+1} W_hh: nothing after the last step
        gc = xp.zeros(h0.shape, dtype=xw.dtype)  # f_{t+1} times the gradient of c_{t+1}
        for t in reversed(range(xw.shape[0])):
            kernels.lstm_cell_backward(t, g_hs, g_cs, gh, gc, self.cs, self.gates, self.tanh_c,
                                       gz)
            if t > 0 or self.needs_input_grad[3]:  # at t = 0, the gradient of h0
                kernels.matmul_into(gz[t], w_hh, gh)
        return _gradients(self, gz, gz, self.hs, gh, gc)

    def _backward_in_graph(self, g_hs, g_cs):
        xw, w_hh, b, h0, c0 = self.inputs
        hs, cs = self.output(0), self.output(1)
        h_prev = _shifted(h0, hs)
        z_i, z_f, z_g, z_o = chunk(xw + linear(h_prev, w_hh, b), 4, -1)
        i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
        *dz, dh_dc = lstm_local_derivatives(i, f, g, o, tanh(cs), _shifted(c0, cs))
        gz_steps, g_h0, g_c0 = _lstm_through_time(
            unbind(g_hs, 0), unbind(g_cs, 0), unbind(concat(dz, axis=-1), 0), unbind(dh_dc, 0),
            unbind(f, 0), w_hh, zeros_like(h0))
        return _gradients_in_graph(self, stack(gz_steps, 0), h_prev, g_h0, g_c0)


def _lstm_through_time(g_hs, g_cs, dz, dh_dc, f, w_hh, zero):
    """The loop of the LSTM's backward, from the last step to the first.

    Every argument but w_hh and zero is a list of T pieces (N, .). The
    gradient of h_t has two sources: the loss directly (g_hs[t]) and step
    t+1's pre-activations (gz_{t+1} W_hh). That of c_t has three: the loss,
    h_t, and c_{t+1} = f_{t+1} c_t + ... . Returns (the T gz pieces, in order;
    the gradient of h0; the gradient of c0).
    """
    gh_next, gc_next = zero, zero  # what comes back from step t+1 (nothing, for the last)
    gz_steps = [None] * len(g_hs)
    for t in reversed(range(len(g_hs))):
        gh = gh_next + g_hs[t]
        gc = gc_next + g_cs[t] + gh * dh_dc[t]
        gz_steps[t] = concat([gc, gc, gc, gh], axis=-1) * dz[t]
        gh_next = gz_steps[t] @ w_hh
        gc_next = gc * f[t]
    return gz_steps, gh_next, gc_next


def lstm_sequence(xw, w_hh, b, h0, c0):
    """Run an LSTM over a sequence: h and c of every step, (T, N, H) each.

    xw (T, N, 4H) holds each step's input projection x_t W_ih^T, w_hh (4H, H) is the
    hidden weight in PyTorch's layout, gate order i, f, g, o, b (4H,) the bias added at
    every step (b_ih + b_hh; None for none), and (h0, c0) the initial state, (N, H) each.
    """
    b = _check("lstm_sequence", xw, w_hh, b, 4, h0, c0)
    return LSTMSequence()(xw, w_hh, b, h0, c0)


# ----------------------------------------------------------------------------
# GRU
# ----------------------------------------------------------------------------
def gru_local_derivatives(r, z, n, hw_n, h_prev):
    """How one step's pre-activations move with its new h, per unit of gradient of h.

    With r, z = sigmoid(xw_r + hw_r, xw_z + hw_z), n = tanh(xw_n + r hw_n) and
    h = (1 - z) n + z h_prev, returns (dr, dz, dn): the gradient of h times dr
    goes into xw_r and hw_r, times dz into xw_z and hw_z, times dn into xw_n
    and times dn * r into hw_n. Arrays or Tensors alike.
    """
    dn = (1 - z) * (1 - n * n)
    return dn * hw_n * r * (1 - r), (h_prev - n) * z * (1 - z), dn


class GRUSequence(Function):
    """(xw (T, N, 3H), w_hh (3H, H), b_hh (3H,), h0 (N, H)) -> h of every step (T, N, H).

    Step t: hw = h W_hh^T + b_hh; with both split into the gates r, z, n,
            r = sigmoid(xw_r + hw_r), z = sigmoid(xw_z + hw_z), n = tanh(xw_n + r * hw_n),
            h = (1 - z) * n + z * h.
    """

    def forward(self, xw, w_hh, b_hh, h0):
        xp, kernels = self.xp, backend.kernels_for(xw)
        xw, b_hh = xp.ascontiguousarray(xw), xp.ascontiguousarray(b_hh)
        w_t = xp.ascontiguousarray(w_hh.T)  # transposed once: the product reads it T times
        self.hs = _states(xp, h0, xw.shape[0])
        self.gates, self.hw_n = xp.empty_like(xw), xp.empty_like(self.hs[1:])
        hw = xp.empty(xw.shape[1:], dtype=xw.dtype)
        for t in range(xw.shape[0]):
            kernels.matmul_into(self.hs[t], w_t, hw)
            kernels.gru_cell_forward(t, xw, hw, b_hh, self.hs, self.gates, self.hw_n)
        return self.hs[1:]

    def backward(self, g_hs):
        if is_grad_enabled():  # create_graph: a backward that can be differentiated again
            return self._backward_in_graph(g_hs)
        return self._backward_fused(g_hs.data)

    def _backward_fused(self, g_hs):
        """Backpropagation through time on arrays: per step one fused kernel, one product."""
        _check_outputs_unchanged(self)
        xp, kernels = self.xp, backend.kernels_for(g_hs)
        xw, w_hh, _, h0 = (t.data for t in self.inputs)
        g_hs = xp.ascontiguousarray(g_hs, dtype=xw.dtype)
        ghw, g_xw = xp.empty_like(self.gates), xp.empty_like(self.gates)
        gh = xp.zeros(h0.shape, dtype=xw.dtype)     # ghw_{t+1} W_hh: nothing after the last step
        carry = xp.zeros(h0.shape, dtype=xw.dtype)  # z_{t+1} times the gradient of h_{t+1}
        for t in reversed(range(xw.shape[0])):
            kernels.gru_cell_backward(t, g_hs, gh, carry, self.hs, self.gates, self.hw_n, ghw,
                                      g_xw)
            if t > 0 or self.needs_input_grad[3]:     # at t = 0, the gradient of h0
                kernels.matmul_into(ghw[t], w_hh, gh)
        return _gradients(self, g_xw, ghw, self.hs, gh + carry)

    def _backward_in_graph(self, g_hs):
        xw, w_hh, b_hh, h0 = self.inputs
        hidden = g_hs.shape[2]
        hs = self.output()
        h_prev = _shifted(h0, hs)
        x_r, x_z, x_n = chunk(xw, 3, -1)
        h_r, h_z, hw_n = chunk(linear(h_prev, w_hh, b_hh), 3, -1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        dr, dz, dn = gru_local_derivatives(r, z, tanh(x_n + r * hw_n), hw_n, h_prev)
        gh_steps, ghw_steps, g_h0 = _gru_through_time(
            unbind(g_hs, 0), unbind(concat([dr, dz, dn * r], axis=-1), 0), unbind(z, 0), w_hh,
            zeros_like(h0))
        ghw = stack(ghw_steps, 0)                  # (T, N, 3H)
        # xw gets what hw gets, but gh * dn for the n block, where hw_n got gh * dn * r
        g_xw = concat([ghw[..., :2 * hidden], stack(gh_steps, 0) * dn], axis=-1)
        return _gradients_in_graph(self, ghw, h_prev, g_h0, g_xw=g_xw)


def _gru_through_time(g_hs, dhw, z, w_hh, zero):
    """The loop of the GRU's backward, from the last step to the first.

    g_hs, dhw and z are lists of T pieces (N, .). h_{t-1} reaches h_t
    directly (weighted by z_t) and through hw_t = h_{t-1} W_hh^T + b_hh.
    Returns (the gradient of each h_t, of each hw_t, of h0).
    """
    gh_next = zero
    gh_steps, ghw_steps = [None] * len(g_hs), [None] * len(g_hs)
    for t in reversed(range(len(g_hs))):
        gh = gh_steps[t] = gh_next + g_hs[t]
        ghw_steps[t] = concat([gh, gh, gh], axis=-1) * dhw[t]
        gh_next = ghw_steps[t] @ w_hh + gh * z[t]
    return gh_steps, ghw_steps, gh_next


def gru_sequence(xw, w_hh, b_hh, h0):
    """Run a GRU over a sequence: h of every step (T, N, H).

    xw (T, N, 3H) holds each step's input projection x_t W_ih^T + b_ih;
    w_hh (3H, H) and b_hh (3H,) the hidden weight and bias (b_hh may be None),
    gate order r, z, n as in PyTorch; h0 (N, H) the initial state.
    """
    b_hh = _check("gru_sequence", xw, w_hh, b_hh, 3, h0)
    return GRUSequence()(xw, w_hh, b_hh, h0)


# ----------------------------------------------------------------------------
# The fused layers: input projection, recurrence, last step
# ----------------------------------------------------------------------------
def rnn_layer(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (T, N, F) from h (N, H) -> (the h of every step (T, N, H), the last h)."""
    hs = rnn_sequence(linear(x, w_ih), w_hh, _summed(b_ih, b_hh), h, nonlinearity)
    return hs, hs[-1]


def lstm_layer(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (T, N, F) from state (h, c), (N, H) each -> (every step's h (T, N, H), (h_T, c_T))."""
    h0, c0 = state
    hs, cs = lstm_sequence(linear(x, w_ih), w_hh, _summed(b_ih, b_hh), h0, c0)
    return hs, (hs[-1], cs[-1])


def gru_layer(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (T, N, F) from h (N, H) -> (the h of every step (T, N, H), the last h)."""
    hs = gru_sequence(linear(x, w_ih, b_ih), w_hh, b_hh, h)
    return hs, hs[-1]


def reversed_layer(layer, x, state, *weights):
    """The reverse direction of a bidirectional layer: `layer` run from x_T back to x_1.

    It is the same layer function on the time-reversed sequence, with its
    outputs put back in time order: output t is the state after reading
    x_T .. x_t, and the final state is the one after x_1.
    """
    out, state = layer(_time_reversed(x), state, *weights)
    return _time_reversed(out), state


def _time_reversed(a):
    """a (T, N, K) with its steps in reverse order (a view; its backward reverses back)."""
    return a[::-1]


# ----------------------------------------------------------------------------
# shared
# ----------------------------------------------------------------------------
def _states(xp, first, steps):
    """(steps + 1, N, H) for the states of a recurrence, [0] holding `first`, (N, H)."""
    states = xp.empty((steps + 1,) + first.shape, dtype=first.dtype)
    states[0] = first
    return states


def _check_outputs_unchanged(f):
    """The fused backward reads the outputs' memory: raise if one was changed in place."""
    for i in range(len(f.outputs)):
        f.output(i)


def _gradients(f, g_xw, g_hw, hs, *g_states):
    """What a fused backward returns, as Tensors, in the inputs' order (xw, w_hh, b, the
    initial states), None where no gradient is wanted. g_hw (T, N, G*H) is the gradient
    of the step's hidden projection hw = h_{t-1} W_hh^T + b, so that of W_hh is one
    product of T*N rows (the sum over steps of g_hw_t^T h_{t-1}), and that of b its sum."""
    need = f.needs_input_grad
    rows = g_hw.reshape(-1, g_hw.shape[2])
    g_w = g_b = None
    if need[1]:
        g_w = Tensor(backend.kernels_for(rows).matmul(rows.T, hs[:-1].reshape(-1, hs.shape[2])))
    if need[2]:
        g_b = Tensor(rows.sum(axis=0))
    states = [Tensor(g) if wanted else None for g, wanted in zip(g_states, need[3:])]
    return (Tensor(g_xw) if need[0] else None, g_w, g_b, *states)


def _gradients_in_graph(f, g_hw, h_prev, *g_states, g_xw=None):
    """_gradients, from Tensors: g_xw is g_hw unless given."""
    need = f.needs_input_grad
    rows = reshape(g_hw, (-1, g_hw.shape[-1]))
    return ((g_hw if g_xw is None else g_xw) if need[0] else None,
            rows.T @ reshape(h_prev, (-1, h_prev.shape[-1])) if need[1] else None,
            sum(rows, 0) if need[2] else None,
            *[g if wanted else None for g, wanted in zip(g_states, need[3:])])


def _shifted(first, states):
    """The state before each step: first (N, H) then states (T, N, H) but the last."""
    return concat([unsqueeze(first, 0), states[:states.shape[0] - 1]], axis=0)


def _check(op, xw, w_hh, b, gates, *states):
    """Dtypes float32 or float64, all one; shapes: xw (T, N, gates*H) with T > 0,
    w_hh (gates*H, H), b (gates*H,), each state (N, H). Returns b, zeros if None."""
    arrays = (xw, w_hh) + states + (() if b is None else (b,))
    if len({t.dtype for t in arrays}) != 1 or xw.dtype not in ("float32", "float64"):
        raise TypeError(f"{op}: xw, w_hh, the bias and the initial state must all be float32 "
                        f"or all float64, got {', '.join(str(t.dtype) for t in arrays)}")
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: w_hh must be ({gates}*H, H), got shape {w_hh.shape}")
    hidden = w_hh.shape[1]
    if xw.ndim != 3 or xw.shape[2] != gates * hidden or xw.shape[0] == 0:
        raise ValueError(f"{op}: xw must be (T, N, {gates * hidden}) with T > 0 for w_hh "
                         f"{w_hh.shape}, got shape {xw.shape}")
    for state in states:
        if state.shape != (xw.shape[1], hidden):
            raise ValueError(f"{op}: the initial state has shape {state.shape}, expected "
                             f"(N, H) = {(xw.shape[1], hidden)}")
    if b is None:
        return Tensor(backend.get_array_module(xw.data).zeros(gates * hidden, dtype=xw.dtype))
    if b.shape != (gates * hidden,):
        raise ValueError(f"{op}: the bias has shape {b.shape}, expected ({gates * hidden},)")
    return b
