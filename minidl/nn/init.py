"""Weight initialization: fill a tensor in place with PyTorch's formulas.

Why it matters: if every layer multiplies the size of its signal by more
than 1 the activations explode with depth, by less than 1 they vanish.
Xavier/Glorot (tanh, sigmoid) and Kaiming/He (ReLU) pick the spread of the
weights from the layer's fan-in and fan-out so that the variance of the
signal stays about the same from layer to layer.

All draws come from `minidl.backend.rng()`, so `mdl.manual_seed(s)` makes
them reproducible, on the CPU and the GPU alike (the numbers are drawn on
the CPU and then copied).
"""
import math

import numpy as np

from .. import backend
from ..autograd import increment_version


def _fill(tensor, values):
    """Write `values` (a NumPy array or number) into tensor.data in place.

    Bumping the version makes a backward through a graph that used the old
    values refuse to run, instead of silently using the new ones."""
    values = np.asarray(values, dtype=tensor.dtype)
    tensor.data[...] = backend.to_device(values, tensor.device)
    increment_version(tensor)
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with draws from U(a, b)."""
    return _fill(tensor, backend.rng().uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with draws from N(mean, std^2)."""
    return _fill(tensor, backend.rng().normal(mean, std, size=tensor.shape))


def constant_(tensor, val):
    """Fill with the value val."""
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def calculate_fan_in_and_fan_out(tensor):
    """fan_in = in_features * receptive field, fan_out = out_features * receptive field.

    The weight layouts are (out, in) for Linear and (out_c, in_c, kh, kw) for
    Conv2d, so the receptive field is the product of the dims after the second.
    """
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dims, "
                         f"got shape {tensor.shape}")
    receptive_field = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps the signal's variance through `nonlinearity`
    (sqrt(2) for ReLU, which zeroes half of it; 5/3 for tanh; the int 1 for the linear
    layers and sigmoid, as PyTorch returns it)."""
    linear = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def xavier_uniform_(tensor, gain=1.0):
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', not {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He et al. (2015): U(-b, b) with b = gain * sqrt(3 / fan).

    `a` is the negative slope of the leaky ReLU that follows. PyTorch's Linear
    and Conv2d use a = sqrt(5), which works out to b = 1 / sqrt(fan_in).
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He et al. (2015): N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
