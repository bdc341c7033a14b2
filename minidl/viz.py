"""Pictures of what minidl computes: the computation graph, training curves, loss surfaces,
confusion matrices, convolution filters and attention weights.

    from minidl import viz
    print(viz.to_dot(loss))                  # Graphviz DOT text of the graph behind `loss`
    fig = viz.draw_graph(loss)               # the same graph drawn by matplotlib
    viz.save_figure(fig, "figures/graph.png")

Every plotting function returns the matplotlib Figure it drew on (pass `ax=` to draw into
an existing one) and never calls `plt.show()`: a script saves the figure, a notebook shows
it under the cell. The matplotlib backend is left to the caller (a script without a
display falls back to Agg by itself; `MPLBACKEND=Agg` forces it).
"""
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .backend import to_numpy
from .tensor import Tensor


# ----------------------------------------------------------------------------
# The computation graph as nodes and edges
# ----------------------------------------------------------------------------
@dataclass
class _Node:
    kind: str    # "function", or for tensors "output", "parameter", "constant", "tensor"
    label: str


# Fill colours, shared by the DOT text and the matplotlib drawing.
_COLORS = {
    "function": "#fdd49e",   # an op
    "output": "#a1d99b",     # the tensor the graph was drawn from
    "parameter": "#9ecae1",  # a leaf that requires grad: backward() fills its .grad
    "constant": "#eeeeee",   # a leaf without grad: data, targets, Python numbers
    "tensor": "#ffffff",     # an intermediate result
}


def _shape_text(t):
    return "scalar" if t.ndim == 0 else str(tuple(t.shape))


def _tensor_node(t, root, names):
    if t is root:
        kind = "output"
    elif t.creator is not None:
        kind = "tensor"
    else:
        kind = "parameter" if t.requires_grad else "constant"
    shape = _shape_text(t)
    name = names.get(id(t))
    return _Node(kind, f"{name}\n{shape}" if name else shape)


def _graph(tensor, names=None):
    """The nodes and edges of the graph that computed `tensor`.

    Walks from `tensor` back through each Function to its inputs with an explicit stack
    (no recursion, so a graph thousands of ops deep is fine). Node 0 is `tensor`; edges
    (source, target) point the way data flows: input tensor -> Function -> output tensor.
    `names` maps a label to a tensor, e.g. {"x": x, "w": w}.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"viz: expected a minidl Tensor, got {type(tensor).__name__}")
    names = {id(t): label for label, t in (names or {}).items()}
    index = {id(tensor): 0}
    nodes = [_tensor_node(tensor, tensor, names)]
    edges = []  # every object indexed stays alive (the graph holds it), so ids are unique

    def node_of(obj, make):
        if id(obj) not in index:
            index[id(obj)] = len(nodes)
            nodes.append(make())
            return index[id(obj)], True
        return index[id(obj)], False

    stack = [tensor]
    while stack:
        t = stack.pop()
        f = t.creator
        if f is None:
            continue
        if f.inputs is None:
            raise RuntimeError(
                f"viz: the graph behind this tensor was freed by backward() (at {f.name}); "
                "draw it before calling backward, or pass retain_graph=True to backward")
        fi, new = node_of(f, lambda: _Node("function", f.name))
        edges.append((fi, index[id(t)]))
        if not new:
            continue
        for x in f.inputs:
            xi, new_input = node_of(x, lambda: _tensor_node(x, tensor, names))
            edges.append((xi, fi))
            if new_input:
                stack.append(x)
    return nodes, edges


# ----------------------------------------------------------------------------
# Graphviz DOT text
# ----------------------------------------------------------------------------
def _dot_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_RANKDIRS = ("LR", "TB")  # Graphviz's names: left to right, top to bottom


def _check_rankdir(rankdir):
    if rankdir not in _RANKDIRS:
        raise ValueError(f"viz: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")


def to_dot(tensor, names=None, rankdir="LR"):
    """Graphviz DOT source of the graph that computed `tensor`.

    Functions (ops) are boxes; tensors are ellipses labelled with their shape (and name,
    when `names` = {"label": tensor, ...} gives one). The output is green, leaves that
    require grad blue, constants grey. The inputs come first: on the left, or with
    rankdir="TB" at the top. Render it with `dot -Tpng graph.dot -o graph.png` or paste
    it into any online Graphviz viewer.
    """
    _check_rankdir(rankdir)
    nodes, edges = _graph(tensor, names)
    lines = ["digraph minidl {", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11, style=filled];']
    for i, node in enumerate(nodes):
        shape = "box" if node.kind == "function" else "ellipse"
        lines.append(f"  n{i} [label={_dot_string(node.label)}, shape={shape}, "
                     f'fillcolor="{_COLORS[node.kind]}"];')
    for source, target in edges:
        lines.append(f"  n{source} -> n{target};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# The same graph drawn with matplotlib (no Graphviz needed)
# ----------------------------------------------------------------------------
def _producers_first_order(producers, root):
    """Every node, each before the nodes that produce its inputs (root first).

    The reverse of a depth-first post-order, with an explicit stack: a node is finished
    after all of its producers are.
    """
    finished, expanded = [], set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            finished.append(node)
            continue
        if node in expanded:
            continue
        expanded.add(node)
        stack.append((node, True))
        stack.extend((p, False) for p in producers[node] if p not in expanded)
    return finished[::-1]


def _layout(n_nodes, edges):
    """(x, y) of each node: columns by distance from the output, ordered to cut crossings.

    A node's column is the length of the longest path from it to the output (node 0), so
    every arrow points right. Within a column, nodes sit in the order of the mean height
    of the nodes they feed (the barycentre heuristic), which untangles most arrows.
    """
    producers = [[] for _ in range(n_nodes)]
    consumers = [[] for _ in range(n_nodes)]
    for source, target in edges:
        producers[target].append(source)
        consumers[source].append(target)
    depth = [0] * n_nodes
    for node in _producers_first_order(producers, 0):
        for p in producers[node]:
            depth[p] = max(depth[p], depth[node] + 1)
    n_columns = max(depth) + 1
    y = [0.0] * n_nodes
    for d in range(n_columns):
        column = [i for i in range(n_nodes) if depth[i] == d]
        if d > 0:
            column.sort(key=lambda i: -np.mean([y[c] for c in consumers[i]]))  # top first
        for k, i in enumerate(column):
            y[i] = (len(column) - 1) / 2 - k
    x = [n_columns - 1 - depth[i] for i in range(n_nodes)]
    return list(zip(x, y))


def draw_graph(tensor, names=None, ax=None, rankdir="LR"):
    """The graph that computed `tensor`, drawn with matplotlib; returns the Figure.

    Same nodes, colours and labels as `to_dot`, laid out in columns: the inputs on the
    left, the output on the right. With rankdir="TB" the columns become rows, inputs at
    the top and the output at the bottom: a long chain of ops then makes a picture that
    is tall rather than too wide to read.
    """
    _check_rankdir(rankdir)
    nodes, edges = _graph(tensor, names)
    positions = _layout(len(nodes), edges)
    n_columns = 1 + max(x for x, _ in positions)
    n_rows = 1 + max(sum(1 for x, _ in positions if x == c) for c in range(n_columns))
    across = rankdir == "LR"
    if not across:  # column c becomes row c from the top; the top of a column its left
        positions = [(-y, -x) for x, y in positions]
    if ax is None:
        size = ((1.0 + 1.25 * n_columns, 1.0 + 0.7 * n_rows) if across
                else (1.0 + 1.6 * n_rows, 1.0 + 0.55 * n_columns))
        _, ax = plt.subplots(figsize=size)
    artists = []
    for node, (x, y) in zip(nodes, positions):
        box = "square,pad=0.4" if node.kind == "function" else "round,pad=0.4"
        artists.append(ax.text(x, y, node.label, ha="center", va="center", fontsize=9,
                               bbox=dict(boxstyle=box, fc=_COLORS[node.kind], ec="0.3")))
    # Arrows leave the source label's right edge for the target's left edge (or bottom
    # edge for top edge), in coordinates relative to the labels, so they follow them when
    # resized. An arrow that skips a column or row is bent away from the crowded middle,
    # so that it passes beside the labels in between.
    leave, enter = ((1, 0.5), (0, 0.5)) if across else ((0.5, 0), (0.5, 1))
    for source, target in edges:
        (x0, y0), (x1, y1) = positions[source], positions[target]
        if across:
            bend = 0.0 if x1 - x0 == 1 else (-0.3 if y0 + y1 >= 0 else 0.3)
        else:
            bend = 0.0 if y0 - y1 == 1 else (-0.3 if x0 + x1 >= 0 else 0.3)
        ax.annotate("", xy=enter, xycoords=artists[target], xytext=leave,
                    textcoords=artists[source],
                    arrowprops=dict(arrowstyle="-|>", color="0.35", shrinkA=6, shrinkB=6,
                                    connectionstyle=f"arc3,rad={bend}"))
    if across:
        ax.set_xlim(-0.7, n_columns - 0.3)
        ax.set_ylim(-n_rows / 2, n_rows / 2)
    else:
        ax.set_xlim(-n_rows / 2, n_rows / 2)
        ax.set_ylim(-n_columns + 0.5, 0.5)
    ax.set_axis_off()
    return ax.figure


# ----------------------------------------------------------------------------
# Training curves
# ----------------------------------------------------------------------------
def plot_history(history, axes=None):
    """Training curves, one panel per metric, train and validation together.

    `history` maps names to per-epoch values ({"loss": [...], "val_loss": [...],
    "accuracy": [...]}), or is an object with such a dict in `.history` (a History from
    minidl.train.fit). "val_loss" is drawn on the "loss" panel, and so on; each curve is
    labelled with its name.
    """
    history = getattr(history, "history", history)
    if not history:
        raise ValueError("plot_history: the history is empty")
    panels = {}
    for name in history:
        panels.setdefault(name[len("val_"):] if name.startswith("val_") else name, []).append(name)
    if axes is None:
        _, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    axes = np.ravel(axes)
    if len(axes) != len(panels):
        raise ValueError(f"plot_history: {len(panels)} metrics need {len(panels)} axes, "
                         f"got {len(axes)}")
    for ax, (metric, curves) in zip(axes, panels.items()):
        for name in curves:
            values = to_numpy(history[name])
            ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
    axes[0].figure.tight_layout()
    return axes[0].figure


def plot_curves(curves, xlabel="step", ylabel="loss", logy=False, start=0, title=None,
                ax=None):
    """Several runs on one panel, e.g. the loss of each optimizer: {name: values}.

    The first value of each run is drawn at x = `start` (1 for "after epoch 1").
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        values = to_numpy(values)
        ax.plot(start + np.arange(len(values)), values, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax.figure


# ----------------------------------------------------------------------------
# A loss over two parameters, with optimization paths
# ----------------------------------------------------------------------------
def plot_loss_surface(loss, xlim, ylim, paths=None, minimum=None, levels=30, log_levels=False,
                      labels=("w1", "w2"), resolution=200, title=None, ax=None):
    """Contour lines of `loss(W1, W2)` over a grid, with optimization paths on top.

    loss:    a function of two NumPy arrays of the same shape (a grid of parameter
             pairs) returning the loss at each pair, vectorized.
    xlim, ylim: (low, high) ranges of the two parameters.
    paths:   {name: array of shape (steps, 2)}, the parameters after each step.
    minimum: (w1, w2) to mark with a star.
    log_levels: space the contour levels geometrically above the minimum, so both the
             steep walls and the flat floor of a valley get lines (Rosenbrock, say).
    """
    w1, w2 = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    z = np.asarray(loss(w1, w2), dtype=np.float64)
    if z.shape != w1.shape:
        raise ValueError(f"plot_loss_surface: loss(W1, W2) returned shape {z.shape} for grids "
                         f"of shape {w1.shape}; it must work elementwise on arrays")
    if log_levels:
        low, span = z.min(), z.max() - z.min()
        levels = low + np.geomspace(span * 1e-5, span, levels)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    ax.contour(w1, w2, z, levels=levels, cmap="viridis", linewidths=0.8)
    for name, path in (paths or {}).items():
        path = to_numpy(path)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"plot_loss_surface: path {name!r} must have shape (steps, 2), "
                             f"got {path.shape}")
        line, = ax.plot(path[:, 0], path[:, 1], marker=".", markersize=3, linewidth=1.2,
                        label=name)
        ax.plot(*path[-1], marker="o", color=line.get_color())
    if minimum is not None:
        ax.plot(*minimum, marker="*", markersize=15, color="red", linestyle="none",
                label="minimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title)
    if paths or minimum is not None:
        ax.legend(fontsize=8)
    return ax.figure


# ----------------------------------------------------------------------------
# Classification results
# ----------------------------------------------------------------------------
def plot_confusion_matrix(cm, class_names=None, title=None, ax=None):
    """A confusion matrix as a heat map with the value in each cell.

    cm[i, j] counts samples of true class i predicted as class j (minidl.metrics.
    confusion_matrix); normalized (float) matrices are written with two decimals.
    """
    cm = to_numpy(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square matrix, got shape {cm.shape}")
    n = cm.shape[0]
    class_names = [str(c) for c in (range(n) if class_names is None else class_names)]
    if len(class_names) != n:
        raise ValueError(f"plot_confusion_matrix: {len(class_names)} class names for a "
                         f"{n}x{n} matrix")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.5 * n + 1.5, 1.0 + 0.5 * n))
    image = ax.imshow(cm, cmap="Blues")
    ax.figure.colorbar(image, ax=ax)
    integer = np.issubdtype(cm.dtype, np.integer)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{cm[i, j]:d}" if integer else f"{cm[i, j]:.2f}", ha="center",
                    va="center", fontsize=max(7, 14 - n),
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(n), class_names)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    return ax.figure


# ----------------------------------------------------------------------------
# What a layer learned: filters and attention
# ----------------------------------------------------------------------------
def _filter_tiles(weight, image_shape, where):
    """Split a weight into (image, title) tiles; images are 2-D, or 3-D for RGB."""
    if weight.ndim == 2:
        if image_shape is None or int(np.prod(image_shape)) != weight.shape[1]:
            raise ValueError(f"{where}: a 2-D weight of shape {weight.shape} needs image_shape "
                             f"with {weight.shape[1]} pixels, got {image_shape}")
        return [(row.reshape(image_shape), str(i)) for i, row in enumerate(weight)]
    if weight.ndim != 4:
        raise ValueError(f"{where}: expected a conv weight (out_channels, in_channels, kh, kw) "
                         f"or a 2-D weight with image_shape, got shape {weight.shape}")
    if weight.shape[1] == 3:  # colour filters: channels last, as an image
        return [(w.transpose(1, 2, 0), str(o)) for o, w in enumerate(weight)]
    return [(w, f"{o}" if weight.shape[1] == 1 else f"{o},{i}")
            for o, per_input in enumerate(weight) for i, w in enumerate(per_input)]


def show_filters(weight, image_shape=None, max_filters=64, ncols=None, title=None):
    """Each filter of a layer as a small image; returns the Figure.

    weight: a Conv2d weight (out_channels, in_channels, kh, kw) - one tile per output
    channel, or per (output, input) pair when there are several input channels, in RGB
    when there are three - or a Linear weight (out_features, pixels) with `image_shape`
    to show what each output unit looks for in an image. Blue is negative, red positive,
    white zero, on one scale for all tiles.
    """
    weight = to_numpy(weight)
    tiles = _filter_tiles(weight, image_shape, "show_filters")[:max_filters]
    ncols = ncols or int(np.ceil(np.sqrt(len(tiles))))
    nrows = int(np.ceil(len(tiles) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.2 * nrows + 0.4),
                             squeeze=False)
    scale = np.abs(weight).max() or 1.0
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (image, label) in zip(axes.ravel(), tiles):
        if image.ndim == 3:  # RGB: map [-scale, scale] to [0, 1]
            ax.imshow(0.5 + image / (2 * scale))
        else:
            ax.imshow(image, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(label, fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attention(weights, xlabels=None, ylabels=None, title=None, ax=None):
    """Attention weights (queries, keys) as a heat map: row i is where query i looks.

    xlabels name the keys (columns), ylabels the queries (rows), e.g. the tokens.
    For a batch or several heads, pick one first: weights[0, head].
    """
    weights = to_numpy(weights)
    if weights.ndim != 2:
        raise ValueError(f"plot_attention: expected (queries, keys) weights, got shape "
                         f"{weights.shape}; select one sample and head first, e.g. w[0, 0]")
    for labels, size, what in ((xlabels, weights.shape[1], "xlabels (keys)"),
                               (ylabels, weights.shape[0], "ylabels (queries)")):
        if labels is not None and len(labels) != size:
            raise ValueError(f"plot_attention: {len(labels)} {what} for weights of shape "
                             f"{weights.shape}")
    if ax is None:
        n_q, n_k = weights.shape
        _, ax = plt.subplots(figsize=(2.0 + 0.4 * n_k, 1.5 + 0.4 * n_q))
    image = ax.imshow(weights, cmap="viridis", vmin=0)
    ax.figure.colorbar(image, ax=ax)
    if xlabels is not None:
        ax.set_xticks(range(len(xlabels)), [str(s) for s in xlabels], rotation=90)
    if ylabels is not None:
        ax.set_yticks(range(len(ylabels)), [str(s) for s in ylabels])
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if title:
        ax.set_title(title)
    return ax.figure


# ----------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------
def save_figure(fig, path, dpi=120):
    """Save `fig` to `path` (format from the suffix), creating the folder; returns the Path.

    The image is written to a temporary file in the same folder and renamed, so a reader
    never sees half a file.
    """
    path = Path(path)
    if not path.suffix:
        raise ValueError(f"save_figure: {path} has no suffix to tell the format (.png, .svg, .pdf)")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(temporary, format=path.suffix[1:], dpi=dpi, bbox_inches="tight")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
