"""model.summary(): the table of layers, output shapes and parameter counts, as tf.keras prints it.

    Model: "sequential"
    _________________________________________________________________
     Layer (type)                Output Shape              Param #
    =================================================================
     embedding (Embedding)       (None, 30, 32)            64000
    (blank line)
     lstm (LSTM)                 (None, 32)                8320
    ...
    =================================================================
    Total params: 72882 (284.70 KB)
    Trainable params: 72882 (284.70 KB)
    Non-trainable params: 0 (0.00 Byte)
    _________________________________________________________________

The layout is tf.keras's (2.13 and later, keras/utils/layer_utils.py print_summary):
lines of 65 characters with columns ending at 45% and 85% of the line; a model whose
layers do not simply follow one another (a merge, several inputs) gets 98 characters and a
fourth column, "Connected to", listing each layer's inputs as name[node][tensor]. A
cell too long for its column continues on the next line, cut after "),", "],", "},"
or "',". Param # counts a layer's weights, trainable or not; the memory is their bytes.
"""
import math

from ..layers.input_layer import InputLayer


def _rows_are_sequential(model):
    """Keras's test: one node per depth, each with at most one input, no layer twice."""
    if model.inputs is None or type(model).__name__ == "Sequential":
        return True
    depths = {}
    for node in model._nodes:
        depths.setdefault(node.layer, 0)
        depths[node.layer] += 1
        if len(node.inputs) > 1:
            return False
    if any(count > 1 for count in depths.values()):
        return False
    # a chain: every node feeds the next one
    return all(len(model._nodes[i + 1].parents) == 1 and model._nodes[i + 1].parents[0] is
               model._nodes[i] for i in range(len(model._nodes) - 1))


def _shape_text(model, layer):
    outputs = model.layer_outputs(layer)
    if not outputs:
        return "multiple"
    shapes = [t.shape for t in outputs]
    if isinstance(layer, InputLayer) or len(shapes) > 1:
        return str(shapes)
    return str(shapes[0])


def _connections(model, layer):
    found = []
    for node in layer._inbound_nodes:
        if node not in model._nodes:
            continue
        for t in node.inputs:
            source = t.node.layer
            found.append(f"{source.name}[{source._inbound_nodes.index(t.node)}][{t.index}]")
    return found


def _row(fields, positions):
    """The lines of one row: each cell cut to its column, the rest on the next lines."""
    left = [str(field) for field in fields]
    lines = []
    while any(left):
        line = ""
        for col, text in enumerate(left):
            start = positions[col - 1] if col else 0
            last = col == len(positions) - 1
            space = 0 if last else 2
            cutoff = positions[col] - start - space - (0 if last else 1)
            piece = text[:cutoff]
            breaks = [piece.find(mark) + len(mark) for mark in ("),", "},", "],", "',")
                      if piece.find(mark) >= 0]
            if breaks:
                cutoff = min(breaks)
                piece = piece[:cutoff]
            line += (" " if col == 0 else "") + piece + " " * space
            left[col] = text[cutoff:]
            line += " " * (positions[col] - len(line))
        lines.append(line)
    return lines


def _memory(weights):
    return sum(math.prod(w.shape) * w.numpy().dtype.itemsize for w in weights)


def readable_memory_size(size):
    """Bytes as tf.keras shows them: '284.70 KB'."""
    for unit in ("Byte", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def summary_lines(model, line_length=None, positions=None):
    if not model.built or (model.inputs is None and type(model).__name__ == "Sequential"):
        raise ValueError("This model has not yet been built. Build the model first by "
                         "calling `build()` or by calling the model on a batch of data.")
    sequential = _rows_are_sequential(model)
    line_length = line_length or (65 if sequential else 98)
    positions = positions or ([0.45, 0.85, 1.0] if sequential else [0.3, 0.6, 0.70, 1.0])
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    header = ["Layer (type)", "Output Shape", "Param #"] + ([] if sequential else ["Connected to"])
    lines = [f'Model: "{model.name}"', "_" * line_length, *_row(header, positions),
             "=" * line_length]
    for layer in model.layers:
        fields = [f"{layer.name} ({layer.summary_class_name()})", _shape_text(model, layer),
                  layer.count_params() if layer.built else "0 (unused)"]
        if not sequential:
            fields.append(_connections(model, layer))
        lines += _row(fields, positions)
        lines.append(" " * line_length)
    trainable, frozen = model.trainable_weights, model.non_trainable_weights
    counts = [sum(math.prod(w.shape) for w in ws) for ws in (trainable, frozen)]
    sizes = [_memory(ws) for ws in (trainable, frozen)]
    lines += ["=" * line_length,
              f"Total params: {sum(counts)} ({readable_memory_size(sum(sizes))})",
              f"Trainable params: {counts[0]} ({readable_memory_size(sizes[0])})",
              f"Non-trainable params: {counts[1]} ({readable_memory_size(sizes[1])})",
              "_" * line_length]
    return lines


def print_summary(model, line_length=None, positions=None, print_fn=None):
    for line in summary_lines(model, line_length, positions):
        (print_fn or print)(line)
