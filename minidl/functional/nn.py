"""The ops behind the basic layers: linear, dropout, embedding, layer_norm, batch_norm.

- linear is one fused op, y = x W^T + b, with W in PyTorch's (out, in) layout.
- dropout multiplies by a random mask scaled by 1/(1-p) ("inverted" dropout),
  so nothing has to change at evaluation time, where it is the identity.
- embedding picks rows of the weight; its backward adds each row's gradient
  back into the row it came from (a token seen twice gets both).
- layer_norm and batch_norm both standardize, (x - mean) / sqrt(var + eps),
  over different axes: the features of each example (layer norm) or each
  channel across the batch (batch norm). One op, `Standardize`, does both.

Every backward is written with tensor ops, so all of these can be
differentiated twice.
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .linalg import matmul_arrays
from .reduce import mean, sum
from .shape import ScatterAdd, reshape


# ----------------------------------------------------------------------------
# linear
# ----------------------------------------------------------------------------
class Linear(Function):
    """y = x W^T (+ b) for x (..., in), W (out, in), b (out,).

    Backward: gx = gy W, gW = gy^T x and gb = sum of gy, the last two summed
    over every leading (batch) dim of x.

    Every leading dim of x is folded into one, so each product is a single
    2-D matrix product (one GEMM), whatever the number of batch dims.
    """

    def forward(self, x, w, b=None):
        rows = x.reshape(-1, x.shape[-1])
        y = matmul_arrays(rows, w.T).reshape(x.shape[:-1] + (w.shape[0],))
        return y if b is None else y + b

    def backward(self, gy):
        x, w = self.inputs[:2]
        gy_rows = reshape(gy, (-1, gy.shape[-1]))
        gx = reshape(gy_rows @ w, x.shape) if self.needs_input_grad[0] else None
        gw = gy_rows.T @ reshape(x, (-1, x.shape[-1])) if self.needs_input_grad[1] else None
        gb = None
        if len(self.inputs) == 3 and self.needs_input_grad[2]:
            gb = sum(gy_rows, 0)
        return gx, gw, gb


def linear(x, weight, bias=None):
    """x @ weight.T + bias, weight (out_features, in_features) as in PyTorch."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), "
                         f"got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} "
                         f"features but weight {weight.shape} expects {weight.shape[1]}")
    if bias is None:
        return Linear()(x, weight)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not match weight "
                         f"{weight.shape}: expected ({weight.shape[0]},)")
    return Linear()(x, weight, bias)


# ----------------------------------------------------------------------------
# dropout
# ----------------------------------------------------------------------------
def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p).

    The scaling keeps the expected value of every element unchanged, so at
    evaluation time (training=False) dropout is simply the identity. The
    mask is a constant, so this is an ordinary multiplication for autograd.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x
    xp = backend.get_array_module(x.data)
    if p == 1.0:
        return x * Tensor(xp.zeros(x.shape, dtype=x.dtype))
    if xp is backend.np:
        uniform = backend.rng().random(x.shape)
    else:  # draw on the GPU: copying a CPU mask over would cost more than the op
        uniform = xp.random.random(x.shape)
    mask = (uniform >= p).astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * Tensor(mask)


# ----------------------------------------------------------------------------
# embedding
# ----------------------------------------------------------------------------
class Embedding(Function):
    """weight[indices]: one row of the (num_embeddings, dim) weight per index.

    Backward adds the gradient of each output row into the weight row it was
    read from (`ScatterAdd`, whose own backward reads the rows again). The
    row `padding_idx`, if given, gets no gradient: it stays as initialized.
    """

    def __init__(self, indices, padding_idx):
        self.indices, self.padding_idx = indices, padding_idx

    def forward(self, weight):
        return weight[self.indices]

    def backward(self, gy):
        if self.padding_idx is not None:
            keep = (self.indices != self.padding_idx)[..., None].astype(gy.dtype)
            gy = gy * Tensor(keep)
        return ScatterAdd(self.indices, self.inputs[0].shape)(gy)


def embedding(indices, weight, padding_idx=None):
    """Rows of `weight` (num_embeddings, dim) for integer `indices` of any shape."""
    data = indices.data if isinstance(indices, Tensor) else indices
    xp = backend.get_array_module(weight.data)
    data = xp.asarray(data)
    if data.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {data.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), "
                         f"got shape {weight.shape}")
    num = weight.shape[0]
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num):
        bad = int(data.min()) if int(data.min()) < 0 else int(data.max())
        raise IndexError(f"embedding: index {bad} is out of range for {num} embeddings")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    return Embedding(data, padding_idx)(weight)


# ----------------------------------------------------------------------------
# standardization: layer_norm and batch_norm
# ----------------------------------------------------------------------------
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
        return centered / backend.get_array_module(x).sqrt(var + self.eps)

    def backward(self, gy):
        x, xhat = self.inputs[0], self.output()
        centered = x - mean(x, self.axes, keepdims=True)
        r = (mean(centered * centered, self.axes, keepdims=True) + self.eps) ** -0.5
        return r * (gy - mean(gy, self.axes, keepdims=True)
                    - xhat * mean(gy * xhat, self.axes, keepdims=True))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Standardize over the last len(normalized_shape) dims, then scale and shift."""
    normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                        else tuple(normalized_shape))
    k = len(normalized_shape)
    if x.shape[x.ndim - k:] != normalized_shape or k > x.ndim:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end with the "
                         f"normalized shape {normalized_shape}")
    y = Standardize(tuple(range(x.ndim - k, x.ndim)), eps)(x)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected "
                             f"{normalized_shape}")
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (dim 1) of x (N, C), (N, C, L) or (N, C, H, W).

    training=True: use this batch's mean and variance, and (if the running
    tensors are given) update them in place:
        running = (1 - momentum) * running + momentum * batch statistic,
    with the unbiased variance, as PyTorch does.
    training=False: use running_mean and running_var instead.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} has shape {t.shape} but the input "
                             f"{x.shape} has {channels} channels")
    axes = (0,) + tuple(range(2, x.ndim))
    per_channel = (1, channels) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector over x
    if training:
        count = x.size // channels
        if count < 2:
            raise ValueError(f"batch_norm: training needs more than 1 value per channel, "
                             f"got input shape {x.shape}")
        if running_mean is not None:
            batch_mean = x.data.mean(axis=axes)
            batch_var = x.data.var(axis=axes) * (count / (count - 1))
            for running, batch in ((running_mean, batch_mean), (running_var, batch_var)):
                running.data *= 1 - momentum  # in place: state_dict() views stay current
                running.data += momentum * batch
        y = Standardize(axes, eps)(x)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean "
                             "and running_var")
        shift = reshape(running_mean.detach(), per_channel)
        scale = reshape((running_var.detach() + eps) ** -0.5, per_channel)
        y = (x - shift) * scale
    if weight is not None:
        y = y * reshape(weight, per_channel)
    if bias is not None:
        y = y + reshape(bias, per_channel)
    return y
