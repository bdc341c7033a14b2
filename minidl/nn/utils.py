"""Gradient clipping: keep one bad batch from throwing the weights far away.

Call between `loss.backward()` and `optimizer.step()`:

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

`clip_grad_norm_` treats all the gradients as one long vector g. If its norm |g| is
above max_norm it scales every gradient by the same factor max_norm / |g|, so the
direction of the step is kept and only its length is capped (recurrent networks, whose
gradients can explode over long sequences, need this most). `clip_grad_value_` instead
clips each gradient entry to [-clip_value, clip_value], which also changes the direction.

Both give each parameter a new gradient Tensor instead of writing into the old one:
autograd may hand out read-only views, or one gradient Tensor shared by two parameters.
"""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor


def _grads(parameters, where):
    """The parameters that have a gradient (accepts one Tensor or any iterable of them)."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: expected Tensors (such as model.parameters()), "
                            f"got {type(p).__name__}")
    return [p for p in parameters if p.grad is not None]


def _norm(array, norm_type):
    """The p-norm of all entries of an array, as a float: max |a| for p = inf."""
    xp = backend.get_array_module(array)
    magnitude = xp.abs(array.astype(xp.float64))
    if norm_type == math.inf:
        return float(magnitude.max()) if magnitude.size else 0.0
    return float((magnitude ** norm_type).sum() ** (1.0 / norm_type))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients together so that their total norm is at most max_norm.

        total = ||(||g_1||_p, ||g_2||_p, ...)||_p          (the p-norm of all of g)
        g_i  <- g_i * min(1, max_norm / (total + 1e-6))

    Returns the total norm before clipping, as a 0-d Tensor (log it to see exploding
    gradients). norm_type is p: 2.0 by default, any p >= 1, or math.inf for the
    largest absolute entry. error_if_nonfinite=True raises when the norm is NaN or
    infinite; by default such gradients are left as they are. (foreach, a PyTorch
    speed switch, changes nothing here.)
    """
    where = "clip_grad_norm_"
    norm_type = float(norm_type)
    if not norm_type >= 1.0:
        raise ValueError(f"{where}: norm_type must be >= 1 (or math.inf), got {norm_type}")
    if not max_norm >= 0:
        raise ValueError(f"{where}: max_norm must be >= 0, got {max_norm}")
    params = _grads(parameters, where)
    if not params:
        return Tensor(np.zeros((), dtype=backend.default_dtype()))
    norms = [_norm(p.grad.data, norm_type) for p in params]
    if norm_type == math.inf:
        total = max(norms)
    else:
        total = math.fsum(n ** norm_type for n in norms) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"{where}: the total norm of the gradients is {total}; pass "
                           "error_if_nonfinite=False to clip anyway")
    scale = max_norm / (total + 1e-6)
    if math.isfinite(total) and scale < 1.0:
        for p in params:
            p.grad = Tensor(p.grad.data * p.grad.dtype.type(scale))
    xp = backend.get_array_module(params[0].grad.data)
    return Tensor(xp.asarray(total, dtype=params[0].grad.dtype))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient entry to [-clip_value, clip_value]."""
    where = "clip_grad_value_"
    if not clip_value >= 0:
        raise ValueError(f"{where}: clip_value must be >= 0, got {clip_value}")
    for p in _grads(parameters, where):
        xp = backend.get_array_module(p.grad.data)
        p.grad = Tensor(xp.clip(p.grad.data, -clip_value, clip_value))
