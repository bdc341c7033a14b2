"""The engine: graph walk, accumulation, retain_graph, no_grad, grad(), higher order, errors."""
import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

import minidl as mdl
import minidl.functional as F


def test_the_issue_example_prints_12_12():
    code = ("import minidl as mdl; x=mdl.tensor(2.0, requires_grad=True); y=x**3; "
            "g,=mdl.grad(y,[x],create_graph=True); g.backward(); print(g.item(), x.grad.item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "12.0 12.0"


def test_tensor_used_twice_accumulates():
    x = mdl.tensor(3.0, requires_grad=True)
    y = x * x + x  # x appears three times
    y.backward()
    assert x.grad.item() == 7.0


def test_diamond_graph_visits_each_function_once():
    x = mdl.tensor(2.0, requires_grad=True)
    a = x * 3
    y = a * a + a.exp()  # a feeds two branches
    y.backward()
    assert np.isclose(x.grad.item(), 2 * 6 * 3 + 3 * np.exp(6), rtol=1e-6)


def test_backward_accumulates_into_grad_across_calls():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_long_chain_has_no_recursion_limit():
    x = mdl.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert np.isclose(x.grad.item(), 1.0001 ** 10_000, rtol=1e-3)


def test_second_backward_through_freed_graph_is_a_clear_error():
    x = mdl.tensor(2.0, requires_grad=True)
    y = (x * x).exp()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = mdl.tensor(2.0, requires_grad=True)
    y = x * x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 24.0


def test_graph_and_intermediate_arrays_are_released_after_backward():
    x = mdl.tensor(np.ones(1000), requires_grad=True)
    h = x * 2
    big = h.exp()
    y = big.sum()
    probe = weakref.ref(big)
    saved_array = weakref.ref(h.creator)
    del big, h
    gc.collect()
    assert probe() is not None  # still held by the graph (Sum's input)
    y.backward()
    assert probe() is None  # freed by the walk, no gc needed
    assert saved_array() is None


def test_no_grad_records_nothing():
    x = mdl.tensor(1.0, requires_grad=True)
    with mdl.no_grad():
        y = x * 2
        with mdl.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.creator is None
    assert z.requires_grad and z.creator is not None
    assert mdl.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = mdl.tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.creator is None
    w = mdl.tensor([1.0]).requires_grad_()
    assert w.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        mdl.tensor([1, 2], requires_grad=True)


def test_backward_errors_are_clear():
    with pytest.raises(RuntimeError, match="scalar output.*shape \\(2,\\)"):
        (mdl.tensor([1.0, 2.0], requires_grad=True) * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        mdl.tensor([1.0]).sum().backward()


def test_backward_with_explicit_gradient():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(mdl.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])


def test_grad_does_not_touch_dot_grad_and_reaches_non_leaves():
    x = mdl.tensor(3.0, requires_grad=True)
    h = x * x
    y = h * 2
    gx, gh = mdl.grad(y, [x, h])
    assert x.grad is None
    assert gx.item() == 12.0 and gh.item() == 2.0


def test_grad_unused_input():
    x, z = mdl.tensor(1.0, requires_grad=True), mdl.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        mdl.grad(x * 2, [z])
    assert mdl.grad(x * 2, [z], allow_unused=True) == (None,)


def test_third_derivative():
    x = mdl.tensor(0.5, requires_grad=True)
    y = x.exp() * x
    g1, = mdl.grad(y, [x], create_graph=True)
    g2, = mdl.grad(g1, [x], create_graph=True)
    g3, = mdl.grad(g2, [x])
    # d^3/dx^3 (x e^x) = (x + 3) e^x
    assert np.isclose(g3.item(), (0.5 + 3) * np.exp(0.5), rtol=1e-6)


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    A = A + A.T
    x = mdl.tensor(rng.standard_normal(4), requires_grad=True)
    v = mdl.tensor(rng.standard_normal(4))
    f = 0.5 * (x @ (mdl.tensor(A) @ x))
    g, = mdl.grad(f, [x], create_graph=True)
    hv, = mdl.grad((g * v).sum(), [x])
    np.testing.assert_allclose(hv.numpy(), A @ v.numpy(), rtol=1e-10)


def test_retain_grad_on_non_leaf():
    x = mdl.tensor(2.0, requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).backward()
    assert h.grad.item() == 12.0


def test_manual_seed_reproduces_draws():
    mdl.manual_seed(7)
    a = mdl.randn(3, 4).numpy()
    mdl.manual_seed(7)
    b = mdl.randn(3, 4).numpy()
    np.testing.assert_array_equal(a, b)
    assert mdl.randn(2).dtype == np.float32


def test_detect_anomaly_names_the_op():
    x = mdl.tensor([-1.0, 1.0], requires_grad=True)
    with mdl.detect_anomaly():
        with pytest.raises(FloatingPointError, match="Log forward"):
            with np.errstate(invalid="ignore"):
                x.log()
        y = mdl.tensor([0.0, 1.0], requires_grad=True)
        z = y.sqrt().sum()
        with pytest.raises(FloatingPointError, match="Sqrt"):
            with np.errstate(divide="ignore"):
                z.backward()


def test_cuda_request_without_gpu_is_a_clear_error():
    if mdl.cuda_is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="cuda.*CuPy"):
        mdl.tensor([1.0], device="cuda")


def test_set_kernels_rejects_unknown_names():
    with pytest.raises(ValueError, match="numba"):
        mdl.set_kernels("fortran")


def test_repr_and_item():
    x = mdl.tensor([[1.0, 2.0]], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "creator=Mul" in repr(x * 2)
    with pytest.raises(ValueError, match="one-element"):
        x.item()


# ----------------------------------------------------------------------------
# the engine on one page: backward_reference equals the real walk
# ----------------------------------------------------------------------------
def test_backward_reference_equals_the_real_walk():
    rng = np.random.default_rng(0)
    a = mdl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = mdl.tensor(rng.standard_normal((4,)), requires_grad=True)
    c = mdl.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    h = (a * b).tanh()                     # b broadcast, used below again
    y = ((h @ c).exp().sum() + (h * h).mean() * b.sum() + a[0].sigmoid() @ b) / 3
    reference = mdl.autograd.backward_reference(y)
    y.backward()
    assert set(map(id, reference)) == {id(a), id(b), id(c)}
    for leaf, gradient in reference.items():
        np.testing.assert_allclose(gradient, leaf.grad.numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------
# the modes, as PyTorch's: decorators, nesting, the values they report
# ----------------------------------------------------------------------------
def test_set_grad_enabled_decorator_sets_the_mode_only_inside_the_calls():
    # torch: decorating restores the mode at once; the calls run in the mode given;
    # keyword arguments reach the function; is_grad_enabled() is a bool
    @mdl.set_grad_enabled(False)
    def scaled(x, scale=1.0):
        assert mdl.is_grad_enabled() is False
        return x * scale

    assert mdl.is_grad_enabled() is True
    y = scaled(mdl.ones(2, requires_grad=True), scale=3.0)
    assert not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [3.0, 3.0])
    assert mdl.is_grad_enabled() is True
    with mdl.no_grad():
        @mdl.set_grad_enabled(True)
        def doubled(x):
            return x * 2

        assert mdl.is_grad_enabled() is False
        assert doubled(mdl.ones(2, requires_grad=True)).requires_grad
        with mdl.set_grad_enabled(True):
            assert mdl.is_grad_enabled() is True
        assert mdl.is_grad_enabled() is False


def test_enable_grad_decorator_records_inside_no_grad():
    @mdl.enable_grad()
    def doubled(x, factor=2.0):
        return x * factor

    with mdl.no_grad():
        y = doubled(mdl.ones(2, requires_grad=True), factor=5.0)
    assert y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [5.0, 5.0])


def test_nested_detect_anomaly_puts_back_the_outer_check_nan():
    # torch: leaving detect_anomaly(check_nan=False) inside detect_anomaly() checks NaN again
    x = mdl.tensor([-1.0], requires_grad=True)
    with mdl.detect_anomaly():
        with mdl.detect_anomaly(check_nan=False):
            with np.errstate(invalid="ignore"):
                x.log()                             # NaN, not checked here
        with pytest.raises(FloatingPointError, match="Log"):
            with np.errstate(invalid="ignore"):
                x.log()
    assert not mdl.autograd.is_anomaly_enabled()


def test_detect_anomaly_as_a_decorator_checks_inside_the_calls():
    # minidl's modes all decorate (torch's detect_anomaly does not): the check_nan given holds
    @mdl.detect_anomaly()
    def log(x):
        with np.errstate(invalid="ignore"):
            return x.log()

    with pytest.raises(FloatingPointError, match="Log"):
        log(mdl.tensor([-1.0], requires_grad=True))
    assert not mdl.autograd.is_anomaly_enabled()


def test_modified_saved_tensor_error_says_what_changed_it_and_what_to_do():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = (a * a).sum()
    a.add_(1)
    with pytest.raises(RuntimeError) as error:
        y.backward()
    message = str(error.value)
    assert "version 1, expected version 0" in message
    assert ("expected version 0. An in-place op (add_, x[i] = v, ...) or an optimizer step "
            "changed it between the forward and this backward; change a clone() instead, "
            "or run the forward again.") in message
    assert message.endswith("run the forward again.")


class PassesNoGradient(mdl.autograd.Function):
    """The identity, whose backward gives its input no gradient (None, as torch allows)."""

    def forward(self, a):
        return a.copy()

    def backward(self, gy):
        return None


def test_backward_reference_equals_the_real_walk_when_an_op_passes_no_gradient():
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    twice = x * 2                           # reached only through the op that passes nothing
    y = (x * x).sum() + PassesNoGradient()(twice).sum() + (twice * 0 + twice).sum()
    y = x.sum() + y
    reference = mdl.autograd.backward_reference(y)
    y.backward()
    np.testing.assert_allclose(reference[x], x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(reference[x], 1 + 2 * x.numpy() + 2, rtol=1e-12)
    z = x.sum() + PassesNoGradient()(x * 3).sum()  # x * 3 gets no gradient at all
    np.testing.assert_array_equal(mdl.autograd.backward_reference(z)[x], [1.0, 1.0, 1.0])


def test_backward_reference_visits_each_op_once():
    # 60 ops, each using the one before twice: 2**60 paths, one visit each op
    x = mdl.tensor(np.float64(1.0), requires_grad=True)
    y = x
    for _ in range(60):
        y = y + y
    assert mdl.autograd.backward_reference(y)[x] == 2.0 ** 60


# ----------------------------------------------------------------------------
# backward() and grad() with their options, against torch
# ----------------------------------------------------------------------------
A, B, G2 = [0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [0.3, -0.7, 1.1]


def graph(lib, leaf):
    """Two leaves, a tensor in the middle, a scalar output and a vector one."""
    a, b = leaf(A), leaf(B)
    h = (a * b).tanh()
    return a, b, h, (h * a).sum(), h * h + b


def libraries():
    torch = pytest.importorskip("torch")
    return [(torch, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True),
             lambda v: torch.tensor(v, dtype=torch.float64)),
            (mdl, lambda v: mdl.tensor(np.array(v), requires_grad=True),
             lambda v: mdl.tensor(np.array(v)))]


def values(t):
    return None if t is None else np.asarray(t.detach().numpy())


def run_both(program):
    """program(lib, leaf, const) -> list of tensors (or None) for each library; equal."""
    (torch, *torch_makers), (_, *mdl_makers) = libraries()
    expected = [values(t) for t in program(torch, *torch_makers)]
    actual = [values(t) for t in program(mdl, *mdl_makers)]
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_backward_of_several_outputs_with_their_gradients_like_torch():
    def program(lib, leaf, const):
        a, b, h, y1, y2 = graph(lib, leaf)
        lib.autograd.backward([y1, y2], [None, const(G2)])
        assert not a.grad.requires_grad                 # no create_graph: no graph
        first = [a.grad, b.grad]
        a.grad = b.grad = None
        a, b, h, y1, y2 = graph(lib, leaf)
        lib.autograd.backward([y1, (h * b).sum()])      # scalars: no gradients needed
        return first + [a.grad, b.grad]
    run_both(program)


def test_backward_inputs_fill_only_those_grads_like_torch():
    def program(lib, leaf, const):
        a, b, h, y1, y2 = graph(lib, leaf)
        y2.backward(const(G2), inputs=[a], retain_graph=True)
        first = [a.grad, b.grad]
        y1.backward(inputs=h)                       # a tensor in the middle, on its own
        return first + [a.grad, h.grad, b.grad]
    run_both(program)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_twice_adds_and_create_graph_differentiates_again_like_torch():
    def program(lib, leaf, const):
        a, b, h, y1, y2 = graph(lib, leaf)
        y1.backward(retain_graph=True)
        y1.backward(create_graph=True)              # 2 * dy1/da, itself in a graph
        ga = a.grad
        assert ga.requires_grad
        (ga * const(G2)).sum().backward(inputs=[b])
        return [ga, b.grad]
    run_both(program)


def test_grad_of_several_outputs_and_a_middle_tensor_like_torch():
    def program(lib, leaf, const):
        a, b, h, y1, y2 = graph(lib, leaf)
        ga, gh = lib.autograd.grad([y1, y2], [a, h], [None, const(G2)], retain_graph=True)
        assert not ga.requires_grad and not gh.requires_grad   # no create_graph: no graph
        gb, = lib.autograd.grad(y2, b, const(G2), create_graph=True)
        gbb, = lib.autograd.grad((gb * gb).sum(), [a])
        assert a.grad is None and b.grad is None
        return [ga, gh, gb, gbb]
    run_both(program)


def test_grad_of_an_unused_input_like_torch():
    def program(lib, leaf, const):
        a, b, h, y1, y2 = graph(lib, leaf)
        unused = leaf([1.0])
        none = lib.autograd.grad(y1, [a, unused], allow_unused=True, retain_graph=True)
        zeros = lib.autograd.grad(y1, [unused, a], materialize_grads=True, retain_graph=True)
        with pytest.raises(RuntimeError):
            lib.autograd.grad(y1, [unused], retain_graph=True)
        with pytest.raises(ValueError):
            lib.autograd.grad(y1, [unused], allow_unused=False, materialize_grads=True)
        return [*none, *zeros]
    run_both(program)


def test_the_graph_is_freed_after_grad_unless_retained():
    for lib, leaf, const in libraries():
        a, b, h, y1, y2 = graph(lib, leaf)
        lib.autograd.grad(y1, [a])
        with pytest.raises(RuntimeError):
            lib.autograd.grad(y1, [a])


def test_grad_errors_name_grad():
    a, b, h, y1, y2 = graph(mdl, lambda v: mdl.tensor(np.array(v), requires_grad=True))
    with pytest.raises(RuntimeError, match=r"^grad: a gradient can be created implicitly only"):
        mdl.grad(y2, [a])
    with pytest.raises(RuntimeError, match=r"^grad: input 1 \(shape \(1,\)\) was not used to "
                                           r"compute the outputs; pass allow_unused=True to get "
                                           r"None for it$"):
        mdl.grad(y1, [a, mdl.tensor(np.array([1.0]), requires_grad=True)])
    with pytest.raises(ValueError, match=r"^grad: materialize_grads=True needs allow_unused to "
                                         r"be True or None$"):
        mdl.grad(y1, [a], allow_unused=False, materialize_grads=True)


# ----------------------------------------------------------------------------
# Python numbers beside a tensor (the constants behind x * 0.5)
# ----------------------------------------------------------------------------
def test_python_numbers_take_the_tensor_dtype_whatever_was_computed_before():
    ints = mdl.tensor(np.array([1, 2]))
    f32 = mdl.tensor(np.array([1.5, 2.5], dtype=np.float32))
    for _ in range(2):                     # the second time, from the constants kept
        for first, then in ((2, 2.0), (3.0, 3)):
            assert (ints * first).dtype == (np.int64 if type(first) is int else np.float64)
            assert (ints * then).dtype == (np.int64 if type(then) is int else np.float64)
        np.testing.assert_array_equal((ints * 2).numpy(), [2, 4])
        np.testing.assert_array_equal((ints + True).numpy(), [2, 3])
        assert (f32 * 2).dtype == np.float32 and (f32 * 0.1).dtype == np.float32
    assert np.signbit((f32 * -0.0).numpy()).all() and not np.signbit((f32 * 0.0).numpy()).any()
    assert np.isnan((f32 * float("nan")).numpy()).all()


def test_a_numpy_float_scalar_acts_as_the_python_float():
    x = mdl.tensor(np.array([1.0, 3.0]))
    ints = mdl.tensor(np.array([1, 3]))
    np.testing.assert_array_equal((x * np.float64(0.1)).numpy(), np.array([1.0, 3.0]) * 0.1)
    for t in (x, ints):
        product = t * np.float64(0.1)
        assert product.dtype == (t * 0.1).dtype
        np.testing.assert_array_equal(product.numpy(), (t * 0.1).numpy())


def test_backward_adds_the_gradients_given_for_one_tensor_passed_twice():
    # torch.autograd.backward([y, y], [g1, g2]) gives y's inputs the gradient of g1 + g2:
    # the two seeds meet at the same output before the walk starts (a leaf likewise)
    rng = np.random.default_rng(3)
    g1, g2 = rng.standard_normal(2), rng.standard_normal(2)
    x = mdl.tensor(np.array([0.5, 1.5]), requires_grad=True)
    y = x.exp()
    mdl.autograd.backward([y, y], [mdl.tensor(g1), mdl.tensor(g2)])
    np.testing.assert_allclose(x.grad.numpy(), (g1 + g2) * np.exp([0.5, 1.5]))
    leaf = mdl.tensor(np.zeros(2), requires_grad=True)
    mdl.autograd.backward([leaf, leaf], [mdl.tensor(g1), mdl.tensor(g2)])
    np.testing.assert_allclose(leaf.grad.numpy(), g1 + g2)
