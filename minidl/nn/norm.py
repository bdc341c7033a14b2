"""Normalization layers: LayerNorm, BatchNorm1d, BatchNorm2d.

Both standardize activations to mean 0 and variance 1 and then apply a
learned scale (weight) and shift (bias), which keeps the inputs of the next
layer in a range where training is easy.
- LayerNorm averages over the features of each example, so it behaves the
  same in training and evaluation and for any batch size (transformers).
- BatchNorm averages each channel over the batch (and the pixels). At
  evaluation time there may be a single example, so it then uses running
  averages of the batch statistics collected during training (buffers,
  saved in the state_dict).
"""
import numpy as np

from .. import functional as F
from ..autograd import increment_version
from ..creation import ones, tensor, zeros
from .module import Module, Parameter


class LayerNorm(Module):
    """Normalize over the last dims given by normalized_shape (an int or a tuple).

    weight starts at ones, bias at zeros (PyTorch's init); elementwise_affine=False
    leaves them out.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        make = dict(dtype=dtype, device=device or "cpu")
        self.weight = (Parameter(ones(*self.normalized_shape, **make))
                       if elementwise_affine else None)
        self.bias = (Parameter(zeros(*self.normalized_shape, **make))
                     if elementwise_affine and bias else None)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class _BatchNorm(Module):
    """Batch normalization over dim 1 (the channels).

    weight starts at ones, bias at zeros (bias=False leaves it out); buffers
    running_mean (zeros), running_var (ones) and num_batches_tracked, named as
    in PyTorch so that its state dicts load. momentum=None averages all
    batches seen equally.
    """
    expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        make = dict(dtype=dtype, device=device or "cpu")
        self.weight = Parameter(ones(num_features, **make)) if affine else None
        self.bias = Parameter(zeros(num_features, **make)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, **make))
            self.register_buffer("running_var", ones(num_features, **make))
            self.register_buffer("num_batches_tracked",
                                 tensor(0, dtype=np.int64, device=device or "cpu"))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, input):
        if input.ndim not in self.expected_dims:
            dims = " or ".join(f"{n}-D" for n in self.expected_dims)
            raise ValueError(f"{type(self).__name__}: expected a {dims} input, "
                             f"got shape {input.shape}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            increment_version(self.num_batches_tracked)
            if momentum is None:  # cumulative moving average: 1/1, 1/2, 1/3, ...
                momentum = 1.0 / int(self.num_batches_tracked.item())
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training or not self.track_running_stats,
                            momentum=momentum or 0.0, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C."""
    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images (N, C, H, W), per channel C."""
    expected_dims = (4,)
