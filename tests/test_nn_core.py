"""nn core: Module bookkeeping (names, state_dict, load_state_dict, to, modes, hooks),
summary(), init, and the dense layers (Linear, Embedding, LayerNorm, BatchNorm, Dropout,
activations): forwards against NumPy and against PyTorch with the same weights,
gradients and second derivatives by finite differences."""
import math
from collections import OrderedDict

import numpy as np
import pytest

from helpers import assert_raises_naming, require

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim

rng = np.random.default_rng(0)


def t(a, grad=False):
    return mdl.tensor(a, requires_grad=grad)


def snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def same_state(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


class Block(nn.Module):
    """A module with a parameter, a buffer, a submodule and a container."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(mdl.ones(3))
        self.register_buffer("count", mdl.zeros(1))
        self.fc = nn.Linear(3, 3)
        self.layers = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))

    def forward(self, x):
        return self.layers(self.fc(x) * self.scale)


# ----------------------------------------------------------------------------
# Parameter and Module bookkeeping
# ----------------------------------------------------------------------------
def test_parameter_is_a_leaf_that_requires_grad():
    p = nn.Parameter(mdl.randn(2, 3))
    assert isinstance(p, mdl.Tensor) and p.is_leaf and p.requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


def test_names_are_dotted_and_in_registration_order():
    model = Block()
    assert [n for n, _ in model.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "layers.0.weight", "layers.0.bias", "layers.2.weight"]
    assert list(model.state_dict()) == [
        "scale", "count", "fc.weight", "fc.bias", "layers.0.weight", "layers.0.bias",
        "layers.2.weight"]
    assert [n for n, _ in model.named_modules()] == [
        "", "fc", "layers", "layers.0", "layers.1", "layers.2"]
    assert [type(m).__name__ for m in model.children()] == ["Linear", "Sequential"]
    assert [n for n, _ in model.named_buffers()] == ["count"]
    assert model.num_parameters() == 3 + 12 + 16 + 8


def test_a_shared_weight_is_one_parameter():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    model[1].weight = model[0].weight
    assert len(list(model.parameters())) == 3
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_reassigning_an_attribute_updates_the_registries():
    model = Block()
    model.fc = nn.Identity()
    assert "fc.weight" not in dict(model.named_parameters())
    model.count = mdl.ones(1)  # a buffer stays a buffer
    assert model.state_dict()["count"].item() == 1
    del model.scale
    assert "scale" not in dict(model.named_parameters())
    with pytest.raises(TypeError, match="Parameter"):
        model.layers[0].weight = mdl.zeros(4, 3)  # a plain tensor would silently stop training


def test_forgetting_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_train_eval_zero_grad_and_freezing():
    model = Block()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model(mdl.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.fc.requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == model.num_parameters() - 12


def test_apply_visits_every_module_children_first():
    seen = []
    Block().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Linear", "ReLU", "Linear", "Sequential", "Block"]


def test_repr_is_nested():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")")


def test_containers_index_slice_and_iterate():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[-1] is layers[2] and list(seq) == layers
    assert isinstance(seq[:2], nn.Sequential) and list(seq[:2]) == layers[:2]
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("out", nn.Linear(2, 1))]))
    assert list(named.state_dict())[0] == "hidden.weight"
    with pytest.raises(IndexError, match="Sequential"):
        seq[3]
    blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    blocks.append(nn.Linear(2, 1))
    assert len(blocks) == 4 and len(list(blocks.parameters())) == 8
    assert list(blocks.state_dict())[-1] == "3.bias"
    x = mdl.ones(1, 2)
    for block in blocks:
        x = block(x)
    assert x.shape == (1, 1)


def test_forward_hooks_run_and_can_be_removed():
    layer, calls = nn.Linear(2, 2), []
    handle = layer.register_forward_hook(lambda m, inputs, out: calls.append(out.shape))
    layer(mdl.ones(5, 2))
    handle.remove()
    layer(mdl.ones(5, 2))
    assert calls == [(5, 2)]


# ----------------------------------------------------------------------------
# state_dict / load_state_dict / to
# ----------------------------------------------------------------------------
def test_state_dict_round_trip_through_numpy():
    source, target = Block(), Block()
    x = mdl.tensor(rng.standard_normal((4, 3)), dtype=np.float32)
    assert not np.allclose(source(x).numpy(), target(x).numpy())
    result = target.load_state_dict(snapshot(source))
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())


def test_load_state_dict_keeps_the_parameter_objects_and_their_dtype():
    model = nn.Linear(3, 2)
    before = [id(p) for p in model.parameters()]
    model.load_state_dict({"weight": np.ones((2, 3)), "bias": t(np.zeros(2))})  # float64 in
    assert [id(p) for p in model.parameters()] == before
    assert model.weight.dtype == np.float32 and model.weight.numpy().sum() == 6
    state = model.state_dict()
    state["weight"].data[0, 0] = 5.0  # the state dict shares memory with the model
    assert model.weight.numpy()[0, 0] == 5.0


@pytest.mark.parametrize("change, words", [
    (lambda s: s.pop("fc.bias"), ["missing", "fc.bias"]),
    (lambda s: s.update(extra=np.zeros(1)), ["unexpected", "extra"]),
    (lambda s: s.update({"layers.0.weight": np.zeros((3, 4))}),
     ["layers.0.weight", "(3, 4)", "(4, 3)"]),
])
def test_a_failed_load_names_the_problem_and_changes_nothing(change, words):
    model = Block()
    before = snapshot(model)
    state = {k: np.full(v.shape, 7.0) for k, v in before.items()}  # all new values...
    change(state)                                                   # ...but one wrong
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    for word in words:
        assert word in str(info.value)
    assert same_state(snapshot(model), before)


def test_non_strict_load_reports_and_still_checks_shapes():
    model = nn.Linear(3, 2)
    result = model.load_state_dict({"weight": np.ones((2, 3)), "other": np.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert model.weight.numpy().sum() == 6
    with pytest.raises(RuntimeError, match="weight"):
        model.load_state_dict({"weight": np.ones((3, 2))}, strict=False)


def test_to_changes_dtype_in_place():
    model = Block()
    params = list(model.parameters())
    model.to(dtype=np.float64)
    assert list(model.parameters()) == params  # the same objects (compared by identity below)
    assert all(a is b for a, b in zip(model.parameters(), params))
    assert all(v.dtype == np.float64 for v in model.state_dict().values())
    assert model(t(np.ones((1, 3)))).dtype == np.float64


def test_to_cuda_moves_parameters_and_buffers_in_place(cuda_backend):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    params = list(model.parameters())
    model.to("cuda")
    assert all(a is b for a, b in zip(model.parameters(), params))
    assert all(v.device == "cuda" for v in model.state_dict().values())
    out = model(mdl.randn(5, 3, device="cuda"))
    assert out.device == "cuda"


# ----------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------
def test_summary_counts_match_the_formulas(capsys):
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(4 * 4 * 4, 10))
    model.train()
    running = model[1].running_mean.numpy().copy()
    text = nn.summary(model, (2, 1, 8, 8))
    assert text in capsys.readouterr().out
    conv, bn, fc = 4 * 1 * 3 * 3 + 4, 2 * 4, 64 * 10 + 10
    assert f"Total params: {conv + bn + fc:,}" in text
    assert f"Trainable params: {conv + bn + fc:,}" in text
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1].isdigit()}
    assert rows["0"].startswith("0 (Conv2d)") and "(2, 4, 8, 8)" in rows["0"]
    assert [rows[k].split()[-1] for k in "0136"] == [str(conv), str(bn), "0", str(fc)]
    assert "(2, 10)" in rows["6"]
    assert model.training and model[5].training  # the mode is restored
    np.testing.assert_array_equal(model[1].running_mean.numpy(), running)


def test_summary_of_an_embedding_model_counts_frozen_parameters():
    model = nn.Sequential(nn.Embedding(20, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    model[0].requires_grad_(False)
    text = nn.summary(model, (3, 5), dtype=np.int64)
    assert "Total params: 194" in text and "Non-trainable params: 160" in text
    assert "(3, 5, 8)" in text and "(3, 5, 2)" in text


# ----------------------------------------------------------------------------
# init
# ----------------------------------------------------------------------------
def test_init_is_reproducible_with_manual_seed():
    def draw():
        mdl.manual_seed(3)
        return snapshot(Block())
    assert same_state(draw(), draw())


def test_fans_and_gains():
    assert nn.init.calculate_fan_in_and_fan_out(mdl.zeros(8, 3, 5, 5)) == (75, 200)
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="2 dims"):
        nn.init.xavier_uniform_(mdl.zeros(5))


@pytest.mark.parametrize("fill, low, high, std", [
    (lambda w: nn.init.xavier_uniform_(w), -math.sqrt(6 / 500), math.sqrt(6 / 500),
     math.sqrt(2 / 500)),
    (lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"), -math.sqrt(6 / 200),
     math.sqrt(6 / 200), math.sqrt(2 / 200)),
    (lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), -1 / math.sqrt(200),
     1 / math.sqrt(200), 1 / math.sqrt(600)),
    (lambda w: nn.init.normal_(w, 1.0, 0.5), -np.inf, np.inf, 0.5),
    (lambda w: nn.init.uniform_(w, -2, 3), -2, 3, 5 / math.sqrt(12)),
])
def test_init_distributions(fill, low, high, std):
    w = mdl.zeros(300, 200)  # fan_in 200, fan_out 300
    fill(w)
    values = w.numpy()
    assert values.min() >= low and values.max() <= high
    assert values.std() == pytest.approx(std, rel=0.02)
    assert nn.init.ones_(w).numpy().min() == 1 and nn.init.zeros_(w).numpy().max() == 0


def test_default_initializations_follow_pytorch():
    linear = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    assert np.abs(linear.weight.numpy()).max() <= bound < 1.1 * np.abs(linear.weight.numpy()).max()
    assert np.abs(linear.bias.numpy()).max() <= bound
    embedding = nn.Embedding(100, 50, padding_idx=3)
    assert embedding.weight.numpy().std() == pytest.approx(1.0, rel=0.05)
    assert np.all(embedding.weight.numpy()[3] == 0)
    norm = nn.LayerNorm(6)
    assert norm.weight.numpy().tolist() == [1] * 6 and norm.bias.numpy().tolist() == [0] * 6
    bn = nn.BatchNorm1d(3)
    assert bn.running_var.numpy().tolist() == [1, 1, 1] and bn.num_batches_tracked.item() == 0


# ----------------------------------------------------------------------------
# ops: forward against NumPy, gradients, second derivatives
# ----------------------------------------------------------------------------
def layer_norm_np(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


X3 = rng.standard_normal((2, 3, 4))
W = rng.standard_normal((5, 4))
B = rng.standard_normal(5)
INDICES = np.array([[1, 0, 3], [3, 3, 2]])
TABLE = rng.standard_normal((4, 3))
LN_W, LN_B = rng.standard_normal(4), rng.standard_normal(4)
BN_X = rng.standard_normal((4, 3, 2)) * 2 + 1

# name: (function of tensors, NumPy reference, input arrays) -- the layer ops by name:
# Linear (F.linear), Embedding (F.embedding), Standardize (layer_norm and batch_norm)
OPS = {
    "linear": (F.linear, lambda x, w, b: x @ w.T + b, [X3, W, B]),
    "linear_no_bias": (F.linear, lambda x, w: x @ w.T, [X3[0], W]),
    "embedding": (lambda w: F.embedding(INDICES, w), lambda w: w[INDICES], [TABLE]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, 4, w, b), layer_norm_np, [X3, LN_W, LN_B]),
    "batch_norm_training": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: ((x - x.mean(axis=(0, 2), keepdims=True))
                         / np.sqrt(x.var(axis=(0, 2), keepdims=True) + 1e-5)
                         * w[:, None] + b[:, None]),
        [BN_X, rng.standard_normal(3), rng.standard_normal(3)]),
}


@pytest.mark.parametrize("name", OPS)
def test_op_forward_matches_numpy(name):
    fn, reference, arrays = OPS[name]
    np.testing.assert_allclose(fn(*[t(a) for a in arrays]).numpy(), reference(*arrays),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", OPS)
def test_op_gradients(name):
    fn, _, arrays = OPS[name]
    assert mdl.gradcheck(fn, [t(a, grad=True) for a in arrays])


@pytest.mark.parametrize("name", OPS)
def test_op_second_derivatives(name):
    fn, _, arrays = OPS[name]
    assert mdl.gradgradcheck(fn, [t(a, grad=True) for a in arrays])


def test_embedding_gradient_adds_repeats_and_skips_padding():
    w = t(TABLE, grad=True)
    F.embedding(t(INDICES), w, padding_idx=3).sum().backward()
    # row 3 appears three times but is the padding row; row 2 once, rows 0 and 1 once
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 1, 1, 0])
    w.grad = None
    F.embedding(t(INDICES), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 1, 1, 3])
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        F.embedding(t(np.array([4])), w)


def test_batch_norm_eval_uses_the_running_statistics():
    mean, var = t(np.array([1.0, -1.0, 0.5])), t(np.array([4.0, 1.0, 0.25]))
    y = F.batch_norm(t(BN_X), mean, var, training=False, eps=0.0)
    expected = (BN_X - mean.numpy()[:, None]) / np.sqrt(var.numpy())[:, None]
    np.testing.assert_allclose(y.numpy(), expected)


def test_dropout_is_identity_in_eval_and_scales_in_training():
    x = t(np.ones((200, 50)), grad=True)
    layer = nn.Dropout(0.3)
    layer.eval()
    assert layer(x) is x
    layer.train()
    y = layer(x)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7)
    assert kept.mean() == pytest.approx(0.7, abs=0.02)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())  # gradient = the same mask
    assert np.all(F.dropout(x, 1.0).numpy() == 0) and F.dropout(x, 0.0) is x
    mdl.manual_seed(1)
    first = F.dropout(x, 0.5).numpy()
    mdl.manual_seed(1)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)


def test_batch_norm_layer_tracks_running_statistics():
    bn = nn.BatchNorm1d(3, momentum=0.25).double()
    bn(t(BN_X))
    count = BN_X.shape[0] * BN_X.shape[2]
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.25 * BN_X.mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               0.75 + 0.25 * BN_X.var(axis=(0, 2)) * count / (count - 1),
                               rtol=1e-6)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    before = bn.running_mean.numpy().copy()
    bn(t(BN_X))
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(t(np.ones((1, 3))), None, None, training=True)


BATCHES = {  # layer: batches of different sizes, so that an average weighted wrongly shows
    "BatchNorm1d-2d": [(4, 3), (7, 3), (2, 3), (5, 3)],
    "BatchNorm1d-3d": [(4, 3, 5), (2, 3, 6), (3, 3, 2)],
    "BatchNorm2d": [(2, 3, 4, 4), (3, 3, 2, 5), (1, 3, 3, 3)],
}


def running_statistics_np(batches, momentum):
    """PyTorch's documented update, per channel: running = (1 - f) running + f batch,
    f = momentum, or 1/k at the k-th batch for momentum=None (the plain average of the
    batch statistics); the variance is the unbiased one. Starts at 0 and 1."""
    mean, var = np.zeros(batches[0].shape[1]), np.ones(batches[0].shape[1])
    for k, x in enumerate(batches, start=1):
        axes = (0,) + tuple(range(2, x.ndim))
        f = 1 / k if momentum is None else momentum
        mean = (1 - f) * mean + f * x.mean(axis=axes)
        var = (1 - f) * var + f * x.var(axis=axes, ddof=1)
    return mean, var


def run_batch_norm(lib, layer, momentum, batches, tensor):
    """Train on each batch (with an eval call between, which must not count), then
    evaluate the last batch: (running_mean, running_var, num_batches_tracked, y)."""
    bn = getattr(lib, layer.split("-")[0])(3, momentum=momentum).double()
    for x in batches:
        bn.train()
        bn(tensor(x))
        bn.eval()
        bn(tensor(x))
    y = bn(tensor(batches[-1]))
    return [bn.running_mean.detach().numpy(), bn.running_var.detach().numpy(),
            int(bn.num_batches_tracked.item()), y.detach().numpy()]


@pytest.mark.parametrize("reference", ["numpy", "torch"])
@pytest.mark.parametrize("momentum", [None, 0.1, 0.7])
@pytest.mark.parametrize("layer", BATCHES)
def test_batch_norm_running_statistics_over_batches_of_different_sizes(layer, momentum,
                                                                        reference):
    g = np.random.default_rng(5)
    batches = [g.standard_normal(shape) * (1 + k) + k for k, shape in enumerate(BATCHES[layer])]
    ours = run_batch_norm(nn, layer, momentum, batches, t)
    if reference == "torch":
        torch = require("torch")
        expected = run_batch_norm(torch.nn, layer, momentum, batches, torch.tensor)
    else:
        mean, var = running_statistics_np(batches, momentum)
        shape = (1, 3) + (1,) * (batches[-1].ndim - 2)
        y = (batches[-1] - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5)
        expected = [mean, var, len(batches), y]
    for what, a, b in zip(["running_mean", "running_var", "num_batches_tracked", "y"], ours,
                          expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=what)


def test_activation_modules_match_the_functions():
    x = t(rng.standard_normal((3, 4)))
    pairs = [(nn.ReLU(), F.relu(x)), (nn.LeakyReLU(0.2), F.leaky_relu(x, 0.2)),
             (nn.Sigmoid(), F.sigmoid(x)), (nn.Tanh(), F.tanh(x)), (nn.GELU(), F.gelu(x)),
             (nn.GELU("tanh"), F.gelu(x, approximate="tanh")),
             (nn.Softmax(dim=0), F.softmax(x, axis=0)), (nn.LogSoftmax(1), F.log_softmax(x, 1)),
             (nn.Identity(), x), (nn.Flatten(0), x.reshape(12))]
    for module, expected in pairs:
        np.testing.assert_array_equal(module(x).numpy(), expected.numpy())


@pytest.mark.parametrize("call, words", [
    (lambda: F.linear(t(np.ones((2, 3))), t(np.ones((4, 5)))), ["linear", "(2, 3)", "(4, 5)"]),
    (lambda: F.linear(t(np.ones((2, 5))), t(np.ones((4, 5))), t(np.ones(3))),
     ["linear", "bias", "(3,)"]),
    (lambda: F.layer_norm(t(np.ones((2, 3))), (4,)), ["layer_norm", "(2, 3)", "(4,)"]),
    (lambda: F.batch_norm(t(np.ones((2, 3))), t(np.ones(4)), t(np.ones(4))),
     ["batch_norm", "running_mean", "3 channels"]),
    (lambda: nn.BatchNorm2d(3)(t(np.ones((2, 3)))), ["BatchNorm2d", "4-D", "(2, 3)"]),
    (lambda: F.dropout(t(np.ones(2)), 1.5), ["dropout", "1.5"]),
])
def test_layer_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)


# ----------------------------------------------------------------------------
# PyTorch: the same weights give the same outputs (its state_dict loads unchanged)
# ----------------------------------------------------------------------------
def load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def test_dense_model_matches_torch_after_loading_its_state_dict():
    torch = require("torch")
    tnn = torch.nn
    theirs = tnn.Sequential(tnn.Linear(4, 6), tnn.BatchNorm1d(6), tnn.GELU(), tnn.Dropout(0.2),
                            tnn.LayerNorm(6), tnn.Linear(6, 3)).double()
    ours = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.GELU(), nn.Dropout(0.2),
                         nn.LayerNorm(6), nn.Linear(6, 3)).double()
    with torch.no_grad():
        theirs[4].weight.uniform_(0.5, 1.5)
        theirs[4].bias.uniform_(-1, 1)
    load_from_torch(ours, theirs)
    x = rng.standard_normal((8, 4))
    theirs.train()  # dropout differs, so compare the BatchNorm statistics after one pass
    ours.train()
    theirs[:2](torch.tensor(x))
    ours[:2](t(x))
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours[1], name).numpy(),
                                   getattr(theirs[1], name).numpy(), rtol=1e-12)
    theirs.eval()
    ours.eval()
    np.testing.assert_allclose(ours(t(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_embedding_matches_torch():
    torch = require("torch")
    theirs = torch.nn.Embedding(7, 3, padding_idx=0)
    ours = nn.Embedding(7, 3, padding_idx=0)
    load_from_torch(ours, theirs)
    idx = np.array([[0, 6, 2], [2, 2, 5]])
    np.testing.assert_array_equal(ours(t(idx)).numpy(),
                                  theirs(torch.tensor(idx)).detach().numpy())


# ----------------------------------------------------------------------------
# one dtype policy: a layer's input has the layer's floating dtype, or it is an error
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(3, 2), (4, 3)),
    (lambda: nn.Conv2d(1, 2, 3), (2, 1, 5, 5)),
    (lambda: nn.Conv1d(1, 2, 3), (2, 1, 5)),
    (lambda: nn.LayerNorm(3), (4, 3)),
    (lambda: nn.BatchNorm1d(3), (4, 3)),
    (lambda: nn.LSTM(3, 2, batch_first=True), (4, 5, 3)),
    (lambda: nn.MultiheadAttention(4, 2), (5, 2, 4)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.int32])
def test_a_layer_refuses_input_of_another_dtype_naming_both(make, shape, dtype):
    layer = make()
    x = mdl.tensor(np.ones(shape, dtype=dtype))
    with pytest.raises(TypeError) as info:
        layer(*([x] * (3 if isinstance(layer, nn.MultiheadAttention) else 1)))
    assert np.dtype(dtype).name in str(info.value)
    if dtype == np.float64:
        assert "float32" in str(info.value)
    layer.to(dtype=np.float64)
    if dtype == np.float64:  # converting the module makes them agree
        layer(*([x] * (3 if isinstance(layer, nn.MultiheadAttention) else 1)))


def test_embedding_takes_integers_and_fit_converts_the_data():
    emb = nn.Embedding(5, 3)
    assert emb(mdl.tensor(np.array([[1, 4]], dtype=np.int32))).dtype == np.float32
    model = nn.Linear(2, 1)
    history = mdl.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
                      np.ones((8, 2)), np.ones((8, 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
