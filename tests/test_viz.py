"""minidl.viz: the graph as DOT text and as a drawing, the plots, and saving figures."""
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minidl as mdl  # noqa: E402
from minidl import viz  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def neuron():
    x = mdl.tensor(np.ones((3, 4)))
    w = mdl.tensor(np.full(4, 0.5), requires_grad=True)
    b = mdl.tensor(0.1, requires_grad=True)
    loss = ((x @ w + b).sigmoid() * 2.0).sum()
    return loss, {"x": x, "w": w, "b": b, "loss": loss}


def dot_nodes(dot):
    """{node id: (shape, label)} and the list of (source, target) edges of DOT text."""
    nodes = {m[0]: (m[2], m[1]) for m in
             re.findall(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+)', dot, re.M)}
    edges = re.findall(r"^\s*(n\d+) -> (n\d+);", dot, re.M)
    return nodes, edges


# ------------------------------------------------------------------ to_dot
def test_to_dot_has_one_box_per_function_and_one_ellipse_per_tensor():
    loss, names = neuron()
    nodes, edges = dot_nodes(viz.to_dot(loss, names=names))
    boxes = sorted(label for shape, label in nodes.values() if shape == "box")
    # x @ w with a 1-D w is reshape, matmul, reshape; then Add, Sigmoid, Mul, Sum
    assert boxes == sorted(["Reshape", "MatMul", "Reshape", "Add", "Sigmoid", "Mul", "Sum"])
    ellipses = [label for shape, label in nodes.values() if shape == "ellipse"]
    assert "x\\n(3, 4)" in ellipses and "w\\n(4,)" in ellipses and "b\\nscalar" in ellipses
    assert "loss\\nscalar" in ellipses
    # every function has an arrow out and every edge joins known nodes
    assert all(s in nodes and t in nodes for s, t in edges)
    assert {s for s, _ in edges} >= {n for n, (shape, _) in nodes.items() if shape == "box"}


def test_to_dot_edges_follow_the_data_flow():
    a = mdl.tensor(2.0, requires_grad=True)
    y = a.exp()
    nodes, edges = dot_nodes(viz.to_dot(y, names={"a": a, "y": y}))
    by_label = {label: n for n, (_, label) in nodes.items()}
    assert edges == [(by_label["Exp"], by_label["y\\nscalar"]),
                     (by_label["a\\nscalar"], by_label["Exp"])]


def test_to_dot_shows_a_reused_tensor_once_with_two_arrows():
    a = mdl.tensor(3.0, requires_grad=True)
    y = a * a
    nodes, edges = dot_nodes(viz.to_dot(y))
    assert len(nodes) == 3  # a, Mul, y
    assert len(edges) == 3  # a -> Mul twice, Mul -> y


def test_to_dot_colours_leaves_by_whether_they_need_a_gradient():
    loss, names = neuron()
    dot = viz.to_dot(loss, names=names)
    line_of = {name: next(line for line in dot.splitlines() if f'label="{name}\\n' in line)
               for name in ("x", "w", "loss")}
    assert viz._COLORS["constant"] in line_of["x"]
    assert viz._COLORS["parameter"] in line_of["w"]
    assert viz._COLORS["output"] in line_of["loss"]


def test_to_dot_escapes_quotes_in_names():
    a = mdl.tensor(1.0, requires_grad=True)
    dot = viz.to_dot(a.exp(), names={'say "hi"': a})
    assert 'label="say \\"hi\\"\\nscalar"' in dot


def test_to_dot_of_a_leaf_is_a_single_node():
    a = mdl.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = dot_nodes(viz.to_dot(a))
    assert len(nodes) == 1 and edges == []


def test_to_dot_walks_a_deep_graph_without_recursion():
    y = mdl.tensor(1.0, requires_grad=True)
    for _ in range(3000):
        y = y * 1.0001
    nodes, edges = dot_nodes(viz.to_dot(y))
    # the leaf, per step a Mul and its result, and the constant 1.0001 (one tensor, reused)
    assert len(nodes) == 1 + 3000 * 2 + 1


def test_to_dot_after_backward_is_a_clear_error():
    loss, _ = neuron()
    loss.backward()
    with pytest.raises(RuntimeError, match="freed by backward.*retain_graph"):
        viz.to_dot(loss)


def test_to_dot_rejects_an_array():
    with pytest.raises(TypeError, match="viz: expected a minidl Tensor, got ndarray"):
        viz.to_dot(np.ones(3))


# ------------------------------------------------------------------ draw_graph
def test_draw_graph_draws_every_node_and_edge():
    loss, names = neuron()
    n_nodes = len(dot_nodes(viz.to_dot(loss))[0])
    n_edges = len(dot_nodes(viz.to_dot(loss))[1])
    fig = viz.draw_graph(loss, names=names)
    ax = fig.axes[0]
    labelled = [t for t in ax.texts if t.get_text()]
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(labelled) == n_nodes
    assert len(arrows) == n_edges
    assert "loss\nscalar" in [t.get_text() for t in labelled]


def test_draw_graph_puts_inputs_left_of_the_ops_that_use_them():
    loss, names = neuron()
    nodes, edges = viz._graph(loss, names)
    positions = viz._layout(len(nodes), edges)
    assert all(positions[s][0] < positions[t][0] for s, t in edges)
    assert positions[0][0] == max(x for x, _ in positions)  # the output is rightmost


def test_draw_graph_top_to_bottom_puts_inputs_above_the_ops_that_use_them():
    loss, names = neuron()
    nodes, edges = viz._graph(loss, names)
    fig = viz.draw_graph(loss, names=names, rankdir="TB")
    labelled = [t for t in fig.axes[0].texts if t.get_text()]
    assert [t.get_text() for t in labelled] == [node.label for node in nodes]
    y = [t.get_position()[1] for t in labelled]
    assert all(y[s] > y[t] for s, t in edges)
    assert y[0] == min(y)  # the output is at the bottom
    width, height = fig.get_size_inches()
    assert height > width  # a chain of ops is tall, not wide


def test_to_dot_and_draw_graph_take_graphviz_rankdir():
    loss, names = neuron()
    assert "rankdir=TB;" in viz.to_dot(loss, rankdir="TB")
    assert "rankdir=LR;" in viz.to_dot(loss)
    for draw in (viz.to_dot, viz.draw_graph):
        with pytest.raises(ValueError, match="viz: rankdir must be one of .*'BT'"):
            draw(loss, rankdir="BT")


def test_draw_graph_into_given_axes():
    fig, ax = plt.subplots()
    a = mdl.tensor(1.0, requires_grad=True)
    assert viz.draw_graph(a.tanh(), ax=ax) is fig


def test_draw_graph_renders(tmp_path):
    loss, names = neuron()
    path = viz.save_figure(viz.draw_graph(loss, names=names), tmp_path / "graph.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ plots
def test_plot_history_puts_train_and_validation_on_one_panel_per_metric():
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}
    fig = viz.plot_history(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), [1.1, 0.7])
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss", "val_loss"]


def test_plot_history_reads_a_history_attribute():
    class Fitted:
        history = {"loss": [3.0, 2.0, 1.0]}

    fig = viz.plot_history(Fitted())
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), [1, 2, 3])


def test_a_history_from_fit_plots_as_plot_history_draws_it(tmp_path):
    history = mdl.train.History()
    for epoch, loss in enumerate([0.9, 0.4, 0.2]):
        history.append(epoch, {"loss": loss, "val_loss": loss + 0.1, "lr": 0.1})
    ours, reference = history.plot(tmp_path / "curves.png"), viz.plot_history(history.history)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(ours.axes) == len(reference.axes) == 2
    for axes, expected in zip(ours.axes, reference.axes):
        assert axes.get_title() == expected.get_title()
        assert axes.get_legend() is not None
        for line, expected_line in zip(axes.lines, expected.lines, strict=True):
            assert line.get_label() == expected_line.get_label()
            assert line.get_marker() == expected_line.get_marker()
            np.testing.assert_array_equal(line.get_xydata(), expected_line.get_xydata())


def test_plot_history_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="plot_history: the history is empty"):
        viz.plot_history({})


def test_plot_curves_one_line_per_run():
    fig = viz.plot_curves({"sgd": [3, 2, 1], "adam": mdl.tensor([3.0, 1.0, 0.5])}, logy=True,
                          start=1)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["sgd", "adam"]
    np.testing.assert_allclose(ax.lines[1].get_xydata(), [[1, 3.0], [2, 1.0], [3, 0.5]])
    assert ax.get_yscale() == "log"


def test_plot_loss_surface_draws_paths_and_minimum():
    path = np.array([[-1.0, 1.0], [0.0, 0.5], [0.9, 0.9]])
    fig = viz.plot_loss_surface(lambda a, b: (a - 1) ** 2 + (b - 1) ** 2, (-2, 2), (-1, 3),
                                paths={"gd": path}, minimum=(1, 1), log_levels=True)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xydata(), path)
    assert "minimum" in [line.get_label() for line in ax.lines]
    assert ax.get_xlim() == (-2, 2)


def test_plot_loss_surface_needs_an_elementwise_loss():
    with pytest.raises(ValueError, match="plot_loss_surface: loss.*returned shape \\(\\)"):
        viz.plot_loss_surface(lambda a, b: float(np.sum(a + b)), (0, 1), (0, 1))


def test_plot_loss_surface_checks_path_shape():
    with pytest.raises(ValueError, match="path 'p' must have shape \\(steps, 2\\)"):
        viz.plot_loss_surface(lambda a, b: a + b, (0, 1), (0, 1), paths={"p": np.zeros((4, 3))})


def test_plot_confusion_matrix_writes_each_count():
    cm = np.array([[5, 1], [2, 7]])
    fig = viz.plot_confusion_matrix(cm, ["ham", "spam"])
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "5", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ham", "spam"]


def test_plot_confusion_matrix_checks_its_input():
    with pytest.raises(ValueError, match="expected a square matrix, got shape \\(2, 3\\)"):
        viz.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 class names for a 2x2 matrix"):
        viz.plot_confusion_matrix(np.eye(2), ["a", "b", "c"])


def images_on(fig):
    return [ax.images[0] for ax in fig.axes if ax.images]


def test_show_filters_one_tile_per_output_channel():
    weight = np.random.default_rng(0).normal(size=(6, 1, 3, 3))
    tiles = images_on(viz.show_filters(weight))
    assert len(tiles) == 6
    np.testing.assert_allclose(tiles[4].get_array(), weight[4, 0])


def test_show_filters_rgb_and_many_input_channels():
    rgb = images_on(viz.show_filters(np.ones((2, 3, 5, 5))))
    assert len(rgb) == 2 and rgb[0].get_array().shape == (5, 5, 3)
    assert len(images_on(viz.show_filters(np.ones((2, 4, 3, 3))))) == 8
    assert len(images_on(viz.show_filters(np.ones((20, 4, 3, 3)), max_filters=10))) == 10


def test_show_filters_of_a_linear_layer_needs_image_shape():
    weight = mdl.randn(10, 64)
    assert len(images_on(viz.show_filters(weight, image_shape=(8, 8)))) == 10
    with pytest.raises(ValueError, match="2-D weight of shape \\(10, 64\\) needs image_shape"):
        viz.show_filters(weight)


def test_plot_attention_labels_keys_and_queries():
    weights = np.full((2, 3), 1 / 3)
    fig = viz.plot_attention(weights, xlabels=["the", "cat", "sat"], ylabels=["a", "b"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "cat", "sat"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_plot_attention_checks_shapes():
    with pytest.raises(ValueError, match="select one sample and head first"):
        viz.plot_attention(np.ones((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="2 xlabels \\(keys\\) for weights of shape \\(2, 3\\)"):
        viz.plot_attention(np.ones((2, 3)), xlabels=["a", "b"])


# ------------------------------------------------------------------ saving
def test_save_figure_creates_the_folder_and_leaves_no_temporary(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = viz.save_figure(fig, tmp_path / "new" / "line.svg")
    assert path.read_text().lstrip().startswith("<?xml")
    assert [p.name for p in path.parent.iterdir()] == ["line.svg"]


def test_save_figure_needs_a_suffix(tmp_path):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="has no suffix"):
        viz.save_figure(fig, tmp_path / "figure")
