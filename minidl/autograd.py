"""Reverse-mode automatic differentiation: Function, the graph walk, no_grad, grad().

Every differentiable op is a `Function`. Calling one runs `forward` on raw
arrays, wraps the results in Tensors and, when a gradient is wanted,
remembers its inputs so that the graph can be walked backwards later.

`backward` of a Function is written with Tensor ops, not raw arrays. So the
backward pass is itself an ordinary computation: run it with the graph
switched on (`create_graph=True`) and it records a new graph, which can be
differentiated again — Hessian-vector products, Newton's method, gradient
penalties. Without `create_graph` it runs under `no_grad` and records nothing.

The walk (`_run_backward`) sorts the Functions that lead to the outputs in
topological order with an explicit stack (no recursion, so a 10,000-step
chain is fine), visits each once from the outputs back, adds up the
gradients of tensors used more than once, and frees each Function's saved
arrays as soon as it is done unless `retain_graph=True`.
"""
import contextlib
import weakref

import numpy as np

from . import backend


# ----------------------------------------------------------------------------
# Global switches: is the graph recorded? is anomaly detection on?
# ----------------------------------------------------------------------------
class _Config:
    grad_enabled = True
    detect_anomaly = False


@contextlib.contextmanager
def _setting(name, value):
    old = getattr(_Config, name)
    setattr(_Config, name, value)
    try:
        yield
    finally:
        setattr(_Config, name, old)


def no_grad():
    """Context manager: ops inside record no graph (inference, optimizer steps)."""
    return _setting("grad_enabled", False)


def enable_grad():
    """Context manager: switch graph recording back on inside a no_grad block."""
    return _setting("grad_enabled", True)


def is_grad_enabled():
    return _Config.grad_enabled


def detect_anomaly():
    """Context manager: raise at the first op whose forward or backward makes NaN or inf."""
    return _setting("detect_anomaly", True)


def _check_finite(arrays, what):
    for a in arrays:
        if a.dtype.kind in "fc" and not backend.get_array_module(a).isfinite(a).all():
            raise FloatingPointError(f"detect_anomaly: {what} produced NaN or inf")


# ----------------------------------------------------------------------------
# Function: one node of the graph
# ----------------------------------------------------------------------------
class Function:
    """Base class of every differentiable op.

    Subclasses define
      forward(*arrays) -> array or tuple of arrays     (raw numpy/cupy arrays)
      backward(*grad_outputs) -> grad or tuple of grads (Tensors, one per input;
                                                         None where no gradient flows)
    Non-tensor arguments (axis, stride, ...) go to __init__. During backward,
    `self.inputs` are the input Tensors, `self.output(i)` the i-th output as a
    Tensor still connected to the graph, and `self.needs_input_grad[i]` says
    whether input i wants a gradient at all (so work can be skipped).
    """

    def __call__(self, *inputs):
        tensors = _as_tensors(inputs, self.name)
        try:
            outputs = self.forward(*[t.data for t in tensors])
        except ValueError as exc:  # numpy's message, with the op and the shapes added
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError(f"{self.name}: {exc} (input shapes {shapes})") from None
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        outputs = tuple(np.asarray(y) if isinstance(y, np.generic) else y for y in outputs)
        if _Config.detect_anomaly:
            _check_finite(outputs, f"{self.name} forward")

        record = _Config.grad_enabled and any([t._requires_grad for t in tensors])
        results = [Tensor(y, requires_grad=record) for y in outputs]
        if record:
            self.inputs = tensors
            self.needs_input_grad = tuple([t._requires_grad for t in tensors])
            self.outputs = [weakref.ref(y) for y in results]
            self.output_data = outputs
            for y in results:
                y.creator = self
        return results[0] if single else tuple(results)

    @property
    def name(self):
        return type(self).__name__

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    def output(self, i=0):
        """Output i as a Tensor in the graph (rebuilt from its data if the caller dropped it)."""
        y = self.outputs[i]()
        if y is None:
            y = Tensor(self.output_data[i], requires_grad=True)
            y.creator = self
            self.outputs[i] = weakref.ref(y)
        return y

    def release(self):
        """Drop the inputs and everything forward saved: the graph behind this op is freed."""
        self.__dict__.clear()
        self.inputs = None


def _as_tensors(values, op):
    """Turn an op's arguments into Tensors on one device.

    Python numbers and arrays become constants; a Python number takes the dtype
    of the tensor beside it (float32 stays float32), as in NumPy 2.
    """
    ref = next((v for v in values if isinstance(v, Tensor)), None)
    out = [v if isinstance(v, Tensor) else Tensor(_constant_array(v, ref)) for v in values]
    if not all([type(t.data) is np.ndarray for t in out]):  # fast path: all on the CPU
        devices = {backend.device_of(t.data) for t in out}
        if len(devices) > 1:
            described = ", ".join(f"{t.shape} on {backend.device_of(t.data)}" for t in out)
            raise RuntimeError(f"{op}: all tensors must be on one device, got {described}")
    return out


def _constant_array(value, ref):
    if ref is None:
        return value
    xp = backend.get_array_module(ref.data)
    if isinstance(value, (bool, int, float)):
        dtype = ref.dtype
        if isinstance(value, float) and dtype.kind != "f":
            dtype = backend.default_dtype()
        return xp.asarray(value, dtype=dtype)
    return xp.asarray(value)


# ----------------------------------------------------------------------------
# The graph walk
# ----------------------------------------------------------------------------
def _topological_order(roots):
    """Functions behind `roots`, each after all the Functions that feed it.

    Depth-first search with an explicit stack: a Function is appended once all
    of its inputs' creators are in the list.
    """
    order, seen = [], set()
    stack = [(t.creator, False) for t in roots if t.creator is not None]
    while stack:
        f, inputs_done = stack.pop()
        if inputs_done:
            order.append(f)
            continue
        if id(f) in seen:
            continue
        seen.add(id(f))
        if f.inputs is None:
            raise RuntimeError(
                f"backward: trying to go through {f.name} a second time, but its saved "
                "values were freed by the first backward. Pass retain_graph=True to the "
                "first backward() (or grad()) to keep the graph.")
        stack.append((f, True))
        for x in f.inputs:
            if x.creator is not None and id(x.creator) not in seen:
                stack.append((x.creator, False))
    return order


def _run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate gradients from `roots` to every tensor behind them.

    Returns {id(tensor): (tensor, grad)} for the leaves reached. Non-leaf
    tensors whose id is in `capture` (and those that called retain_grad) get
    their gradient recorded when their creator is reached.
    """
    grads = {}
    for t, g in zip(roots, root_grads):
        _accumulate(grads, t, g)
    captured = {}
    with _setting("grad_enabled", create_graph):
        for f in reversed(_topological_order(roots)):
            gys = []
            for i, ref in enumerate(f.outputs):
                y = ref()
                entry = grads.pop(id(y), None) if y is not None else None
                g = entry[1] if entry is not None else None
                if y is not None and g is not None:
                    if capture is not None and id(y) in capture:
                        captured[id(y)] = g
                    if y.retains_grad:
                        y.grad = g if y.grad is None else y.grad + g
                gys.append(g)
            if all(g is None for g in gys):
                continue
            gys = [g if g is not None else _zeros_like_array(f.output_data[i])
                   for i, g in enumerate(gys)]
            try:
                gxs = f.backward(*gys)
            except FloatingPointError as exc:  # raised by detect_anomaly inside the backward
                raise FloatingPointError(f"{exc}, inside the backward of {f.name}") from None
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            if _Config.detect_anomaly:
                _check_finite([g.data for g in gxs if g is not None], f"{f.name} backward")
            for x, gx, needed in zip(f.inputs, gxs, f.needs_input_grad):
                if needed and gx is not None:
                    _accumulate(grads, x, _match(gx, x, f.name))
            if not retain_graph:
                f.release()
    return grads, captured


def _accumulate(grads, t, g):
    key = id(t)
    if key in grads:
        grads[key] = (t, grads[key][1] + g)
    else:
        grads[key] = (t, g)


def _match(gx, x, op):
    """A gradient has its input's shape and dtype; anything else is a bug in `op`."""
    if gx.shape != x.shape:
        raise RuntimeError(f"{op} backward: gradient shape {gx.shape} != input shape {x.shape}")
    if gx.dtype != x.dtype:
        gx = gx.astype(x.dtype)
    return gx


def _zeros_like_array(a):
    return Tensor(backend.get_array_module(a).zeros_like(a))


def _default_root_grads(outputs, grad_outputs, who):
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    result = []
    for y, g in zip(outputs, grad_outputs):
        if not y.requires_grad:
            raise RuntimeError(
                f"{who}: tensor of shape {y.shape} does not require grad and has no "
                "creator; did you set requires_grad=True on the inputs, or run under no_grad?")
        if g is None:
            if y.size != 1:
                raise RuntimeError(
                    f"{who}: a gradient can be created implicitly only for a scalar output, "
                    f"got shape {y.shape}; pass the gradient of the output explicitly")
            g = Tensor(backend.get_array_module(y.data).ones_like(y.data))
        elif not isinstance(g, Tensor):
            g = Tensor(backend.get_array_module(y.data).asarray(g, dtype=y.dtype))
        if g.shape != y.shape:
            raise RuntimeError(f"{who}: gradient shape {g.shape} != output shape {y.shape}")
        result.append(g)
    return result


def backward(tensor, gradient=None, retain_graph=False, create_graph=False):
    """Add d(tensor)/d(leaf) into `leaf.grad` for every leaf that requires grad."""
    roots = [tensor]
    root_grads = _default_root_grads(roots, None if gradient is None else [gradient], "backward")
    grads, _ = _run_backward(roots, root_grads, retain_graph or create_graph, create_graph)
    for t, g in grads.values():
        if t.creator is None and t.requires_grad:
            t.grad = g if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, returned (not stored in .grad).

    With create_graph=True the gradients are themselves in a graph and can be
    differentiated again: `g, = grad(y, [x], create_graph=True); g.backward()`.
    """
    single_output = isinstance(outputs, Tensor)
    outputs = [outputs] if single_output else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is not None and isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    root_grads = _default_root_grads(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    wanted = {id(x) for x in inputs}
    grads, captured = _run_backward(outputs, root_grads, retain_graph, create_graph,
                                    capture=wanted)
    result = []
    for i, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None and id(x) in grads:
            g = grads[id(x)][1]
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {x.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


# Tensor needs Function (above), and Function needs Tensor: import it last.
from .tensor import Tensor  # noqa: E402
