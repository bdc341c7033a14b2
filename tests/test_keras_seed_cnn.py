"""The seeds' Keras CNN, run through minidl.keras with only its imports changed, on the
8x8 digits bundled in minidl.data: Conv2D -> MaxPooling2D -> Flatten -> Dense -> Dense
(softmax) on channels-last images (batch, 8, 8, 1)."""
from types import SimpleNamespace

import pytest

from minidl.data import load_digits, train_test_split
from minidl.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D   # was: tensorflow.keras
from minidl.keras.models import Sequential
from minidl.keras.utils import set_random_seed, to_categorical

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run():
    set_random_seed(0)
    X, y = load_digits()
    X = X.reshape(-1, 8, 8, 1) / 16.0          # channels last, as Keras's images
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    # ---- the listing ---------------------------------------------------------------
    model = Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=(8, 8, 1)),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(X_train, to_categorical(y_train), epochs=8, batch_size=32,
                        validation_split=0.1, verbose=0)
    loss, accuracy = model.evaluate(X_test, to_categorical(y_test), verbose=0)
    # -----------------------------------------------------------------------------------
    return SimpleNamespace(model=model, history=history, loss=loss, accuracy=accuracy)


def test_the_cnn_learns(run):
    assert run.accuracy >= 0.9           # ten classes: chance is 0.1
    assert run.history.history["loss"][-1] < run.history.history["loss"][0] / 3


def test_output_shapes_are_channels_last(run):
    shapes = [layer.output_shape for layer in run.model.layers]
    assert shapes == [(None, 6, 6, 32), (None, 3, 3, 32), (None, 288), (None, 64), (None, 10)]


def test_parameter_counts_are_keras_formulas(run):
    # Conv2D: (kernel height * width * input channels + 1) * filters; Dense: (in + 1) * units
    expected = [(3 * 3 * 1 + 1) * 32, 0, 0, (288 + 1) * 64, (64 + 1) * 10]
    assert [layer.count_params() for layer in run.model.layers] == expected
    assert run.model.count_params() == 19_466
    kernel = run.model.layers[0].get_weights()[0]
    assert kernel.shape == (3, 3, 1, 32)  # Keras's layout (kh, kw, in, out)
