"""minidl.keras.ops (Keras 3's array functions, NumPy's meanings) and minidl.keras.tf (the
TensorFlow spellings listings call), eagerly and on KerasTensors inside a model."""
import numpy as np
import pytest

import minidl as mdl
from minidl import keras
from minidl.keras import layers, ops, tf

RNG = np.random.default_rng(0)
A = RNG.normal(size=(2, 3, 4)).astype(np.float32)
B = RNG.normal(size=(2, 4, 5)).astype(np.float32)


def close(tensor, expected, rtol=1e-5):
    np.testing.assert_allclose(tensor.numpy() if hasattr(tensor, "numpy") else tensor,
                               expected, rtol=rtol, atol=1e-6)


def test_ops_are_numpy():
    close(ops.matmul(A, B), A @ B)
    softmax = np.exp(A) / np.exp(A).sum(-1, keepdims=True)
    close(ops.softmax(A), softmax)
    close(ops.nn.softmax(A, axis=1), np.exp(A) / np.exp(A).sum(1, keepdims=True))
    close(ops.concatenate([A, A], axis=1), np.concatenate([A, A], 1))
    close(ops.sqrt(np.abs(A)), np.sqrt(np.abs(A)))
    assert ops.cast(A, "int32").dtype == np.int32
    close(ops.expand_dims(A, 1), A[:, None])
    close(ops.tile(A, (1, 2, 1)), np.tile(A, (1, 2, 1)))
    close(ops.transpose(A), A.T)                      # reversed axes by default, as NumPy
    close(ops.transpose(A, (0, 2, 1)), A.transpose(0, 2, 1))
    close(ops.reshape(A, (6, -1)), A.reshape(6, -1))
    close(ops.stack([A, A], axis=-1), np.stack([A, A], -1))
    close(ops.sum(A, axis=1, keepdims=True), A.sum(1, keepdims=True))
    close(ops.mean(A), A.mean())
    close(ops.max(A, axis=-1), A.max(-1))
    close(ops.where(A > 0, A, 0.0), np.where(A > 0, A, 0))
    close(ops.one_hot([0, 2], 3), np.eye(3)[[0, 2]])
    close(ops.tril(np.ones((3, 3))), np.tril(np.ones((3, 3))))
    assert ops.shape(A) == (2, 3, 4)


def test_split_is_numpy_in_ops_and_tensorflow_in_tf():
    x = np.arange(12.0).reshape(2, 6)
    assert [p.shape for p in ops.split(x, 3, axis=1)] == [(2, 2)] * 3
    assert [p.shape for p in ops.split(x, [1, 4], axis=1)] == [(2, 1), (2, 3), (2, 2)]  # indices
    assert [p.shape for p in tf.split(x, [1, 4, 1], axis=1)] == [(2, 1), (2, 4), (2, 1)]  # sizes
    with pytest.raises(ValueError, match="equal parts"):
        ops.split(x, 4, axis=1)
    with pytest.raises(ValueError, match="add up to 5"):
        tf.split(x, [1, 4], axis=1)


def test_tf_spellings():
    close(tf.matmul(A, A, transpose_b=True), A @ A.transpose(0, 2, 1))
    close(tf.matmul(A, A, transpose_a=True), A.transpose(0, 2, 1) @ A)
    close(tf.concat([A, A], axis=-1), np.concatenate([A, A], -1))
    close(tf.nn.softmax(A), np.exp(A) / np.exp(A).sum(-1, keepdims=True))
    close(tf.math.sqrt(tf.cast(4, tf.float32)), 2.0)
    close(tf.reduce_sum(A, axis=0), A.sum(0))
    close(tf.transpose(A, perm=[1, 0, 2]), A.transpose(1, 0, 2))
    close(tf.range(start=0, limit=4, delta=1), np.arange(4))
    assert tf.keras is keras and tf.keras.layers.Dense is layers.Dense


def test_gradients_flow_through_ops():
    x = mdl.tensor(RNG.normal(size=(3, 4)), requires_grad=True)

    def heads_swapped(a):
        first, second = ops.split(a, 2, axis=1)
        return ops.concatenate([ops.softmax(second), ops.matmul(first, ops.transpose(first))],
                               axis=1)

    assert mdl.gradcheck(heads_swapped, [x])
    assert mdl.gradcheck(lambda a: tf.matmul(a, a, transpose_b=True), [x])


def test_ops_on_keras_tensors_become_nodes_of_the_model():
    inputs = keras.Input(shape=(3, 4))
    q = layers.Dense(4)(inputs)
    scores = tf.nn.softmax(tf.matmul(q, inputs, transpose_b=True) / 2.0)
    outputs = ops.matmul(scores, inputs) + inputs[:, :1]
    model = keras.Model(inputs, outputs)
    assert outputs.shape == (None, 3, 4)
    dense = model.layers[1]
    q_value = A[:, :, :] @ dense.get_weights()[0] + dense.get_weights()[1]
    s = q_value @ A.transpose(0, 2, 1) / 2.0
    s = np.exp(s - s.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    close(model(A), s @ A + A[:, :1], rtol=1e-4)
    assert {type(layer).__name__ for layer in model.layers} == {"InputLayer", "Dense",
                                                                  "TFOpLambda"}
