"""Reverse-mode automatic differentiation: Function, the graph walk, no_grad, grad().

Every differentiable op is a `Function`. Calling one runs `forward` on raw
arrays, wraps the results in Tensors and, when a gradient is wanted,
remembers its inputs so that the graph can be walked backwards later.

`backward` of a Function is written with Tensor ops, not raw arrays. So the
backward pass is itself an ordinary computation: run it with the graph
switched on (`create_graph=True`) and it records a new graph, which can be
differentiated again — Hessian-vector products, Newton's method, gradient
penalties. Without `create_graph` it runs under `no_grad` and records nothing.

The whole idea fits in `backward_reference`, right below: put the ops in
topological order, then apply the chain rule from the output back. The real
walk (`_run_backward`) does the same, in named steps, and adds what a real
engine needs: an explicit stack instead of recursion (a 10,000-step chain is
fine), gradients for tensors in the middle of the graph (`grad`,
`retain_grad`), hooks, NaN detection, and freeing each op's saved arrays as
soon as it is done unless `retain_graph=True`.

Changing a tensor in place (`x.add_(1)`, `x[0] = 5`, an optimizer step) after
an op saved it for its backward would make that backward silently wrong. So
every Tensor carries a version counter, shared with its views, that in-place
changes bump; each op notes the versions of what it saved, and the walk
raises if they moved. And each op remembers, for each input, the op that made
that input *when it was called* (its `input_edges`), not the tensor object: a
tensor changed in place later gets a new creator, but gradients for the ops
that used its old value still go to the old creator.
"""
import itertools
import operator
import threading
import weakref

import numpy as np

from . import backend
from .tensor import Tensor


# ----------------------------------------------------------------------------
# The engine on one page: the plain version of the graph walk
# ----------------------------------------------------------------------------
def backward_reference(y):
    """d y / d leaf for every leaf behind the scalar y: {leaf tensor: gradient array}.

    The plain algorithm, micrograd-sized: order the ops so that each comes after
    the ops that made its inputs, then go through them from the last to the first,
    handing each op the gradient of its output and adding what it returns into
    the gradients of its inputs (the chain rule; a tensor used twice gets both).
    For ops with one output; `_run_backward` below does the same with everything a real engine adds.
    """
    order, visited = [], set()

    def visit(f):                                # depth-first: inputs' ops first
        if f is not None and f not in visited:
            visited.add(f)
            for x in f.inputs:
                visit(x.creator)
            order.append(f)

    visit(y.creator)
    grads = {y: Tensor(np.ones_like(y.data))}    # dy/dy = 1
    with no_grad():
        for f in reversed(order):
            gy = grads.pop(f.output(0), None)    # this op's output is complete now
            if gy is None:                       # no gradient reached it
                continue
            gxs = f.backward(gy)
            gxs = gxs if isinstance(gxs, tuple) else (gxs,)
            for x, gx in zip(f.inputs, gxs):
                if gx is not None and x.requires_grad:
                    grads[x] = grads[x] + gx if x in grads else gx
    return {x: g.data for x, g in grads.items()}


# ----------------------------------------------------------------------------
# Modes, one set per thread: is the graph recorded? is anomaly detection on?
# ----------------------------------------------------------------------------
class _Modes(threading.local):
    """Each thread starts with these values and changes only its own copy, so a
    thread running inference under no_grad never switches off another's training."""
    grad_enabled = True
    detect_anomaly = False
    check_nan = False


_modes = _Modes()


class _Setting:
    """Set one mode for a `with` block (or a decorated function) and restore it after.

    Subclasses say which mode (`name`) and which value. `no_grad` and `enable_grad` can
    decorate with or without parentheses (`@no_grad()` or `@no_grad`), as in PyTorch."""
    name, value = None, None

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if callable(orig_func):  # @no_grad, without parentheses
            return self(orig_func)
        return self

    def __init__(self, orig_func=None):
        pass

    def __enter__(self):
        self.old = getattr(_modes, self.name)
        setattr(_modes, self.name, self.value)

    def __exit__(self, *exc):
        setattr(_modes, self.name, self.old)

    def __call__(self, fn):
        def wrapped(*args, **kwargs):
            with self.fresh():  # a new manager per call, so that calls may nest
                return fn(*args, **kwargs)
        wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__ = fn.__name__, fn.__doc__, fn
        return wrapped

    def fresh(self):
        twin = object.__new__(type(self))
        twin.value = self.value
        return twin


class no_grad(_Setting):
    """Ops inside record no graph (inference, optimizer steps): `with mdl.no_grad():`."""
    name, value = "grad_enabled", False


class enable_grad(_Setting):
    """Switch graph recording back on inside a no_grad block."""
    name, value = "grad_enabled", True


class detect_anomaly(_Setting):
    """Raise at the first op whose forward or backward makes NaN or inf (check_nan=False
    turns the mode on but checks nothing, as in PyTorch)."""
    name, value = "detect_anomaly", True

    def __new__(cls, check_nan=True):
        return object.__new__(cls)

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        super().__enter__()
        self.old_check, _modes.check_nan = _modes.check_nan, self.check_nan

    def __exit__(self, *exc):
        super().__exit__(*exc)
        _modes.check_nan = self.old_check

    def fresh(self):
        return detect_anomaly(self.check_nan)


class set_grad_enabled(_Setting):
    """Record the graph or not, as `mode` says. Like PyTorch's, it takes effect when it
    is called: `set_grad_enabled(False)` on its own line switches recording off; in a
    `with` block, leaving the block puts back the mode from before the call."""
    name = "grad_enabled"

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode):
        self.value, self.old = bool(mode), _modes.grad_enabled
        _modes.grad_enabled = self.value

    def __enter__(self):
        pass

    def __call__(self, fn):
        _modes.grad_enabled = self.old  # as a decorator it sets the mode only for the calls
        return super().__call__(fn)

    def fresh(self):
        return set_grad_enabled(self.value)


def is_grad_enabled():
    return _modes.grad_enabled


def is_anomaly_enabled():
    return _modes.detect_anomaly


def _check_finite(arrays, what):
    for a in arrays:
        if a.dtype.kind in "fc" and not backend.get_array_module(a).isfinite(a).all():
            raise FloatingPointError(f"detect_anomaly: {what} produced NaN or inf")


# While minidl.profiler records a profile, this is the recorder: every op's forward
# (Function.__call__) and backward (in the walk) go through it to be timed. It is None
# otherwise, and checking it is all that profiling costs an op when nothing records.
_profiler = None

_RECORDED = itertools.count()                    # the ops' recording order, see below
_RECORDED_ORDER = operator.attrgetter("seq")


def increment_version(tensor):
    """Record that `tensor`'s values were changed in place behind autograd's back
    (an optimizer step, an init): a backward that saved it will now refuse to run."""
    tensor._version_counter[0] += 1


# ----------------------------------------------------------------------------
# Function: one node of the graph
# ----------------------------------------------------------------------------
class Function:
    """Base class of every differentiable op.

    Subclasses define
      forward(*arrays) -> array or tuple of arrays     (raw numpy/cupy arrays)
      backward(*grad_outputs) -> grad or tuple of grads (Tensors, one per input;
                                                         None where no gradient flows)
    Non-tensor arguments (axis, stride, ...) go to __init__. `self.xp` is the
    array module of the inputs (numpy or cupy). During backward, `self.inputs`
    are the input Tensors, `self.output(i)` the i-th output as a Tensor still
    connected to the graph, and `self.needs_input_grad[i]` says whether input i
    wants a gradient at all (so work can be skipped).

    Two class attributes tell the engine about the op:
      reads_inputs  - backward uses the inputs' values, not only their shapes
                      (True by default), so changing an input in place between
                      forward and backward is an error (an op whose backward
                      reads only some inputs says which in `inputs_read`);
      returns_view  - forward may return a view of its first input (reshape,
                      indexing): the output then shares the input's memory, and
                      so its version counter.
    And one about its backward: `materialize_grads` (True by default) hands backward
    zeros for an output that no gradient reached; an op that says False gets None
    there (PyTorch's ctx.set_materialize_grads(False)).

    (Unlike torch.autograd.Function, whose forward and backward are static
    methods on a ctx object, a minidl Function is an object per call: forward
    sees arrays, backward writes Tensor ops, and the op's own attributes are
    its saved state.)
    """
    reads_inputs = True
    returns_view = False
    materialize_grads = True

    def __call__(self, *inputs):
        if _profiler is not None and _profiler.should_time(self):  # a profile is recording:
            return _profiler.forward(self, inputs)  # it times this call (it calls us back)
        tensors = as_tensors(inputs, self)
        outputs = self._forward(tensors)
        if _modes.grad_enabled:
            for t in tensors:
                if t._requires_grad:
                    results = self._record(tensors, outputs)
                    return results[0] if len(results) == 1 else tuple(results)
        # the lean path: nothing is recorded, the outputs are plain tensors
        if len(outputs) == 1 and not self.returns_view:
            return Tensor(outputs[0])
        results = [Tensor(y) for y in outputs]
        if self.returns_view:
            _share_memory_facts(results, tensors[0], self)
        return results[0] if len(results) == 1 else tuple(results)

    @property
    def name(self):
        return type(self).__name__

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    def _forward(self, tensors):
        """Run forward on the arrays; always a tuple of arrays, errors naming the op."""
        arrays = [t.data for t in tensors]
        first = arrays[0]
        self.xp = np if type(first) is np.ndarray else backend.get_array_module(first)
        try:
            outputs = self.forward(*arrays)
        except ValueError as exc:  # numpy's message, with the op and the shapes added
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError(f"{self.name}: {exc} (input shapes {shapes})") from None
        if type(outputs) is not tuple:
            outputs = (outputs,)
        for y in outputs:
            if type(y) is not np.ndarray and isinstance(y, np.generic):  # a NumPy scalar
                outputs = tuple([np.asarray(y) for y in outputs])
                break
        if _modes.check_nan:
            _check_finite(outputs, f"{self.name} forward")
        return outputs

    def _record(self, tensors, outputs):
        """Make this op a node of the graph: remember the inputs, where each came from
        (its creator and which of its outputs it is, or the leaf itself), their versions
        (checked in backward for the inputs it reads) and the outputs."""
        self.inputs, self.seq = tensors, next(_RECORDED)
        edges, needs, versions = [], [], []
        for t in tensors:
            creator = t.creator
            edges.append((creator, t._output_nr) if creator is not None else (None, t))
            needs.append(t._requires_grad)
            versions.append(t._version_counter[0])
        self.input_edges, self.needs_input_grad, self.input_versions = edges, needs, versions
        results = []
        for y in outputs:
            result = Tensor(y)
            result._requires_grad, result.creator = True, self
            results.append(result)
        if self.returns_view:
            _share_memory_facts(results, tensors[0], self)
        for i in range(1, len(results)):
            results[i]._output_nr = i
        self.outputs = [weakref.ref(y) for y in results]
        self.output_data = outputs
        self.output_versions = [(y._version_counter, y._version_counter[0]) for y in results]
        return results

    def output(self, i=0):
        """Output i as a Tensor in the graph (rebuilt from its data if the caller dropped it).

        Raises if the output was changed in place since forward made it: a
        backward that reads its own output would otherwise use the new values."""
        counter, version = self.output_versions[i]
        if counter[0] != version:
            raise _modified_error(self, f"output {i}", self.output_data[i], counter[0], version)
        y = self.outputs[i]()
        if y is None:
            y = Tensor(self.output_data[i], requires_grad=True)
            y.creator, y._output_nr = self, i
            y._version_counter = counter
            self.outputs[i] = weakref.ref(y)
        return y

    def inputs_read(self):
        """Indices of the inputs whose values backward uses (all, unless reads_inputs is False)."""
        return range(len(self.inputs)) if self.reads_inputs else ()

    def check_versions(self):
        """Raise if an input this op's backward reads was changed in place since forward."""
        for i in self.inputs_read():
            x, version = self.inputs[i], self.input_versions[i]
            if x._version_counter[0] != version:
                raise _modified_error(self, f"input {i}", x.data, x._version_counter[0], version)

    def release(self):
        """Drop the inputs and everything forward saved: the graph behind this op is freed."""
        self.__dict__.clear()
        self.inputs = None


def _modified_error(f, which, data, now, then):
    return RuntimeError(
        f"{f.name} backward: its {which} (shape {tuple(data.shape)}, {data.dtype}) was changed "
        f"in place after {f.name} saved it: it is at version {now}, expected version {then}. "
        "An in-place op (add_, x[i] = v, ...) or an optimizer step changed it between the "
        "forward and this backward; change a clone() instead, or run the forward again.")


def _share_memory_facts(results, source, creator):
    """Outputs of a view op that do share the input's memory share its version counter
    (changing one in place changes the other); indexing also remembers how to write back."""
    xp = backend.get_array_module(source.data)
    for y in results:
        if xp.may_share_memory(y.data, source.data):
            y._version_counter = source._version_counter
            y._base = (source, getattr(creator, "index", None))


def as_tensors(values, op):
    """Turn an op's arguments into Tensors on one device (`op` names it in errors).

    Python numbers and arrays become constants; a Python number takes the dtype
    of the tensor beside it (float32 stays float32), as in NumPy 2.
    """
    out = list(values)
    on_cpu, ref = True, None
    for i, v in enumerate(out):
        if not isinstance(v, Tensor):
            if ref is None:
                ref = next((t for t in values if isinstance(t, Tensor)), None)
            v = out[i] = _constant(v, ref)
        if type(v.data) is not np.ndarray:
            on_cpu = False
    if not on_cpu:  # the fast path above: everything on the CPU
        devices = {backend.device_of(t.data) for t in out}
        if len(devices) > 1:
            described = ", ".join(f"{t.shape} on {backend.device_of(t.data)}" for t in out)
            name = op if isinstance(op, str) else op.name
            raise RuntimeError(f"{name}: all tensors must be on one device, got {described}")
    return out


_CONSTANTS = {}  # (Python number, dtype) -> a read-only Tensor, reused: x * 0.5 is common


def _constant(value, ref):
    """A constant Tensor for value, beside the tensor ref (None: no tensor at all)."""
    if (ref is not None and type(value) in (float, int) and type(ref.data) is np.ndarray
            and value == value and value != 0):  # NaN and -0.0 vs 0.0 would collide
        key = (value, type(value), ref.data.dtype)
        constant = _CONSTANTS.get(key)
        if constant is None:
            if len(_CONSTANTS) > 4096:
                _CONSTANTS.clear()
            array = _constant_array(value, ref)
            array.flags.writeable = False
            constant = _CONSTANTS[key] = Tensor(array)
        return constant
    return Tensor(_constant_array(value, ref))


def _constant_array(value, ref):
    if ref is None:
        return value
    data = ref.data
    xp = np if type(data) is np.ndarray else backend.get_array_module(data)
    if type(value) is float:  # the common case: x * 0.5
        dtype = data.dtype if data.dtype.kind in "fc" else backend.default_dtype()
        return xp.asarray(value, dtype=dtype)
    if isinstance(value, (bool, int, float)):
        dtype = ref.dtype
        if isinstance(value, float) and dtype.kind != "f":
            dtype = backend.default_dtype()
        return xp.asarray(value, dtype=dtype)
    return xp.asarray(value)


# ----------------------------------------------------------------------------
# The graph walk, step by step
# ----------------------------------------------------------------------------
# Gradients on their way are kept per node: grads[f] is the list of the gradients of
# f's outputs added up so far, grads[id(leaf)] = (leaf, gradient) for a leaf.
def _edge(t):
    """Where a gradient for tensor t goes: (its creator, which output), or (None, t)."""
    return (t.creator, t._output_nr) if t.creator is not None else (None, t)


def _topological_order(roots):
    """Functions behind `roots`, each after all the Functions that feed it.

    Every Function reachable from the roots' creators through `input_edges` appears
    once, however long the graph (a chain of 10,000 ops is fine: no recursion). A
    Function whose saved values were freed by an earlier backward (its `inputs` is
    None) is a RuntimeError that says to pass retain_graph=True.
    """
    # BEGIN SOLUTION (exercise 02)
    # An op is always made after the ops that made its inputs, so the order in which
    # the ops were recorded (their `seq`) is a topological order: collect the ops
    # reachable from the roots (an explicit stack: no recursion limit), then sort.
    found = {}
    stack = [t.creator for t in roots if t.creator is not None]
    while stack:
        f = stack.pop()
        if id(f) in found:
            continue
        if f.inputs is None:
            raise RuntimeError(
                f"backward: trying to go through {f.name} a second time, but its saved "
                "values were freed by the first backward. Pass retain_graph=True to the "
                "first backward() (or grad()) to keep the graph.")
        found[id(f)] = f
        for node, _ in f.input_edges:
            if node is not None and id(node) not in found:
                stack.append(node)
    return sorted(found.values(), key=_RECORDED_ORDER)
    # END SOLUTION


def _take_output_gradients(f, grads, captured, capture):
    """The gradients of f's outputs, now complete (every later op has added its share),
    or None when no gradient reached f.

    They are removed from `grads`, passed through the output tensors' hooks, kept
    for grad()'s caller or retain_grad() where asked, and returned (None for an
    output that no gradient reached).
    """
    gys = grads.pop(f, None)
    if gys is None:
        return None
    for i, g in enumerate(gys):
        y = f.outputs[i]() if g is not None else None
        if y is None:
            continue
        if y._backward_hooks:
            g = gys[i] = _run_hooks(y, g)
        if capture is not None and id(y) in capture:
            captured[id(y)] = g
        if y.retains_grad:
            y.grad = g if y.grad is None else y.grad + g
    return gys


def _call_backward(f, gys):
    """f.backward on its output gradients (zeros for outputs no gradient reached, unless
    f does not materialize them)."""
    f.check_versions()
    for i, g in enumerate(gys):
        if g is None and f.materialize_grads:
            gys[i] = _zeros_like_array(f.output_data[i])
    try:
        gxs = f.backward(*gys)
    except FloatingPointError as exc:  # raised by detect_anomaly inside the backward
        raise FloatingPointError(f"{exc}, inside the backward of {f.name}") from None
    if type(gxs) is not tuple:
        gxs = (gxs,)
    if _modes.check_nan:
        _check_finite([g.data for g in gxs if g is not None], f"{f.name} backward")
    return gxs


def _pass_to_inputs(f, gxs, grads):
    """Add each input's gradient to where that input came from: output `slot` of the op
    `node`, or a leaf (a tensor used twice collects both). A gradient has its input's
    shape and dtype; any other shape is a bug in f's backward."""
    for x, (node, slot), gx, needed in zip(f.inputs, f.input_edges, gxs, f.needs_input_grad):
        if not needed or gx is None:
            continue
        g, data = gx.data, x.data
        if g.shape != data.shape:
            raise RuntimeError(f"{f.name} backward: gradient shape {g.shape} != input shape "
                               f"{data.shape}")
        if g.dtype != data.dtype:
            gx = gx.astype(data.dtype)
        if node is None:  # a leaf
            key = id(slot)
            grads[key] = (slot, grads[key][1] + gx) if key in grads else (slot, gx)
            continue
        pending = grads.get(node)
        if pending is None:
            pending = grads[node] = [None] * len(node.outputs)
        pending[slot] = gx if pending[slot] is None else pending[slot] + gx


def _run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate gradients from `roots` to every tensor behind them.

    Returns ({id(leaf): (leaf, grad)} for the leaves reached, {id(tensor): grad}
    for the non-leaf tensors whose id is in `capture`).
    """
    order = _topological_order(roots)
    grads, captured = {}, {}
    for t, g in zip(roots, root_grads):
        _accumulate(grads, _edge(t), g)
    with (enable_grad() if create_graph else no_grad()):
        for f in reversed(order):
            gys = _take_output_gradients(f, grads, captured, capture)
            if gys is not None:
                gxs = _call_backward(f, gys) if _profiler is None else _profiler.backward(f, gys)
                _pass_to_inputs(f, gxs, grads)
            if not retain_graph:
                f.release()
        leaves = {key: (t, _run_hooks(t, g) if t._backward_hooks else g)
                  for key, (t, g) in grads.items()}  # what is left: the leaves, complete
    return leaves, captured


def _run_hooks(t, g):
    """Call t's hooks in order; a hook that returns a Tensor replaces the gradient."""
    for hook in list(t._backward_hooks.values()):
        result = hook(g)
        if result is not None:
            g = result
    return g


def _accumulate(grads, edge, g):
    """Add g to the gradient waiting at `edge`: output i of a Function, or a leaf."""
    node, slot = edge
    if node is None:
        key = id(slot)
        grads[key] = (slot, grads[key][1] + g) if key in grads else (slot, g)
        return
    pending = grads.get(node)
    if pending is None:
        pending = grads[node] = [None] * len(node.outputs)
    pending[slot] = g if pending[slot] is None else pending[slot] + g


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
            if y.numel() != 1:
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


# ----------------------------------------------------------------------------
# The two ways in: backward() fills .grad, grad() returns the gradients
# ----------------------------------------------------------------------------
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Add d(tensors)/d(leaf) into `leaf.grad` for every leaf that requires grad
    (only for the tensors in `inputs`, when it is given)."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if isinstance(grad_tensors, Tensor) or grad_tensors is None:
        grad_tensors = [grad_tensors] * len(roots) if grad_tensors is None else [grad_tensors]
    root_grads = _default_root_grads(roots, list(grad_tensors), "backward")
    if retain_graph is None:
        retain_graph = create_graph
    wanted = None if inputs is None else [inputs] if isinstance(inputs, Tensor) else list(inputs)
    capture = None if wanted is None else {id(t) for t in wanted}
    grads, captured = _run_backward(roots, root_grads, retain_graph, create_graph, capture)
    if wanted is None:
        targets = [(t, g) for t, g in grads.values() if t.creator is None and t.requires_grad]
    else:
        targets = [(t, captured.get(id(t), grads.get(id(t), (None, None))[1])) for t in wanted]
    for t, g in targets:
        if g is not None:
            t.grad = g if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Gradients of `outputs` with respect to `inputs`, returned (not stored in .grad).

    With create_graph=True the gradients are themselves in a graph and can be
    differentiated again: `g, = grad(y, [x], create_graph=True); g.backward()`.
    An input the outputs do not depend on is an error, unless allow_unused=True
    (its gradient is then None) or materialize_grads=True (zeros).
    """
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    if materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused to be True or None")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
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
        if g is None and materialize_grads:
            g = _zeros_like_array(x.data)
        result.append(g)
    return tuple(result)
