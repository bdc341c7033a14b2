"""Window geometry, once: how many outputs a sliding window makes, and the checks.

A convolution or a pooling slides a window of k taps, `dilation` apart, along an
axis of `size` elements with `padding` added on each side, `stride` at a time:

    out = (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1

(pooling with ceil_mode rounds the division up, keeping a last, shorter window).
The kernels in this folder and the ops in minidl.functional ask this file; each
check raises a ValueError that names the op and the shapes.
"""
import numpy as np


def conv_output_size(size, k, stride, padding, dilation):
    """The number of windows along one axis of a convolution."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def pooled_size(size, k, stride, padding, dilation=1, ceil_mode=False):
    """The number of windows along one axis of a pooling (PyTorch's rule)."""
    room = size + 2 * padding - dilation * (k - 1) - 1  # where the last window may start
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # that window would start in the bottom/right padding
    return out


def window_in_padding(size, k, stride, padding, dilation, out):
    """Whether some window along an axis has no tap inside the input (dilated windows
    can step over it). PyTorch's result is undefined there: such a pooling is refused."""
    taps = np.arange(out)[:, None] * stride - padding + np.arange(k)[None, :] * dilation
    return not ((taps >= 0) & (taps < size)).any(axis=1).all()


def _check_steps(op, stride, padding, dilation):
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be >= 1 and padding >= 0, got "
                         f"stride={tuple(stride)}, padding={tuple(padding)}, "
                         f"dilation={tuple(dilation)}")


def _does_not_fit(op, x_shape, kernel, padding, dilation):
    size = x_shape[2:]
    reach = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]  # the window's span
    return ValueError(f"{op}: a {'x'.join(map(str, reach))} window (kernel {tuple(kernel)}, "
                      f"dilation {tuple(dilation)}) does not fit in the "
                      f"{'x'.join(map(str, size))} input with padding {tuple(padding)} "
                      f"(input shape {tuple(x_shape)})")


def check_conv(op, x_shape, w_shape, stride, padding, dilation, groups):
    """x (N, C, *spatial) and w (O, C / groups, *kernel): raise unless they can be
    convolved; return the output's spatial sizes."""
    if len(x_shape) != len(w_shape) or len(x_shape) < 3:
        raise ValueError(f"{op}: input and weight must be (N, C, ...) and (O, C / groups, ...) "
                         f"with as many dims, got shapes {tuple(x_shape)} and {tuple(w_shape)}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if w_shape[0] % groups:
        raise ValueError(f"{op}: weight has {w_shape[0]} output channels, which "
                         f"groups={groups} does not divide (weight {tuple(w_shape)})")
    if x_shape[1] != w_shape[1] * groups:
        per_group = f" ({w_shape[1]} per group x groups={groups})" if groups > 1 else ""
        raise ValueError(f"{op}: input has {x_shape[1]} channels but weight expects "
                         f"{w_shape[1] * groups}{per_group} (input {tuple(x_shape)}, "
                         f"weight {tuple(w_shape)})")
    _check_steps(op, stride, padding, dilation)
    kernel = w_shape[2:]
    out = tuple(conv_output_size(*axis) for axis in
                zip(x_shape[2:], kernel, stride, padding, dilation))
    if min(out) < 1:
        raise _does_not_fit(op, x_shape, kernel, padding, dilation)
    return out


def check_pool(op, x_shape, kernel, stride, padding, dilation, ceil_mode):
    """x (N, C, *spatial): raise unless every window has taps in the input and padding
    is at most half the kernel; return the output's spatial sizes."""
    if min(kernel) < 1:
        raise ValueError(f"{op}: kernel_size must be >= 1, got {tuple(kernel)}")
    _check_steps(op, stride, padding, dilation)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {tuple(padding)} must be at most half the kernel "
                         f"{tuple(kernel)}")
    axes = list(zip(x_shape[2:], kernel, stride, padding, dilation))
    out = tuple(pooled_size(*axis, ceil_mode) for axis in axes)
    if min(out) < 1:
        raise _does_not_fit(op, x_shape, kernel, padding, dilation)
    if any(window_in_padding(*axis, n) for axis, n in zip(axes, out)):
        raise ValueError(f"{op}: with kernel {tuple(kernel)}, stride {tuple(stride)}, padding "
                         f"{tuple(padding)} and dilation {tuple(dilation)}, a window of the "
                         f"{'x'.join(map(str, x_shape[2:]))} input has all its taps in the "
                         "padding")
    return out


def check_grad_shape(op, gy_shape, expected):
    if tuple(gy_shape) != tuple(expected):
        raise ValueError(f"{op}: output gradient has shape {tuple(gy_shape)}, expected "
                         f"{tuple(expected)}")
