"""BatchNormalization and LayerNormalization over the last axis, on nn.BatchNorm1d and
nn.LayerNorm.

Keras's gamma, beta, moving_mean and moving_variance are the module's weight, bias,
running_mean and running_var. Keras differs from PyTorch in three numbers and one
formula: epsilon 1e-3 (PyTorch 1e-5); momentum 0.99 is the weight of the *old* moving
average (PyTorch's momentum 0.1 is the weight of the new batch); and the moving variance
averages the batch's biased variance (dividing by n), where PyTorch's uses the unbiased one
(n - 1). So in training the layer normalizes with the module's op (F.batch_norm, the batch
statistics) and updates the moving averages itself, Keras's way; in inference it computes
what the module computes in eval mode.
"""

from ... import functional as F
from ... import nn
from ...autograd import increment_version, no_grad
from .base import InputSpec, Layer


def _check_last_axis(name, axis):
    if axis not in (-1, None) and not isinstance(axis, int):
        raise ValueError(f"{name}: axis must be an int, got {axis!r}")


class BatchNormalization(Layer):
    """Normalize each channel (the last axis) over the batch and every other axis."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        _check_last_axis("BatchNormalization", axis)
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.center, self.scale = center, scale
        self.initializers = dict(gamma=gamma_initializer, beta=beta_initializer,
                                 moving_mean=moving_mean_initializer,
                                 moving_variance=moving_variance_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if self.axis not in (-1, len(input_shape) - 1):
            raise NotImplementedError("BatchNormalization: only the last axis (channels "
                                      f"last) is supported, got axis={self.axis}")
        channels = input_shape[-1]
        self.input_spec = InputSpec(min_ndim=2, axes={-1: channels})
        self.norm = nn.BatchNorm1d(channels, eps=self.epsilon, momentum=1 - self.momentum,
                                   bias=self.center, dtype=self.dtype)
        if self.scale:
            self.gamma = self._add_view("gamma", self.norm.weight,
                                        initializer=self.initializers["gamma"])
        else:
            self.norm.weight.requires_grad = False   # stays 1: no scale
        if self.center:
            self.beta = self._add_view("beta", self.norm.bias,
                                       initializer=self.initializers["beta"])
        self.moving_mean = self._add_view("moving_mean", self.norm.running_mean,
                                          initializer=self.initializers["moving_mean"],
                                          trainable=False)
        self.moving_variance = self._add_view("moving_variance", self.norm.running_var,
                                              initializer=self.initializers["moving_variance"],
                                              trainable=False)

    def call(self, inputs, training=False):
        channels = inputs.shape[-1]
        rows = F.reshape(inputs, (-1, channels))           # every position is a sample
        if training:
            y = F.batch_norm(rows, None, None, self.norm.weight, self.norm.bias,
                             training=True, eps=self.epsilon)
            self._update_moving_averages(rows)
        else:   # what self.norm computes in eval mode
            y = F.batch_norm(rows, self.norm.running_mean, self.norm.running_var,
                             self.norm.weight, self.norm.bias, training=False, eps=self.epsilon)
        return F.reshape(y, inputs.shape)

    def _update_moving_averages(self, rows):
        """moving = momentum * moving + (1 - momentum) * batch (biased variance): Keras's."""
        data = rows.data
        with no_grad():
            for moving, batch in ((self.norm.running_mean, data.mean(axis=0)),
                                  (self.norm.running_var, data.var(axis=0))):
                moving.data *= self.momentum
                moving.data += (1 - self.momentum) * batch.astype(moving.dtype)
                increment_version(moving)


class LayerNormalization(Layer):
    """Normalize each sample over its last axis: (x - mean) / sqrt(var + epsilon) * gamma
    + beta, on nn.LayerNorm (with Keras's epsilon, 1e-3)."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        _check_last_axis("LayerNormalization", axis)
        if center and not scale:
            raise NotImplementedError("LayerNormalization: center=True with scale=False is "
                                      "not supported")
        self.axis, self.epsilon, self.center, self.scale = axis, epsilon, center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.supports_masking = True

    def build(self, input_shape):
        if self.axis not in (-1, len(input_shape) - 1):
            raise NotImplementedError("LayerNormalization: only the last axis is supported, "
                                      f"got axis={self.axis}")
        features = input_shape[-1]
        self.input_spec = InputSpec(min_ndim=2, axes={-1: features})
        self.norm = nn.LayerNorm(features, eps=self.epsilon, elementwise_affine=self.scale,
                                 bias=self.center, dtype=self.dtype)
        if self.scale:
            self.gamma = self._add_view("gamma", self.norm.weight,
                                        initializer=self.gamma_initializer)
        if self.center:
            self.beta = self._add_view("beta", self.norm.bias, initializer=self.beta_initializer)

    def call(self, inputs):
        return self.norm(inputs)


