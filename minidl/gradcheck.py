"""Finite-difference checks of gradients (gradcheck) and of second derivatives (gradgradcheck).

The analytic gradient from backward() is compared with central differences

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

computed in float64. To check the whole Jacobian of a many-output function
at the cost of one backward, the outputs are first reduced to the scalar
L = sum_k r_k * y_k with fixed random weights r: if the Jacobian were wrong
in any entry, dL/dx would (almost surely) be wrong too.
"""
import numpy as np

from . import backend
from .autograd import enable_grad, grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient disagreed with its finite-difference estimate."""


def _float64_inputs(inputs):
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            t = Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
        else:
            t = x
        out.append(t)
    return out


def _as_outputs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _weights_for(outputs, seed):
    g = np.random.default_rng(seed)
    return [Tensor(backend.to_device(g.standard_normal(y.shape), y.device)) for y in outputs
            if isinstance(y, Tensor) and y.dtype.kind == "f"]


def _projected(fn, inputs, weights):
    """L = sum_k r_k * y_k over every float output of fn."""
    outputs = [y for y in _as_outputs(fn(*inputs)) if isinstance(y, Tensor) and y.dtype.kind == "f"]
    total = None
    for y, r in zip(outputs, weights):
        term = (y * r).sum()
        total = term if total is None else total + term
    return total


def _numeric_gradient(loss_of, x, eps):
    """Central differences of the scalar function loss_of() with respect to x.data."""
    flat = x.data.reshape(-1)  # a view: writing into it perturbs x
    g = np.zeros(flat.shape, dtype=np.float64)
    for i in range(flat.size):
        old = flat[i].item()
        flat[i] = old + eps
        plus = loss_of()
        flat[i] = old - eps
        minus = loss_of()
        flat[i] = old
        g[i] = (plus - minus) / (2 * eps)
    return g.reshape(x.shape)


def _compare(name, analytic, numeric, atol, rtol, raise_exception):
    bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
    if not bad.any():
        return True
    if not raise_exception:
        return False
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    raise GradcheckError(
        f"{name}: analytic and numeric gradients differ at index {index}: "
        f"analytic {analytic[index]:.8g}, numeric {numeric[index]:.8g} "
        f"({int(bad.sum())} of {bad.size} entries off; atol={atol}, rtol={rtol})")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=True, seed=0):
    """Check fn's gradients with respect to every input that requires grad.

    fn takes the inputs (Tensors; the float ones are copied to float64) and
    returns a Tensor or a tuple of Tensors. Returns True, or raises
    GradcheckError naming the input, the index and both values.
    """
    inputs = _float64_inputs(inputs if isinstance(inputs, (tuple, list)) else [inputs])
    with no_grad():
        weights = _weights_for(_as_outputs(fn(*inputs)), seed)
    targets = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not targets:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    loss = _projected(fn, inputs, weights)
    if loss.requires_grad:
        analytic = grad(loss, [x for _, x in targets], allow_unused=True)
    else:  # the outputs do not depend on the inputs through the graph at all
        analytic = [None] * len(targets)

    def loss_value():
        with no_grad():
            return float(_projected(fn, inputs, weights).item())

    ok = True
    for (i, x), g in zip(targets, analytic):
        if x.device != "cpu":
            raise ValueError("gradcheck: perturbing inputs needs them on the CPU; "
                             "compare a CUDA result with the CPU one instead")
        g = np.zeros(x.shape) if g is None else g.numpy()
        numeric = _numeric_gradient(loss_value, x, eps)
        ok &= _compare(f"gradcheck: input {i} (shape {x.shape})", g, numeric, atol, rtol,
                       raise_exception)
    return ok


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=True, seed=0):
    """Check second derivatives: the gradient of fn, built with create_graph=True,
    is itself gradient-checked as a function of the inputs and of the cotangent r
    it was computed with (random, as PyTorch's grad_outputs). Both matter: inside a
    larger graph the cotangent an op's backward receives depends on the inputs too,
    so a backward whose own gradient is wrong in r gives wrong second derivatives."""
    inputs = _float64_inputs(inputs if isinstance(inputs, (tuple, list)) else [inputs])
    with no_grad():
        weights = _weights_for(_as_outputs(fn(*inputs)), seed)
    for r in weights:
        r.requires_grad = True
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    n = len(inputs)

    def first_gradients(*args):
        xs, rs = args[:n], args[n:]
        with enable_grad():
            loss = _projected(fn, xs, rs)
            gs = grad(loss, [xs[i] for i in positions], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_gradients, list(inputs) + weights, eps, atol, rtol, raise_exception,
                     seed + 1)
