"""Adaptive methods: a step size per coordinate, from the history of its gradients.

Plain gradient descent uses one lr for every weight, but weights see gradients of very
different sizes (a rare word's embedding, a bias, a weight on a large input). These
methods divide each coordinate's step by a running size of its own gradients, so a
coordinate with large gradients takes smaller steps and one with small gradients larger
ones: Adagrad by the sum of all past squares, RMSprop by a decaying average of them,
Adam by that average together with a decaying average of the gradients themselves
(momentum), each corrected for starting at zero. AdamW is Adam with weight decay
applied to the weights directly instead of through the gradient.

All updates are PyTorch's, term for term; all operations are elementwise.
maximize=True climbs the objective instead (every g is replaced by -g). The running
averages are updated in place (`v *= alpha; v += ...`) so a step allocates little.
"""
from .. import backend
from .optimizer import Optimizer, check_at_least, check_fraction


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan and Singer, 2011).

    With s_0 = initial_accumulator_value, at step t = 1, 2, ...:

        g      <- g + lambda * p                    (weight decay lambda, L2 style)
        lr_t   =  lr / (1 + (t - 1) * lr_decay)
        s_t    =  s_{t-1} + g^2
        p      <- p - lr_t * g / (sqrt(s_t) + eps)

    The sum s only grows, so steps shrink over time: good for sparse features (a rare
    feature keeps a large step), too eager to stop for long non-convex training.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_at_least(self.name, name, group[name], 0.0)

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        param -= lr * grad / (xp.sqrt(state["sum"]) + group["eps"])


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012), with optional momentum and centering.

    With v_0 = 0 (and m_0 = 0, b_0 = 0), smoothing alpha, at each step:

        g   <- g + lambda * p                          (weight decay lambda, L2 style)
        v   =  alpha * v + (1 - alpha) * g^2           (running mean of g^2)
        m   =  alpha * m + (1 - alpha) * g             (centered only: running mean of g)
        s   =  sqrt(v - m^2) + eps   if centered   else   sqrt(v) + eps
        b   =  mu * b + g / s        and   p <- p - lr * b        (momentum mu > 0)
        p   <- p - lr * g / s                                      (mu = 0)

    Unlike Adagrad's sum, the average forgets old gradients, so the step size follows
    the recent gradient scale. Centering divides by the standard deviation of g
    instead of its root mean square.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        check_fraction(self.name, "alpha", group["alpha"])
        for name in ("eps", "weight_decay", "momentum"):
            check_at_least(self.name, name, group[name], 0.0)

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        alpha = group["alpha"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            scale = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            scale = xp.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / scale
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * grad / scale


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with optional AMSGrad (Reddi, Kale and Kumar, 2018).

    With m_0 = v_0 = 0, betas (beta1, beta2), at step t = 1, 2, ...:

        g     <- g + lambda * p                       (weight decay lambda, L2 style)
        m_t   =  beta1 * m_{t-1} + (1 - beta1) * g    (running mean of g: momentum)
        v_t   =  beta2 * v_{t-1} + (1 - beta2) * g^2  (running mean of g^2)
        m_hat =  m_t / (1 - beta1^t)                  (m and v start at 0, so early
        v_hat =  v_t / (1 - beta2^t)                   averages are too small: undo it)
        p     <- p - lr * m_hat / (sqrt(v_hat) + eps)

    m_hat / sqrt(v_hat) is about +-1 while the gradient keeps its sign, so each
    coordinate moves by about lr per step whatever the scale of its gradient.
    AMSGrad replaces v_t by its running maximum vmax_t = max(vmax_{t-1}, v_t) before the
    correction, so the per-coordinate step never grows, which fixes Adam's divergence
    on some convex problems. decoupled_weight_decay=True is AdamW's decay (see AdamW).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        if len(group["betas"]) != 2:
            raise ValueError(f"{self.name}: betas must be a pair (beta1, beta2), "
                             f"got {group['betas']}")
        check_fraction(self.name, "betas[0]", group["betas"][0])
        check_fraction(self.name, "betas[1]", group["betas"][1])
        check_at_least(self.name, "eps", group["eps"], 0.0)
        check_at_least(self.name, "weight_decay", group["weight_decay"], 0.0)

    def update(self, param, grad, state, group):
        if group["decoupled_weight_decay"]:
            param *= 1 - group["lr"] * group["weight_decay"]
        elif group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        self.adam_step(param, grad, state, group)

    def adam_step(self, param, grad, state, group):
        """The update from m_t on, shared with AdamW."""
        xp = backend.get_array_module(param)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        t = state["step"]
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        param -= group["lr"] * m_hat / (xp.sqrt(v_hat) + group["eps"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    First shrink the weights, then take Adam's step on the *plain* gradient:

        p <- p - lr * lambda * p
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)       (m_hat, v_hat as in Adam, from g)

    In Adam with weight_decay the penalty lambda * p goes into g and is then divided
    by sqrt(v_hat): weights with large gradients are barely decayed. AdamW decays every
    weight by the same factor (1 - lr * lambda), which is what L2 regularization means
    for plain SGD, and generalizes better in practice. Default lambda = 0.01.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
