"""Keras's optimizers, with Keras's defaults and update formulas, as minidl optimizers.

A Keras optimizer is made before the model has weights (Adam(learning_rate=1e-3), or the
string "adam" in compile); compile() hands it the parameters (`build`). From then on it is
a minidl.optim.Optimizer: `step()` updates every parameter that has a gradient.

The formulas are Keras's, which differ from PyTorch's in the details (see each class):
Adam's epsilon is the "epsilon hat" of Kingma and Ba (added to sqrt(v) before the bias
correction of v, not after), RMSprop's epsilon sits inside the square root, Adagrad's
accumulator starts at 0.1. The defaults are Keras's: learning_rate 0.001 (SGD 0.01),
epsilon 1e-7. weight_decay is decoupled (AdamW's way, for every optimizer, as in Keras 3);
clipnorm, clipvalue and global_clipnorm clip the gradients first.
"""
import math
import warnings

from .. import backend
from .. import optim
from ..tensor import Tensor


class Optimizer(optim.Optimizer):
    """Base class: subclasses define `keras_update(param, grad, state, lr)` on arrays."""

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, lr=None, **hyperparameters):
        if lr is not None:   # tf.keras 2's old spelling
            warnings.warn(f"{type(self).__name__}: `lr` is deprecated, use `learning_rate`",
                          DeprecationWarning, stacklevel=3)
            learning_rate = lr
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                             "be set.")
        self._initial = dict(lr=learning_rate, **hyperparameters)
        self.weight_decay, self.clipnorm = weight_decay, clipnorm
        self.clipvalue, self.global_clipnorm = clipvalue, global_clipnorm
        self.keras_name = name or type(self).__name__.lower()
        self.built, self.iterations = False, 0
        self.param_groups, self.state, self.defaults = [], {}, dict(self._initial)

    def build(self, parameters):
        """Take the parameters to optimize (compile does this)."""
        optim.Optimizer.__init__(self, list(parameters), self._initial)
        self.built = True

    @property
    def learning_rate(self):
        return self.param_groups[0]["lr"] if self.built else self._initial["lr"]

    @learning_rate.setter
    def learning_rate(self, value):
        self._initial["lr"] = float(value)
        for group in self.param_groups:
            group["lr"] = float(value)

    lr = learning_rate

    def step(self, closure=None):
        if not self.built:
            raise RuntimeError(f"{type(self).__name__}: not built; compile the model with "
                               "this optimizer first (or call build(parameters))")
        self._clip_gradients()
        loss = super().step(closure)
        self.iterations += 1
        return loss

    def update(self, param, grad, state, group):
        if self.weight_decay:
            param -= param * (self.weight_decay * group["lr"])
        self.keras_update(param, grad, state, group)

    def _clip_gradients(self):
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        if self.clipvalue is not None:
            for p in params:
                xp = backend.get_array_module(p.grad.data)
                p.grad = Tensor(xp.clip(p.grad.data, -self.clipvalue, self.clipvalue))
        elif self.clipnorm is not None:
            for p in params:
                _scale(p, self.clipnorm / max(_norm(p.grad.data), self.clipnorm))
        elif self.global_clipnorm is not None and params:
            total = math.sqrt(sum(_norm(p.grad.data) ** 2 for p in params))
            for p in params:
                _scale(p, self.global_clipnorm / max(total, self.global_clipnorm))


def _norm(array):
    xp = backend.get_array_module(array)
    return float(xp.sqrt(xp.sum(array * array)))


def _scale(p, factor):
    if factor != 1.0:
        p.grad = Tensor(p.grad.data * factor)   # a new array: never write into a gradient


class SGD(Optimizer):
    """velocity = momentum * velocity - lr * g; w += velocity (Nesterov: w += momentum *
    velocity - lr * g). The same steps as minidl's SGD while the learning rate is fixed."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)

    def keras_update(self, param, grad, state, group):
        lr, momentum = group["lr"], group["momentum"]
        if not momentum:
            param -= lr * grad
            return
        if "velocity" not in state:
            state["velocity"] = backend.get_array_module(param).zeros_like(param)
        velocity = state["velocity"]
        velocity *= momentum
        velocity -= lr * grad
        param += momentum * velocity - lr * grad if group["nesterov"] else velocity


class Adam(Optimizer):
    """At step t: m += (1 - beta_1) (g - m); v += (1 - beta_2) (g^2 - v);
    w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon).

    That is PyTorch's Adam with epsilon replaced by epsilon * sqrt(1 - beta_2^t): the same
    steps once sqrt(v) is well above epsilon."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, **kwargs)

    def keras_update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        if not state:
            state.update(step=0, m=xp.zeros_like(param), v=xp.zeros_like(param))
            if group["amsgrad"]:
                state["v_hat"] = xp.zeros_like(param)
        state["step"] += 1
        t, beta_1, beta_2 = state["step"], group["beta_1"], group["beta_2"]
        m, v = state["m"], state["v"]
        m += (1 - beta_1) * (grad - m)
        v += (1 - beta_2) * (grad * grad - v)
        if group["amsgrad"]:
            xp.maximum(state["v_hat"], v, out=state["v_hat"])
            v = state["v_hat"]
        alpha = group["lr"] * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        param -= alpha * m / (xp.sqrt(v) + group["epsilon"])


class RMSprop(Optimizer):
    """v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + epsilon) (centered: v - mean(g)^2);
    with momentum, the steps go through a velocity as in SGD."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, rho=rho, momentum=momentum, epsilon=epsilon,
                         centered=centered, **kwargs)

    def keras_update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        rho = group["rho"]
        if not state:
            state.update(v=xp.zeros_like(param), mean=xp.zeros_like(param),
                         momentum=xp.zeros_like(param))
        v = state["v"]
        v *= rho
        v += (1 - rho) * grad * grad
        denominator = v + group["epsilon"]
        if group["centered"]:
            mean = state["mean"]
            mean *= rho
            mean += (1 - rho) * grad
            denominator = denominator - mean * mean
        increment = group["lr"] * grad / xp.sqrt(denominator)
        if group["momentum"] > 0:
            velocity = state["momentum"]
            velocity *= group["momentum"]
            velocity += increment
            increment = velocity
        param -= increment


class Adagrad(Optimizer):
    """s += g^2 (from initial_accumulator_value); w -= lr g / sqrt(s + epsilon)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, initial_accumulator_value=initial_accumulator_value,
                         epsilon=epsilon, **kwargs)

    def keras_update(self, param, grad, state, group):
        xp = backend.get_array_module(param)
        if not state:
            state["accumulator"] = xp.full_like(param, group["initial_accumulator_value"])
        accumulator = state["accumulator"]
        accumulator += grad * grad
        param -= group["lr"] * grad / xp.sqrt(accumulator + group["epsilon"])


ALL = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a name ('adam', 'Adam', 'sgd', 'rmsprop', 'adagrad') or itself."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    if isinstance(identifier, optim.Optimizer):
        raise ValueError(f"compile: {type(identifier).__name__} is a minidl.optim optimizer; "
                         "give a minidl.keras.optimizers one (or its name, e.g. 'adam')")
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; the known "
                     f"names are {sorted(ALL)}")
