"""summary(): a Keras-style table of a model's layers, output shapes and parameter counts.

It runs one forward pass on zeros with a forward hook on every layer, which
records the shape of what the layer returned. The pass runs in eval mode
and without a graph, so it changes nothing in the model (no BatchNorm
statistics are updated, no dropout mask is drawn).
"""
from ..autograd import no_grad
from ..creation import zeros
from ..tensor import Tensor
from .module import ModuleList, Sequential


def _shape_text(output):
    if isinstance(output, Tensor):
        return str(tuple(output.shape))
    if isinstance(output, (tuple, list)):
        return "[" + ", ".join(_shape_text(o) for o in output) + "]"
    return "-" if output is None else type(output).__name__


def _run_recording(model, inputs):
    """Forward once; return [(name, module, output shape text)] in the order layers ran."""
    rows, handles = [], []
    for name, module in model.named_modules():
        if module is model or isinstance(module, (Sequential, ModuleList)):
            continue

        def record(module, _inputs, output, name=name):
            rows.append((name, module, _shape_text(output)))

        handles.append(module.register_forward_hook(record))
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            object.__setattr__(module, "training", training)
    return rows


def summary(model, input_shape, dtype=None, device="cpu"):
    """Print and return the table of `model` for an input of `input_shape`.

    input_shape is the full shape of one input, batch dim included, e.g.
    (1, 3, 32, 32); for a model whose forward takes several inputs, pass a
    list of shapes. dtype is the input's dtype (an integer dtype for models
    that start with an Embedding). Param # counts each layer's own
    parameters, so the column adds up to the total.
    """
    shapes = input_shape if isinstance(input_shape[0], (tuple, list)) else [input_shape]
    inputs = [zeros(tuple(shape), dtype=dtype, device=device) for shape in shapes]
    rows = [(f"{name} ({type(module).__name__})", shape,
             f"{sum(p.numel() for p in module.parameters(recurse=False)):,}")
            for name, module, shape in _run_recording(model, inputs)]
    header = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(r[i]) for r in rows + [header]) + 3 for i in range(3)]

    def line(cells):
        return "".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    total = model.num_parameters()
    trainable = model.num_parameters(trainable_only=True)
    rule_width = sum(widths)
    table = [f"Model: {type(model).__name__}", "=" * rule_width, line(header), "=" * rule_width]
    table += [line(r) for r in rows]
    table += ["=" * rule_width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "=" * rule_width]
    text = "\n".join(table)
    print(text)
    return text
