"""Gradient descent: the plain update (GD), then stochastic gradient descent with momentum (SGD).

Both move each parameter against its gradient g = dL/dp:  p <- p - lr * g. They differ in
what the gradient is taken over (the whole data set, or one mini-batch) and in SGD's
momentum, which averages the steps over time.
"""
from .optimizer import Optimizer, check_at_least


class GD(Optimizer):
    """Full-batch gradient descent: the plain update.

        p <- p - lr * g

    where g is the gradient of the loss over the *whole* training set, so every step
    goes downhill on the true objective (for a small enough lr). This is the textbook
    method; it is exactly SGD with momentum 0 fed full batches. Use it when the data
    fits in one batch (linear models, small tabular sets) or to see what the stochastic
    and adaptive methods add.
    """

    def __init__(self, params, lr=1e-3):
        super().__init__(params, dict(lr=lr))

    def update(self, param, grad, state, group):
        param -= group["lr"] * grad


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

    With weight decay lambda, momentum mu and dampening tau, at step t:

        g   <- g + lambda * p                          (L2 penalty lambda/2 * |p|^2)
        b_1 =  g,   b_t = mu * b_{t-1} + (1 - tau) * g (momentum buffer)
        d   =  g + mu * b_t   if nesterov   else   b_t
        p   <- p - lr * d

    With mu = 0 this is p <- p - lr * g. Momentum keeps a running direction b_t: steps
    that agree add up (up to 1 / (1 - mu) times larger), steps that flip sign cancel, so
    it speeds along shallow valleys and damps zig-zag across steep ones. Nesterov's
    variant takes the gradient step from where the momentum is about to carry p,
    which corrects an overshoot one step earlier. This is PyTorch's update exactly:
    the buffer starts as g itself, and lr multiplies the whole step (it is not folded
    into the buffer), so changing lr mid-training does not rescale the buffer.
    maximize=True climbs the objective instead (g is replaced by -g).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        check_at_least(self.name, "momentum", group["momentum"], 0.0)
        check_at_least(self.name, "weight_decay", group["weight_decay"], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{self.name}: nesterov=True needs momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']}, dampening={group['dampening']}")

    def update(self, param, grad, state, group):
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        momentum = group["momentum"]
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            buf = state["momentum_buffer"]
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad
