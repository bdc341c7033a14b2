"""Pooling on channels-last inputs: Max/AveragePooling1D/2D on nn.MaxPool and nn.AvgPool,
and the global poolings (the maximum or mean over all steps or positions).

As with the convolutions, the layer moves the channels to the front for the minidl
module and back. strides default to the pool size. padding="same" is TensorFlow's (see
conv.py): a maximum ignores the padding (it pads with -inf), and a mean averages over the
real positions of each window only, which is the mean of the zero-padded window divided
by the share of it that is real.
"""
import numpy as np

from ... import functional as F
from ... import nn
from ...functional.conv import as_tuple
from ...tensor import Tensor
from .base import InputSpec, Layer
from .conv import channels_first, channels_last, pad_spatial, same_padding


class _Pooling(Layer):
    rank = None
    module_class = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        if padding not in ("valid", "same"):
            raise ValueError(f"{name}: padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = as_tuple(pool_size, self.rank, "pool_size", name)
        self.strides = self.pool_size if strides is None else as_tuple(strides, self.rank,
                                                                       "strides", name)
        self.padding = padding
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.pool = self.module_class(self.pool_size, stride=self.strides)

    def call(self, inputs):
        x = channels_first(inputs) if self.data_format == "channels_last" else inputs
        if self.padding == "same":
            x = self.pool_same(x, same_padding(x.shape[2:], self.pool_size, self.strides))
        else:
            x = self.pool(x)
        return channels_last(x) if self.data_format == "channels_last" else x


class _MaxPooling(_Pooling):
    def pool_same(self, x, pairs):
        return self.pool(pad_spatial(x, pairs, value=-np.inf))


class _AveragePooling(_Pooling):
    def pool_same(self, x, pairs):
        real = Tensor(np.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype))
        return self.pool(pad_spatial(x, pairs)) / self.pool(pad_spatial(real, pairs))


class MaxPooling1D(_MaxPooling):
    rank = 1
    module_class = nn.MaxPool1d


class MaxPooling2D(_MaxPooling):
    rank = 2
    module_class = nn.MaxPool2d

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_AveragePooling):
    rank = 1
    module_class = nn.AvgPool1d


class AveragePooling2D(_AveragePooling):
    rank = 2
    module_class = nn.AvgPool2d

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling(Layer):
    rank = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def spatial_axes(self):
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps: (batch, steps, channels) -> (batch, channels). With a mask
    (an Embedding with mask_zero=True), the mean over the unmasked steps."""

    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        axis = self.spatial_axes()[0]
        if mask is None:
            return F.mean(inputs, axis, self.keepdims)
        weights = F.cast(mask, inputs.dtype)
        weights = F.unsqueeze(weights, -1 if self.data_format == "channels_last" else 1)
        total = F.sum(inputs * weights, axis, self.keepdims)
        return total / F.sum(weights, axis, self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    rank = 2

    def call(self, inputs):
        return F.mean(inputs, self.spatial_axes(), self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling):
    """The maximum over the steps: (batch, steps, channels) -> (batch, channels)."""

    rank = 1

    def call(self, inputs):
        return F.amax(inputs, self.spatial_axes(), self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling):
    rank = 2

    def call(self, inputs):
        return F.amax(inputs, self.spatial_axes(), self.keepdims)
