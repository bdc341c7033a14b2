"""The classic Keras text-classification program, written with minidl, on real SMS messages.

Tokenizer -> pad_sequences -> Embedding -> LSTM -> Dense -> Dense softmax, trained by
fit() with a validation split, then scored on a held-out test split: the program many
people write first when they learn deep learning on text, line by line with minidl's
names. It runs end to end on the SMS spam messages bundled in minidl.data, so every
piece of the text pipeline has to work with every other, and the model has to learn.
(tests/test_keras_seed_lstm_text.py runs the Keras listing itself, through minidl.keras.)
"""
import re

import numpy as np
import pytest

import minidl as mdl
from minidl import nn, optim
from minidl.data import Tokenizer, load_sms_spam, pad_sequences, train_test_split
from minidl.metrics import accuracy_score, recall_score
from minidl.train import evaluate, fit, predict

NUM_WORDS = 2000     # keep the 1,998 most frequent words (index 0: padding, 1: out of vocabulary)
MAXLEN = 30          # words per message; 90% of the messages have at most 29
EMBED_DIM = 32
LSTM_UNITS = 32
DENSE_UNITS = 16
EPOCHS = 3
SEED = 0


pytestmark = pytest.mark.usefixtures("one_thread")


class LastHiddenState(nn.Module):
    """Keep the LSTM's final hidden state h_T (N, H), as Keras's LSTM returns by default.

    minidl's LSTM, like PyTorch's, returns (outputs of every step, (h_n, c_n)) with h_n
    (num_layers, N, H); the dense layers after it want one vector per message.
    """

    def forward(self, lstm_result):
        outputs, (h_n, c_n) = lstm_result
        return h_n[-1]


def build_model():
    mdl.manual_seed(SEED)
    return nn.Sequential(
        nn.Embedding(NUM_WORDS, EMBED_DIM),          # word index -> vector
        nn.LSTM(EMBED_DIM, LSTM_UNITS, batch_first=True),  # reads the message word by word
        LastHiddenState(),
        nn.Linear(LSTM_UNITS, DENSE_UNITS), nn.ReLU(),
        nn.Linear(DENSE_UNITS, 2), nn.LogSoftmax(1),  # log P(ham), log P(spam)
    )


@pytest.fixture(scope="module")
def trained():
    """The whole program: data, tokenizer, padding, model, fit, predictions on the test set."""
    texts, labels, _ = load_sms_spam()
    train_texts, test_texts, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=SEED)

    tokenizer = Tokenizer(num_words=NUM_WORDS, oov_token="<OOV>")
    tokenizer.fit_on_texts(train_texts)
    x_train = pad_sequences(tokenizer.texts_to_sequences(train_texts), maxlen=MAXLEN,
                            padding="post", truncating="post")
    x_test = pad_sequences(tokenizer.texts_to_sequences(test_texts), maxlen=MAXLEN,
                           padding="post", truncating="post")

    model = build_model()
    loss = nn.NLLLoss()  # with LogSoftmax: Keras's sparse_categorical_crossentropy
    history = fit(model, loss, optim.Adam(model.parameters(), lr=1e-2), x_train, y_train,
                  epochs=EPOCHS, batch_size=128, validation_split=0.1, verbose=False, seed=SEED)
    predicted = predict(model, x_test).argmax(axis=1)
    return dict(model=model, loss=loss, history=history, x_test=x_test, y_test=y_test,
                predicted=predicted, tokenizer=tokenizer, x_train=x_train)


def test_inputs_are_padded_word_indices(trained):
    x_train, tokenizer = trained["x_train"], trained["tokenizer"]
    assert x_train.shape[1] == MAXLEN and x_train.dtype == np.int32
    assert x_train.min() == 0 and x_train.max() < NUM_WORDS   # every index has an embedding
    assert tokenizer.word_index["<OOV>"] == 1
    # padding="post": once a message has ended, only padding follows
    ended = np.cumsum(x_train == 0, axis=1) > 0
    assert np.all(x_train[ended] == 0)


def test_history_has_one_loss_and_validation_metric_per_epoch(trained):
    history = trained["history"]
    assert history.epoch == list(range(EPOCHS))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == EPOCHS for values in history.history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.93


def test_lstm_beats_the_majority_class_on_the_test_split(trained):
    y_test, predicted = trained["y_test"], trained["predicted"]
    majority = max(np.mean(y_test == 0), np.mean(y_test == 1))   # always "ham": about 0.88
    accuracy = accuracy_score(y_test, predicted)
    assert accuracy >= 0.93
    assert accuracy > majority + 0.05
    assert recall_score(y_test, predicted) > 0.7   # it finds spam, not only ham
    # evaluate() computes the same accuracy from the same outputs
    scores = evaluate(trained["model"], trained["loss"], trained["x_test"], y_test)
    assert scores["accuracy"] == pytest.approx(accuracy)


def expected_parameter_counts():
    """Each layer's parameters, by the textbook formulas."""
    V, d, H, D = NUM_WORDS, EMBED_DIM, LSTM_UNITS, DENSE_UNITS
    return {
        "Embedding": V * d,                          # one d-vector per word
        "LSTM": 4 * (d * H + H * H + 2 * H),         # 4 gates: W_ih, W_hh, b_ih, b_hh
        "LastHiddenState": 0,
        "Linear": [H * D + D, D * 2 + 2],            # the two dense layers
        "ReLU": 0,
        "LogSoftmax": 0,
    }


def test_summary_counts_parameters_by_the_formulas(trained, capsys):
    model = trained["model"]
    text = mdl.summary(model, (1, MAXLEN), dtype=np.int64)
    assert capsys.readouterr().out.strip() == text.strip()

    rows = re.findall(r"^(\d+) \((\w+)\)\s+(.*?)\s{3,}([\d,]+)$", text, flags=re.MULTILINE)
    counts = {}
    for _, layer_type, _, count in rows:
        counts.setdefault(layer_type, []).append(int(count.replace(",", "")))
    expected = expected_parameter_counts()
    assert [layer_type for _, layer_type, _, _ in rows] == [
        "Embedding", "LSTM", "LastHiddenState", "Linear", "ReLU", "Linear", "LogSoftmax"]
    for layer_type, count in expected.items():
        assert counts[layer_type] == (count if isinstance(count, list) else [count])

    total = sum(sum(c) if isinstance(c, list) else c for c in expected.values())
    assert total == model.num_parameters() == 64_000 + 8_448 + 528 + 34
    assert f"Total params: {total:,}" in text
    assert f"(1, {MAXLEN}, {EMBED_DIM})" in text   # the Embedding's output shape
