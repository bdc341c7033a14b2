"""The fused kernels (kernels/fused.py) and the ops built on them: relu, where, softmax,
log_softmax, cross_entropy with class indices and layer_norm.

Each kernel of each CPU setting equals the plain NumPy version on odd shapes, views and
both float dtypes, with the special values (NaN, +-inf, +-1e4) handled alike; the
vectorized exp is checked against np.exp. The ops are gradient-checked (first and second
derivatives) under each setting, their fused backward (no graph) agrees with the one in
tensor ops (create_graph), and they match PyTorch in float64 under random cotangents."""
import numpy as np
import pytest
from numba import njit

import minidl as mdl
import minidl.functional as F
from minidl.kernels import fused, table

CPU = ("fast", "numpy", "numba")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
rng = np.random.default_rng(0)


def rand(shape, dtype=np.float64, scale=1.0, seed=None):
    g = rng if seed is None else np.random.default_rng(seed)
    return np.asarray(g.standard_normal(shape) * scale, dtype=dtype)


def transposed(a):
    """A non-contiguous view with a's values (reversed dims, copied, transposed back); a
    0-d array itself."""
    if a.ndim == 0:
        return a
    return a.T.copy().T if a.ndim > 1 else a[::-1].copy()[::-1]


def assert_close(actual, expected, dtype):
    assert actual.dtype == dtype and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, **TOL[dtype])


# ----------------------------------------------------------------------------
# the kernels of every setting against the plain versions
# ----------------------------------------------------------------------------
ROW_CASES = [  # shape, axis
    ((1, 1), 1), ((7, 13), 1), ((7, 13), 0), ((3, 5, 2), 1), ((2, 3, 1), 2), ((), None),
    ((4, 0), 1), ((0, 5), 1), ((11,), 0)]


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", ROW_CASES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_kernels_of_every_setting(setting, dtype, shape, axis, name):
    kernels = table.get(setting)
    forward, backward = (getattr(kernels, f"{name}_{way}") for way in ("forward", "backward"))
    reference_forward = getattr(fused, f"{name}_forward_numpy")
    reference_backward = getattr(fused, f"{name}_backward_numpy")
    x, gy = rand(shape, dtype, scale=3), rand(shape, dtype)
    for view in (x, transposed(x)):
        y = forward(view, axis)
        assert_close(y, reference_forward(x.astype(np.float64), axis).astype(dtype), dtype)
        assert_close(backward(transposed(gy), y, axis),
                     reference_backward(gy.astype(np.float64), y.astype(np.float64),
                                        axis).astype(dtype), dtype)


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_kernels_at_special_values(setting, dtype):
    """Rows with +-1e4, -inf, +inf and NaN: the same values (NaN where NaN) as the plain
    versions, which are PyTorch's."""
    x = np.array([[1e4, -1e4, 0.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0],
                  [np.nan, 0.0, 1.0], [-np.inf, 0.0, 1.0], [1e4, 1e4, -1e4]], dtype=dtype)
    kernels = table.get(setting)
    with np.errstate(invalid="ignore"):
        for name in ("softmax", "log_softmax"):
            y = getattr(kernels, f"{name}_forward")(x, 1)
            expected = getattr(fused, f"{name}_forward_numpy")(x.astype(np.float64), 1)
            np.testing.assert_allclose(y, expected.astype(dtype), **TOL[dtype])   # NaN: NaN
    assert np.isfinite(kernels.softmax_forward(x[[0, 4, 5]], 1)).all()


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_where_kernels_of_every_setting(setting, dtype):
    kernels = table.get(setting)
    x = rand((5, 7), dtype)
    x[0, :4] = [np.nan, 0.0, -0.0, np.inf]
    gy = rand((5, 7), dtype)
    gy[0, 1:3] = np.nan   # at x = 0 and -0: the gradient is 0 even so
    gy[1, x[1] <= 0] = np.inf
    for a, g in ((x, gy), (transposed(x), transposed(gy))):
        np.testing.assert_array_equal(kernels.relu_forward(a), np.maximum(x, 0))
        gx = kernels.relu_backward(g, a)
        np.testing.assert_array_equal(gx, np.where(x <= 0, 0, gy))   # NaN x: gy passes
        assert gx.dtype == dtype and gx[0, 0] == gy[0, 0] and np.all(gx[0, 1:3] == 0)
    condition = rng.random((5, 7)) > 0.5
    scalar = np.asarray(2.5, dtype=dtype)
    for a, b in ((x, gy), (x, scalar), (scalar, gy), (scalar, scalar), (transposed(x), gy),
                 (x, gy[:1]), (condition.astype(np.int64), -condition.astype(np.int64))):
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(kernels.where(condition, a, b),
                                          np.where(condition, a, b))
    np.testing.assert_array_equal(kernels.where(transposed(condition), x, gy),
                                  np.where(condition, x, gy))


CE_CASES = [  # x shape, how many labels are ignored (-1: all)
    ((6, 4), 1), ((3, 4, 2, 5), 3), ((1, 1), 0), ((5, 3), -1), ((2, 7, 3), 0), ((0, 3), 0)]


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, ignored", CE_CASES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_kernels_of_every_setting(setting, dtype, shape, ignored, weighted,
                                                smoothing):
    kernels = table.get(setting)
    x = rand(shape, dtype, scale=2)
    labels = rng.integers(0, shape[1], shape[:1] + shape[2:])
    flat = labels.reshape(-1)
    flat[:len(flat) if ignored < 0 else ignored] = 7   # ignore_index=7
    weight = rng.uniform(0.5, 2, shape[1]).astype(dtype) if weighted else None
    args = (labels, weight, 7, smoothing)
    x64 = x.astype(np.float64)
    w64 = None if weight is None else weight.astype(np.float64)
    ref_losses, ref_lse = fused.cross_entropy_forward_numpy(x64, labels, w64, 7, smoothing)
    for view in (x, transposed(x)):
        losses, lse = kernels.cross_entropy_forward(view, *args)
        assert_close(losses, ref_losses.astype(dtype), dtype)
        assert_close(lse, ref_lse.astype(dtype), dtype)
        assert np.all(losses[labels == 7] == 0)
        for g in (rand(labels.shape, dtype), np.asarray(0.7, dtype=dtype)):
            gx = kernels.cross_entropy_backward(g, view, lse, *args)
            expected = fused.cross_entropy_backward_numpy(g.astype(np.float64), x64, ref_lse,
                                                          labels, w64, 7, smoothing)
            assert_close(gx, expected.astype(dtype), dtype)
            assert np.all(np.moveaxis(gx, 1, -1)[labels == 7] == 0)


def test_cross_entropy_kernels_at_huge_and_infinite_logits():
    """Logits of +-1e4 give the exact losses; a -inf logit of a class that is not the
    target costs nothing (no 0 * -inf)."""
    x = np.array([[1e4, -1e4, 0.0], [0.0, -np.inf, 1.0]], dtype=np.float32)
    for setting in CPU:
        losses, _ = table.get(setting).cross_entropy_forward(x, np.array([1, 2]), None, -100,
                                                            0.0)
        np.testing.assert_allclose(losses, [2e4, np.log1p(np.exp(-1.0))], rtol=1e-6)


LN_CASES = [  # x shape, normalized dims
    ((4, 6), 1), ((2, 3, 4), 2), ((130, 5), 1), ((3,), 1), ((2, 1), 1), ((65, 3, 1), 1)]


@pytest.mark.parametrize("setting", CPU)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, k", LN_CASES)
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_kernels_of_every_setting(setting, dtype, shape, k, affine):
    kernels = table.get(setting)
    x, gy = rand(shape, dtype) + 1, rand(shape, dtype)
    normalized = shape[len(shape) - k:]
    weight = rand(normalized, dtype) if affine else None
    bias = rand(normalized, dtype) if affine else None
    x64, gy64 = x.astype(np.float64), gy.astype(np.float64)
    w64 = None if weight is None else weight.astype(np.float64)
    b64 = None if bias is None else bias.astype(np.float64)
    y_ref, mean_ref, rstd_ref = fused.layer_norm_forward_numpy(x64, k, w64, b64, 1e-5)
    grads_ref = fused.layer_norm_backward_numpy(gy64, x64, mean_ref, rstd_ref, w64)
    for view in (x, transposed(x)):
        y, mean, rstd = kernels.layer_norm_forward(view, k, weight, bias, 1e-5)
        for actual, expected in zip((y, mean, rstd), (y_ref, mean_ref, rstd_ref)):
            assert_close(actual, expected.astype(dtype), dtype)
        grads = kernels.layer_norm_backward(transposed(gy), view, mean, rstd, weight)
        for actual, expected in zip(grads, grads_ref):
            assert_close(actual, expected.astype(dtype), dtype)


@njit
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = fused.vexp(x[i])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_vectorized_exp_is_exact_to_a_few_ulps_and_exact_at_the_ends(dtype):
    finfo = np.finfo(dtype)
    low, high = np.log(finfo.smallest_normal), np.log(finfo.max)
    x = np.concatenate([np.linspace(low, high, 20001), rng.standard_normal(1000) * 5,
                        [0.0, -0.0, 1.0, -1.0]]).astype(dtype)
    out = np.empty_like(x)
    _exp_all(x, out)
    exact = np.exp(x.astype(np.longdouble))
    representable = exact < finfo.max   # the top of the linspace may round above the bound
    relative = np.abs(out - exact)[representable] / exact[representable]
    assert relative.max() < 4 * finfo.eps
    special = np.array([np.nan, np.inf, -np.inf, high + 1, 2 * high, low * 1.5, -1e30, 1e30],
                       dtype=dtype)
    out = np.empty_like(special)
    _exp_all(special, out)
    with np.errstate(over="ignore", under="ignore"):
        expected = np.exp(special)
    np.testing.assert_allclose(out, expected, rtol=4 * finfo.eps, atol=finfo.smallest_subnormal * 4)


# ----------------------------------------------------------------------------
# the ops: gradients under every setting, both backwards agree
# ----------------------------------------------------------------------------
def t(a, grad=False):
    return mdl.tensor(a, requires_grad=grad)


def cross_entropy_call(shape, weighted, smoothing, reduction, ignored=1, seed=0):
    """(fn of the logits, logits array): a cross_entropy call with ignore_index=2."""
    g = np.random.default_rng(seed)
    x = g.standard_normal(shape) * 2
    labels = g.integers(0, shape[-1] if len(shape) == 1 else shape[1],
                        shape[:1] + shape[2:] if len(shape) > 1 else ())
    if ignored and labels.ndim:
        labels.reshape(-1)[:ignored] = 2
    weight = t(g.uniform(0.5, 2, shape[1] if len(shape) > 1 else shape[0])) if weighted else None

    def fn(a):
        return F.cross_entropy(a, t(labels), weight, ignore_index=2, reduction=reduction,
                               label_smoothing=smoothing)
    return fn, x


CE_CALLS = {
    "plain": ((6, 4), False, 0.0, "mean"),
    "weighted_smoothed": ((6, 4), True, 0.2, "mean"),
    "sum": ((5, 3), True, 0.0, "sum"),
    "none_2d": ((2, 4, 3, 2), False, 0.1, "none"),
    "mean_2d": ((2, 4, 3, 2), True, 0.0, "mean"),
    "unbatched": ((5,), False, 0.0, "none"),
}


@pytest.mark.parametrize("name", CE_CALLS)
def test_cross_entropy_gradients_under_every_setting(name, kernels):
    fn, x = cross_entropy_call(*CE_CALLS[name])
    assert mdl.gradcheck(fn, [t(x, True)]) and mdl.gradgradcheck(fn, [t(x, True)])


def _both_backwards(fn, inputs):
    """The gradients of fn's output under a random cotangent, from a plain backward (the
    fused kernels) and from one with create_graph (the tensor ops)."""
    results = []
    for create_graph in (False, True):
        xs = [t(a, True) for a in inputs]
        y = fn(*xs)
        cotangent = rand(y.shape, seed=1)
        results.append([g.numpy() for g in mdl.grad(y, xs, t(cotangent),
                                                    create_graph=create_graph)])
    return results


@pytest.mark.parametrize("name", CE_CALLS)
def test_cross_entropy_fused_backward_equals_the_one_in_tensor_ops(name, kernels):
    fn, x = cross_entropy_call(*CE_CALLS[name])
    plain, graph = _both_backwards(fn, [x])
    np.testing.assert_allclose(plain[0], graph[0], rtol=1e-12, atol=1e-14)
    assert np.any(plain[0] != 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_every_target_ignored(reduction, kernels):
    """"mean" gives NaN (0/0), as PyTorch; the gradients are 0 either way, and so are the
    second derivatives."""
    fn, x = cross_entropy_call((4, 3), True, 0.2, reduction, ignored=4)
    loss = fn(t(x))
    if reduction == "mean":
        assert np.isnan(loss.item())
    else:
        assert np.all(loss.numpy() == 0)
    for grads in _both_backwards(fn, [x]):
        assert np.all(grads[0] == 0)
    a = t(x, True)
    g, = mdl.grad(fn(a).sum(), [a], create_graph=True)
    h, = mdl.grad((g * t(rand(g.shape))).sum(), [a])
    assert np.all(h.numpy() == 0)


LAYER_NORMS = {
    "affine": (lambda x, w, b: F.layer_norm(x, (5,), w, b), [(3, 5), (5,), (5,)]),
    "two_dims": (lambda x, w, b: F.layer_norm(x, (2, 3), w, b, eps=1e-3),
                 [(4, 2, 3), (2, 3), (2, 3)]),
    "weight_only": (lambda x, w: F.layer_norm(x, 4, w), [(2, 3, 4), (4,)]),
    "plain": (lambda x: F.layer_norm(x, (4,)), [(3, 4)]),
    "bias_only": (lambda x, b: F.layer_norm(x, 4, bias=b), [(3, 4), (4,)]),
}


@pytest.mark.parametrize("name", LAYER_NORMS)
def test_layer_norm_gradients_under_every_setting(name, kernels):
    fn, shapes = LAYER_NORMS[name]
    inputs = [t(rand(s, seed=i), True) for i, s in enumerate(shapes)]
    assert mdl.gradcheck(fn, inputs) and mdl.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("name", LAYER_NORMS)
def test_layer_norm_fused_backward_equals_the_one_in_tensor_ops(name, kernels):
    fn, shapes = LAYER_NORMS[name]
    plain, graph = _both_backwards(fn, [rand(s, seed=i) for i, s in enumerate(shapes)])
    for a, b in zip(plain, graph):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


SOFTMAXES = {
    "softmax_last": (lambda a: F.softmax(a, -1), (3, 5)),
    "softmax_middle": (lambda a: F.softmax(a, 1), (2, 4, 3)),
    "softmax_0d": (lambda a: F.softmax(a, 0), ()),
    "log_softmax_first": (lambda a: F.log_softmax(a, 0), (4, 3)),
    "log_softmax_last": (lambda a: F.log_softmax(a, dim=-1), (2, 3, 5)),
    "relu": (lambda a: F.relu(a), (4, 5)),
}


@pytest.mark.parametrize("name", SOFTMAXES)
def test_activation_gradients_under_every_setting(name, kernels):
    fn, shape = SOFTMAXES[name]
    x = rand(shape, seed=3)
    if name == "relu":
        x = x + np.where(x >= 0, 0.1, -0.1)   # away from the kink
    assert mdl.gradcheck(fn, [t(x, True)]) and mdl.gradgradcheck(fn, [t(x, True)])


def test_relu_gradient_is_pytorchs_at_nan_and_where_the_gradient_is_nan(kernels):
    torch = pytest.importorskip("torch")
    x = np.array([np.nan, -1.0, 0.0, -0.0, 2.0, 3.0])
    gy = np.array([1.5, np.nan, np.inf, np.nan, 3.0, np.nan])
    ours = t(x, True)
    F.relu(ours).backward(t(gy))
    theirs = torch.tensor(x, requires_grad=True)
    torch.relu(theirs).backward(torch.tensor(gy))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


# ----------------------------------------------------------------------------
# against PyTorch, float64, random cotangents, under every setting
# ----------------------------------------------------------------------------
def _torch_grads(torch, fn, inputs, cotangent):
    xs = [torch.tensor(a, requires_grad=True) for a in inputs]
    y = fn(*xs)
    y.backward(torch.tensor(cotangent))
    return y.detach().numpy(), [x.grad.numpy() for x in xs]


def _our_grads(fn, inputs, cotangent):
    xs = [t(a, True) for a in inputs]
    y = fn(*xs)
    y.backward(t(cotangent))
    return y.numpy(), [x.grad.numpy() for x in xs]


def _assert_like_torch(ours, theirs):
    (y, grads), (y_torch, grads_torch) = ours, theirs
    assert y.shape == y_torch.shape
    np.testing.assert_allclose(y, y_torch, rtol=1e-10, atol=1e-12)
    for a, b in zip(grads, grads_torch):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_matches_torch_under_every_setting(name, dim, kernels):
    torch = pytest.importorskip("torch")
    x = rand((3, 4, 5), scale=3, seed=4)
    cotangent = rand(x.shape, seed=5)
    ours = _our_grads(lambda a: getattr(F, name)(a, dim), [x], cotangent)
    theirs = _torch_grads(torch, lambda a: getattr(torch.nn.functional, name)(a, dim), [x],
                          cotangent)
    _assert_like_torch(ours, theirs)


@pytest.mark.parametrize("name", CE_CALLS)
def test_cross_entropy_matches_torch_under_every_setting(name, kernels):
    torch = pytest.importorskip("torch")
    shape, weighted, smoothing, reduction = CE_CALLS[name]
    fn, x = cross_entropy_call(shape, weighted, smoothing, reduction)
    g = np.random.default_rng(0)   # the same draws as cross_entropy_call's
    g.standard_normal(shape)
    labels = g.integers(0, shape[-1] if len(shape) == 1 else shape[1],
                        shape[:1] + shape[2:] if len(shape) > 1 else ())
    if labels.ndim:
        labels.reshape(-1)[:1] = 2
    weight = (torch.tensor(g.uniform(0.5, 2, shape[1] if len(shape) > 1 else shape[0]))
              if weighted else None)
    cotangent = rand(fn(t(x)).shape, seed=6)

    def theirs(a):
        return torch.nn.functional.cross_entropy(a, torch.tensor(labels), weight, ignore_index=2,
                                                 reduction=reduction, label_smoothing=smoothing)
    _assert_like_torch(_our_grads(fn, [x], cotangent), _torch_grads(torch, theirs, [x], cotangent))


@pytest.mark.parametrize("name", LAYER_NORMS)
def test_layer_norm_matches_torch_under_every_setting(name, kernels):
    torch = pytest.importorskip("torch")
    fn, shapes = LAYER_NORMS[name]
    inputs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    cotangent = rand(shapes[0], seed=7)
    tf = torch.nn.functional
    theirs = {
        "affine": lambda x, w, b: tf.layer_norm(x, (5,), w, b),
        "two_dims": lambda x, w, b: tf.layer_norm(x, (2, 3), w, b, eps=1e-3),
        "weight_only": lambda x, w: tf.layer_norm(x, (4,), w),
        "plain": lambda x: tf.layer_norm(x, (4,)),
        "bias_only": lambda x, b: tf.layer_norm(x, (4,), bias=b),
    }[name]
    _assert_like_torch(_our_grads(fn, inputs, cotangent),
                       _torch_grads(torch, theirs, inputs, cotangent))


def test_cross_entropy_with_a_minus_inf_logit_off_the_target_matches_torch(kernels):
    """A class masked with -inf costs nothing when it is not the target (no 0 * -inf)."""
    torch = pytest.importorskip("torch")
    x = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
    cotangent = np.array(0.7)
    ours = _our_grads(lambda a: F.cross_entropy(a, t(np.array([2, 0]))), [x], cotangent)
    theirs = _torch_grads(torch, lambda a: torch.nn.functional.cross_entropy(
        a, torch.tensor([2, 0])), [x], cotangent)
    _assert_like_torch(ours, theirs)
