"""One time step of a recurrent layer, fused: the gates and the new state in one pass
(forward), the gradients of the gates in one pass (backward).

minidl/functional/recurrent.py runs the loop over time and explains the math; per step
it calls one matrix product (h_{t-1} W_hh^T, or going back gz_t W_hh) and one of these
kernels, which does everything else the step needs. The arrays are time-major and
written in place, at step t:

    xw      (T, N, G*H)   the input projections of every step (x_t W_ih^T)
    hw      (N, G*H)      h_{t-1} W_hh^T, the product just computed for this step
    b       (G*H,)        the bias: b_ih + b_hh (RNN, LSTM), b_hh (GRU: b_ih is in xw,
                          as b_hn is scaled by r)
    hs, cs  (T+1, N, H)   the states: hs[0] is h_0, hs[t+1] is written here (cs: the LSTM's c)
    gates   (T, N, G*H)   the gates' values at every step, for the backward (and the
                          LSTM's tanh(c), the GRU's hidden projection of the n gate)

G is the number of gates: 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n), in PyTorch's
order. The backward kernels take the incoming gradients of every step's h (and c) and
the product of the step after with W_hh, and write this step's gradients of the gates'
pre-activations; the local derivatives (i (1 - i) and the like) are formed there from
the saved gate values.

Two versions of each: `*_numpy`, whole-array NumPy operations (the reference, and
array-module generic, so the "cuda" row runs them on CuPy arrays), then `*_numba`: a
loop over the units that does all of a step's arithmetic on a unit while its numbers
are in registers, where NumPy makes a pass over memory (and a temporary array) per
operation; kernels/elementary.py's tanh and sigmoid let LLVM vectorize the loops, which
are short and read few arrays each for the same reason. A step is too small to share
among threads.
"""
import numpy as np
from numba import njit

from .. import backend
from . import compiling  # noqa: F401 (the first compilation says so)
from .elementary import FLOAT, sigmoid, tanh


# ----------------------------------------------------------------------------
# the product of each step, into a preallocated array
# ----------------------------------------------------------------------------
def matmul_into_numpy(a, b, out):
    """out[...] = a @ b by BLAS (NumPy's or CuPy's matmul), without a new array."""
    return backend.get_array_module(a).matmul(a, b, out=out)


def matmul_into_with(matmul):
    """matmul_into for a matmul that returns a new array (the numba GEMM)."""
    def matmul_into(a, b, out):
        out[...] = matmul(a, b)
        return out
    return matmul_into


# ----------------------------------------------------------------------------
# numpy: the reference
# ----------------------------------------------------------------------------
def _sigmoid_numpy(x):
    """sigmoid(x) = (1 + tanh(x/2)) / 2: no overflow for any x (1 / (1 + exp(-x)) warns)."""
    xp = backend.get_array_module(x)
    return xp.tanh(x * 0.5) * 0.5 + 0.5


def _gates(a, count):
    """a (N, count*H) -> count views (N, H)."""
    width = a.shape[1] // count
    return [a[:, k * width:(k + 1) * width] for k in range(count)]



def rnn_cell_forward_numpy(t, xw, hw, b, hs, relu):
    """hs[t+1] = act(xw[t] + hw + b), act = relu or tanh."""
    xp = backend.get_array_module(xw)
    z = xw[t] + hw + b
    hs[t + 1] = xp.maximum(z, 0) if relu else xp.tanh(z)


def rnn_cell_backward_numpy(t, g_hs, gh, hs, relu, gz):
    """gz[t] = (g_hs[t] + gh) act'(z_t), act' read from h_t = hs[t+1]; gh = gz_{t+1} W_hh."""
    h = hs[t + 1]
    gz[t] = (g_hs[t] + gh) * ((h > 0) if relu else 1 - h * h)


def lstm_cell_forward_numpy(t, xw, hw, b, hs, cs, gates, tanh_c):
    """z = xw[t] + hw + b; gates[t] = (i, f, g, o) = sigmoid, sigmoid, tanh, sigmoid of its four
    blocks; c = f c_prev + i g and h = o tanh(c) into cs[t+1], hs[t+1]; tanh_c[t] = tanh(c)."""
    xp = backend.get_array_module(xw)
    z_i, z_f, z_g, z_o = _gates(xw[t] + hw + b, 4)
    i, f, g, o = _sigmoid_numpy(z_i), _sigmoid_numpy(z_f), xp.tanh(z_g), _sigmoid_numpy(z_o)
    c = f * cs[t] + i * g
    gates[t] = xp.concatenate([i, f, g, o], axis=1)
    tanh_c[t] = xp.tanh(c)
    hs[t + 1], cs[t + 1] = o * tanh_c[t], c


def lstm_cell_backward_numpy(t, g_hs, g_cs, gh, gc, cs, gates, tanh_c, gz):
    """The gradients of step t's pre-activations z into gz[t]; gh holds gz_{t+1} W_hh and gc
    what c_{t+1} sends back to c_t (f_{t+1} times its gradient), which becomes f_t times
    this step's, for step t-1:

        gh_t = g_hs[t] + gh,   gc_t = g_cs[t] + gc + gh_t o (1 - tanh^2 c)
        gz[t] = (gc_t g i (1 - i), gc_t c_prev f (1 - f), gc_t i (1 - g^2), gh_t tanh(c) o (1 - o))
    """
    i, f, g, o = _gates(gates[t], 4)
    tc = tanh_c[t]
    h_grad = g_hs[t] + gh
    c_grad = g_cs[t] + gc + h_grad * o * (1 - tc * tc)
    hidden = h_grad.shape[1]
    gz[t, :, :hidden] = c_grad * g * i * (1 - i)
    gz[t, :, hidden:2 * hidden] = c_grad * cs[t] * f * (1 - f)
    gz[t, :, 2 * hidden:3 * hidden] = c_grad * i * (1 - g * g)
    gz[t, :, 3 * hidden:] = h_grad * tc * o * (1 - o)
    gc[...] = c_grad * f


def gru_cell_forward_numpy(t, xw, hw, b, hs, gates, hw_n):
    """With hw + b = (hw_r, hw_z, hw_n): r, z = sigmoid(xw_r + hw_r, xw_z + hw_z),
    n = tanh(xw_n + r hw_n) into gates[t], hw_n into hw_n[t], h = n + z (h_prev - n) into
    hs[t+1]."""
    xp = backend.get_array_module(xw)
    x_r, x_z, x_n = _gates(xw[t], 3)
    h_r, h_z, h_n = _gates(hw + b, 3)
    r, z = _sigmoid_numpy(x_r + h_r), _sigmoid_numpy(x_z + h_z)
    n = xp.tanh(x_n + r * h_n)
    gates[t], hw_n[t] = xp.concatenate([r, z, n], axis=1), h_n
    hs[t + 1] = n + z * (hs[t] - n)


def gru_cell_backward_numpy(t, g_hs, gh, carry, hs, gates, hw_n, ghw, g_xw):
    """gh_t = g_hs[t] + gh + carry, with gh = ghw_{t+1} W_hh and carry = gh_{t+1} z_{t+1}
    (h_t reaches h_{t+1} directly, weighted by z); with dn = (1 - z)(1 - n^2):

        g_xw[t] = gh_t (dn hw_n r (1 - r), (h_prev - n) z (1 - z), dn)
        ghw[t]  = the same, but gh_t dn r for the n block (hw_n is scaled by r)

    then carry = gh_t z, for step t-1."""
    r, z, n = _gates(gates[t], 3)
    h_grad = g_hs[t] + gh + carry
    g_n = h_grad * (1 - z) * (1 - n * n)
    hidden = h_grad.shape[1]
    g_xw[t, :, :hidden] = ghw[t, :, :hidden] = g_n * hw_n[t] * r * (1 - r)
    g_xw[t, :, hidden:2 * hidden] = ghw[t, :, hidden:2 * hidden] = \
        h_grad * (hs[t] - n) * z * (1 - z)
    g_xw[t, :, 2 * hidden:] = g_n
    ghw[t, :, 2 * hidden:] = g_n * r
    carry[...] = h_grad * z


# ----------------------------------------------------------------------------
# numba: the same kernels (same arguments, same results), a loop over the units
# ----------------------------------------------------------------------------
@njit(cache=True, **FLOAT)
def rnn_cell_forward_numba(t, xw, hw, b, hs, relu):
    zero = hs.dtype.type(0)
    for n in range(hs.shape[1]):
        z, h_w, h = xw[t, n], hw[n], hs[t + 1, n]
        if relu:
            for j in range(h.shape[0]):
                v = z[j] + h_w[j] + b[j]
                h[j] = zero if v < zero else v
        else:
            for j in range(h.shape[0]):
                h[j] = tanh(z[j] + h_w[j] + b[j])


@njit(cache=True, **FLOAT)
def rnn_cell_backward_numba(t, g_hs, gh, hs, relu, gz):
    zero, one = hs.dtype.type(0), hs.dtype.type(1)
    for n in range(hs.shape[1]):
        g, g_h, h, out = g_hs[t, n], gh[n], hs[t + 1, n], gz[t, n]
        for j in range(h.shape[0]):
            slope = (one if h[j] > zero else zero) if relu else one - h[j] * h[j]
            out[j] = (g[j] + g_h[j]) * slope


@njit(cache=True, **FLOAT)
def lstm_cell_forward_numba(t, xw, hw, b, hs, cs, gates, tanh_c):
    hidden = hs.shape[2]
    for n in range(hs.shape[1]):
        z, h_w, a = xw[t, n], hw[n], gates[t, n]
        for j in range(2 * hidden):                    # i and f
            a[j] = sigmoid(z[j] + h_w[j] + b[j])
        for j in range(2 * hidden, 3 * hidden):        # g
            a[j] = tanh(z[j] + h_w[j] + b[j])
        for j in range(3 * hidden, 4 * hidden):        # o
            a[j] = sigmoid(z[j] + h_w[j] + b[j])
        c_prev, c_new, h_new, tc = cs[t, n], cs[t + 1, n], hs[t + 1, n], tanh_c[t, n]
        for j in range(hidden):
            c = a[hidden + j] * c_prev[j] + a[j] * a[2 * hidden + j]
            c_new[j] = c
            tc[j] = tanh(c)
            h_new[j] = a[3 * hidden + j] * tc[j]


@njit(cache=True, **FLOAT)
def lstm_cell_backward_numba(t, g_hs, g_cs, gh, gc, cs, gates, tanh_c, gz):
    hidden = gh.shape[1]
    one = gh.dtype.type(1)
    for n in range(gh.shape[0]):
        a, tc, c_prev, out = gates[t, n], tanh_c[t, n], cs[t, n], gz[t, n]
        g_h, g_c, gh_n, gc_n = g_hs[t, n], g_cs[t, n], gh[n], gc[n]
        for j in range(hidden):
            i, f, g, o = a[j], a[hidden + j], a[2 * hidden + j], a[3 * hidden + j]
            h_grad = g_h[j] + gh_n[j]
            c_grad = g_c[j] + gc_n[j] + h_grad * o * (one - tc[j] * tc[j])
            out[j] = c_grad * g * i * (one - i)
            out[hidden + j] = c_grad * c_prev[j] * f * (one - f)
            out[2 * hidden + j] = c_grad * i * (one - g * g)
            out[3 * hidden + j] = h_grad * tc[j] * o * (one - o)
            gc_n[j] = c_grad * f


@njit(cache=True, **FLOAT)
def gru_cell_forward_numba(t, xw, hw, b, hs, gates, hw_n):
    hidden = hs.shape[2]
    for n in range(hs.shape[1]):
        x, h_w, a = xw[t, n], hw[n], gates[t, n]
        for j in range(2 * hidden):                    # r and z
            a[j] = sigmoid(x[j] + h_w[j] + b[j])
        h_prev, h_new, h_n = hs[t, n], hs[t + 1, n], hw_n[t, n]
        for j in range(hidden):
            h_n[j] = h_w[2 * hidden + j] + b[2 * hidden + j]
            new = tanh(x[2 * hidden + j] + a[j] * h_n[j])
            a[2 * hidden + j] = new
            h_new[j] = new + a[hidden + j] * (h_prev[j] - new)


@njit(cache=True, **FLOAT)
def gru_cell_backward_numba(t, g_hs, gh, carry, hs, gates, hw_n, ghw, g_xw):
    hidden = gh.shape[1]
    one = gh.dtype.type(1)
    for n in range(gh.shape[0]):
        a, h_prev, h_n, out_h, out_x = gates[t, n], hs[t, n], hw_n[t, n], ghw[t, n], g_xw[t, n]
        g_h, gh_n, carry_n = g_hs[t, n], gh[n], carry[n]
        for j in range(hidden):
            r, z, new = a[j], a[hidden + j], a[2 * hidden + j]
            h_grad = g_h[j] + gh_n[j] + carry_n[j]
            g_n = h_grad * (one - z) * (one - new * new)
            out_h[j] = out_x[j] = g_n * h_n[j] * r * (one - r)
            out_h[hidden + j] = out_x[hidden + j] = h_grad * (h_prev[j] - new) * z * (one - z)
            out_x[2 * hidden + j] = g_n
            out_h[2 * hidden + j] = g_n * r
            carry_n[j] = h_grad * z
