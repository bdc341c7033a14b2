"""Fused recurrences: a whole LSTM or GRU layer over a sequence as one op.

minidl.nn.recurrent builds these layers from ordinary ops, one cell per time
step (read that first: it is the definition). Correct, but slow: each step of
an LSTM is about 15 small ops, and each op is a Python object in the graph,
with a backward of a few more ops. A 50-step LSTM made ~2,300 Functions per
training step, and the Python work around them took most of the time.

Here the whole recurrence is one Function. Given the input projections of
every step, xw = x W_ih^T + b (computed beforehand in one matmul), and the
initial state, `forward` runs the T steps on raw arrays. `backward` is
backpropagation through time written out by hand:

- A step's "local derivatives" (how its pre-activations respond to the
  gradients of its new h and c: products of gate values such as i (1 - i))
  do not depend on the gradient coming back from later steps. So forward
  computes them while each step's numbers are at hand, and what is left in
  the backward loop is linear in the incoming gradient: about 8 ops per
  step, one of them the matmul with W_hh.
- The weight gradient dW_hh = sum_t gz_t^T h_{t-1} is one matmul over all
  N*T rows at the end, not T small ones.

The backward is written with Tensor ops, so it can be differentiated again
(mdl.grad(..., create_graph=True)). For that, every value it uses must be a
function of the op's inputs in the graph: the local derivatives are then
recomputed from the inputs with Tensor ops (the hidden and cell states are
this op's own outputs), by the same function that forward used on arrays.
When no graph is recorded (an ordinary backward), the arrays forward saved
hold the same numbers, and the recomputation is skipped.
"""
from .. import backend
from ..autograd import Function, is_grad_enabled
from ..creation import zeros_like
from ..tensor import Tensor
from .activation import sigmoid, tanh
from .linalg import matmul_arrays
from .dense import linear
from .reduce import sum
from .shape import chunk, concat, reshape, split


# ----------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------
def lstm_local_derivatives(i, f, g, o, tanh_c, c_prev):
    """How one step's pre-activations z = (z_i, z_f, z_g, z_o) move with its new c and h.

    With i, f, o = sigmoid(z_i, z_f, z_o), g = tanh(z_g), c = f c_prev + i g and
    h = o tanh(c), and gc, gh the gradients of c and h:
        gz = (gc dz_i, gc dz_f, gc dz_g, gh dz_o)   and c gets gh * dh_dc from h.
    Returns (dz_i, dz_f, dz_g, dz_o, dh_dc). Only * and - are used, so the
    arguments may be arrays or Tensors alike.
    """
    return (g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o),
            o * (1 - tanh_c * tanh_c))


class LSTMSequence(Function):
    """(xw (N, T, 4H), w_hh (4H, H), h0 (N, H), c0 (N, H)) -> (h, c of every step, (N, T, H) each).

    Step t: z = xw[:, t] + h W_hh^T, split into the gates i, f, g, o;
            c = sigmoid(f) * c + sigmoid(i) * tanh(g),  h = sigmoid(o) * tanh(c).
    """

    def forward(self, xw, w_hh, h0, c0):
        xp = self.xp
        n, steps, gates_h = xw.shape
        hidden = gates_h // 4
        w_t = xp.ascontiguousarray(w_hh.T)  # transposed once: the matmul reads it T times
        scale, shift = _lstm_gate_constants(xp, hidden, xw.dtype)
        hs = xp.empty((n, steps, hidden), dtype=xw.dtype)
        cs = xp.empty_like(hs)
        keep = is_grad_enabled()  # save what backward needs, unless no backward can follow
        if keep:
            self.dz = xp.empty_like(xw)         # (dz_i, dz_f, dz_g, dz_o) of every step
            self.dh_dc, self.f = xp.empty_like(hs), xp.empty_like(hs)
        h, c = h0, c0
        for t in range(steps):
            z = xw[:, t] + matmul_arrays(h, w_t)
            # sigmoid(x) = (1 + tanh(x / 2)) / 2, so all four gates are one tanh
            i, f, g, o = _blocks(xp.tanh(z * scale) * scale + shift, 4)
            c_prev, c = c, f * c + i * g
            tanh_c = xp.tanh(c)
            h = o * tanh_c
            hs[:, t], cs[:, t] = h, c
            if keep:
                dz_i, dz_f, dz_g, dz_o, dh_dc = lstm_local_derivatives(i, f, g, o, tanh_c, c_prev)
                self.dz[:, t] = xp.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
                self.dh_dc[:, t], self.f[:, t] = dh_dc, f
        return hs, cs

    def backward(self, g_hs, g_cs):
        xw, w_hh, h0, c0 = self.inputs
        h_prev = _shifted(h0, self.output(0))      # (N, T, H): h_0 .. h_{T-1}
        if is_grad_enabled():  # create_graph: recompute them as functions of the inputs
            dz, dh_dc, f = self._local_derivatives_in_graph(h_prev)
        else:
            dz, dh_dc, f = Tensor(self.dz), Tensor(self.dh_dc), Tensor(self.f)
        gz_steps, g_h0, g_c0 = _lstm_through_time(
            time_steps(g_hs), time_steps(g_cs), time_steps(dz), time_steps(dh_dc), time_steps(f), w_hh,
            zeros_like(h0))
        gz = _joined(gz_steps)                     # (N, T, 4H)
        need = self.needs_input_grad
        return (gz if need[0] else None,
                _weight_gradient(gz, h_prev) if need[1] else None,
                g_h0 if need[2] else None,
                g_c0 if need[3] else None)

    def _local_derivatives_in_graph(self, h_prev):
        """(dz_i..dz_o concatenated, dh_dc, f), each (N, T, .), as Tensor ops on the inputs."""
        xw, w_hh, _, c0 = self.inputs
        z_i, z_f, z_g, z_o = chunk(xw + linear(h_prev, w_hh), 4, -1)
        i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
        cs = self.output(1)
        *dz, dh_dc = lstm_local_derivatives(i, f, g, o, tanh(cs), _shifted(c0, cs))
        return concat(dz, axis=-1), dh_dc, f


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


def _lstm_gate_constants(xp, hidden, dtype):
    """scale and shift for the gates i, f, g, o: sigmoid(x) = tanh(x/2)/2 + 1/2, tanh as is."""
    half = xp.full(hidden, 0.5, dtype=dtype)
    one, zero = xp.ones(hidden, dtype=dtype), xp.zeros(hidden, dtype=dtype)
    return xp.concatenate([half, half, one, half]), xp.concatenate([half, half, zero, half])


def lstm_sequence(xw, w_hh, h0, c0):
    """Run an LSTM over a sequence: h and c of every step, (N, T, H) each.

    xw (N, T, 4H) holds each step's input projection x_t W_ih^T + b_ih + b_hh,
    w_hh (4H, H) is the hidden weight in PyTorch's layout, gate order i, f, g, o,
    and (h0, c0) the initial state, (N, H) each.
    """
    _check("lstm_sequence", xw, w_hh, 4, h0, c0)
    return LSTMSequence()(xw, w_hh, h0, c0)


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
    """(xw (N, T, 3H), w_hh (3H, H), b_hh (3H,), h0 (N, H)) -> h of every step (N, T, H).

    Step t: hw = h W_hh^T + b_hh; with both split into the gates r, z, n,
            r = sigmoid(xw_r + hw_r), z = sigmoid(xw_z + hw_z), n = tanh(xw_n + r * hw_n),
            h = (1 - z) * n + z * h.
    """

    def forward(self, xw, w_hh, b_hh, h0):
        xp = self.xp
        n, steps, gates_h = xw.shape
        hidden = gates_h // 3
        w_t = xp.ascontiguousarray(w_hh.T)  # transposed once: the matmul reads it T times
        hs = xp.empty((n, steps, hidden), dtype=xw.dtype)
        keep = is_grad_enabled()  # save what backward needs, unless no backward can follow
        if keep:
            self.dhw = xp.empty_like(xw)        # (dr, dz, dn * r) of every step
            self.dn, self.z = xp.empty_like(hs), xp.empty_like(hs)
        h = h0
        for t in range(steps):
            hw = matmul_arrays(h, w_t) + b_hh
            # sigmoid(x) = (1 + tanh(x / 2)) / 2
            rz = xp.tanh((xw[:, t, :2 * hidden] + hw[:, :2 * hidden]) * 0.5) * 0.5 + 0.5
            r, z = rz[:, :hidden], rz[:, hidden:]
            hw_n = hw[:, 2 * hidden:]
            new = xp.tanh(xw[:, t, 2 * hidden:] + r * hw_n)
            h_prev, h = h, new + z * (h - new)
            hs[:, t] = h
            if keep:
                dr, dz, dn = gru_local_derivatives(r, z, new, hw_n, h_prev)
                self.dhw[:, t] = xp.concatenate([dr, dz, dn * r], axis=1)
                self.dn[:, t], self.z[:, t] = dn, z
        return hs

    def backward(self, g_hs):
        xw, w_hh, b_hh, h0 = self.inputs
        hidden = g_hs.shape[2]
        h_prev = _shifted(h0, self.output())       # (N, T, H): h_0 .. h_{T-1}
        if is_grad_enabled():  # create_graph: recompute them as functions of the inputs
            dhw, dn, z = self._local_derivatives_in_graph(h_prev)
        else:
            dhw, dn, z = Tensor(self.dhw), Tensor(self.dn), Tensor(self.z)
        gh_steps, ghw_steps, g_h0 = _gru_through_time(
            time_steps(g_hs), time_steps(dhw), time_steps(z), w_hh, zeros_like(h0))
        ghw = _joined(ghw_steps)                   # (N, T, 3H)
        need = self.needs_input_grad
        g_xw = None
        if need[0]:  # as ghw, but xw_n gets gh * dn where hw_n got gh * dn * r
            g_xw = concat([split(ghw, [2 * hidden, hidden], -1)[0], _joined(gh_steps) * dn],
                          axis=-1)
        return (g_xw,
                _weight_gradient(ghw, h_prev) if need[1] else None,
                sum(reshape(ghw, (-1, 3 * hidden)), 0) if need[2] else None,
                g_h0 if need[3] else None)

    def _local_derivatives_in_graph(self, h_prev):
        """(dr, dz, dn * r concatenated; dn; z), each (N, T, .), as Tensor ops on the inputs."""
        xw, w_hh, b_hh, _ = self.inputs
        x_r, x_z, x_n = chunk(xw, 3, -1)
        h_r, h_z, hw_n = chunk(linear(h_prev, w_hh, b_hh), 3, -1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        dr, dz, dn = gru_local_derivatives(r, z, tanh(x_n + r * hw_n), hw_n, h_prev)
        return concat([dr, dz, dn * r], axis=-1), dn, z


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
    """Run a GRU over a sequence: h of every step (N, T, H).

    xw (N, T, 3H) holds each step's input projection x_t W_ih^T + b_ih;
    w_hh (3H, H) and b_hh (3H,) the hidden weight and bias (b_hh may be None),
    gate order r, z, n as in PyTorch; h0 (N, H) the initial state.
    """
    _check("gru_sequence", xw, w_hh, 3, h0)
    if b_hh is None:
        b_hh = Tensor(backend.get_array_module(h0.data).zeros(w_hh.shape[0], dtype=h0.dtype))
    elif b_hh.shape != (w_hh.shape[0],):
        raise ValueError(f"gru_sequence: b_hh has shape {b_hh.shape}, expected "
                         f"({w_hh.shape[0]},)")
    return GRUSequence()(xw, w_hh, b_hh, h0)


# ----------------------------------------------------------------------------
# shared
# ----------------------------------------------------------------------------
def _shifted(first, states):
    """The state before each step: first (N, H) then states (N, T, H) but the last."""
    n, steps, hidden = states.shape
    return concat([reshape(first, (n, 1, hidden)), states[:, :steps - 1]], axis=1)


def time_steps(a):
    """(N, T, K) -> a list of the T steps (N, K), with two ops (a reshape and a split)."""
    n, steps, k = a.shape
    return split(reshape(a, (n, steps * k)), k, 1)  # (n, -1) is ambiguous for n = 0


def _joined(pieces):
    """The inverse of _steps: T pieces (N, K) -> (N, T, K)."""
    n, k = pieces[0].shape
    return reshape(concat(pieces, axis=1), (n, len(pieces), k))


def _weight_gradient(gz, h_prev):
    """dW_hh = sum over steps and examples of gz^T h_prev: one matmul of N*T rows.

    Computed as (h_prev^T gz)^T: the matmul copies its transposed left operand
    into a contiguous array, and h_prev (N*T, H) is a quarter of gz (N*T, 4H)."""
    gz, h_prev = reshape(gz, (-1, gz.shape[-1])), reshape(h_prev, (-1, h_prev.shape[-1]))
    return (h_prev.T @ gz).T


def _blocks(a, count):
    """a (N, count*H) -> count views (N, H) (np.split does the same 5x slower)."""
    width = a.shape[1] // count
    return [a[:, k * width:(k + 1) * width] for k in range(count)]


def _check(op, xw, w_hh, gates, *states):
    """Shapes: xw (N, T, gates*H) with T > 0, w_hh (gates*H, H), each state (N, H)."""
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: w_hh must be ({gates}*H, H), got shape {w_hh.shape}")
    hidden = w_hh.shape[1]
    if xw.ndim != 3 or xw.shape[2] != gates * hidden or xw.shape[1] == 0:
        raise ValueError(f"{op}: xw must be (N, T, {gates * hidden}) with T > 0 for w_hh "
                         f"{w_hh.shape}, got shape {xw.shape}")
    for state in states:
        if state.shape != (xw.shape[0], hidden):
            raise ValueError(f"{op}: the initial state has shape {state.shape}, expected "
                             f"(N, H) = {(xw.shape[0], hidden)}")
