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
from ..autograd import Function
from ..tensor import Tensor
from .dtypes import check_input_dtype
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
    check_input_dtype("linear", x, weight, bias)
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
