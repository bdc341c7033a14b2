"""Normalization: layer_norm and batch_norm, one standardizing op under both.

Both standardize, (x - mean) / sqrt(var + eps), over different axes: the
features of each example (layer norm) or each channel across the batch
(batch norm). One op, `Standardize`, does both; its backward is written with
tensor ops, so it can be differentiated twice.
"""
from .. import backend
from ..autograd import Function, increment_version
from .dtypes import check_input_dtype
from .reduce import mean
from .shape import reshape


class Standardize(Function):
    """xhat = (x - mean) / sqrt(var + eps), mean and (biased) var over `axes`.

    With r = 1/sqrt(var + eps) and N the number of elements averaged over,
    the gradient is

        gx = r * (gy - mean(gy) - xhat * mean(gy * xhat))

    (the two means remove the parts of gy that a shift or a rescaling of x
    would not change). xhat is this op's own output, so the backward is
    differentiable again.
    """

    def __init__(self, axes, eps):
        self.axes, self.eps = axes, eps

    def forward(self, x):
        centered = x - x.mean(axis=self.axes, keepdims=True)
        var = (centered * centered).mean(axis=self.axes, keepdims=True)
        return centered / self.xp.sqrt(var + self.eps)

    def backward(self, gy):
        x, xhat = self.inputs[0], self.output()
        centered = x - mean(x, self.axes, keepdims=True)
        r = (mean(centered * centered, self.axes, keepdims=True) + self.eps) ** -0.5
        return r * (gy - mean(gy, self.axes, keepdims=True)
                    - xhat * mean(gy * xhat, self.axes, keepdims=True))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Standardize over the last len(normalized_shape) dims, then scale and shift."""
    normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                        else tuple(normalized_shape))
    k = len(normalized_shape)
    if input.shape[input.ndim - k:] != normalized_shape or k > input.ndim:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end with the "
                         f"normalized shape {normalized_shape}")
    check_input_dtype("layer_norm", input, weight, bias)
    y = Standardize(tuple(range(input.ndim - k, input.ndim)), eps)(input)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected "
                             f"{normalized_shape}")
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):  # noqa: A002
    """Normalize each channel (dim 1) of input (N, C), (N, C, L) or (N, C, H, W).

    training=True: use this batch's mean and variance, and (if the running
    tensors are given) update them in place:
        running = (1 - momentum) * running + momentum * batch statistic,
    with the unbiased variance, as PyTorch does.
    training=False: use running_mean and running_var instead.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got shape {input.shape}")
    check_input_dtype("batch_norm", input, weight, bias, running_mean, running_var)
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} has shape {t.shape} but the input "
                             f"{input.shape} has {channels} channels")
    axes = (0,) + tuple(range(2, input.ndim))
    per_channel = (1, channels) + (1,) * (input.ndim - 2)  # broadcasts a (C,) vector over x
    if training:
        count = input.numel() // channels
        if count < 2:
            raise ValueError(f"batch_norm: training needs more than 1 value per channel, "
                             f"got input shape {input.shape}")
        if running_mean is not None:
            batch_mean = input.data.mean(axis=axes)
            batch_var = input.data.var(axis=axes) * (count / (count - 1))
            for running, batch in ((running_mean, batch_mean), (running_var, batch_var)):
                running.data *= 1 - momentum  # in place: state_dict() views stay current
                running.data += momentum * batch
                increment_version(running)
        y = Standardize(axes, eps)(input)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean "
                             "and running_var")
        shift = reshape(running_mean.detach(), per_channel)
        scale = reshape((running_var.detach() + eps) ** -0.5, per_channel)
        y = (input - shift) * scale
    if weight is not None:
        y = y * reshape(weight, per_channel)
    if bias is not None:
        y = y + reshape(bias, per_channel)
    return y
