"""Differentiable ops, one file per family (import as `import minidl.functional as F`)."""
from .activation import (
    erf, gelu, leaky_relu, log_softmax, logsumexp, relu, sigmoid, softmax, tanh,
)
from .attention import scaled_dot_product_attention
from .conv import conv1d, conv2d
from .elementwise import (
    abs, add, cast, clip, compare, div, exp, log, maximum, minimum, mul, neg, pow, sqrt, sub,
    to_device, where,
)
from .linalg import matmul
from .loss import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
    nll_loss,
)
from .nn import batch_norm, dropout, embedding, layer_norm, linear
from .pad import pad
from .pool import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d,
)
from .reduce import argmax, argmin, max, mean, min, std, sum, var
from .shape import (
    broadcast_to, cat, concat, expand_dims, flatten, getitem, permute, reshape, split, squeeze,
    stack, sum_to, swapaxes, transpose, unsqueeze,
)

clamp = clip
