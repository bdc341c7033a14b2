"""exp, tanh and sigmoid for numba kernels, written so that LLVM can vectorize them.

In a numba loop, math.exp and math.tanh are calls into the C library, one element at a
time: LLVM turns such calls into SIMD code only with Intel's SVML library, which numba
does not require. An LSTM step evaluates five of them per hidden unit, and those calls
would cost more than everything else in the step. The versions here are plain arithmetic
(a polynomial and a little bit arithmetic), which LLVM compiles into SIMD instructions
like any other loop body. They are within a few units in the last place of NumPy's, for
float32 and float64 (tests/test_recurrent_kernels.py checks them over each dtype's
range); numba compiles a version for each dtype, with that dtype's constants.

The reference versions are NumPy's: np.exp and np.tanh, which the "numpy" row of the
kernel table uses. Here:

    exp(y)     = 2^n exp(r), with n = round(y / ln 2), r = y - n ln 2, |r| <= ln(2) / 2
    expm1(r)   = exp(r) - 1 = r + r^2/2! + r^3/3! + ...   (Taylor, to r^8 in float32,
                 to r^13 in float64)
    2^n        is made from its bits: the exponent field holds n + bias
    exp(y)     = 2^n expm1(r) + 2^n,   expm1(y) = 2^n expm1(r) + (2^n - 1)
    tanh(x)    = -expm1(-2|x|) / (2 + expm1(-2|x|)), with the sign of x: expm1 keeps its
                 relative accuracy near 0, where exp(-2|x|) - 1 would cancel
    sigmoid(x) = 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) below

ln 2 is split into a short high part and the rest (Cody and Waite), so that n ln 2 is
subtracted exactly. Arguments are clamped where the result no longer changes (tanh is
+-1 to the last bit) or would leave the normal floats (sigmoid below exp(-87) in float32,
exp(-708) in float64, is returned as 0); NaN gives NaN.

Use them in a kernel compiled with fastmath=FLOAT (which also lets LLVM fuse a * b + c
into one FMA), e.g. `y[i] = tanh(x[i])`.
"""
import math
from decimal import Decimal

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from . import compiling  # noqa: F401 (the first compilation says so)

# numba options for kernels using these functions: division by zero gives inf or NaN
# (NumPy's rule) rather than raising, which would keep LLVM from vectorizing the loop;
# fastmath "contract" fuses multiply + add into one FMA (one rounding instead of two)
FLOAT = dict(error_model="numpy", fastmath={"contract"})

LN2 = Decimal("0.693147180559945309417232121458176568075500134360255254120680")


class _Constants:
    """One dtype's constants, as values of that dtype (so numba computes in that dtype)."""

    def __init__(self, dtype, high_bits, taylor_terms, tanh_saturates, exp_underflows):
        f = np.dtype(dtype).type
        ln2_high = math.floor(float(LN2) * 2 ** high_bits) / 2 ** high_bits  # n * this is exact
        self.log2e, self.ln2_high = f(1 / float(LN2)), f(ln2_high)
        self.ln2_low = f(LN2 - Decimal(ln2_high))
        self.taylor = tuple(f(1 / math.factorial(k)) for k in range(taylor_terms + 1, 1, -1))
        self.tanh_saturates, self.exp_underflows = f(tanh_saturates), f(exp_underflows)
        self.zero, self.half, self.one, self.two = f(0), f(0.5), f(1), f(2)


# tanh(x) rounds to 1 once 2 exp(-2x) is below half a unit in the last place of 1:
# x > 13 ln 2 = 9.01 in float32, x > 27.5 ln 2 = 19.06 in float64. exp(-a) is a normal
# float for a up to 87.3 (float32) or 708.4 (float64).
_CONSTANTS = {np.dtype(np.float32): _Constants(np.float32, 12, 7, 9.1, 87.0),
              np.dtype(np.float64): _Constants(np.float64, 32, 12, 19.1, 708.0)}


def _constants(numba_type):
    """The constants of a numba float type, or None for any other type."""
    if not isinstance(numba_type, types.Float):
        return None
    return _CONSTANTS.get(as_dtype(numba_type))


@intrinsic
def _pow2(typingctx, n):
    """2^n for an integer-valued float n in the normal range: the float whose exponent
    field is n + bias and whose mantissa is 0 (IEEE 754 layout)."""
    if n not in (types.float32, types.float64):
        return None
    bits, mantissa, bias, float_type = ((32, 23, 127, ir.FloatType()) if n == types.float32
                                        else (64, 52, 1023, ir.DoubleType()))

    def codegen(context, builder, signature, args):
        int_type = ir.IntType(bits)
        exponent = builder.add(builder.fptosi(args[0], int_type), ir.Constant(int_type, bias))
        return builder.bitcast(builder.shl(exponent, ir.Constant(int_type, mantissa)),
                               float_type)
    return n(n), codegen


def _exp_parts(y):
    """(expm1(r), 2^n) with y = n ln 2 + r (numba only)."""
    raise NotImplementedError("_exp_parts is for numba code")


@overload(_exp_parts, jit_options=FLOAT)
def _exp_parts_numba(y):
    c = _constants(y)
    if c is None:
        return None
    log2e, ln2_high, ln2_low, half = c.log2e, c.ln2_high, c.ln2_low, c.half
    first, rest = c.taylor[0], c.taylor[1:]

    def impl(y):
        n = np.floor(y * log2e + half)
        r = (y - n * ln2_high) - n * ln2_low
        p = first                       # Horner: ((r/k! + 1/(k-1)!) r + ...) r + 1/2!
        for coefficient in rest:
            p = p * r + coefficient
        return (p * r) * r + r, _pow2(n)
    return impl


def tanh(x):
    """tanh of a float32 or float64 scalar: vectorizable in numba code (module docstring);
    in Python, math.tanh."""
    return math.tanh(x)


@overload(tanh, jit_options=FLOAT)
def _tanh_numba(x):
    c = _constants(x)
    if c is None:
        return None
    saturates, one, two = c.tanh_saturates, c.one, c.two

    def impl(x):
        a = abs(x)
        a = a if a < saturates else saturates      # NaN becomes `saturates` here ...
        p, scale = _exp_parts(-two * a)
        em = scale * p + (scale - one)             # expm1(-2a), in (-1, 0]
        t = math.copysign(-em / (two + em), x)
        return t if x == x else x                  # ... and NaN again here
    return impl


def sigmoid(x):
    """1 / (1 + exp(-x)) of a float32 or float64 scalar: vectorizable in numba code
    (module docstring); in Python, with math.exp."""
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


@overload(sigmoid, jit_options=FLOAT)
def _sigmoid_numba(x):
    c = _constants(x)
    if c is None:
        return None
    underflows, zero, one = c.exp_underflows, c.zero, c.one

    def impl(x):
        a = abs(x)
        clamped = a if a < underflows else underflows
        p, scale = _exp_parts(-clamped)
        e = scale * p + scale                      # exp(-|x|)
        e = e if a <= underflows else zero         # (0 for NaN too, mended below)
        q = one / (one + e)
        s = q if x >= zero else e * q
        return s if x == x else x
    return impl
