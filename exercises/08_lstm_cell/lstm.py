"""One LSTM step, forward and backward by hand on arrays, and clipping the gradients.

PyTorch's LSTM cell (and minidl's nn.LSTMCell), for x (N, F), h and c (N, H), weights
w_ih (4H, F), w_hh (4H, H) and biases (4H,):

    z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh        (N, 4H), split into four (N, H):
    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
    c' = f * c + i * g
    h' = o * tanh(c')

The gates come in that order, i, f, g, o, along the 4H axis. The cell state c' is
where an LSTM remembers: its gradient flows back to c through f alone, without a
squashing function in between (tutorial 07).
"""
import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))   # the same as 1 / (1 + exp(-z)), never overflows


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """(h', c', cache): the new states, and what lstm_cell_backward needs."""
    # BEGIN SOLUTION
    z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    zi, zf, zg, zo = np.split(z, 4, axis=1)
    i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
    c_new = f * c + i * g
    tanh_c = np.tanh(c_new)
    h_new = o * tanh_c
    cache = (x, h, c, w_ih, w_hh, i, f, g, o, tanh_c)
    return h_new, c_new, cache
    # END SOLUTION


def lstm_cell_backward(dh_new, dc_new, cache):
    """Gradients (dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh) from those of h' and c'.

    dc_new is what reaches c' from later steps; h' = o * tanh(c') adds its own share."""
    # BEGIN SOLUTION
    x, h, c, w_ih, w_hh, i, f, g, o, tanh_c = cache
    dc_total = dc_new + dh_new * o * (1.0 - tanh_c ** 2)
    do = dh_new * tanh_c
    di, df, dg = dc_total * g, dc_total * c, dc_total * i
    dc = dc_total * f
    dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2),
                         do * o * (1 - o)], axis=1)
    dx, dh = dz @ w_ih, dz @ w_hh
    dw_ih, dw_hh = dz.T @ x, dz.T @ h
    db = dz.sum(axis=0)
    return dx, dh, dc, dw_ih, dw_hh, db, db.copy()
    # END SOLUTION


def clip_grad_norm(grads, max_norm):
    """Scale the arrays in `grads` together, in place, so that their total 2-norm
    (the norm of all their entries as one vector) is at most max_norm:

        g <- g * min(1, max_norm / (total + 1e-6))

    Returns the total norm before clipping, as a float (PyTorch's clip_grad_norm_)."""
    # BEGIN SOLUTION
    total = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= scale
    return total
    # END SOLUTION
