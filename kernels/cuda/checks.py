"""The checks and preparation every caller of a GPU kernel makes, before any kernel runs.

Each raises an error naming the op and the shapes, dtypes or values involved; the
window arithmetic itself is kernels/geometry.py's, shared with the CPU kernels.
"""
import numpy as np

from ... import backend
from ..geometry import check_conv, check_grad_shape, check_pool


def check_arrays(op, *arrays):
    """Raise a TypeError naming op unless the arrays are on the GPU (CuPy arrays) and of
    one float dtype, float32 or float64."""
    for a in arrays:
        if backend.device_of(a) != "cuda":
            raise TypeError(f"{op}: expects arrays on the GPU (CuPy arrays, device 'cuda'), "
                            f"got {type(a).__module__}.{type(a).__name__}")
    dtypes = [np.dtype(a.dtype) for a in arrays]
    if len(set(dtypes)) != 1 or dtypes[0] not in (np.float32, np.float64):
        raise TypeError(f"{op}: needs float32 or float64 arrays, all of one dtype, got "
                        + ", ".join(map(str, dtypes)))


def contiguous(*arrays):
    """The arrays, C-contiguous (copied only where they are not), as the kernels index them."""
    xp = backend.get_array_module(arrays[0])
    return [xp.ascontiguousarray(a) for a in arrays]


def check_conv2d(op, x_shape, w_shape, stride, padding, dilation, groups):
    """(OH, OW), after checking that x (N, C, H, W) and w (O, C/G, KH, KW) can be convolved."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: input and weight must be 4-D (N, C, H, W) and (O, C, KH, KW), "
                         f"got shapes {tuple(x_shape)} and {tuple(w_shape)}")
    return check_conv(op, x_shape, w_shape, stride, padding, dilation, groups)


def check_pool2d(op, x_shape, kernel, stride, padding, dilation, ceil_mode):
    """(OH, OW), after checking that x (N, C, H, W) can be pooled so."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    return check_pool(op, x_shape, kernel, stride, padding, dilation, ceil_mode)


def check_gradient(op, gy, expected_shape):
    """Raise unless the output gradient gy has the output's shape."""
    check_grad_shape(op, gy.shape, expected_shape)


def check_argmax(op, argmax, gy):
    """Raise unless max pooling's argmax is an integer array shaped like the output."""
    if tuple(argmax.shape) != tuple(gy.shape) or np.dtype(argmax.dtype).kind not in "iu":
        raise ValueError(f"{op}: argmax must be an integer array of the output's shape "
                         f"{tuple(gy.shape)}, got {argmax.dtype} of shape {tuple(argmax.shape)}")


def averaging(op, count_include_pad, divisor_override):
    """Average pooling's last two kernel arguments: a bool, and the divisor (0: none)."""
    if divisor_override is not None and int(divisor_override) == 0:
        raise ValueError(f"{op}: divisor_override must not be zero")
    return bool(count_include_pad), int(divisor_override or 0)


# the shape of each array a recurrent step kernel takes, by argument name (kernels/recurrent.py):
# T steps, N batch rows, H hidden units, G gates
_STEP_SHAPES = {
    "xw": "TNG", "gates": "TNG", "gz": "TNG", "ghw": "TNG", "g_xw": "TNG",
    "hs": "SNH", "cs": "SNH",                        # S = T + 1: the states h_0 ... h_T
    "tanh_c": "TNH", "hw_n": "TNH", "g_hs": "TNH", "g_cs": "TNH",
    "hw": "NG", "gh": "NH", "gc": "NH", "carry": "NH", "b": "G",
}


def check_step(op, t, gate_count, /, **arrays):
    """(T, N, H) of a recurrent step's arrays, after checking that each has its shape
    (_STEP_SHAPES, with G = gate_count * H), that all are C-contiguous (the kernels write into
    them in place, so they cannot be copied) and that step t is one of the T."""
    states = arrays["hs"] if "hs" in arrays else arrays["cs"]
    if states.ndim != 3:
        raise ValueError(f"{op}: the states must be 3-D (T+1, N, H), got shape "
                         f"{tuple(states.shape)}")
    steps, batch, hidden = states.shape[0] - 1, states.shape[1], states.shape[2]
    size = {"T": steps, "S": steps + 1, "N": batch, "H": hidden, "G": gate_count * hidden}
    for name, a in arrays.items():
        expected = tuple(size[letter] for letter in _STEP_SHAPES[name])
        if tuple(a.shape) != expected:
            raise ValueError(f"{op}: {name} must have shape {expected} (T={steps} steps, "
                             f"N={batch}, H={hidden}, {gate_count} gate(s)), got {tuple(a.shape)}")
        if not a.flags.c_contiguous:
            raise ValueError(f"{op}: {name} must be C-contiguous (the step is written in "
                             "place), got a strided view")
    if not 0 <= t < steps:
        raise ValueError(f"{op}: step t={t} is outside the {steps} steps")
    return steps, batch, hidden
