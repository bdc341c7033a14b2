"""The TensorFlow functions Keras listings call beside Keras, with TensorFlow's signatures.

A tf.keras listing that does `import tensorflow as tf` runs with that line changed to
`from minidl.keras import tf`: tf.matmul(q, k, transpose_b=True), tf.nn.softmax,
tf.split, tf.concat, tf.math.sqrt, tf.cast(x, tf.float32), tf.random.set_seed, and
tf.keras.layers... (tf.keras is minidl.keras). Only these few; everything else is
minidl.keras.ops, Keras's own names.

Where TensorFlow and NumPy differ, these are TensorFlow's: split(x, [2, 3]) gives pieces
of sizes 2 and 3 (ops.split would cut before indices 2 and 3), transpose takes perm, and
reductions are reduce_sum, reduce_mean, reduce_max.
"""
import types

import numpy as np

from .. import functional as F
from . import ops
from .ops import symbolic_aware
from .utils import set_random_seed

op = symbolic_aware("tf")

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool = np.int32, np.int64, np.bool_  # noqa: A001 (TensorFlow's names)

cast, constant, convert_to_tensor = ops.cast, ops.convert_to_tensor, ops.convert_to_tensor
expand_dims, reshape, squeeze, stack, tile = (ops.expand_dims, ops.reshape, ops.squeeze,
                                               ops.stack, ops.tile)
sqrt, exp, ones, zeros, shape, where = ops.sqrt, ops.exp, ops.ones, ops.zeros, ops.shape, ops.where


@op
def matmul(a, b, transpose_a=False, transpose_b=False):
    """a @ b, after swapping the last two axes of a and/or b."""
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    if transpose_a:
        a = F.swapaxes(a, -1, -2)
    if transpose_b:
        b = F.swapaxes(b, -1, -2)
    return F.matmul(a, b)


@op
def split(value, num_or_size_splits, axis=0):
    """An int n: n equal pieces; a list: pieces of those sizes (TensorFlow's meaning)."""
    value = ops.convert_to_tensor(value)
    if isinstance(num_or_size_splits, (int, np.integer)):
        return ops.split(value, num_or_size_splits, axis)
    sizes = [int(n) for n in num_or_size_splits]
    if sum(sizes) != value.shape[axis]:
        raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, not the "
                         f"{value.shape[axis]} of axis {axis} (shape {value.shape})")
    return list(F.tensor_split(value, np.cumsum(sizes)[:-1].tolist(), axis))


def range(start, limit=None, delta=1, dtype=None):  # noqa: A001 (TensorFlow's name)
    """start, start + delta, ... below limit (range(n): 0 .. n - 1), as a Tensor."""
    return ops.arange(start, limit, delta, dtype=dtype)


@op
def concat(values, axis):
    return ops.concatenate(values, axis)


@op
def transpose(a, perm=None):
    return ops.transpose(a, perm)


@op
def reduce_sum(input_tensor, axis=None, keepdims=False):
    return ops.sum(input_tensor, axis, keepdims)


@op
def reduce_mean(input_tensor, axis=None, keepdims=False):
    return ops.mean(input_tensor, axis, keepdims)


@op
def reduce_max(input_tensor, axis=None, keepdims=False):
    return ops.max(input_tensor, axis, keepdims)


nn = types.SimpleNamespace(softmax=ops.softmax, relu=ops.relu, sigmoid=ops.sigmoid,
                           tanh=ops.tanh, gelu=ops.gelu, log_softmax=ops.log_softmax)
math = types.SimpleNamespace(sqrt=ops.sqrt, exp=ops.exp, log=ops.log, square=ops.square,
                             reduce_sum=reduce_sum, reduce_mean=reduce_mean,
                             reduce_max=reduce_max, maximum=ops.maximum, minimum=ops.minimum)
linalg = types.SimpleNamespace(matmul=matmul)
random = types.SimpleNamespace(set_seed=set_random_seed)
