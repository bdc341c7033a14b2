"""minidl.keras's models: the functional API (Input, layers on KerasTensors, Model with
several inputs and outputs, merges, nesting), Sequential, summary() in tf.keras's format,
weights in Keras's layouts, save_weights / load_weights."""
import numpy as np
import pytest

import minidl as mdl
from minidl import keras
from minidl.keras import layers
from minidl.keras.backend import clear_session
from minidl.keras.utils import set_random_seed

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def two_in_two_out():
    """Two inputs merged, two outputs: a number and three classes."""
    clear_session()
    set_random_seed(0)
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(3,), name="b")
    hidden = layers.Dense(8, activation="relu")(layers.Concatenate()([a, b]))
    value = layers.Dense(1, name="value")(hidden)
    kind = layers.Dense(3, activation="softmax", name="kind")(layers.Add()([hidden, hidden]))
    return keras.Model([a, b], [value, kind])


def test_a_functional_model_runs_its_graph():
    model = two_in_two_out()
    xa, xb = randn(5, 4), randn(5, 3)
    value, kind = model([xa, xb])
    dense, head_v, head_k = (model.get_layer(n) for n in ("dense", "value", "kind"))
    hidden = np.maximum(np.concatenate([xa, xb], 1) @ dense.get_weights()[0]
                        + dense.get_weights()[1], 0)
    np.testing.assert_allclose(value.numpy(), hidden @ head_v.get_weights()[0]
                               + head_v.get_weights()[1], rtol=1e-4, atol=1e-5)
    assert kind.shape == (5, 3)
    np.testing.assert_allclose(model({"a": xa, "b": xb})[0].numpy(), value.numpy())
    assert [layer.name for layer in model.layers] == [
        "a", "b", "concatenate", "dense", "add", "value", "kind"]
    assert model.input_shape == [(None, 4), (None, 3)]
    assert model.output_shape == [(None, 1), (None, 3)]


def test_a_functional_model_trains_with_a_loss_per_output():
    model = two_in_two_out()
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"],
                  loss_weights=[1.0, 0.5], metrics={"kind": ["accuracy"]})
    xa, xb = randn(64, 4), randn(64, 3)
    y_value, y_kind = xa[:, :1] + xb[:, :1], (xa[:, 1] > 0).astype(np.int64)
    history = model.fit([xa, xb], [y_value, y_kind], epochs=2, batch_size=16, verbose=0)
    assert list(history.history) == ["loss", "value_loss", "kind_loss", "kind_accuracy"]
    scores = model.evaluate([xa, xb], [y_value, y_kind], verbose=0)
    logs = model.evaluate([xa, xb], [y_value, y_kind], verbose=0, return_dict=True)
    assert scores == list(logs.values())
    assert logs["loss"] == pytest.approx(logs["value_loss"] + 0.5 * logs["kind_loss"], rel=1e-5)
    predictions = model.predict([xa, xb], verbose=0)
    assert [p.shape for p in predictions] == [(64, 1), (64, 3)]


def test_models_nest_and_operators_make_nodes():
    clear_session()
    inner_in = keras.Input(shape=(3,))
    inner = keras.Model(inner_in, layers.Dense(2)(inner_in))
    x = keras.Input(shape=(3,))
    y = inner(x) * 2.0 + 1.0
    outer = keras.Model(x, y[:, :1])
    data = randn(4, 3)
    np.testing.assert_allclose(outer(data).numpy(), inner(data).numpy()[:, :1] * 2 + 1,
                               rtol=1e-6)
    assert outer.count_params() == inner.count_params() == 8
    assert inner.summary_class_name() == "Functional"


def test_graph_errors():
    a, b = keras.Input(shape=(2,)), keras.Input(shape=(2,))
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)
    model = keras.Model([a, b], out)
    with pytest.raises(ValueError, match="expects 2 input"):
        model(randn(1, 2))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 2\), found shape=\(1, 3\)"):
        model([randn(1, 3), randn(1, 3)])
    dense = layers.Dense(2, name="twin")
    with pytest.raises(ValueError, match='The name "twin" is used 2 times'):
        keras.Model(a, layers.Dense(2, name="twin")(dense(a)))
    with pytest.raises(ValueError, match="KerasTensors"):
        keras.Model(a, randn(1, 2))


def test_sequential_builds_when_it_knows_its_input():
    clear_session()
    deferred = keras.Sequential([layers.Dense(4), layers.Dense(1)])
    with pytest.raises(ValueError, match="has not yet been built"):
        deferred.summary()
    deferred(randn(2, 3))                                  # built from the data
    assert deferred.output_shape == (None, 1) and deferred.count_params() == 16 + 5
    given = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4)])
    assert given.layers[0].output_shape == (None, 4)
    built = keras.Sequential([layers.Dense(4)])
    built.build((None, 3))
    assert built.count_params() == 16
    added = keras.Sequential()
    added.add(layers.Embedding(10, 2, input_length=5))
    added.add(layers.Flatten())
    assert added.output_shape == (None, 10)
    with pytest.raises(ValueError, match="single output tensor"):
        keras.Sequential([keras.Input(shape=(3, 2)), layers.LSTM(2, return_state=True)])
    with pytest.raises(TypeError, match="instance of class Layer"):
        keras.Sequential([np.zeros(3)])


EXPECTED_SUMMARY = """\
Model: "model"
__________________________________________________________________________________________________
 Layer (type)                Output Shape                 Param #   Connected to
==================================================================================================
 a (InputLayer)              [(None, 4)]                  0         []

 b (InputLayer)              [(None, 3)]                  0         []

 concatenate (Concatenate)   (None, 7)                    0         ['a[0][0]',
                                                                     'b[0][0]']

 dense (Dense)               (None, 8)                    64        ['concatenate[0][0]']

 add (Add)                   (None, 8)                    0         ['dense[0][0]',
                                                                     'dense[0][0]']

 value (Dense)               (None, 1)                    9         ['dense[0][0]']

 kind (Dense)                (None, 3)                    27        ['add[0][0]']

==================================================================================================
Total params: 100 (400.00 Byte)
Trainable params: 100 (400.00 Byte)
Non-trainable params: 0 (0.00 Byte)
__________________________________________________________________________________________________
"""


def test_summary_of_a_graph_lists_connections(capsys):
    # tf.keras's layout for a model that is not a chain: 98 characters, four columns ending
    # at 30%, 60%, 70% and 100%, long cells continued after "',"
    two_in_two_out().summary()
    lines = capsys.readouterr().out.splitlines()
    assert [line.rstrip() for line in lines] == EXPECTED_SUMMARY.splitlines()
    assert all(len(line) == 98 for line in lines[1:-5])


def test_summary_counts_frozen_weights_apart(capsys):
    clear_session()
    model = keras.Sequential([keras.Input(shape=(5,)), layers.BatchNormalization(),
                              layers.Dense(2, trainable=False)])
    model.summary()
    text = capsys.readouterr().out
    # BatchNormalization: gamma, beta trainable; moving mean and variance not
    assert "Total params: 32 (128.00 Byte)" in text
    assert "Trainable params: 10 (40.00 Byte)" in text
    assert "Non-trainable params: 22 (88.00 Byte)" in text


def test_weights_are_listed_in_keras_layout_and_order():
    model = two_in_two_out()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(7, 8), (8,), (8, 1), (1,), (8, 3), (3,)]
    assert sum(p.numel() for p in model.parameters()) == model.count_params() == 100
    new = [randn(*s) for s in shapes]
    model.set_weights(new)
    for ours, given in zip(model.get_weights(), new):
        np.testing.assert_array_equal(ours, given)
    with pytest.raises(ValueError, match=r"weight shape \(7, 8\) is not compatible.*\(8, 7\)"):
        model.set_weights([new[0].T] + new[1:])
    with pytest.raises(ValueError, match="expects 6 weight"):
        model.set_weights(new[:2])


def test_save_and_load_weights(tmp_path):
    model, other = two_in_two_out(), two_in_two_out()
    path = tmp_path / "model.weights.npz"
    model.save_weights(path)
    other.load_weights(path)
    xs = [randn(3, 4), randn(3, 3)]
    for a, b in zip(model(xs), other(xs)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match=r"\.npz"):
        model.save_weights(tmp_path / "model.h5")
    clear_session()
    x = keras.Input(shape=(4,))
    smaller = keras.Model(x, layers.Dense(2)(x))
    before = smaller.get_weights()
    with pytest.raises(ValueError, match="Layer count mismatch"):
        smaller.load_weights(path)
    for a, b in zip(before, smaller.get_weights()):
        np.testing.assert_array_equal(a, b)          # nothing changed


def test_parameters_are_the_layers_modules():
    model = two_in_two_out()
    names = [name for name, _ in model.named_parameters()]
    assert names[:2] == ["dense.linear.weight", "dense.linear.bias"]
    assert isinstance(model.get_layer("dense").linear, mdl.nn.Linear)
