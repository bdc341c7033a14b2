"""Every op in one list: forward against NumPy, backward by finite differences (float64),
and second derivatives where the op is twice differentiable.

An op added to minidl.functional without an entry here fails `test_every_op_is_listed`.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import erf as scipy_erf

from helpers import assert_raises_naming

import minidl as mdl
import minidl.functional as F


def rand(*shape, low=-2.0, high=2.0, seed=0):
    return np.random.default_rng(seed + sum(shape)).uniform(low, high, size=shape)


def positive(*shape):
    return rand(*shape, low=0.5, high=2.0)


def softmax_np(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def logsumexp_np(x, axis=None, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def without_ties(x):
    """Spread values apart so max/min/abs/relu are differentiable at every sample point."""
    flat = np.argsort(np.argsort(x, axis=None)).reshape(x.shape)
    return (flat - flat.size / 2 + 0.5) * 0.37


# name: (minidl function, numpy reference, input arrays, twice differentiable)
OPS = {
    "add": (F.add, np.add, [rand(3, 4), rand(4)], True),
    "sub": (F.sub, np.subtract, [rand(3, 1), rand(1, 4)], True),
    "mul": (F.mul, np.multiply, [rand(2, 3, 4), rand(3, 1)], True),
    "div": (F.div, np.divide, [rand(3, 4), positive(3, 4)], True),
    # rounded quotients are steps: zero gradient (checked away from the jumps)
    "div_floor": (lambda a, b: F.div(a, b, rounding_mode="floor"), lambda a, b: np.floor(a / b),
                  [np.array([-3.5, -0.6, 0.4, 2.7]), np.array([1.1, 0.7, 0.9, 1.3])], True),
    "div_trunc": (lambda a, b: F.div(a, b, rounding_mode="trunc"), lambda a, b: np.trunc(a / b),
                  [np.array([-3.5, -0.6, 0.4, 2.7]), np.array([1.1, 0.7, 0.9, 1.3])], True),
    "neg": (F.neg, np.negative, [rand(5)], True),
    "pow": (F.pow, np.power, [positive(3, 4), rand(3, 4)], True),
    "exp": (F.exp, np.exp, [rand(3, 4)], True),
    "log": (F.log, np.log, [positive(3, 4)], True),
    "sqrt": (F.sqrt, np.sqrt, [positive(3, 4)], True),
    "abs": (F.abs, np.abs, [without_ties(rand(3, 4))], True),
    "maximum": (F.maximum, np.maximum, [rand(3, 4), rand(4, seed=1)], True),
    "minimum": (F.minimum, np.minimum, [rand(3, 4), rand(3, 4, seed=1)], True),
    "where": (lambda a, b: F.where(a.data > 0, a, b),
              lambda a, b: np.where(a > 0, a, b), [rand(3, 4), rand(4)], True),
    "clip": (lambda a: F.clip(a, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7),
             [without_ties(rand(3, 4))], True),
    "cast": (lambda a: F.cast(a, np.float32).double(),
             lambda a: a.astype(np.float32).astype(np.float64), [rand(3)], True),
    "relu": (F.relu, lambda a: np.maximum(a, 0), [without_ties(rand(3, 4))], True),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), lambda a: np.where(a > 0, a, 0.1 * a),
                   [without_ties(rand(3, 4))], True),
    "sigmoid": (F.sigmoid, lambda a: 1 / (1 + np.exp(-a)), [rand(3, 4)], True),
    "tanh": (F.tanh, np.tanh, [rand(3, 4)], True),
    "erf": (F.erf, scipy_erf, [rand(3, 4)], True),
    "gelu": (F.gelu, lambda a: 0.5 * a * (1 + scipy_erf(a / np.sqrt(2))), [rand(3, 4)], True),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3))),
                  [rand(3, 4)], True),
    "softmax": (lambda a: F.softmax(a, axis=1), lambda a: softmax_np(a, 1), [rand(3, 4)], True),
    "log_softmax": (lambda a: F.log_softmax(a, -1), lambda a: np.log(softmax_np(a)),
                    [rand(3, 4)], True),
    "logsumexp": (lambda a: F.logsumexp(a, axis=(0, 2)), lambda a: logsumexp_np(a, (0, 2)),
                  [rand(2, 3, 4)], True),
    "sum": (lambda a: F.sum(a, axis=(0, 2), keepdims=True),
            lambda a: a.sum(axis=(0, 2), keepdims=True), [rand(2, 3, 4)], True),
    "mean": (lambda a: F.mean(a, axis=1), lambda a: a.mean(axis=1), [rand(3, 4)], True),
    "amax": (lambda a: F.amax(a, dim=-1), lambda a: a.max(axis=-1),
             [without_ties(rand(3, 4))], True),
    "amin": (lambda a: F.amin(a, axis=0, keepdims=True), lambda a: a.min(axis=0, keepdims=True),
             [without_ties(rand(3, 4))], True),
    "max": (lambda a: F.max(a, 1).values, lambda a: a.max(axis=1), [without_ties(rand(3, 4))],
            True),
    "min": (lambda a: F.min(a, -1, keepdim=True)[0], lambda a: a.min(axis=-1, keepdims=True),
            [without_ties(rand(3, 4))], True),
    "var": (lambda a: F.var(a, dim=1), lambda a: a.var(axis=1, ddof=1), [rand(3, 5)], True),
    "std": (lambda a: F.std(a, correction=0), lambda a: a.std(), [rand(3, 5)], True),
    "reshape": (lambda a: F.reshape(a, (4, -1)), lambda a: a.reshape(4, -1), [rand(2, 6)], True),
    "view": (lambda a: F.view(a, 3, 4), lambda a: a.reshape(3, 4), [rand(2, 6)], True),
    "permute": (lambda a: F.permute(a, (2, 0, 1)), lambda a: a.transpose(2, 0, 1),
                [rand(2, 3, 4)], True),
    "movedim": (lambda a: F.movedim(a, 0, -1), lambda a: np.moveaxis(a, 0, -1),
                [rand(2, 3, 4)], True),
    "transpose": (lambda a: F.transpose(a, 0, 2), lambda a: a.swapaxes(0, 2), [rand(2, 3, 4)],
                  True),
    "swapaxes": (lambda a: F.swapaxes(a, 0, -1), lambda a: a.swapaxes(0, -1), [rand(2, 3, 4)], True),
    "t": (F.t, lambda a: a.T, [rand(2, 3)], True),
    "expand": (lambda a: F.expand(a, 2, -1, 4), lambda a: np.broadcast_to(a, (2, 3, 4)),
               [rand(3, 1)], True),
    "expand_as": (lambda a, b: F.expand_as(a, b), lambda a, b: np.broadcast_to(a, b.shape),
                  [rand(1, 4), rand(3, 4)], True),
    "repeat": (lambda a: F.repeat(a, 2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), [rand(3, 2)], True),
    "tile": (lambda a: F.tile(a, (2,)), lambda a: np.tile(a, 2), [rand(3, 2)], True),
    "unflatten": (lambda a: F.unflatten(a, 1, (2, -1)), lambda a: a.reshape(3, 2, 3),
                  [rand(3, 6)], True),
    "gather": (lambda a: F.gather(a, 1, np.array([[0, 0], [2, 1], [1, 1]])),
               lambda a: np.take_along_axis(a, np.array([[0, 0], [2, 1], [1, 1]]), 1),
               [rand(3, 4)], True),
    "take_along_dim": (lambda a: F.take_along_dim(a, np.array([[2], [0], [0]]), 1),
                       lambda a: np.take_along_axis(a, np.array([[2], [0], [0]]), 1),
                       [rand(3, 4)], True),
    "clone": (F.clone, np.copy, [rand(3, 2)], True),
    "square": (F.square, np.square, [rand(3, 2)], True),
    "masked_fill": (lambda a: F.masked_fill(a, a.data > 0, 0.5),
                    lambda a: np.where(a > 0, 0.5, a), [rand(3, 4)], True),

    "broadcast_to": (lambda a: F.broadcast_to(a, (2, 3, 4)),
                     lambda a: np.broadcast_to(a, (2, 3, 4)), [rand(3, 1)], True),
    "sum_to": (lambda a: F.sum_to(a, (3, 1)), lambda a: a.sum(axis=(0, 2))[:, None],
               [rand(2, 3, 4)], True),
    "squeeze": (lambda a: F.squeeze(a, 1), lambda a: a.squeeze(1), [rand(3, 1, 4)], True),
    "unsqueeze": (lambda a: F.unsqueeze(a, -1), lambda a: a[..., None], [rand(3, 4)], True),
    "flatten": (lambda a: F.flatten(a, 1), lambda a: a.reshape(2, -1), [rand(2, 3, 4)], True),
    "concat": (lambda a, b: F.concat([a, b, a], axis=1),
               lambda a, b: np.concatenate([a, b, a], axis=1), [rand(2, 3), rand(2, 1)], True),
    "stack": (lambda a, b: F.stack([a, b], axis=1), lambda a, b: np.stack([a, b], axis=1),
              [rand(2, 3), rand(2, 3, seed=4)], True),
    "split": (lambda a: F.split(a, [1, 2, 2], dim=1)[1] * 2,
              lambda a: np.split(a, [1, 3], 1)[1] * 2, [rand(2, 5)], True),
    "chunk": (lambda a: F.chunk(a, 3, 1)[2] * 2, lambda a: a[:, 4:] * 2, [rand(2, 5)], True),
    "tensor_split": (lambda a: F.tensor_split(a, 2, 1)[0] * 2, lambda a: a[:, :3] * 2,
                     [rand(2, 5)], True),
    "unbind": (lambda a: F.unbind(a, 1)[1] * 2, lambda a: a[:, 1] * 2, [rand(2, 5)], True),
    "getitem_slice": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [rand(3, 5)], True),
    "getitem_repeated": (lambda a: a[np.array([0, 2, 0, 0])], lambda a: a[[0, 2, 0, 0]],
                         [rand(3, 2)], True),
    "getitem_mask": (lambda a: a[a.data > 0], lambda a: a[a > 0], [rand(4, 3)], True),
    "getitem_mixed": (lambda a: a[None, ..., np.array([1, 1]), 0], lambda a: a[None, ..., [1, 1], 0],
                      [rand(2, 3, 4)], True),
    "matmul_2d": (F.matmul, np.matmul, [rand(3, 4), rand(4, 5)], True),
    "matmul_1d": (F.matmul, np.matmul, [rand(4), rand(4)], True),
    "matmul_vec_mat": (F.matmul, np.matmul, [rand(4), rand(2, 4, 3)], True),
    "matmul_mat_vec": (F.matmul, np.matmul, [rand(2, 3, 4), rand(4)], True),
    "matmul_batched": (F.matmul, np.matmul, [rand(2, 1, 3, 4), rand(3, 4, 2)], True),
}

# float32 round trips need a step that float32 can see
TOLERANCE = {"cast": dict(eps=1e-3, atol=1e-4, rtol=1e-3)}

# op names in minidl.functional that are not differentiable ops, or that are the same
# op under a second name; everything else must appear in OPS or in LAYER_OPS.
NOT_OPS = {"argmax", "argmin", "to_device", "clamp", "cat", "concatenate", "expand_dims",
           "swapdims", "true_divide", "lt", "le", "gt", "ge", "eq", "ne"}

# The layer-sized ops and the ones written with other ops: their values are checked
# beside their layers and modules (test_conv*.py, test_attention.py, test_losses.py,
# test_nn_core.py, test_activations.py) against NumPy references and PyTorch; here
# each one's gradients are checked by finite differences, as the ops above. (Every
# Function, those run under another name included, is in test_function_registry.py.)
def seeded_dropout(a, p=0.5):
    mdl.manual_seed(0)  # the same mask at every call, so that finite differences can work
    return F.dropout(a, p)


LABELS = np.array([0, 2, 1])
LAYER_OPS = {  # name: (call, input arrays)
    "scaled_dot_product_attention": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        [rand(2, 3, 2), rand(2, 3, 2, seed=1), rand(2, 3, 2, seed=2)]),
    "attention_weights": (lambda q, k: F.attention_weights(q, k, attn_mask=np.tril(
        np.ones((3, 4), dtype=bool))), [rand(2, 3, 2), rand(2, 4, 2, seed=1)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, 2, 1, (1, 2)),
               [rand(1, 2, 5, 5), rand(3, 2, 2, 2, seed=1), rand(3, seed=2)]),
    "conv1d": (lambda x, w: F.conv1d(x, w, stride=2, padding=1, groups=2),
               [rand(2, 4, 6), rand(2, 2, 3, seed=1)]),
    "max_pool2d": (lambda a: F.max_pool2d(a, 2, 1, 1), [without_ties(rand(1, 2, 4, 5))]),
    "avg_pool2d": (lambda a: F.avg_pool2d(a, 3, 2, 1, ceil_mode=True), [rand(1, 2, 5, 6)]),
    "max_pool1d": (lambda a: F.max_pool1d(a, 3, 2, 1), [without_ties(rand(2, 3, 7))]),
    "avg_pool1d": (lambda a: F.avg_pool1d(a, 2), [rand(2, 3, 7)]),
    "adaptive_avg_pool1d": (lambda a: F.adaptive_avg_pool1d(a, 3), [rand(2, 3, 7)]),
    "adaptive_avg_pool2d": (lambda a: F.adaptive_avg_pool2d(a, (2, 3)), [rand(1, 2, 5, 4)]),
    "pad": (lambda a: F.pad(a, (1, 2, 2, 0), mode="reflect"), [rand(1, 2, 3, 4)]),
    "linear": (F.linear, [rand(2, 3, 4), rand(5, 4, seed=1), rand(5, seed=2)]),
    "dropout": (seeded_dropout, [rand(4, 5)]),
    "embedding": (lambda w: F.embedding(mdl.tensor(np.array([[0, 2], [2, 1]])), w),
                  [rand(3, 4)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b),
                   [rand(2, 3, 4), rand(4, seed=1), rand(4, seed=2)]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   [rand(4, 3, 2), rand(3, seed=1), rand(3, seed=2)]),
    "mse_loss": (F.mse_loss, [rand(3, 4), rand(3, 4, seed=1)]),
    "l1_loss": (lambda a, b: F.l1_loss(a, b, reduction="sum"),
                [without_ties(rand(3, 4)), rand(3, 4, seed=1) * 0.01]),
    "cross_entropy": (lambda a: F.cross_entropy(a, mdl.tensor(LABELS), label_smoothing=0.1),
                      [rand(3, 4)]),
    "nll_loss": (lambda a: F.nll_loss(a, mdl.tensor(LABELS), reduction="none"), [rand(3, 4)]),
    "binary_cross_entropy": (F.binary_cross_entropy,
                             [rand(5, low=0.1, high=0.9), rand(5, low=0, high=1, seed=1)]),
    "binary_cross_entropy_with_logits": (
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=mdl.tensor(1.7)),
        [rand(5), rand(5, low=0, high=1, seed=1)]),
    "softplus": (lambda a: F.softplus(a, 2.0), [rand(3, 4)]),
    "elu": (lambda a: F.elu(a, 0.5), [without_ties(rand(3, 4))]),
    "selu": (F.selu, [without_ties(rand(3, 4))]),
    "silu": (F.silu, [rand(3, 4)]),
    "hardtanh": (lambda a: F.hardtanh(a, -0.5, 0.7), [without_ties(rand(3, 4)) * 0.9]),
    "logsigmoid": (F.logsigmoid, [rand(3, 4)]),
    "softsign": (F.softsign, [rand(3, 4)]),
}


def test_every_op_is_listed():
    listed = {name.split("_")[0] if name.startswith(("matmul", "getitem")) else name
              for name in OPS}
    public = {n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))}
    missing = sorted(public - listed - NOT_OPS - set(LAYER_OPS))
    assert not missing, f"ops without a gradient check in tests/test_ops.py: {missing}"


@pytest.mark.parametrize("name", sorted(LAYER_OPS))
def test_layer_op_gradients(name):
    fn, arrays = LAYER_OPS[name]
    inputs = [mdl.tensor(a, requires_grad=True) for a in arrays]
    assert mdl.gradcheck(fn, inputs) and mdl.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("name", OPS)
def test_forward_matches_numpy(name):
    fn, reference, arrays, _ = OPS[name]
    out = fn(*[mdl.tensor(a) for a in arrays])
    np.testing.assert_allclose(out.numpy(), reference(*arrays), rtol=1e-12, atol=1e-12)
    assert out.dtype == np.float64


@pytest.mark.parametrize("name", OPS)
def test_gradient(name):
    fn, _, arrays, _ = OPS[name]
    assert mdl.gradcheck(fn, [mdl.tensor(a, requires_grad=True) for a in arrays],
                         **TOLERANCE.get(name, {}))


@pytest.mark.parametrize("name", [n for n, op in OPS.items() if op[3]])
def test_second_derivative(name):
    fn, _, arrays, _ = OPS[name]
    assert mdl.gradgradcheck(fn, [mdl.tensor(a, requires_grad=True) for a in arrays],
                             **TOLERANCE.get(name, {}))


MATMULS = [name for name in OPS if name.startswith("matmul")]


@pytest.mark.parametrize("name", MATMULS)
def test_matmul_gradients_with_each_cpu_kernel(name, kernels):
    fn, reference, arrays, _ = OPS[name]
    inputs = [mdl.tensor(a, requires_grad=True) for a in arrays]
    np.testing.assert_allclose(fn(*inputs).numpy(), reference(*arrays), rtol=1e-12)
    assert mdl.gradcheck(fn, inputs) and mdl.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["add", "mul", "exp", "softmax", "matmul_2d", "sum"])
def test_float32_stays_float32(name):
    fn, _, arrays, _ = OPS[name]
    inputs = [mdl.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(x.grad.dtype == np.float32 for x in inputs)


# ----------------------------------------------------------------------------
# broadcasting, drawn at random
# ----------------------------------------------------------------------------
@st.composite
def broadcastable_pair(draw):
    """Two arrays whose shapes broadcast together, mostly with sides of 2 to 4: a full
    shape of 2 to 4 dims, where each side is kept by both operands or set to 1 in one of
    them (so that each operand broadcasts along the other, often both ways at once as
    (3, 1) with (1, 4)); now and then one operand also drops leading dims, down to 0-d.
    The values often repeat, so maximum and minimum meet ties."""
    full = draw(st.lists(st.integers(2, 4), min_size=2, max_size=4))
    ones_in = [draw(st.sampled_from(["neither", "a", "b"])) for _ in full]
    if len(set(ones_in)) == 1:      # neither operand all ones (the 0-d corner comes below)
        ones_in[0] = "neither"
    shapes = [tuple(1 if one == side else n for n, one in zip(full, ones_in)) for side in "ab"]
    who, dropped = draw(st.sampled_from([0, 1])), draw(st.sampled_from([0] * 8 + [1, len(full)]))
    shapes[who] = shapes[who][dropped:]
    return tuple(draw(hnp.arrays(np.float64, shape, elements=st.floats(0.5, 2.0)))
                 for shape in shapes)


def split_at_ties_np(a, b, g, wins):
    """maximum/minimum's gradients under g: the winner takes g, a tie splits it in
    halves; each summed back over the dims it was broadcast along."""
    a_full, b_full = np.broadcast_arrays(a, b)
    share = wins(a_full, b_full) + 0.5 * (a_full == b_full)
    return sum_to_np(g * share, a.shape), sum_to_np(g * (1 - share), b.shape)


def sum_to_np(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def pair_of(a_shape, b_shape, tie=False):
    g = np.random.default_rng(len(a_shape) * 10 + len(b_shape))
    a, b = g.uniform(0.5, 2.0, a_shape), g.uniform(0.5, 2.0, b_shape)
    if tie:
        b = np.ones(b_shape)
        a = np.where(np.arange(np.prod(a_shape)).reshape(a_shape) % 2 == 0, 1.0, a)
    return a, b


BROADCAST_OPS = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"]


@settings(max_examples=30, deadline=None)
@given(broadcastable_pair(), st.sampled_from(BROADCAST_OPS))
@example(pair_of((3, 1), (1, 4)), "mul")            # both broadcast, each along the other
@example(pair_of((1, 4), (3, 1)), "pow")
@example(pair_of((2, 3, 4), (4,)), "div")           # fewer dims
@example(pair_of((), (2, 3)), "sub")                # a 0-d operand
@example(pair_of((2, 3), ()), "pow")
@example(pair_of((2, 1, 4), (3, 1)), "add")
@example(pair_of((3, 1), (1, 4), tie=True), "maximum")   # ties while broadcasting
@example(pair_of((2, 3, 4), (3, 1), tie=True), "minimum")
@example(pair_of((4, 3), (4, 3), tie=True), "maximum")
def test_binary_ops_broadcast_gradients(pair, name):
    a, b = pair
    fn = getattr(F, name)
    ta, tb = mdl.tensor(a, requires_grad=True), mdl.tensor(b, requires_grad=True)
    y = fn(ta, tb)
    np.testing.assert_allclose(y.numpy(), OPS[name][1](a, b), rtol=1e-12)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(mdl.tensor(g))
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    ties = np.any(np.broadcast_arrays(a, b)[0] == np.broadcast_arrays(a, b)[1])
    if name in ("maximum", "minimum"):
        # the rule holds at ties too, where finite differences cannot be taken
        expected = split_at_ties_np(a, b, g, np.greater if name == "maximum" else np.less)
        np.testing.assert_allclose(ta.grad.numpy(), expected[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(tb.grad.numpy(), expected[1], rtol=1e-12, atol=1e-14)
    if not (ties and name in ("maximum", "minimum")):
        assert mdl.gradcheck(fn, [ta, tb])


# ----------------------------------------------------------------------------
# operators, reverse forms, scalars and dtypes
# ----------------------------------------------------------------------------
def test_operators_and_reverse_forms():
    x = mdl.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = (2 - x) + (1 / x) * 3 - x ** 2 / 4 + 2 ** x + (-x) @ x
    expected = (2 - x.numpy()) + 3 / x.numpy() - x.numpy() ** 2 / 4 + 2 ** x.numpy() \
        - x.numpy() @ x.numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    y.sum().backward()
    xn = x.numpy().astype(np.float64)
    analytic = -1 - 3 / xn ** 2 - xn / 2 + np.log(2) * 2 ** xn - 2 * 3 * xn
    np.testing.assert_allclose(x.grad.numpy(), analytic, rtol=1e-5)


def test_numpy_array_on_the_left_gives_a_tensor():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, mdl.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


def test_python_scalars_keep_the_dtype():
    x = mdl.tensor([1.0, 2.0])
    assert x.dtype == np.float32
    for y in (x + 1.5, x * 2, 3.0 - x, x / 7, x ** 2.0, 2.0 ** x):
        assert y.dtype == np.float32
    i = mdl.tensor([1, 2])
    assert i.dtype == np.int64 and (i + 1).dtype == np.int64
    assert (i * 0.5).dtype.kind == "f"  # NumPy's promotion: int with a float becomes float


def test_comparisons_are_boolean_and_outside_the_graph():
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [(x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > 2, [0, 0, 1]),
                             (x >= 2, [0, 1, 1]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1])]:
        assert result.dtype == bool and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), np.array(expected, dtype=bool))


def test_tensor_methods_mirror_functional():
    a = rand(2, 3, 4)
    t = mdl.tensor(a)
    np.testing.assert_allclose(t.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_allclose(t.reshape(6, 4).numpy(), a.reshape(6, 4))
    np.testing.assert_allclose(t.T.numpy(), a.T)
    np.testing.assert_allclose(t.mT.numpy(), a.swapaxes(-1, -2))
    np.testing.assert_allclose(t.var(axis=1).numpy(), a.var(axis=1, ddof=1))
    np.testing.assert_allclose(t.var(1, keepdim=True, correction=0).numpy(),
                               a.var(axis=1, keepdims=True))
    np.testing.assert_array_equal(t.argmax(axis=1).numpy(), a.argmax(axis=1))


# ----------------------------------------------------------------------------
# shape errors name the op and the shapes
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, words", [
    (lambda: mdl.tensor(np.ones((3, 4))) @ mdl.tensor(np.ones((5, 2))),
     ["matmul", "(3, 4)", "(5, 2)", "4 != 5"]),
    (lambda: mdl.tensor(np.ones((3, 4))) + mdl.tensor(np.ones((5,))), ["Add", "(3, 4)", "(5,)"]),
    (lambda: mdl.tensor(np.ones((3, 4))) * mdl.tensor(np.ones((2, 4))), ["Mul", "(3, 4)", "(2, 4)"]),
    (lambda: F.reshape(mdl.tensor(np.ones((3, 4))), (5, 2)), ["reshape", "(3, 4)", "(5, 2)"]),
    (lambda: F.concat([mdl.tensor(np.ones((3, 4))), mdl.tensor(np.ones((2, 5)))], axis=0),
     ["cat", "(3, 4)", "(2, 5)"]),
    (lambda: F.stack([mdl.tensor(np.ones(3)), mdl.tensor(np.ones(4))]), ["stack", "(3,)", "(4,)"]),
    (lambda: F.broadcast_to(mdl.tensor(np.ones(3)), (4, 2)), ["broadcast_to", "(3,)", "(4, 2)"]),
    (lambda: F.sum(mdl.tensor(np.ones(3)), axis=2), ["sum", "dim 2"]),
    (lambda: F.unflatten(mdl.tensor(np.ones((3, 2))), 1, (4, 2)), ["unflatten", "(3, 2)"]),
    (lambda: F.split(mdl.tensor(np.ones((3, 2))), [2, 2]), ["split", "(3, 2)"]),
    (lambda: F.permute(mdl.tensor(np.ones((3, 2))), (0, 0)), ["permute", "(3, 2)"]),
    (lambda: F.expand(mdl.tensor(np.ones((3, 2))), 3, 4), ["expand", "(3, 2)"]),
])
def test_shape_errors_are_clear(call, words):
    assert_raises_naming(ValueError, call, words)
