"""The ops behind the dense layers: linear, embedding, dropout.

- linear is one fused op, y = x W^T + b, with W in PyTorch's (out, in) layout.
- embedding picks rows of the weight; its backward adds each row's gradient
  back into the row it came from (a token seen twice gets both).
- dropout multiplies by a random mask scaled by 1/(1-p) ("inverted" dropout),
  so nothing has to change at evaluation time, where it is the identity.

Every backward is written with tensor ops, so all of these can be
differentiated twice.
"""
from .. import backend
from ..autograd import Function, increment_version
from ..tensor import Tensor
from .dtypes import check_input_dtype
from .elementwise import mul
from .inplace import change
from .linalg import matmul_arrays
from .reduce import sum
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

    def flops(self, inputs, outputs):
        """For the profiler: the product's multiply-adds, 2 each (the bias, like PyTorch's
        count, is not counted)."""
        return 2 * outputs[0].size * inputs[0].shape[-1]

    def backward(self, gy):
        x, w = self.inputs[:2]
        gy_rows = reshape(gy, (-1, gy.shape[-1]))
        gx = reshape(gy_rows @ w, x.shape) if self.needs_input_grad[0] else None
        gw = gy_rows.T @ reshape(x, (-1, x.shape[-1])) if self.needs_input_grad[1] else None
        gb = None
        if len(self.inputs) == 3 and self.needs_input_grad[2]:
            gb = sum(gy_rows, 0)
        return gx, gw, gb


def linear(input, weight, bias=None):  # noqa: A002
    """input @ weight.T + bias, weight (out_features, in_features) as in PyTorch."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), "
                         f"got shape {weight.shape}")
    features = input.shape[-1] if input.ndim else 0
    if features != weight.shape[1]:
        raise ValueError(f"linear: input of shape {input.shape} has {features} "
                         f"features but weight {weight.shape} expects {weight.shape[1]}")
    check_input_dtype("linear", input, weight, bias)
    if bias is None:
        return Linear()(input, weight)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not match weight "
                         f"{weight.shape}: expected ({weight.shape[0]},)")
    return Linear()(input, weight, bias)


# ----------------------------------------------------------------------------
# dropout
# ----------------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002 (PyTorch's names)
    """Zero each element with probability p and scale the rest by 1/(1-p).

    The scaling keeps the expected value of every element unchanged, so at
    evaluation time (training=False) dropout is simply the identity. The
    mask is a constant, so this is an ordinary multiplication for autograd.
    inplace=True writes the result into input (as Tensor.mul_ would).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return input
    mask = Tensor(_dropout_mask(input, p))
    if inplace:
        return change(input, "dropout", mul, mask)
    return input * mask


def _dropout_mask(x, p):
    """0 with probability p, else 1 / (1 - p), in x's shape and dtype."""
    xp = backend.get_array_module(x.data)
    if p == 1.0:
        return xp.zeros(x.shape, dtype=x.dtype)
    if xp is backend.np:
        uniform = backend.rng().random(x.shape)
    else:  # draw on the GPU: copying a CPU mask over would cost more than the op
        uniform = xp.random.random(x.shape)
    return (uniform >= p).astype(x.dtype) / x.dtype.type(1.0 - p)


# ----------------------------------------------------------------------------
# embedding
# ----------------------------------------------------------------------------
class Embedding(Function):
    """weight[indices]: one row of the (num_embeddings, dim) weight per index.

    Backward adds the gradient of each output row into the weight row it was
    read from (`ScatterAdd`, whose own backward reads the rows again). The
    row `padding_idx`, if given, gets no gradient: it stays as initialized.
    With scale_grad_by_freq, each row's gradient is divided by the number of
    times its index occurs.
    """

    def __init__(self, indices, padding_idx, scale_grad_by_freq=False):
        self.indices, self.padding_idx = indices, padding_idx
        self.scale_grad_by_freq = scale_grad_by_freq

    def forward(self, weight):
        return weight[self.indices]

    def backward(self, gy):
        xp = backend.get_array_module(gy.data)
        scale = xp.ones(self.indices.shape, dtype=gy.dtype)
        if self.padding_idx is not None:
            scale *= self.indices != self.padding_idx
        if self.scale_grad_by_freq:
            counts = xp.bincount(self.indices.reshape(-1), minlength=self.inputs[0].shape[0])
            scale /= counts[self.indices]
        if self.padding_idx is not None or self.scale_grad_by_freq:
            gy = gy * Tensor(scale[..., None])
        return ScatterAdd(self.indices, self.inputs[0].shape)(gy)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` (num_embeddings, dim) for the integer indices `input` (any shape).

    max_norm: first scale down, in place and outside the graph, each row that input
    refers to whose norm_type-norm exceeds max_norm, to that norm (PyTorch's renorm).
    scale_grad_by_freq: divide each row's gradient by how often input uses it.
    """
    check_dense_gradients(sparse, "embedding")
    data = input.data if isinstance(input, Tensor) else input
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
    if max_norm is not None:
        _renorm_rows(weight, data, max_norm, norm_type)
    return Embedding(data, padding_idx, scale_grad_by_freq)(weight)


def _renorm_rows(weight, indices, max_norm, norm_type):
    """Scale each row of weight that indices use to norm at most max_norm, in place."""
    xp = backend.get_array_module(weight.data)
    rows = xp.unique(indices)
    norms = xp.linalg.norm(weight.data[rows], ord=norm_type, axis=1)
    over = norms > max_norm
    scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)  # PyTorch's 1e-7
    weight.data[rows[over]] *= scale[:, None]
    increment_version(weight)


def check_dense_gradients(sparse, op):
    if sparse:
        raise NotImplementedError(f"{op}: sparse=True (sparse gradients) is not supported; "
                                  "minidl's gradients are dense")
