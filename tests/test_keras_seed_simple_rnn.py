"""The seeds' character-level SimpleRNN with recurrent dropout, run through minidl.keras with
only its imports changed, on Moby-Dick (bundled in minidl.data): windows of 20 characters,
one-hot, predict the next one."""
from types import SimpleNamespace

import numpy as np
import pytest

from minidl.data import load_char_corpus
from minidl.keras.layers import Dense, SimpleRNN   # was: from tensorflow.keras.layers import ...
from minidl.keras.models import Sequential
from minidl.keras.optimizers import Adam
from minidl.keras.utils import set_random_seed

pytestmark = pytest.mark.usefixtures("one_thread")

MAXLEN, STEP, UNITS = 20, 7, 128


@pytest.fixture(scope="module")
def run():
    set_random_seed(0)
    text = load_char_corpus()[50_000:110_000].lower()     # a slice, for a short test
    # ---- the listing ---------------------------------------------------------------
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    sentences = [text[i:i + MAXLEN] for i in range(0, len(text) - MAXLEN, STEP)]
    next_chars = [text[i + MAXLEN] for i in range(0, len(text) - MAXLEN, STEP)]
    x = np.zeros((len(sentences), MAXLEN, len(chars)), dtype=np.float32)
    y = np.zeros((len(sentences), len(chars)), dtype=np.float32)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    model = Sequential([
        SimpleRNN(UNITS, activation="tanh", recurrent_dropout=0.2,
                  input_shape=(MAXLEN, len(chars))),
        Dense(len(chars), activation="softmax"),
    ])
    model.compile(optimizer=Adam(learning_rate=0.005), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=3, validation_split=0.1, verbose=0)
    # -----------------------------------------------------------------------------------
    return SimpleNamespace(model=model, history=history, x=x, y=y, vocabulary=len(chars))


def test_it_learns_more_than_character_frequencies(run):
    frequencies = run.y.mean(axis=0)
    present = frequencies[frequencies > 0]
    unigram_loss = -np.sum(present * np.log(present))   # the best loss without context
    history = run.history.history
    assert history["val_loss"][-1] < unigram_loss - 0.3
    assert history["val_accuracy"][-1] > frequencies.max() + 0.07   # always " " gets ~0.16


def test_recurrent_dropout_acts_in_training_only(run):
    rnn = run.model.layers[0]
    batch = run.x[:8]
    a, b = (rnn(batch, training=True).numpy() for _ in range(2))
    assert not np.allclose(a, b)                  # a new dropout mask each call
    c, d = (rnn(batch).numpy() for _ in range(2))  # inference: no dropout
    np.testing.assert_array_equal(c, d)


def test_parameter_counts_are_keras_formulas(run):
    # SimpleRNN: units * (features + units + 1), one bias; Dense: (units + 1) * vocabulary
    v = run.vocabulary
    assert [layer.count_params() for layer in run.model.layers] == [
        UNITS * (v + UNITS + 1), (UNITS + 1) * v]
