"""Conv1D and Conv2D on channels-last inputs, on nn.Conv1d and nn.Conv2d.

Keras's images are (batch, height, width, channels), minidl's (PyTorch's) (batch,
channels, height, width): the layer moves the channels to the front, runs the minidl
module, and moves them back. The kernel is stored (out, in, kh, kw) by minidl and
(kh, kw, in, out) by Keras: the same numbers, permuted. Keras's initialization:
glorot-uniform kernel, zero bias.

padding="same" is TensorFlow's: the output has ceil(size / stride) positions, and the
padding that needs, (out - 1) * stride + window - size in all, is split with the odd one
after. With stride 1 that is nn.Conv2d's padding="same"; with larger strides too, which
PyTorch does not allow, so the layer pads explicitly (F.pad) and convolves without padding.
Conv1D also has padding="causal": all of it before, so step t sees only steps <= t.
"""
from ... import functional as F
from ... import nn
from ...functional.conv import as_tuple
from .. import activations
from .base import InputSpec, Layer


def same_padding(sizes, windows, strides, dilations=None):
    """TensorFlow's "same" padding of each spatial dim: a (before, after) pair each."""
    dilations = dilations or (1,) * len(sizes)
    pairs = []
    for size, window, stride, dilation in zip(sizes, windows, strides, dilations):
        extent = (window - 1) * dilation + 1
        out = -(-size // stride)
        total = max((out - 1) * stride + extent - size, 0)
        pairs.append((total // 2, total - total // 2))
    return pairs


def pad_spatial(x, pairs, value=0.0):
    """Pad the spatial dims of channels-first x (batch, channels, *spatial) by pairs."""
    widths = tuple(w for pair in reversed(pairs) for w in pair)
    return F.pad(x, widths, value=value) if any(widths) else x


def channels_first(x):
    """(batch, *spatial, channels) -> (batch, channels, *spatial)."""
    return F.permute(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))


def channels_last(x):
    """(batch, channels, *spatial) -> (batch, *spatial, channels)."""
    return F.permute(x, (0,) + tuple(range(2, x.ndim)) + (1,))


class _Conv(Layer):
    """What Conv1D and Conv2D share; `rank` is the number of spatial dims."""

    rank = None
    module_class = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        paddings = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        if padding not in paddings:
            raise ValueError(f"{name}: padding must be one of {paddings}, got {padding!r}")
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{name}: data_format must be 'channels_last' or "
                             f"'channels_first', got {data_format!r}")
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"{name}: filters must be a positive int, got {filters!r}")
        self.filters, self.padding, self.groups, self.use_bias = filters, padding, groups, use_bias
        self.kernel_size = as_tuple(kernel_size, self.rank, "kernel_size", name)
        self.strides = as_tuple(strides, self.rank, "strides", name)
        self.dilation_rate = as_tuple(dilation_rate, self.rank, "dilation_rate", name)
        self.data_format = data_format or "channels_last"
        self.activation = activations.get(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def build(self, input_shape):
        channel_axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[channel_axis]
        if channels is None:
            raise ValueError(f"{type(self).__name__}: the number of input channels must be "
                             f"known, got input shape {input_shape}")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={channel_axis: channels})
        self.conv = self.module_class(channels, self.filters, self.kernel_size,
                                      stride=self.strides, dilation=self.dilation_rate,
                                      groups=self.groups, bias=self.use_bias, dtype=self.dtype)
        # minidl (out, in, *window) -> Keras (*window, in, out)
        axes = tuple(range(2, self.rank + 2)) + (1, 0)
        self.kernel = self._add_view("kernel", self.conv.weight, axes=axes,
                                     initializer=self.kernel_initializer)
        self.bias = self._add_view("bias", self.conv.bias, initializer=self.bias_initializer) \
            if self.use_bias else None

    def call(self, inputs):
        x = channels_first(inputs) if self.data_format == "channels_last" else inputs
        if self.padding == "same":
            x = pad_spatial(x, same_padding(x.shape[2:], self.kernel_size, self.strides,
                                            self.dilation_rate))
        elif self.padding == "causal":
            x = pad_spatial(x, [((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)])
        y = self.conv(x)
        y = channels_last(y) if self.data_format == "channels_last" else y
        return self.activation(y)


class Conv1D(_Conv):
    """(batch, steps, channels) -> (batch, new steps, filters); kernel (k, in, filters)."""

    rank = 1
    module_class = nn.Conv1d


class Conv2D(_Conv):
    """(batch, height, width, channels) -> (batch, new height, new width, filters);
    kernel (kh, kw, in, filters)."""

    rank = 2
    module_class = nn.Conv2d
