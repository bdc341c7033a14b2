"""minidl.autograd.functional: Jacobians, Hessians and their products with vectors.

The functions of torch.autograd.functional, with its signatures: each takes a function
`func` of one tensor or a tuple of tensors (`inputs`) and returns tensors, or tuples of
them where the inputs or the outputs are tuples. All of them are a few calls of
autograd's reverse mode (`grad`), which is enough because the engine can differentiate
its own backward:

- vjp(f, x, v) = vᵀJ: one backward from f's outputs, with v as their gradient;
- jvp(f, x, v) = Jv, "the double-vjp trick": uᵀJ is linear in a dummy u, so
  differentiating (uᵀJ)·v with respect to u gives Jv. One backward with u (recording
  a graph), then a backward of that graph, with v;
- jacobian: J row by row (one vjp per output element: eᵢᵀJ), or, with
  strategy="forward-mode", column by column (one Jv per input element);
- hessian: the Jacobian of the gradient;
- vhp(f, x, v) = vᵀH: a backward of the gradient; hvp(f, x, v) = Hv: the double-vjp
  trick on the gradient. For a twice-differentiable f, H is symmetric and both give
  the same numbers.

create_graph=True keeps the results in the graph, so that they can be differentiated
again. strict=True raises where an output does not depend on an input, instead of
answering zeros. vectorize is accepted, as in PyTorch, but minidl has no vmap: the rows
(or columns) are computed one after the other either way, with the same results.

minidl.autograd is a module, not a package: this module registers itself as its
attribute `functional` (and as `minidl.autograd.functional` in sys.modules), so that
`from minidl.autograd.functional import jacobian` and `minidl.autograd.functional.jvp`
work as in PyTorch.
"""
import sys

from . import autograd
from .autograd import enable_grad, is_grad_enabled, set_grad_enabled
from .creation import zeros, zeros_like
from .functional import clone, reshape, stack
from .tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


# ----------------------------------------------------------------------------
# The six functions
# ----------------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀJ): v has the outputs' shapes (it may be None for one output of
    one element); the product has the inputs' shapes."""
    with enable_grad():
        inputs_tuple, inputs = _prepared_inputs(inputs, "vjp", create_graph)
        outputs_tuple, outputs = _outputs(func, inputs, "vjp", strict)
        if v is not None:
            v = _prepared_vector(v, outputs, outputs_tuple, "vjp", create_graph)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("vjp: v can be None only when the function returns a single "
                               f"Tensor of one element, not outputs of shapes "
                               f"{[tuple(out.shape) for out in outputs]}")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(outputs, inputs, v, create_graph)
        products = _zeros_where_none(grads, inputs, strict, create_graph, "vjp")
    return (_unpacked(_detached(outputs, create_graph), outputs_tuple),
            _unpacked(_detached(products, create_graph), inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), Jv): v has the inputs' shapes (it may be None for one input of one
    element); the product has the outputs' shapes. By the double-vjp trick."""
    with enable_grad():
        inputs_tuple, inputs = _prepared_inputs(inputs, "jvp", create_graph)
        if v is not None:
            v = _prepared_vector(v, inputs, inputs_tuple, "jvp", create_graph)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("jvp: v can be None only when the input is a single Tensor of "
                               f"one element, not inputs of shapes "
                               f"{[tuple(x.shape) for x in inputs]}")
        outputs_tuple, outputs = _outputs(func, inputs, "jvp", strict)
        dummies, u_times_j = _vjp_of_a_dummy(outputs, inputs, strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(u_times_j, dummies, v, create_graph)
        products = _zeros_where_none(grads, outputs, strict, create_graph, "jvp")
    return (_unpacked(_detached(outputs, create_graph), outputs_tuple),
            _unpacked(_detached(products, create_graph), outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """J[i][j] = d output_i / d input_j, of shape output_i.shape + input_j.shape: a Tensor
    for one input and one output, a tuple over whichever of them is a tuple, a tuple of
    tuples (outputs, then inputs) when both are."""
    _check_jacobian_options("jacobian", create_graph, strict, vectorize, strategy)
    with enable_grad():
        inputs_tuple, inputs = _prepared_inputs(inputs, "jacobian", create_graph)
        outputs_tuple, outputs = _outputs(func, inputs, "jacobian", strict)
        if strategy == "reverse-mode":
            blocks = _jacobian_by_rows(outputs, inputs, create_graph, strict)
        else:
            blocks = _jacobian_by_columns(outputs, inputs)
    blocks = tuple(_detached(row, create_graph) for row in blocks)
    return _unpacked_twice(blocks, outputs_tuple, inputs_tuple)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """H[i][j] = d² func / d input_i d input_j, of shape input_i.shape + input_j.shape, for
    a func that returns one Tensor of one element: the Jacobian of the gradient."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('hessian: outer_jacobian_strategy must be "forward-mode" or '
                         f'"reverse-mode", not {outer_jacobian_strategy!r}')

    def scalar_func(*x):
        out = func(*x)
        if not isinstance(out, Tensor):
            raise RuntimeError(f"hessian: the function must return a single Tensor, not "
                               f"{type(out).__name__}")
        _check_requires_grad((out,), "outputs", strict)
        if out.numel() != 1:
            raise RuntimeError(f"hessian: the function must return a Tensor of one element, "
                               f"not one of shape {tuple(out.shape)}")
        return reshape(out, ())

    def gradient(*x):
        if outer_jacobian_strategy == "forward-mode":  # keep the graph to the outer inputs
            x = tuple(t.requires_grad_(True) for t in x)
        grads = jacobian(scalar_func, x, create_graph=True)
        _check_requires_grad(grads, "jacobian", strict)
        return grads

    blocks = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _unpacked_twice(blocks, inputs_tuple, inputs_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀH) for a func that returns one Tensor of one element; v and the
    product have the inputs' shapes."""
    with enable_grad():
        inputs_tuple, inputs, v, outputs = _scalar_function(func, inputs, v, "vhp",
                                                            create_graph, strict)
        gradients = _grad(outputs, inputs, None, create_graph=True)
        _check_requires_grad(gradients, "jacobian", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(gradients, inputs, v, create_graph)
        products = _zeros_where_none(grads, inputs, strict, create_graph, "vhp")
    return (_detached(outputs, create_graph)[0],
            _unpacked(_detached(products, create_graph), inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), Hv) for a func that returns one Tensor of one element; v and the
    product have the inputs' shapes. The double-vjp trick on the gradient."""
    with enable_grad():
        inputs_tuple, inputs, v, outputs = _scalar_function(func, inputs, v, "hvp",
                                                            create_graph, strict)
        gradients = _grad(outputs, inputs, None, create_graph=True)
        _check_requires_grad(gradients, "jacobian", strict)
        dummies, u_times_h = _vjp_of_a_dummy(gradients, inputs, strict, "hessian")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(u_times_h, dummies, v, create_graph)
        products = _zeros_where_none(grads, inputs, strict, create_graph, "hvp")
    return (_detached(outputs, create_graph)[0],
            _unpacked(_detached(products, create_graph), inputs_tuple))


# ----------------------------------------------------------------------------
# The steps they share
# ----------------------------------------------------------------------------
def _grad(outputs, inputs, grad_outputs, create_graph, retain_graph=None):
    """autograd.grad for the outputs that are in a graph (None for the inputs when none
    is), None for an input they do not depend on."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(out, g) for out, g in zip(outputs, grad_outputs)
             if out is not None and out.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return autograd.grad([out for out, _ in pairs], list(inputs), [g for _, g in pairs],
                         retain_graph=retain_graph, create_graph=create_graph,
                         allow_unused=True)


def _vjp_of_a_dummy(outputs, inputs, strict, what="grad_inputs"):
    """(u, uᵀJ) for dummy vectors u of zeros that require grad: uᵀJ is linear in u, and
    its gradient with respect to u along v is Jv (the double-vjp trick)."""
    dummies = tuple(zeros_like(out, requires_grad=True) for out in outputs)
    u_times_j = _grad(outputs, inputs, dummies, create_graph=True)
    _check_requires_grad(u_times_j, what, strict)
    return dummies, u_times_j


def _jacobian_by_rows(outputs, inputs, create_graph, strict):
    """Each block out_i.shape + in_j.shape, from one vjp per element of each output."""
    blocks = []
    for i, out in enumerate(outputs):
        rows = [[] for _ in inputs]
        for k in range(out.numel()):
            grads = _grad((out,), inputs, (_one_hot(out, k),), create_graph, retain_graph=True)
            for j, (g, x) in enumerate(zip(grads, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"jacobian: output {i} does not depend on input "
                                           f"{j}, which strict=True does not allow")
                    g = zeros_like(x)
                elif strict and create_graph and not g.requires_grad:
                    raise RuntimeError(f"jacobian: the Jacobian does not depend on input {j}, "
                                       "which strict=True with create_graph=True does not "
                                       "allow")
                rows[j].append(g)
        blocks.append(tuple(_assemble(entries, out.shape, x.shape, x, stacked_dim=0)
                            for entries, x in zip(rows, inputs)))
    return tuple(blocks)


def _jacobian_by_columns(outputs, inputs):
    """Each block out_i.shape + in_j.shape, from one Jv per element of each input."""
    dummies, u_times_j = _vjp_of_a_dummy(outputs, inputs, strict=False)
    columns = [[[] for _ in inputs] for _ in outputs]
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            v = tuple(_one_hot(x, k) if m == j else zeros_like(other)
                      for m, other in enumerate(inputs))
            grads = _grad(u_times_j, dummies, v, create_graph=False, retain_graph=True)
            for i, (g, out) in enumerate(zip(grads, outputs)):
                columns[i][j].append(zeros_like(out) if g is None else g)
    return tuple(tuple(_assemble(columns[i][j], out.shape, x.shape, out, stacked_dim=out.ndim)
                       for j, x in enumerate(inputs)) for i, out in enumerate(outputs))


def _assemble(entries, out_shape, in_shape, like, stacked_dim):
    """Rows (stacked first) or columns (stacked last) into a block out_shape + in_shape."""
    shape = tuple(out_shape) + tuple(in_shape)
    if not entries:  # an output or an input of no elements
        return zeros(shape, dtype=like.dtype, device=like.device)
    return reshape(stack(entries, stacked_dim), shape)


def _one_hot(t, k):
    """A tensor of t's shape, dtype and device: 1 at flat position k, 0 elsewhere."""
    e = zeros_like(t)
    e.data.reshape(-1)[k] = 1
    return e


def _scalar_function(func, inputs, v, name, create_graph, strict):
    """vhp's and hvp's common start: the inputs, v, and func's one output of one element."""
    inputs_tuple, inputs = _prepared_inputs(inputs, name, create_graph)
    if v is not None:
        v = _prepared_vector(v, inputs, inputs_tuple, name, create_graph)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError(f"{name}: v can be None only when the input is a single Tensor of "
                           f"one element, not inputs of shapes {[tuple(x.shape) for x in inputs]}")
    outputs_tuple, outputs = _outputs(func, inputs, name, strict)
    if outputs_tuple:
        raise RuntimeError(f"{name}: the function must return a single Tensor, not a tuple")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"{name}: the function must return a Tensor of one element, not "
                           f"one of shape {tuple(outputs[0].shape)}")
    return inputs_tuple, inputs, v, outputs


# ----------------------------------------------------------------------------
# Checking and shaping what goes in and out
# ----------------------------------------------------------------------------
def _as_tuple(value, what, name):
    """(whether value was a tuple, a tuple of Tensors)."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, el in enumerate(values):
        if not isinstance(el, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {what}"
            raise TypeError(f"{name}: the {what} must be a Tensor or a tuple of Tensors, but "
                            f"{where} is a {type(el).__name__}")
    return is_tuple, values


def _prepared_inputs(inputs, name, create_graph):
    """The inputs as new tensors that require grad: detached copies of the caller's, or,
    with create_graph=True, tensors still in the caller's graph (clones) for those
    that require grad, so that the results can be differentiated with respect to them."""
    is_tuple, inputs = _as_tuple(inputs, "inputs", name)
    return is_tuple, tuple(_prepared(x, create_graph, requires_grad=True) for x in inputs)


def _prepared_vector(v, others, others_tuple, name, create_graph):
    """v as a tuple of tensors matching `others` one to one, in number and shapes."""
    _, v = _as_tuple(v, "v", name)
    v = tuple(_prepared(t, create_graph, requires_grad=False) for t in v)
    if len(v) != len(others):
        raise RuntimeError(f"{name}: v has {len(v)} tensors, but there are {len(others)} to "
                           "match" if others_tuple else f"{name}: v must be a single Tensor")
    for i, (t, other) in enumerate(zip(v, others)):
        if t.shape != other.shape:
            entry = f"entry {i} of v" if others_tuple else "v"
            raise RuntimeError(f"{name}: {entry} has shape {tuple(t.shape)}, it should have "
                               f"shape {tuple(other.shape)}")
    return v


def _prepared(x, create_graph, requires_grad):
    if create_graph and x.requires_grad:
        return clone(x)
    return x.detach().requires_grad_(requires_grad)


def _outputs(func, inputs, name, strict):
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the function", name)
    _check_requires_grad(outputs, "outputs", strict)
    return is_tuple, outputs


_INDEPENDENT = {
    "outputs": "output {i} of the function does not require grad: it is not computed in a "
               "differentiable way from the inputs",
    "grad_inputs": "the gradient with respect to input {i} does not depend on the inputs",
    "jacobian": "the gradient with respect to input {i} does not depend on the inputs (is "
                "the function twice differentiable, and not linear?)",
    "hessian": "the Hessian with respect to input {i} does not depend on the inputs (is "
               "the function thrice differentiable?)",
}


def _check_requires_grad(tensors, what, strict):
    """With strict=True: raise for a None or a tensor outside the graph."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"the output of the function does not depend on input {i}, "
                               "which strict=True does not allow")
        if not t.requires_grad:
            raise RuntimeError(_INDEPENDENT[what].format(i=i) + ", which strict=True does "
                               "not allow")


_NOT_DEPENDING = {
    "vjp": "the output of the function does not depend on input {i}",
    "jvp": "the gradient with respect to the inputs does not depend on entry {i} of the "
           "dummy vector of the double-vjp trick",
    "vhp": "the gradient of the function does not depend on input {i}",
    "hvp": "the Hessian of the function does not depend on entry {i} of the dummy vector "
           "of the double-vjp trick",
}


def _zeros_where_none(grads, refs, strict, create_graph, name):
    """Zeros (of refs[i]'s shape) for the gradients that are None, or with strict=True an
    error; with strict and create_graph, also an error for one outside the graph."""
    filled = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{name}: " + _NOT_DEPENDING[name].format(i=i)
                                   + ", which strict=True does not allow")
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"{name}: the result does not depend on input {i}, which "
                               "strict=True with create_graph=True does not allow")
        filled.append(g)
    return tuple(filled)


def _check_jacobian_options(name, create_graph, strict, vectorize, strategy):
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f'{name}: strategy must be "forward-mode" or "reverse-mode", not '
                         f"{strategy!r} (forward-mode suits functions with more outputs than "
                         "inputs)")
    if strict and vectorize:
        raise RuntimeError(f"{name}: strict=True and vectorize=True cannot be used together, "
                           "as in PyTorch")
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(f'{name}: strategy="forward-mode" does not support '
                                      'create_graph=True, as in PyTorch; use "reverse-mode"')
        if strict:
            raise RuntimeError(f'{name}: strategy="forward-mode" does not support strict=True, '
                               'as in PyTorch; use "reverse-mode"')
        if not vectorize:
            raise NotImplementedError(f'{name}: strategy="forward-mode" needs vectorize=True, '
                                      "as in PyTorch")


def _detached(tensors, create_graph):
    """The results, cut from the graph unless create_graph asked to keep it."""
    if create_graph:
        return tuple(tensors)
    return tuple(t.detach() for t in tensors)


def _unpacked(values, was_tuple):
    return tuple(values) if was_tuple else values[0]


def _unpacked_twice(blocks, outer_tuple, inner_tuple):
    """A tuple (outer) of tuples (inner), unpacked where the caller gave no tuple."""
    rows = tuple(_unpacked(row, inner_tuple) for row in blocks)
    return _unpacked(rows, outer_tuple)


# minidl.autograd.functional, as in PyTorch (see the docstring above)
autograd.functional = sys.modules["minidl.autograd.functional"] = sys.modules[__name__]
