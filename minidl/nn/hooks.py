"""What Module.register_full_backward_hook needs: identity ops whose backward calls hooks.

A full backward hook is called as `hook(module, grad_input, grad_output)` once the
gradients with respect to the module's inputs are known, and may return new ones. The
graph has no node for "a module", only the ops inside it, so each call of a hooked
module adds two: its tensor inputs pass through a `BackwardHook` op before forward
sees them, and its tensor outputs pass through another after forward made them. Both
are the identity going forward. Going backward,

- the output op is reached first, with the gradients of the module's outputs: it keeps
  them (grad_output), after the backward pre-hooks, which may replace them;
- the input op is reached once every op inside the module has passed back its share:
  its output gradients are the gradients of the module's inputs (grad_input). It calls
  the hooks with both, and passes on what they return.

A backward written with ops records a graph under create_graph=True, and so does this
one: the gradients go through unchanged, or through whatever ops the hooks apply, and
a second backward through that graph meets the two ops again and calls the hooks again,
as PyTorch does.
"""
import warnings

from ..autograd import Function, is_grad_enabled
from ..creation import zeros_like
from ..tensor import Tensor


class BackwardHook(Function):
    """The identity on its inputs (the same arrays, not copies); its backward hands the
    output gradients to `on_backward(grads) -> grads` and passes on what that returns."""
    reads_inputs = False
    materialize_grads = False   # an output no gradient reached: None, not zeros

    def __init__(self, on_backward):
        self.on_backward = on_backward

    def forward(self, *arrays):
        return arrays

    def backward(self, *grads):
        return tuple(self.on_backward(grads))


def through_backward_hook(on_backward, tensors):
    """The tensors passed through one BackwardHook op, as new tensors (a tuple).

    Each output is the same memory as its input, so it shares the input's version
    counter and is marked a view of it: changing it in place (inside the module) raises,
    as in PyTorch, instead of silently changing the input behind autograd's back."""
    outputs = BackwardHook(on_backward)(*tensors)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    for x, y in zip(tensors, outputs):
        y._version_counter, y._base = x._version_counter, (x, None)
    return outputs


class HookedCall:
    """The backward hooks of one call of a module: wraps its inputs and outputs, keeps
    grad_output until grad_input is known, then calls the hooks."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.inputs = self.input_positions = None
        self.n_outputs = self.output_positions = None

    # -------------------------------------------------------------- forward
    def wrap_inputs(self, args):
        """args with the tensors that require grad passed through a BackwardHook."""
        self.inputs = args
        positions = _positions_to_hook(args)
        if not positions:
            return args
        self.input_positions = positions
        hooked = through_backward_hook(self._on_input_gradients, [args[i] for i in positions])
        args = list(args)
        for i, tensor in zip(positions, hooked):
            args[i] = tensor
        return tuple(args)

    def wrap_outputs(self, output):
        """output (a tensor, or a tuple at its top level) with the tensors that require
        grad passed through a BackwardHook."""
        single = not isinstance(output, tuple)
        outputs = (output,) if single else output
        if not isinstance(output, (Tensor, tuple)):
            warnings.warn(f"{type(self.module).__name__}: for backward hooks to be called, the "
                          f"module's output should be a Tensor or a tuple of Tensors, not "
                          f"{type(output).__name__}", stacklevel=3)
        positions = _positions_to_hook(outputs)
        if not positions:
            return output
        self.n_outputs, self.output_positions = len(outputs), positions
        hooked = through_backward_hook(self._on_output_gradients, [outputs[i] for i in positions])
        outputs = list(outputs)
        for i, tensor in zip(positions, hooked):
            outputs[i] = tensor
        return outputs[0] if single else tuple(outputs)

    # -------------------------------------------------------------- backward
    def _on_output_gradients(self, grads):
        """The gradients of the module's outputs: keep them (after the pre-hooks)."""
        grad_outputs = _spread(self.output_positions, grads, self.n_outputs)
        for hook in self.pre_hooks:
            result = hook(self.module, grad_outputs)
            if result is not None:
                grad_outputs = _checked(result, len(grad_outputs), "pre hook", "grad_output")
        self.grad_outputs = grad_outputs
        if self.input_positions is None:   # no input wants a gradient: call the hooks now
            self._call_hooks_without_inputs()
        return [grad_outputs[i] for i in self.output_positions]

    def _on_input_gradients(self, grads):
        """The gradients of the module's inputs: call the hooks, pass on what they return."""
        if self.grad_outputs is None:   # reached without going through the outputs
            return grads
        grad_inputs = _spread(self.input_positions, grads, len(self.inputs))
        grad_inputs = tuple(zeros_like(x) if g is None and isinstance(x, Tensor) else g
                            for x, g in zip(self.inputs, grad_inputs))  # as PyTorch does
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None:
                grad_inputs = _checked(result, len(grad_inputs), "hook", "grad_input")
        self.grad_outputs = None
        return [grad_inputs[i] for i in self.input_positions]

    def _call_hooks_without_inputs(self):
        warnings.warn(f"{type(self.module).__name__}: a full backward hook is called with the "
                      "gradients of the module's outputs only, since none of its inputs "
                      "requires grad (grad_input is all None)", stacklevel=2)
        grad_inputs = (None,) * len(self.inputs)
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None and not (isinstance(result, tuple)
                                           and all(g is None for g in result)):
                raise RuntimeError(f"{type(self.module).__name__}: a backward hook of a module "
                                   "none of whose inputs requires grad must return None (or "
                                   "None for every gradient)")
        self.grad_outputs = None


def _positions_to_hook(values):
    """Where the tensors that require grad are, if the graph is being recorded."""
    if not is_grad_enabled():
        return []
    return [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]


def _spread(positions, grads, size):
    """A tuple of `size` gradients: grads at `positions`, None elsewhere."""
    spread = [None] * size
    for i, g in zip(positions, grads):
        spread[i] = g
    return tuple(spread)


def _checked(result, expected, kind, what):
    result = (result,) if isinstance(result, Tensor) else tuple(result)
    if len(result) != expected:
        raise RuntimeError(f"backward {kind} returned an invalid number of {what}: got "
                           f"{len(result)}, but expected {expected}")
    return result
