"""Keras's weight initializers, drawn in Keras's layout and by Keras's formulas.

An initializer is called with a weight's shape as Keras stores it (a Dense kernel is
(in, out), a Conv2D kernel (kh, kw, in, out)) and returns a NumPy array of it; the layer
then writes it into its minidl parameter in PyTorch's layout. The shape matters: the
fans of glorot and he are computed from it as Keras computes them, and orthogonal makes
the rows or columns of that matrix orthonormal.

Draws come from minidl's global generator (mdl.manual_seed, keras.utils.set_random_seed),
or from their own generator when an initializer is given a seed.
"""
import math

import numpy as np

from .. import backend


def compute_fans(shape):
    """(fan_in, fan_out) of a weight of Keras shape: (in, out) for a kernel, and for a
    convolution kernel (*window, in, out) both times the window's size."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: `initializer(shape, dtype=None)` -> a NumPy array of that shape."""

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        return backend.rng() if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=None):
        dtype = np.dtype(dtype or backend.default_dtype())
        return np.asarray(self.sample(tuple(shape), self._rng()), dtype=dtype)

    def sample(self, shape, rng):
        raise NotImplementedError


class Zeros(Initializer):
    def sample(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        self.value = value

    def sample(self, shape, rng):
        return np.full(shape, self.value)


class RandomUniform(Initializer):
    """U(minval, maxval); Keras's 'uniform' (an Embedding's default) is U(-0.05, 0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)


def _truncated_normal(rng, shape, stddev):
    """N(0, stddev^2) with every draw beyond 2 standard deviations drawn again."""
    values = rng.normal(0.0, 1.0, size=shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.normal(0.0, 1.0, size=int(outside.sum()))
        outside = np.abs(values) > 2
    return values * stddev


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape, rng):
        return self.mean + _truncated_normal(rng, shape, self.stddev)


class VarianceScaling(Initializer):
    """Draws of variance scale / n, n the fan_in, the fan_out or their mean (mode):

        uniform            U(-limit, limit), limit = sqrt(3 * scale / n)
        truncated_normal   stddev sqrt(scale / n) / 0.8796..., cut at two stddev (the
                           factor is the stddev of a unit normal cut at +-2, so the
                           draws end with variance scale / n)
        untruncated_normal N(0, scale / n)
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or "
                             f"'fan_avg', got {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def sample(self, shape, rng):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "truncated_normal":
            return _truncated_normal(rng, shape, math.sqrt(variance) / 0.87962566103423978)
        return rng.normal(0.0, math.sqrt(variance), size=shape)


class GlorotUniform(VarianceScaling):
    """U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)): Keras's default kernel."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


class Orthogonal(Initializer):
    """gain * a matrix with orthonormal rows or columns, whichever are fewer: Keras's
    default recurrent kernel. The shape is read as (prod(shape[:-1]), shape[-1]); the
    matrix is Q of the QR decomposition of a Gaussian matrix, its signs fixed by R's
    diagonal so that Q is uniformly distributed."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape, rng):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape must have at least 2 dims, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        gaussian = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(gaussian)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)


ALL = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "uniform": RandomUniform,
    "random_uniform": RandomUniform, "normal": RandomNormal, "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
}


def get(identifier):
    """An initializer from a name ('glorot_uniform'), an Initializer, or a function
    f(shape, dtype=None) -> array."""
    if isinstance(identifier, str):
        if identifier not in ALL:
            raise ValueError(f"Unknown initializer: {identifier!r}; the known ones are "
                             f"{sorted(ALL)}")
        return ALL[identifier]()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
