"""Two update rules on plain arrays: SGD with momentum, and Adam.

Each function changes `param` in place (as an optimizer step does) and keeps what it
must remember between steps in `state`, a dict that starts empty for every parameter.
The formulas are PyTorch's, which minidl.optim.SGD and minidl.optim.Adam follow.
"""
import numpy as np


def sgd_momentum_step(param, grad, state, lr, momentum=0.0, dampening=0.0,
                      weight_decay=0.0, nesterov=False):
    """One SGD step: weight decay, then the momentum buffer, then p -= lr * direction.

        g  <- g + weight_decay * p
        b_1 = g;   b_t = momentum * b_{t-1} + (1 - dampening) * g     (state["momentum_buffer"])
        d   = g + momentum * b_t   if nesterov   else   b_t            (d = g without momentum)
        p  <- p - lr * d
    """
    # BEGIN SOLUTION
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = grad.copy()
        else:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += (1 - dampening) * grad
        buf = state["momentum_buffer"]
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad
    # END SOLUTION


def adam_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              amsgrad=False):
    """One Adam step (Kingma and Ba), with optional AMSGrad.

        g     <- g + weight_decay * p
        m_t   =  beta1 m_{t-1} + (1 - beta1) g            (state["exp_avg"], from 0)
        v_t   =  beta2 v_{t-1} + (1 - beta2) g^2          (state["exp_avg_sq"], from 0)
        vmax  =  max(vmax, v_t)     with amsgrad: use vmax instead of v_t below
        p     <- p - lr * (m_t / (1 - beta1^t)) / (sqrt(v_t / (1 - beta2^t)) + eps)

    t counts the steps from 1 (state["step"]).
    """
    # BEGIN SOLUTION
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if not state:
        state["step"] = 0
        state["exp_avg"] = np.zeros_like(param)
        state["exp_avg_sq"] = np.zeros_like(param)
        state["max_exp_avg_sq"] = np.zeros_like(param)
    state["step"] += 1
    beta1, beta2 = betas
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    if amsgrad:
        np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        v = state["max_exp_avg_sq"]
    t = state["step"]
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)
    # END SOLUTION
