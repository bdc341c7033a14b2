"""One time step of a recurrent layer on the GPU, fused: the kernel table's "cuda" row
for the RNN, LSTM and GRU cells, forward and backward.

The meaning, the arguments and the array layout are those of kernels/recurrent.py (its
module docstring lists the arrays; minidl/functional/recurrent.py runs the loop over
time and explains the math): time-major arrays, step t written in place. The matrix
product of each step (h_{t-1} W_hh^T forward, gz_{t+1} W_hh backward) is not here: the
row's matmul_into is CuPy's matmul (cuBLAS); these kernels do everything else a step
needs, in one launch per step each way instead of one CuPy operation (and one
temporary array) per term of the formula.

Which thread handles which data: one thread per (batch row n, hidden unit j), numbered
n * H + j (j fastest), N * H threads in all. The thread reads unit j of every gate of
row n (columns j, H + j, 2H + j, ... of xw[t, n], hw[n] and b), computes the gates and
the new state in registers, and writes the same columns of its outputs. Neighbouring
threads take neighbouring units: every read and write of a warp is to consecutive
addresses. No thread reads what another writes in the same launch (the step reads
hs[t] and writes hs[t+1]; gc and carry are read and rewritten element by element by
the thread that owns the element), so there is no synchronization and no atomics.

sigmoid(v) is written as (1 + tanh(v/2)) / 2, as in the CPU reference: no overflow for
any v. It is written out wherever it is needed: a device function could not be
compiled to PTX without a GPU present (see this package's docstring).
"""
import math

import numba
from numba import cuda

from .checks import check_arrays, check_step
from .launch import THREADS, blocks_for, launch


# ----------------------------------------------------------------------------
# the kernels
# ----------------------------------------------------------------------------
@cuda.jit
def rnn_cell_forward_kernel(t, xw, hw, b, hs, relu):
    index = cuda.grid(1)
    hidden = hs.shape[2]
    if index >= hs.shape[1] * hidden:
        return
    n, j = index // hidden, index % hidden
    z = xw[t, n, j] + hw[n, j] + b[j]
    if relu:
        hs[t + 1, n, j] = z if z > 0 else hs.dtype.type(0)
    else:
        hs[t + 1, n, j] = math.tanh(z)


@cuda.jit
def rnn_cell_backward_kernel(t, g_hs, gh, hs, relu, gz):
    index = cuda.grid(1)
    hidden = hs.shape[2]
    if index >= hs.shape[1] * hidden:
        return
    n, j = index // hidden, index % hidden
    one, h = hs.dtype.type(1), hs[t + 1, n, j]
    if relu:
        slope = one if h > 0 else hs.dtype.type(0)
    else:
        slope = one - h * h
    gz[t, n, j] = (g_hs[t, n, j] + gh[n, j]) * slope


@cuda.jit
def lstm_cell_forward_kernel(t, xw, hw, b, hs, cs, gates, tanh_c):
    index = cuda.grid(1)
    hidden = hs.shape[2]
    if index >= hs.shape[1] * hidden:
        return
    n, j = index // hidden, index % hidden
    half = hs.dtype.type(0.5)
    # the pre-activations of unit j's four gates: columns j, H + j, 2H + j, 3H + j
    z_i = xw[t, n, j] + hw[n, j] + b[j]
    z_f = xw[t, n, hidden + j] + hw[n, hidden + j] + b[hidden + j]
    z_g = xw[t, n, 2 * hidden + j] + hw[n, 2 * hidden + j] + b[2 * hidden + j]
    z_o = xw[t, n, 3 * hidden + j] + hw[n, 3 * hidden + j] + b[3 * hidden + j]
    i = math.tanh(z_i * half) * half + half          # sigmoid
    f = math.tanh(z_f * half) * half + half          # sigmoid
    g = math.tanh(z_g)
    o = math.tanh(z_o * half) * half + half          # sigmoid
    c = f * cs[t, n, j] + i * g
    tc = math.tanh(c)
    gates[t, n, j] = i
    gates[t, n, hidden + j] = f
    gates[t, n, 2 * hidden + j] = g
    gates[t, n, 3 * hidden + j] = o
    cs[t + 1, n, j] = c
    tanh_c[t, n, j] = tc
    hs[t + 1, n, j] = o * tc


@cuda.jit
def lstm_cell_backward_kernel(t, g_hs, g_cs, gh, gc, cs, gates, tanh_c, gz):
    index = cuda.grid(1)
    hidden = gh.shape[1]
    if index >= gh.shape[0] * hidden:
        return
    n, j = index // hidden, index % hidden
    one = gh.dtype.type(1)
    i, f = gates[t, n, j], gates[t, n, hidden + j]
    g, o = gates[t, n, 2 * hidden + j], gates[t, n, 3 * hidden + j]
    tc = tanh_c[t, n, j]
    h_grad = g_hs[t, n, j] + gh[n, j]
    c_grad = g_cs[t, n, j] + gc[n, j] + h_grad * o * (one - tc * tc)
    gz[t, n, j] = c_grad * g * i * (one - i)
    gz[t, n, hidden + j] = c_grad * cs[t, n, j] * f * (one - f)
    gz[t, n, 2 * hidden + j] = c_grad * i * (one - g * g)
    gz[t, n, 3 * hidden + j] = h_grad * tc * o * (one - o)
    gc[n, j] = c_grad * f                            # what c_t sends back to c_{t-1}


@cuda.jit
def gru_cell_forward_kernel(t, xw, hw, b, hs, gates, hw_n):
    index = cuda.grid(1)
    hidden = hs.shape[2]
    if index >= hs.shape[1] * hidden:
        return
    n, j = index // hidden, index % hidden
    half = hs.dtype.type(0.5)
    z_r = xw[t, n, j] + hw[n, j] + b[j]
    z_z = xw[t, n, hidden + j] + hw[n, hidden + j] + b[hidden + j]
    r = math.tanh(z_r * half) * half + half          # sigmoid
    z = math.tanh(z_z * half) * half + half          # sigmoid
    h_n = hw[n, 2 * hidden + j] + b[2 * hidden + j]  # scaled by r, so kept apart from xw_n
    new = math.tanh(xw[t, n, 2 * hidden + j] + r * h_n)
    gates[t, n, j] = r
    gates[t, n, hidden + j] = z
    gates[t, n, 2 * hidden + j] = new
    hw_n[t, n, j] = h_n
    hs[t + 1, n, j] = new + z * (hs[t, n, j] - new)


@cuda.jit
def gru_cell_backward_kernel(t, g_hs, gh, carry, hs, gates, hw_n, ghw, g_xw):
    index = cuda.grid(1)
    hidden = gh.shape[1]
    if index >= gh.shape[0] * hidden:
        return
    n, j = index // hidden, index % hidden
    one = gh.dtype.type(1)
    r, z, new = gates[t, n, j], gates[t, n, hidden + j], gates[t, n, 2 * hidden + j]
    h_grad = g_hs[t, n, j] + gh[n, j] + carry[n, j]
    g_n = h_grad * (one - z) * (one - new * new)
    g_r = g_n * hw_n[t, n, j] * r * (one - r)
    g_z = h_grad * (hs[t, n, j] - new) * z * (one - z)
    g_xw[t, n, j] = g_r
    ghw[t, n, j] = g_r
    g_xw[t, n, hidden + j] = g_z
    ghw[t, n, hidden + j] = g_z
    g_xw[t, n, 2 * hidden + j] = g_n
    ghw[t, n, 2 * hidden + j] = g_n * r              # hw_n enters n scaled by r
    carry[n, j] = h_grad * z                         # h_t reaches h_{t+1} weighted by z


def signatures(dtype):
    """Each kernel with the argument types launch() gives it for arrays of dtype."""
    f = numba.from_dtype(dtype)
    steps, step, vector = (numba.types.Array(f, ndim, "C") for ndim in (3, 2, 1))
    i64, boolean = numba.types.int64, numba.types.boolean
    return {
        rnn_cell_forward_kernel: (i64, steps, step, vector, steps, boolean),
        rnn_cell_backward_kernel: (i64, steps, step, steps, boolean, steps),
        lstm_cell_forward_kernel: (i64, steps, step, vector) + (steps,) * 4,
        lstm_cell_backward_kernel: (i64, steps, steps, step, step) + (steps,) * 4,
        gru_cell_forward_kernel: (i64, steps, step, vector) + (steps,) * 3,
        gru_cell_backward_kernel: (i64, steps, step, step) + (steps,) * 5,
    }


# ----------------------------------------------------------------------------
# the callers: the kernel table's recurrent fields (kernels/recurrent.py's arguments)
# ----------------------------------------------------------------------------
def _launch_per_unit(kernel, batch, hidden, *args):
    """kernel on one thread per (batch row, hidden unit)."""
    launch(kernel, blocks_for(batch * hidden), THREADS, *args)


def rnn_cell_forward_cuda(t, xw, hw, b, hs, relu):
    """hs[t+1] = act(xw[t] + hw + b), act = relu or tanh."""
    op = "rnn_cell_forward_cuda"
    check_arrays(op, xw, hw, b, hs)
    steps, batch, hidden = check_step(op, t, 1, xw=xw, hw=hw, b=b, hs=hs)
    _launch_per_unit(rnn_cell_forward_kernel, batch, hidden, t, xw, hw, b, hs, bool(relu))


def rnn_cell_backward_cuda(t, g_hs, gh, hs, relu, gz):
    """gz[t] = (g_hs[t] + gh) act'(z_t), act' read from h_t = hs[t+1]."""
    op = "rnn_cell_backward_cuda"
    check_arrays(op, g_hs, gh, hs, gz)
    steps, batch, hidden = check_step(op, t, 1, g_hs=g_hs, gh=gh, hs=hs, gz=gz)
    _launch_per_unit(rnn_cell_backward_kernel, batch, hidden, t, g_hs, gh, hs, bool(relu), gz)


def lstm_cell_forward_cuda(t, xw, hw, b, hs, cs, gates, tanh_c):
    """gates[t] = (i, f, g, o); c and h = o tanh(c) into cs[t+1], hs[t+1]; tanh(c) into
    tanh_c[t]."""
    op = "lstm_cell_forward_cuda"
    check_arrays(op, xw, hw, b, hs, cs, gates, tanh_c)
    steps, batch, hidden = check_step(op, t, 4, xw=xw, hw=hw, b=b, hs=hs, cs=cs, gates=gates,
                                      tanh_c=tanh_c)
    _launch_per_unit(lstm_cell_forward_kernel, batch, hidden, t, xw, hw, b, hs, cs, gates,
                     tanh_c)


def lstm_cell_backward_cuda(t, g_hs, g_cs, gh, gc, cs, gates, tanh_c, gz):
    """gz[t], the gradients of step t's pre-activations; gc becomes what c_t sends back."""
    op = "lstm_cell_backward_cuda"
    check_arrays(op, g_hs, g_cs, gh, gc, cs, gates, tanh_c, gz)
    steps, batch, hidden = check_step(op, t, 4, g_hs=g_hs, g_cs=g_cs, gh=gh, gc=gc, cs=cs,
                                      gates=gates, tanh_c=tanh_c, gz=gz)
    _launch_per_unit(lstm_cell_backward_kernel, batch, hidden, t, g_hs, g_cs, gh, gc, cs,
                     gates, tanh_c, gz)


def gru_cell_forward_cuda(t, xw, hw, b, hs, gates, hw_n):
    """gates[t] = (r, z, n), hw_n[t] = the n block of hw + b, hs[t+1] = n + z (h_prev - n)."""
    op = "gru_cell_forward_cuda"
    check_arrays(op, xw, hw, b, hs, gates, hw_n)
    steps, batch, hidden = check_step(op, t, 3, xw=xw, hw=hw, b=b, hs=hs, gates=gates,
                                      hw_n=hw_n)
    _launch_per_unit(gru_cell_forward_kernel, batch, hidden, t, xw, hw, b, hs, gates, hw_n)


def gru_cell_backward_cuda(t, g_hs, gh, carry, hs, gates, hw_n, ghw, g_xw):
    """g_xw[t] and ghw[t], the gradients of step t's input and hidden projections; carry
    becomes gh_t z, for step t-1."""
    op = "gru_cell_backward_cuda"
    check_arrays(op, g_hs, gh, carry, hs, gates, hw_n, ghw, g_xw)
    steps, batch, hidden = check_step(op, t, 3, g_hs=g_hs, gh=gh, carry=carry, hs=hs,
                                      gates=gates, hw_n=hw_n, ghw=ghw, g_xw=g_xw)
    _launch_per_unit(gru_cell_backward_kernel, batch, hidden, t, g_hs, gh, carry, hs, gates,
                     hw_n, ghw, g_xw)
