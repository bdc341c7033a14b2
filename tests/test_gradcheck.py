"""gradcheck and gradgradcheck themselves: hundreds of tests rely on them, so each must
accept right Functions and reject planted wrong ones: a small factor error, a wrong sign
on one element, a backward that ignores its cotangent, an error only off the diagonal of
the Jacobian, an error in one input or one output only, a missing gradient, and errors
only in the second derivative (in the input, or in the incoming gradient, including
errors that only random cotangents, never all-ones ones, reveal)."""
import numpy as np
import pytest

import minidl as mdl
from minidl import Function, GradcheckError
from minidl.tensor import Tensor

X = np.random.default_rng(0).uniform(0.5, 1.5, size=(3, 4))   # no gradient near zero
Y = np.random.default_rng(1).uniform(0.5, 1.5, size=(3, 4))
# a triangular (non-symmetric) matrix: its transpose differs only off the diagonal
A = np.tril(np.random.default_rng(2).uniform(0.5, 1.5, size=(4, 4)))


def leaf(a):
    return mdl.tensor(a, requires_grad=True)


def rejects(check, fn, *arrays):
    """check (gradcheck or gradgradcheck) raises GradcheckError on fn, and with
    raise_exception=False returns False."""
    with pytest.raises(GradcheckError, match="analytic and numeric gradients differ"):
        check(fn, [leaf(a) for a in arrays])
    assert check(fn, [leaf(a) for a in arrays], raise_exception=False) is False


def accepts(check, fn, *arrays):
    assert check(fn, [leaf(a) for a in arrays]) is True


# ----------------------------------------------------------------------------
# right Functions, and wrong ones derived from them
# ----------------------------------------------------------------------------
class Square(Function):
    """x^2, with a right backward; subclasses plant one error each."""

    def forward(self, a):
        return a * a

    def backward(self, gy):
        return 2 * gy * self.inputs[0]


class SquareOffByAFactor(Square):
    factor = 1.001

    def backward(self, gy):
        return super().backward(gy) * self.factor


class SquareWithOneSignWrong(Square):
    flat_index = 0

    def backward(self, gy):
        sign = np.ones(self.inputs[0].shape)
        sign.reshape(-1)[self.flat_index] = -1
        return super().backward(gy) * Tensor(sign)


class SquareIgnoringItsCotangent(Square):
    def backward(self, gy):
        return 2 * self.inputs[0]  # the local derivative alone: right only when gy is 1


class TimesMatrix(Function):
    """y = x A^T on the last axis (a full Jacobian); backward gy A."""
    matrix = A

    def forward(self, a):
        return a @ self.matrix.T

    def backward(self, gy):
        return gy @ Tensor(self.matrix)


class TimesMatrixWithTheJacobianNotTransposed(TimesMatrix):
    def backward(self, gy):
        return gy @ Tensor(self.matrix.T)  # the diagonal is right, the rest is not


class Product(Function):
    """a * b, right; subclasses plant errors in one input's gradient only."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b, gy * a


class ProductWithGradientsSwapped(Product):
    def backward(self, gy):
        a, b = self.inputs
        return gy * a, gy * b


class ProductWithSecondGradientScaled(Product):
    def backward(self, gy):
        a, b = self.inputs
        return gy * b, gy * a * 1.01


class ProductWithSecondGradientMissing(Product):
    def backward(self, gy):
        return gy * self.inputs[1], None


class SumAndSquare(Function):
    """Two outputs: (a + b, a * a); subclasses get the second output's part wrong."""

    def forward(self, a, b):
        return a + b, a * a

    def backward(self, g_sum, g_square):
        a, _ = self.inputs
        return g_sum + 2 * g_square * a, g_sum


class SumAndSquareIgnoringTheSecondOutput(SumAndSquare):
    def backward(self, g_sum, g_square):
        return g_sum, g_sum


class Cube(Function):
    """x^3. Its backward is another op, CubeGradient (3 x^2 gy), whose own backward
    gives the second derivatives; subclasses plant errors there only."""
    gradient_op = None

    def forward(self, a):
        return a * a * a

    def backward(self, gy):
        return self.gradient_op()(gy, self.inputs[0])


class CubeGradient(Function):
    """(gy, x) -> 3 x^2 gy; d/dgy = 3 x^2, d/dx = 6 x gy."""

    def forward(self, gy, x):
        return 3 * x * x * gy

    def backward(self, g):
        gy, x = self.inputs
        return 3 * x * x * g, 6 * x * gy * g


class CubeGradientWrongInX(CubeGradient):
    def backward(self, g):
        gy, x = self.inputs
        return 3 * x * x * g, 5 * x * gy * g


class CubeGradientWrongInTheCotangent(CubeGradient):
    def backward(self, g):
        gy, x = self.inputs
        return 2 * x * x * g, 6 * x * gy * g


class CubeGradientOutsideTheGraph(CubeGradient):
    """The classic slip: a backward computed on raw arrays is right once, but the graph
    it should build for the second derivative is missing."""

    def backward(self, g):
        gy, x = self.inputs
        return 3 * x * x * g, Tensor(np.zeros(x.shape))


class CubeGradientIgnoringItsOwnCotangent(CubeGradient):
    """The local derivatives alone, without g: right only when g is 1, so only a
    random second cotangent (the one gradgradcheck weighs the first gradients with)
    shows the error."""

    def backward(self, g):
        gy, x = self.inputs
        return 3 * x * x, 6 * x * gy


class CubeGradientWithoutGyInX(CubeGradient):
    """d/dx written 6 x g, gy left out: right only when gy is 1, so only a random first
    cotangent (the r the first gradients are computed with) shows the error."""

    def backward(self, g):
        gy, x = self.inputs
        return 3 * x * x * g, 6 * x * g


Cube.gradient_op = CubeGradient


def cube_with(gradient_op):
    class WrongCube(Cube):
        pass
    WrongCube.gradient_op = gradient_op
    return lambda a: WrongCube()(a)


# ----------------------------------------------------------------------------
# gradcheck
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("fn, arrays", [
    (lambda a: Square()(a), [X]),
    (lambda a: TimesMatrix()(a), [X]),
    (lambda a, b: Product()(a, b), [X, Y]),
    (lambda a, b: SumAndSquare()(a, b), [X, Y]),
    (lambda a: Cube()(a), [X]),
], ids=["square", "matrix", "product", "two-outputs", "cube"])
def test_gradcheck_accepts_right_functions(fn, arrays):
    accepts(mdl.gradcheck, fn, *arrays)


@pytest.mark.parametrize("factor", [1.001, 0.99, -1.0])
def test_gradcheck_rejects_a_small_factor_error(factor):
    class Wrong(SquareOffByAFactor):
        pass
    Wrong.factor = factor
    rejects(mdl.gradcheck, lambda a: Wrong()(a), X)


@pytest.mark.parametrize("flat_index", [0, 6, 11])
def test_gradcheck_rejects_a_wrong_sign_on_one_element(flat_index):
    class Wrong(SquareWithOneSignWrong):
        pass
    Wrong.flat_index = flat_index
    with pytest.raises(GradcheckError, match=r"at index \(%d, %d\).*\(1 of 12 entries off"
                       % divmod(flat_index, 4)):
        mdl.gradcheck(lambda a: Wrong()(a), [leaf(X)])


def test_gradcheck_rejects_a_backward_that_ignores_its_cotangent():
    # right for a cotangent of all ones: gradcheck must project with a random one
    rejects(mdl.gradcheck, lambda a: SquareIgnoringItsCotangent()(a), X)
    rejects(mdl.gradcheck, lambda a: SquareIgnoringItsCotangent()(a).sum(0), X)


def test_gradcheck_rejects_an_error_only_off_the_diagonal():
    rejects(mdl.gradcheck, lambda a: TimesMatrixWithTheJacobianNotTransposed()(a), X)


@pytest.mark.parametrize("wrong, first_wrong_input", [
    (ProductWithGradientsSwapped, 0), (ProductWithSecondGradientScaled, 1),
    (ProductWithSecondGradientMissing, 1)])
def test_gradcheck_rejects_an_error_in_one_input(wrong, first_wrong_input):
    rejects(mdl.gradcheck, lambda a, b: wrong()(a, b), X, Y)
    # ... and names the input that is off
    with pytest.raises(GradcheckError, match=rf"input {first_wrong_input} \(shape \(3, 4\)\)"):
        mdl.gradcheck(lambda a, b: wrong()(a, b), [leaf(X), leaf(Y)])


def test_gradcheck_checks_only_the_inputs_that_require_grad():
    a, b = leaf(X), mdl.tensor(Y)
    assert mdl.gradcheck(lambda a, b: ProductWithSecondGradientScaled()(a, b), [a, b])
    with pytest.raises(ValueError, match="no input requires grad"):
        mdl.gradcheck(lambda a: Square()(a), [mdl.tensor(X)])


def test_gradcheck_rejects_an_error_in_the_second_output_only():
    rejects(mdl.gradcheck, lambda a, b: SumAndSquareIgnoringTheSecondOutput()(a, b), X, Y)


def test_gradcheck_rejects_a_gradient_that_is_missing_altogether():
    class Detached(Square):
        def backward(self, gy):
            return None
    rejects(mdl.gradcheck, lambda a: Detached()(a), X)
    # and one where the output is not connected to the input at all
    rejects(mdl.gradcheck, lambda a: mdl.tensor(a.data * a.data), X)


def test_gradcheck_runs_in_float64_so_a_float32_input_is_no_excuse():
    accepts(mdl.gradcheck, lambda a: Square()(a), X.astype(np.float32))
    rejects(mdl.gradcheck, lambda a: SquareOffByAFactor()(a), X.astype(np.float32))


def test_the_errors_of_a_cube_gradient_are_invisible_to_gradcheck():
    # they are errors in the second derivative only: gradcheck must accept them,
    # which is why gradgradcheck exists
    for op in (CubeGradientWrongInX, CubeGradientWrongInTheCotangent,
               CubeGradientOutsideTheGraph):
        accepts(mdl.gradcheck, cube_with(op), X)


# ----------------------------------------------------------------------------
# gradgradcheck
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("fn, arrays", [
    (lambda a: Square()(a), [X]),
    (lambda a: TimesMatrix()(a), [X]),
    (lambda a, b: Product()(a, b), [X, Y]),
    (lambda a, b: SumAndSquare()(a, b), [X, Y]),
    (lambda a: Cube()(a), [X]),
    (lambda a: Cube()(Cube()(a)), [X]),
], ids=["square", "matrix", "product", "two-outputs", "cube", "cube-of-cube"])
def test_gradgradcheck_accepts_right_functions(fn, arrays):
    accepts(mdl.gradgradcheck, fn, *arrays)


@pytest.mark.parametrize("wrong", [CubeGradientWrongInX, CubeGradientWrongInTheCotangent,
                                   CubeGradientOutsideTheGraph,
                                   CubeGradientIgnoringItsOwnCotangent,
                                   CubeGradientWithoutGyInX])
def test_gradgradcheck_rejects_an_error_only_in_the_second_derivative(wrong):
    rejects(mdl.gradgradcheck, cube_with(wrong), X)


def test_an_error_in_the_cotangent_shows_in_a_larger_graph():
    # inside cube(cube(x)) the inner op's cotangent depends on x, so the error of
    # CubeGradientWrongInTheCotangent changes the true second derivative there
    wrong = cube_with(CubeGradientWrongInTheCotangent)
    a = leaf(X[0, :2] * 0.5)
    g, = mdl.grad(wrong(wrong(a)).sum(), [a], create_graph=True)
    h, = mdl.grad(g.sum(), [a])
    x = X[0, :2] * 0.5
    assert not np.allclose(h.numpy(), 72 * x ** 7)  # d2/dx2 x^9 = 72 x^7
    rejects(mdl.gradgradcheck, lambda a: wrong(wrong(a)), X * 0.5)
