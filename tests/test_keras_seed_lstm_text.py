"""The seeds' Keras text classifier, run through minidl.keras with only its imports changed.

Tokenizer -> pad_sequences -> Input -> Embedding -> LSTM -> Dense(relu) -> Dense(softmax),
compiled with "adam" and categorical_crossentropy, trained with validation_split=0.2, and
scored with `loss, accuracy = model.evaluate(...)`, on the SMS messages bundled in
minidl.data. (tests/test_seeds_text.py writes the same program with minidl's own,
PyTorch-style API.)
"""
from types import SimpleNamespace

import numpy as np
import pytest

from minidl.data import load_sms_spam, train_test_split   # the data: bundled, not a CSV
# The listing's imports: tensorflow.keras -> minidl.keras
from minidl.keras.backend import clear_session
from minidl.keras.layers import LSTM, Dense, Embedding, Input
from minidl.keras.models import Model
from minidl.keras.preprocessing.sequence import pad_sequences
from minidl.keras.preprocessing.text import Tokenizer
from minidl.keras.utils import set_random_seed, to_categorical

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB_SIZE, MAXLEN, EMBEDDING_DIM, LSTM_UNITS, DENSE_UNITS = 2000, 30, 32, 32, 16
EPOCHS = 3


@pytest.fixture(scope="module")
def run():
    set_random_seed(0)
    texts, labels, _ = load_sms_spam()
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=0)

    # ---- the listing --------------------------------------------------------------
    clear_session()        # layer names from "dense" again, as in a fresh program
    tokenizer = Tokenizer(num_words=VOCAB_SIZE, oov_token="<OOV>")
    tokenizer.fit_on_texts(train_texts)
    x_train = pad_sequences(tokenizer.texts_to_sequences(train_texts), maxlen=MAXLEN)
    x_test = pad_sequences(tokenizer.texts_to_sequences(test_texts), maxlen=MAXLEN)
    y_train = to_categorical(train_labels, num_classes=2)
    y_test = to_categorical(test_labels, num_classes=2)

    inputs = Input(shape=(MAXLEN,))
    x = Embedding(VOCAB_SIZE, EMBEDDING_DIM)(inputs)
    x = LSTM(LSTM_UNITS, return_sequences=False)(x)
    x = Dense(DENSE_UNITS, activation="relu")(x)
    outputs = Dense(2, activation="softmax")(x)
    model = Model(inputs, outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, validation_split=0.2,
                        verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    # --------------------------------------------------------------------------------
    return SimpleNamespace(model=model, history=history, loss=loss, accuracy=accuracy,
                           x_test=x_test, test_labels=test_labels, y_test=y_test)


def test_evaluate_returns_the_loss_and_the_accuracy(run):
    # `loss, accuracy = model.evaluate(...)` binds two numbers (a dict would bind its keys)
    assert isinstance(run.loss, float) and isinstance(run.accuracy, float)
    probabilities = run.model.predict(run.x_test, verbose=0)
    assert probabilities.shape == (len(run.x_test), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert run.accuracy == pytest.approx(np.mean(probabilities.argmax(1) == run.test_labels))
    clipped = np.clip(probabilities[np.arange(len(run.y_test)), run.test_labels], 1e-7, 1)
    assert run.loss == pytest.approx(-np.mean(np.log(clipped)), rel=1e-4)


def test_the_classifier_learns(run):
    majority = max(np.mean(run.test_labels), 1 - np.mean(run.test_labels))   # about 0.88
    assert run.accuracy >= 0.95 and run.accuracy > majority + 0.05
    spam = run.test_labels == 1
    predicted = run.model.predict(run.x_test, verbose=0).argmax(1)
    assert np.mean(predicted[spam] == 1) > 0.7    # it finds spam, not only ham


def test_history_has_the_losses_and_accuracies_of_every_epoch(run):
    history = run.history
    assert history.epoch == list(range(EPOCHS))
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == EPOCHS for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.93


def test_parameter_counts_are_keras_formulas(run):
    # Keras's counts: Embedding input_dim * output_dim; LSTM 4 gates, each with a kernel
    # (features, units), a recurrent kernel (units, units) and ONE bias (units,); Dense
    # (inputs + 1) * units.
    d, u, h = EMBEDDING_DIM, LSTM_UNITS, DENSE_UNITS
    expected = [0, VOCAB_SIZE * d, 4 * (d * u + u * u + u), (u + 1) * h, (h + 1) * 2]
    assert [layer.count_params() for layer in run.model.layers] == expected
    assert expected == [0, 64_000, 8_320, 528, 34]
    assert run.model.count_params() == 72_882


# What tf.keras prints for this model (its layout, keras/utils/layer_utils.py: 65
# characters, columns ending at 45% and 85%); the memory is 72,882 float32 numbers.
EXPECTED_SUMMARY = """\
Model: "model"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 input_1 (InputLayer)        [(None, 30)]              0

 embedding (Embedding)       (None, 30, 32)            64000

 lstm (LSTM)                 (None, 32)                8320

 dense (Dense)               (None, 16)                528

 dense_1 (Dense)             (None, 2)                 34

=================================================================
Total params: 72882 (284.70 KB)
Trainable params: 72882 (284.70 KB)
Non-trainable params: 0 (0.00 Byte)
_________________________________________________________________
"""


def test_summary_is_keras_table(run, capsys):
    run.model.summary()
    lines = capsys.readouterr().out.splitlines()
    assert [line.rstrip() for line in lines] == EXPECTED_SUMMARY.splitlines()
    assert all(len(line) == 65 for line in lines[1:-5])   # the table's rows are padded
