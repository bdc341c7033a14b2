"""minidl.keras's losses, metrics, optimizers, initializers and utils against Keras's
documented numbers and formulas."""
import math
import warnings

import numpy as np
import pytest

import minidl as mdl
from minidl.keras import activations, initializers, losses, metrics, optimizers
from minidl.keras.utils import set_random_seed, to_categorical


def t(array):
    return mdl.tensor(np.asarray(array, dtype=np.float32))


# ---------------------------------------------------------------------------- losses
def test_categorical_crossentropy_documented_example():
    # tf.keras.utils.to_categorical's documentation: these probabilities (the second row
    # adds up to 1.03 and is rescaled) give [0.10536, 0.82807, 0.1011, 1.77196]
    a = to_categorical([0, 1, 2, 3], num_classes=4)
    b = t([[.9, .04, .03, .03], [.3, .45, .15, .13], [.04, .01, .94, .05],
           [.12, .21, .5, .17]])
    np.testing.assert_allclose(losses.categorical_crossentropy(a, b).numpy(),
                               [0.10536, 0.82807, 0.1011, 1.77196], atol=1e-5)
    np.testing.assert_allclose(losses.categorical_crossentropy(a, t(a)).numpy(), 0, atol=1e-6)


def test_binary_and_sparse_crossentropy_documented_examples():
    # keras.losses.binary_crossentropy's documentation: [0.916, 0.714]
    loss = losses.binary_crossentropy([[0, 1], [0, 0]], t([[0.6, 0.4], [0.4, 0.6]]))
    np.testing.assert_allclose(loss.numpy(), [0.916, 0.714], atol=1e-3)
    # keras.losses.sparse_categorical_crossentropy's documentation: [0.0513, 2.303]
    loss = losses.sparse_categorical_crossentropy([1, 2], t([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]))
    np.testing.assert_allclose(loss.numpy(), [0.0513, 2.303], atol=1e-3)
    # class objects average over the batch (sum_over_batch_size)
    mean = losses.SparseCategoricalCrossentropy()([1, 2], t([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]))
    assert mean.item() == pytest.approx((0.0513 + 2.303) / 2, abs=1e-3)


def test_crossentropy_of_a_softmax_output_uses_its_logits():
    logits = mdl.tensor(np.array([[50.0, 0.0, -50.0], [0.0, 1.0, 2.0]], np.float32),
                        requires_grad=True)
    probabilities = activations.softmax(logits)       # the first row rounds to (1, 0, 0)
    target = to_categorical([2, 0], 3)
    loss = losses.CategoricalCrossentropy()(target, probabilities)
    log_p = logits.numpy() - np.log(np.exp(logits.numpy()).sum(1, keepdims=True))
    expected = -np.mean((target * log_p).sum(1))       # 100 + ..., not the clipped 16.1
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    softmax = np.exp(log_p)
    np.testing.assert_allclose(logits.grad.numpy(), (softmax - target) / 2, atol=1e-6)
    same = losses.CategoricalCrossentropy(from_logits=True)(target, logits)
    assert same.item() == pytest.approx(loss.item(), rel=1e-6)
    # probabilities from elsewhere are clipped to [1e-7, 1 - 1e-7]: -log(1e-7)
    hard = losses.categorical_crossentropy([[0.0, 1.0]], t([[1.0, 0.0]]))
    assert hard.item() == pytest.approx(-math.log(1e-7), rel=1e-4)


def test_binary_crossentropy_of_a_sigmoid_output_uses_its_logit():
    logits = t([[30.0], [-2.0]])
    loss = losses.binary_crossentropy([[0.0], [1.0]], activations.sigmoid(logits))
    np.testing.assert_allclose(loss.numpy(), [30.0, math.log1p(math.exp(2.0))], rtol=1e-5)
    labels = np.array([0.0, 1.0], np.float32)             # (n,) labels for (n, 1) outputs
    assert losses.BinaryCrossentropy()(labels, activations.sigmoid(logits)).item() == \
        pytest.approx(loss.numpy().mean(), rel=1e-6)


def test_label_smoothing_and_regression_losses():
    target, logits = to_categorical([1], 4), t([[0.3, 2.0, -1.0, 0.5]])
    smooth = losses.categorical_crossentropy(target, logits, from_logits=True,
                                             label_smoothing=0.2)
    soft = target * 0.8 + 0.2 / 4                         # Keras: y (1 - s) + s / classes
    expected = losses.categorical_crossentropy(soft, logits, from_logits=True)
    assert smooth.item() == pytest.approx(expected.item())
    y, p = np.array([[1.0, 2.0], [3.0, 5.0]]), t([[1.5, 2.0], [2.0, 5.0]])
    np.testing.assert_allclose(losses.mse(y, p).numpy(), [0.125, 0.5])
    np.testing.assert_allclose(losses.mae(y, p).numpy(), [0.25, 0.5])
    assert losses.get("mse")(y, p).item() == pytest.approx(0.3125)
    assert losses.MeanSquaredError(reduction="sum")(y, p).item() == pytest.approx(0.625)


def test_sparse_labels_out_of_range_are_an_error():
    with pytest.raises(ValueError, match=r"label value of 3 .* valid range of \[0, 3\)"):
        losses.sparse_categorical_crossentropy([0, 3], t(np.full((2, 3), 1 / 3)))


# ---------------------------------------------------------------------------- metrics
def test_metrics_accumulate_over_batches():
    accuracy = metrics.BinaryAccuracy()
    accuracy.update_state([[1], [0]], [[0.7], [0.6]])
    accuracy.update_state([[1]], [[0.4]])
    assert accuracy.result() == pytest.approx(1 / 3)
    accuracy.reset_state()
    assert accuracy.result() == 0.0
    precision, recall = metrics.Precision(), metrics.Recall()
    for m in (precision, recall):
        m.update_state([1, 0, 1, 1], [0.9, 0.8, 0.2, 0.6])
    assert precision.result() == pytest.approx(2 / 3) and recall.result() == pytest.approx(2 / 3)
    assert metrics.resolve("accuracy", [[0, 1]], [[0.2, 0.8]]).function is \
        metrics.categorical_accuracy


# ---------------------------------------------------------------------------- optimizers
def one_parameter(value):
    p = mdl.nn.Parameter(mdl.tensor(np.asarray(value, np.float32)))
    return p


def steps(optimizer, gradients, start=1.0):
    """Apply the optimizer to one parameter with these gradients; its values after each."""
    p = one_parameter([start])
    optimizer.build([p])
    values = []
    for g in gradients:
        p.grad = mdl.tensor(np.array([g], np.float32))
        optimizer.step()
        values.append(p.numpy()[0])
    return values


def test_adam_is_keras_with_epsilon_hat():
    # Keras: m, v as usual; w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    grads, w, m, v, expected = [0.5, -0.2, 1e-6], 1.0, 0.0, 0.0, []
    for step, g in enumerate(grads, 1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        w -= lr * math.sqrt(1 - b2 ** step) / (1 - b1 ** step) * m / (math.sqrt(v) + eps)
        expected.append(w)
    np.testing.assert_allclose(steps(optimizers.Adam(learning_rate=lr), grads), expected,
                               rtol=1e-6)
    defaults = optimizers.Adam()
    assert (defaults.learning_rate, defaults.defaults["epsilon"]) == (0.001, 1e-7)


def test_sgd_rmsprop_adagrad_are_keras():
    # SGD with momentum: velocity = m velocity - lr g; w += velocity (Nesterov: m v - lr g)
    velocity, w, plain, nesterov = 0.0, 1.0, [], []
    w_n = 1.0
    for g in (1.0, 0.5):
        velocity = 0.9 * velocity - 0.1 * g
        w += velocity
        w_n += 0.9 * velocity - 0.1 * g
        plain.append(w)
        nesterov.append(w_n)
    np.testing.assert_allclose(steps(optimizers.SGD(0.1, momentum=0.9), [1.0, 0.5]), plain,
                               rtol=1e-6)
    np.testing.assert_allclose(steps(optimizers.SGD(0.1, momentum=0.9, nesterov=True),
                                     [1.0, 0.5]), nesterov, rtol=1e-6)
    # RMSprop: v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + epsilon)
    v = 0.9 * 0 + 0.1 * 0.25
    assert steps(optimizers.RMSprop(0.01), [0.5])[0] == pytest.approx(
        1 - 0.01 * 0.5 / math.sqrt(v + 1e-7), rel=1e-6)
    # Adagrad: s = 0.1 + g^2; w -= lr g / sqrt(s + epsilon)
    assert steps(optimizers.Adagrad(0.01), [0.5])[0] == pytest.approx(
        1 - 0.01 * 0.5 / math.sqrt(0.1 + 0.25 + 1e-7), rel=1e-6)


def test_clipping_weight_decay_and_names():
    assert steps(optimizers.SGD(1.0, clipvalue=0.5), [3.0])[0] == pytest.approx(0.5)
    assert steps(optimizers.SGD(1.0, clipnorm=2.0), [3.0])[0] == pytest.approx(-1.0)
    assert steps(optimizers.SGD(0.1, weight_decay=0.5), [0.0])[0] == pytest.approx(0.95)
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    with pytest.raises(ValueError, match="minidl.optim"):
        optimizers.get(mdl.optim.SGD([one_parameter([1.0])], lr=0.1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert optimizers.Adam(lr=0.02).learning_rate == 0.02     # tf.keras 2's old name
    assert "learning_rate" in str(caught[0].message)


# ---------------------------------------------------------------------------- initializers
def test_initializers_follow_keras_fans():
    set_random_seed(0)
    kernel = initializers.GlorotUniform()((3, 3, 16, 32))   # a conv kernel: fans x 9
    assert np.abs(kernel).max() <= math.sqrt(6 / (9 * 16 + 9 * 32))
    q = initializers.Orthogonal()((6, 24))
    np.testing.assert_allclose(q @ q.T, np.eye(6), atol=1e-5)
    normal = initializers.HeNormal()((400, 400))
    assert np.abs(normal).max() <= 2 * math.sqrt(2 / 400) / 0.87962566103423978 + 1e-6
    assert normal.std() == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    np.testing.assert_array_equal(initializers.get("uniform")((5,), np.float64).dtype,
                                  np.float64)
    seeded = initializers.RandomNormal(seed=3)
    np.testing.assert_array_equal(seeded((4,)), initializers.RandomNormal(seed=3)((4,)))


def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([0, 2]), [[1, 0, 0], [0, 0, 1]])
    assert to_categorical(np.array([[1], [0]]), 3).shape == (2, 3)   # (n, 1) -> (n, classes)
    assert to_categorical([[0, 1], [1, 1]]).shape == (2, 2, 2)
    assert to_categorical([1]).dtype == np.float32
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        to_categorical([0, 3], num_classes=3)
