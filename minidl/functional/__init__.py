"""Differentiable ops, one file per family (import as `import minidl.functional as F`).

This module is also `minidl.nn.functional`, so PyTorch's habit
`import torch.nn.functional as F` carries over.
"""
from .activation import (
    elu, erf, gelu, hardtanh, leaky_relu, log_softmax, logsigmoid, logsumexp, relu, selu, sigmoid,
    silu, softmax, softplus, softsign, tanh,
)
from .attention import attention_weights, scaled_dot_product_attention
from .conv import conv1d, conv2d
from .dense import dropout, embedding, linear
from .elementwise import (
    abs, add, cast, clamp, clip, clone, div, eq, exp, ge, gt, le, log, lt, masked_fill, maximum,
    minimum, mul, ne, neg, pow, sqrt, square, sub, to_device, true_divide, where,
)
from .linalg import matmul
from .loss import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
    nll_loss,
)
from .normalization import batch_norm, layer_norm
from .pad import pad
from .pool import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d,
)
from .reduce import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from .shape import (
    broadcast_to, cat, chunk, concat, concatenate, expand, expand_as, expand_dims, flatten,
    gather, getitem, movedim, permute, repeat, reshape, split, squeeze, stack, sum_to, swapaxes,
    swapdims, t, take_along_dim, tensor_split, tile, transpose, unbind, unflatten, unsqueeze,
    view,
)
