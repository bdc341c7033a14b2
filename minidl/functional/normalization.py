"""Normalization: layer_norm and batch_norm.

Both standardize, (x - mean) / sqrt(var + eps), over different axes: the
features of each example (layer norm) or each channel across the batch
(batch norm). `Standardize` is that step alone, its backward written with
tensor ops, so it can be differentiated twice; batch_norm uses it.

layer_norm, in every transformer block, is one op instead, `LayerNorm`:
standardize, scale and shift in one fused kernel (kernels/fused.py), and its
three gradients in one pass over the rows.
"""
from .. import backend
from ..autograd import Function, increment_version, is_grad_enabled
from ..tensor import Tensor
from .dtypes import check_input_dtype
from .reduce import mean, sum
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
        return _standardize_backward(self.inputs[0], self.output(), gy, self.axes, self.eps)


def _standardize_backward(x, xhat, gy, axes, eps):
    """r * (gy - mean(gy) - xhat * mean(gy * xhat)) in tensor ops (Standardize's docstring)."""
    centered = x - mean(x, axes, keepdims=True)
    r = (mean(centered * centered, axes, keepdims=True) + eps) ** -0.5
    return r * (gy - mean(gy, axes, keepdims=True)
                - xhat * mean(gy * xhat, axes, keepdims=True))


class LayerNorm(Function):
    """y = xhat * weight + bias, xhat x standardized over its last `normalized_ndim` dims;
    the inputs are (x), (x, weight) or (x, weight, bias).

    The forward kernel keeps each row's mean and rstd = 1/sqrt(var + eps). The gradients,
    with g = gy * weight:

        gx = rstd * (g - mean(g) - xhat * mean(g * xhat))   (Standardize's, for g)
        gweight = sum of gy * xhat,  gbias = sum of gy      (over the leading dims)

    Under no_grad (a plain backward) one fused kernel computes all three in one pass
    over the rows. When a graph is recorded (create_graph) they are built from
    differentiable ops instead (Standardize for xhat), so that they can be
    differentiated again; both compute the same formulas.
    """

    def __init__(self, normalized_ndim, eps):
        self.normalized_ndim, self.eps = normalized_ndim, eps

    def forward(self, x, weight=None, bias=None):
        y, self.mean, self.rstd = backend.kernels_for(x).layer_norm_forward(
            x, self.normalized_ndim, weight, bias, self.eps)
        return y

    def backward(self, gy):
        x, *weight_bias = self.inputs
        weight = weight_bias[0] if weight_bias else None
        if is_grad_enabled():
            grads = self._backward_in_tensor_ops(gy, x, weight)
        else:
            grads = [Tensor(g) for g in backend.kernels_for(gy.data).layer_norm_backward(
                gy.data, x.data, self.mean, self.rstd, None if weight is None else weight.data)]
        return tuple(grads[:len(self.inputs)])

    def _backward_in_tensor_ops(self, gy, x, weight):
        axes = tuple(range(x.ndim - self.normalized_ndim, x.ndim))
        leading = tuple(range(x.ndim - self.normalized_ndim))
        xhat = Standardize(axes, self.eps)(x)
        g = gy if weight is None else gy * weight
        return (_standardize_backward(x, xhat, g, axes, self.eps),
                sum(gy * xhat, leading), sum(gy, leading))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Standardize over the last len(normalized_shape) dims, then scale and shift (one
    LayerNorm op)."""
    normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                        else tuple(normalized_shape))
    k = len(normalized_shape)
    if input.shape[input.ndim - k:] != normalized_shape or k > input.ndim:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end with the "
                         f"normalized shape {normalized_shape}")
    check_input_dtype("layer_norm", input, weight, bias)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected "
                             f"{normalized_shape}")
    if weight is None and bias is not None:   # a bias alone
        return LayerNorm(k, eps)(input) + bias
    return LayerNorm(k, eps)(input, *[p for p in (weight, bias) if p is not None])


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
