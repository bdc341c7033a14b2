"""Every Function in minidl, with a sample call: the registry below is checked against the
package itself (every module is imported and every subclass of mdl.Function defined in
minidl is found), so a new Function without an entry fails here, naming it.

Each entry is a call whose graph holds the Function, on float64 inputs with non-trivial
shapes, away from kinks and ties. Its gradients are checked by finite differences
(gradcheck), and so are its second derivatives (gradgradcheck, which also varies the
cotangent). Functions that run only under another op's name, or
inside a backward (TanhBackward, Conv2dGradInput, ...), are reached through that op: the
test asserts that the Function really is in the graph of its sample, so an entry cannot
silently stop testing what it names.
"""
import importlib
import os
import pkgutil
from dataclasses import dataclass, field

import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F
from minidl.functional.recurrent import gru_sequence, lstm_sequence, rnn_sequence
from minidl.functional.shape import ScatterAdd


def rand(*shape, low=-2.0, high=2.0, seed=0):
    return np.random.default_rng(seed + 3 * len(shape) + sum(shape)).uniform(low, high, shape)


def positive(*shape, seed=0):
    return rand(*shape, low=0.5, high=2.0, seed=seed)


def spread(*shape, kinks=(0.0,), seed=0):
    """Distinct values in [-2, 2], none within 0.1 of a kink (finite differences must not
    straddle one) and no two within 0.05 of each other (no ties in max, min, pooling)."""
    values = np.linspace(-2, 2, int(np.prod(shape)))
    for k in kinks:
        values = np.where(np.abs(values - k) < 0.1, values + 0.25, values)
    values = np.unique(np.round(values, 3))
    while values.size < np.prod(shape):
        values = np.append(values, values.max() + 0.3)
    return np.random.default_rng(seed).permutation(values[:int(np.prod(shape))]).reshape(shape)


def gradients_of(loss_fn, *tensors):
    """d loss / d tensors, themselves in a graph (so that the backward ops are in it)."""
    with mdl.enable_grad():
        return mdl.grad(loss_fn(*tensors), list(tensors), create_graph=True)


@dataclass
class Sample:
    call: object                # call(*tensors) -> a Tensor or a tuple of Tensors
    arrays: list                # its inputs, float64; all of them require grad
    tol: dict = field(default_factory=dict)


CONV = dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
CONV_ARRAYS = [rand(1, 4, 5, 5), rand(2, 2, 2, 2, seed=1)]


def hooked_linear(x, w):
    """x @ w.T through a module with a full backward hook (a BackwardHook around it)."""
    class Product(mdl.nn.Module):
        def forward(self, a, b):
            return F.linear(a, b)
    module = Product()
    module.register_full_backward_hook(lambda m, grad_input, grad_output: None)
    return module(x, w)


def conv_gradients(x, w):
    return gradients_of(lambda a, b: (F.conv2d(a, b, **CONV) ** 2).sum() / 2, x, w)


def max_pool_gradient(x):
    return gradients_of(lambda a: (F.max_pool2d(a, 2, 1, 1) ** 2).sum(), x)[0]


def avg_pool_gradient(x):
    return gradients_of(lambda a: (F.avg_pool2d(a, 3, 2, 1, ceil_mode=True) ** 2).sum(), x)[0]


def index_put(a, v):
    y = a * 1.0
    y[1:, ::2] = v
    return y


def fill(a):
    y = a * 1.0
    y[0].fill_(0.5)          # a view made by indexing: recorded on y
    return y * a


def copy(a, b):
    y = a * 1.0
    y.copy_(b)
    return y * a


REGISTRY = {
    # minidl/functional/activation.py
    "ELU": Sample(lambda a: F.elu(a, 0.5), [spread(3, 4)]),
    "Erf": Sample(F.erf, [rand(3, 4)]),
    "Hardtanh": Sample(lambda a: F.hardtanh(a, -1.0, 1.5), [spread(3, 4, kinks=(-1.0, 1.5))]),
    "LeakyReLU": Sample(lambda a: F.leaky_relu(a, 0.2), [spread(3, 4)]),
    "LogSoftmax": Sample(lambda a: F.log_softmax(a, 1), [rand(2, 3, 4)]),
    "LogSumExp": Sample(lambda a: F.logsumexp(a, (0, 2)), [rand(2, 3, 4)]),
    "ReLU": Sample(F.relu, [spread(3, 4)]),
    "Sigmoid": Sample(F.sigmoid, [rand(3, 4)]),
    "SigmoidBackward": Sample(lambda a: gradients_of(lambda t: (F.sigmoid(t) * t).sum(), a)[0],
                              [rand(3, 4)]),
    "Softmax": Sample(lambda a: F.softmax(a, 0), [rand(2, 3, 4)]),
    # the backwards of relu, softmax and log_softmax are ops of their own (fused kernels)
    "ReLUBackward": Sample(lambda a: gradients_of(lambda t: (F.relu(t) * t).sum(), a)[0],
                           [spread(3, 4)]),
    "SoftmaxBackward": Sample(lambda a: gradients_of(lambda t: (F.softmax(t, -1) * t).sum(),
                                                     a)[0], [rand(3, 4)]),
    "LogSoftmaxBackward": Sample(lambda a: gradients_of(
        lambda t: (F.log_softmax(t, 0) * t).sum(), a)[0], [rand(3, 4)]),
    "Softplus": Sample(lambda a: F.softplus(a, 2.0, 3.0), [spread(3, 4, kinks=(1.5,))]),
    "Softsign": Sample(F.softsign, [rand(3, 4)]),
    "Tanh": Sample(F.tanh, [rand(3, 4)]),
    "TanhBackward": Sample(lambda a: gradients_of(lambda t: (F.tanh(t) * t).sum(), a)[0],
                           [rand(3, 4)]),
    # minidl/functional/conv.py
    "Conv2d": Sample(lambda x, w, b: F.conv2d(x, w, b, **CONV), CONV_ARRAYS + [rand(2)]),
    "Conv2dGradInput": Sample(conv_gradients, CONV_ARRAYS),
    "Conv2dGradWeight": Sample(conv_gradients, CONV_ARRAYS),
    # minidl/functional/dense.py
    "Embedding": Sample(lambda w: F.embedding(mdl.tensor(np.array([[0, 2, 0], [1, 1, 3]])), w),
                        [rand(4, 3)]),
    "Linear": Sample(F.linear, [rand(2, 3, 4), rand(5, 4, seed=1), rand(5, seed=2)]),
    # minidl/functional/elementwise.py
    "Abs": Sample(F.abs, [spread(3, 4)]),
    "Add": Sample(F.add, [rand(3, 4), rand(4, seed=1)]),
    "Cast": Sample(lambda a: F.cast(a, np.float32).double(), [rand(3, 4)],
                   tol=dict(eps=1e-3, atol=1e-4, rtol=1e-3)),   # float32 needs a larger step
    "Clip": Sample(lambda a: F.clamp(a, -0.5, 0.7), [spread(3, 4, kinks=(-0.5, 0.7))]),
    "Clone": Sample(F.clone, [rand(3, 4)]),
    "Div": Sample(F.div, [rand(3, 4), positive(3, 1, seed=1)]),
    "Exp": Sample(F.exp, [rand(3, 4)]),
    "Log": Sample(F.log, [positive(3, 4)]),
    "Maximum": Sample(F.maximum, [spread(3, 4), spread(4, seed=1) + 0.01]),
    "Minimum": Sample(F.minimum, [spread(3, 1), spread(3, 4, seed=1) + 0.01]),
    "Mul": Sample(F.mul, [rand(2, 3, 4), rand(3, 1, seed=1)]),
    "Neg": Sample(F.neg, [rand(3, 4)]),
    "Pow": Sample(F.pow, [positive(3, 4), rand(3, 4, seed=1)]),
    "RoundedDiv": Sample(lambda a, b: F.div(a, b, rounding_mode="floor") * a,
                         [np.array([[-3.5, -0.6], [0.4, 2.7]]), np.array([1.1, 0.7])]),
    "Sqrt": Sample(F.sqrt, [positive(3, 4)]),
    "Sub": Sample(F.sub, [rand(3, 1), rand(1, 4, seed=1)]),
    "ToDevice": Sample(lambda a: F.to_device(a, "cpu") * a, [rand(3, 4)]),
    "Where": Sample(lambda a, b: F.where(a.data > 0, a, b), [rand(3, 4), rand(4, seed=1)]),
    # minidl/functional/inplace.py
    "Copy": Sample(copy, [rand(3, 4), rand(4, seed=1)]),
    "Fill": Sample(fill, [rand(3, 4)]),
    "IndexPut_": Sample(index_put, [rand(3, 4), rand(2, 2, seed=1)]),
    # minidl/functional/linalg.py
    "MatMul": Sample(F.matmul, [rand(2, 1, 3, 4), rand(3, 4, 2, seed=1)]),
    # minidl/functional/loss.py
    "CrossEntropy": Sample(lambda a: F.cross_entropy(a, mdl.tensor([0, 2, 1]),
                                                     label_smoothing=0.1), [rand(3, 4)]),
    "BinaryCrossEntropy": Sample(F.binary_cross_entropy,
                                 [rand(3, 4, low=0.1, high=0.9), rand(3, 4, low=0, high=1)]),
    # minidl/functional/normalization.py
    "LayerNorm": Sample(lambda a, w, b: F.layer_norm(a, (4,), w, b),
                        [rand(2, 3, 4), rand(4, seed=1), rand(4, seed=2)]),
    "Standardize": Sample(lambda a: F.batch_norm(a, None, None, training=True), [rand(4, 3, 2)]),
    # minidl/functional/pad.py
    "ConstantPad": Sample(lambda a: F.pad(a, (1, 2, 0, 1), value=0.5), [rand(2, 3, 4)]),
    # minidl/functional/pool.py
    "AvgPool2d": Sample(lambda a: F.avg_pool2d(a, 3, 2, 1, ceil_mode=True), [rand(1, 2, 5, 6)]),
    "AvgPool2dBackward": Sample(avg_pool_gradient, [rand(1, 2, 5, 6)]),
    "MaxPool2d": Sample(lambda a: F.max_pool2d(a, 2, 1, 1), [spread(1, 2, 4, 5)]),
    "MaxPool2dBackward": Sample(max_pool_gradient, [spread(1, 2, 4, 5)]),
    # minidl/functional/recurrent.py
    # time-major: xw (T, N, gates*H), w_hh (gates*H, H), bias, the initial state (N, H)
    "GRUSequence": Sample(gru_sequence, [rand(2, 3, 6), rand(6, 2, seed=1) * 0.5,
                                         rand(6, seed=2), rand(3, 2, seed=3)]),
    "LSTMSequence": Sample(lstm_sequence, [rand(2, 3, 8), rand(8, 2, seed=1) * 0.5,
                                           rand(8, seed=4), rand(3, 2, seed=2),
                                           rand(3, 2, seed=3)]),
    "RNNSequence": Sample(rnn_sequence, [rand(2, 3, 2), rand(2, 2, seed=1) * 0.5,
                                         rand(2, seed=2), rand(3, 2, seed=3)]),
    # minidl/functional/reduce.py
    "Amax": Sample(lambda a: F.amax(a, (0, 2)), [spread(2, 3, 4)]),
    "Amin": Sample(lambda a: F.amin(a, -1, keepdim=True), [spread(2, 3, 4)]),
    "Sum": Sample(lambda a: F.sum(a, (0, 2), keepdim=True), [rand(2, 3, 4)]),
    # minidl/functional/shape.py
    "BroadcastTo": Sample(lambda a: F.broadcast_to(a, (2, 3, 4)), [rand(3, 1)]),
    "Concat": Sample(lambda a, b: F.cat([a, b, a], 1), [rand(2, 3), rand(2, 1, seed=1)]),
    "GetItem": Sample(lambda a: a[np.array([0, 2, 0]), 1:], [rand(3, 4)]),
    "Permute": Sample(lambda a: F.permute(a, (2, 0, 1)), [rand(2, 3, 4)]),
    "Reshape": Sample(lambda a: F.reshape(a, (4, -1)), [rand(2, 6)]),
    "ScatterAdd": Sample(lambda g: ScatterAdd((np.array([0, 2, 0]),), (4, 2))(g), [rand(3, 2)]),
    "Split": Sample(lambda a: F.split(a, [1, 3], dim=1)[1] * 2, [rand(2, 4)]),
    "SumTo": Sample(lambda a: F.sum_to(a, (3, 1)), [rand(2, 3, 4)]),
    # minidl/nn/hooks.py
    "BackwardHook": Sample(hooked_linear, [rand(2, 3), rand(4, 3, seed=1)]),
}

# Base classes that hold what their subclasses share; never run themselves.
BASES = {"_ConvOp": "minidl/functional/conv.py", "_Extreme": "minidl/functional/reduce.py",
         "_PoolOp": "minidl/functional/pool.py"}


# ----------------------------------------------------------------------------
# the package, walked
# ----------------------------------------------------------------------------
def import_every_module(package):
    """Import package and every module below it (its own folder only: in a checkout,
    minidl's path also holds the checkout's root, for minidl.kernels)."""
    for info in pkgutil.iter_modules([os.path.dirname(package.__file__)], package.__name__ + "."):
        if info.name.rsplit(".", 1)[1].startswith("__"):    # kernels/__main__.py runs a script
            continue
        module = importlib.import_module(info.name)
        if info.ispkg:
            import_every_module(module)


def functions_defined_in_minidl():
    import_every_module(mdl)
    import_every_module(importlib.import_module("minidl.kernels"))
    found, stack = {}, [mdl.Function]
    while stack:
        for cls in stack.pop().__subclasses__():
            stack.append(cls)
            if cls.__module__.startswith("minidl."):
                assert found.setdefault(cls.__name__, cls) is cls, (
                    f"two Functions named {cls.__name__}: {found[cls.__name__].__module__} "
                    f"and {cls.__module__}; the registry is keyed by name")
    return found


FOUND = functions_defined_in_minidl()


def test_every_function_in_minidl_has_an_entry():
    missing = sorted(set(FOUND) - set(REGISTRY) - set(BASES))
    assert not missing, (
        "Functions without an entry in tests/test_function_registry.py: "
        + ", ".join(f"{name} ({FOUND[name].__module__})" for name in missing)
        + ". Add a Sample whose graph holds each (through the op that runs it) to REGISTRY.")


def test_every_entry_is_a_function_in_minidl():
    stale = sorted((set(REGISTRY) | set(BASES)) - set(FOUND))
    assert not stale, f"entries for Functions that minidl no longer has: {stale}"


@pytest.mark.parametrize("name", sorted(BASES))
def test_bases_are_only_bases(name):
    base = FOUND[name]
    subclasses = [n for n, cls in FOUND.items() if cls is not base and issubclass(cls, base)]
    assert subclasses and set(subclasses) <= set(REGISTRY), name
    assert name.startswith("_"), f"{name} is listed as a base class but is public"


def functions_in_graph(outputs):
    """Names of the Function classes in the graph behind outputs."""
    names, seen = set(), set()
    stack = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    while stack:
        f = stack.pop().creator
        if f is not None and id(f) not in seen:
            seen.add(id(f))
            names.add(type(f).__name__)
            stack.extend(f.inputs)
    return names


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_gradients_of(name):
    sample = REGISTRY[name]
    inputs = [mdl.tensor(a, requires_grad=True) for a in sample.arrays]
    assert name in functions_in_graph(sample.call(*inputs)), (
        f"the sample for {name} does not run it: its graph holds "
        f"{sorted(functions_in_graph(sample.call(*inputs)))}")
    assert mdl.gradcheck(sample.call, inputs, **sample.tol)
    assert mdl.gradgradcheck(sample.call, inputs, **sample.tol)
