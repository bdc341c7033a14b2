"""The seeds' transformer text classifier, its multi-head self-attention written with
TensorFlow ops (tf.matmul(q, k, transpose_b=True), tf.nn.softmax, tf.split, tf.concat), run
through minidl.keras with only its imports changed, on the SMS messages in minidl.data.

The attention block it writes by hand computes what Keras's MultiHeadAttention layer
computes; the last test gives both the same weights and compares.
"""
from types import SimpleNamespace

import numpy as np
import pytest

from minidl.data import load_sms_spam, train_test_split
from minidl.keras import layers, tf        # was: import tensorflow as tf; from tensorflow.keras ...
from minidl.keras.models import Model, Sequential
from minidl.keras.preprocessing.sequence import pad_sequences
from minidl.keras.preprocessing.text import Tokenizer
from minidl.keras.utils import set_random_seed

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB_SIZE, MAXLEN, EMBED_DIM, NUM_HEADS, FF_DIM = 2000, 30, 32, 2, 32


# ---- the listing ---------------------------------------------------------------------
class MultiHeadSelfAttention(layers.Layer):
    def __init__(self, embed_dim, num_heads=2, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.query_dense = layers.Dense(embed_dim)
        self.key_dense = layers.Dense(embed_dim)
        self.value_dense = layers.Dense(embed_dim)
        self.combine_heads = layers.Dense(embed_dim)

    def attention(self, query, key, value):
        score = tf.matmul(query, key, transpose_b=True)
        dim_key = tf.cast(tf.shape(key)[-1], tf.float32)
        weights = tf.nn.softmax(score / tf.math.sqrt(dim_key), axis=-1)
        return tf.matmul(weights, value), weights

    def call(self, inputs):
        query = tf.split(self.query_dense(inputs), self.num_heads, axis=-1)
        key = tf.split(self.key_dense(inputs), self.num_heads, axis=-1)
        value = tf.split(self.value_dense(inputs), self.num_heads, axis=-1)
        heads = [self.attention(q, k, v)[0] for q, k, v in zip(query, key, value)]
        return self.combine_heads(tf.concat(heads, axis=-1))


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = MultiHeadSelfAttention(embed_dim, num_heads)
        self.ffn = Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training):
        attn_output = self.dropout1(self.att(inputs), training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = tf.shape(x)[-1]
        positions = tf.range(start=0, limit=maxlen, delta=1)
        return self.token_emb(x) + self.pos_emb(positions)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run():
    set_random_seed(0)
    texts, labels, _ = load_sms_spam()
    train_texts, test_texts, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=0)
    # ---- the listing, continued ----------------------------------------------------
    tokenizer = Tokenizer(num_words=VOCAB_SIZE)
    tokenizer.fit_on_texts(train_texts)
    x_train = pad_sequences(tokenizer.texts_to_sequences(train_texts), maxlen=MAXLEN)
    x_test = pad_sequences(tokenizer.texts_to_sequences(test_texts), maxlen=MAXLEN)

    inputs = layers.Input(shape=(MAXLEN,))
    x = TokenAndPositionEmbedding(MAXLEN, VOCAB_SIZE, EMBED_DIM)(inputs)
    x = TransformerBlock(EMBED_DIM, NUM_HEADS, FF_DIM)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=2, validation_split=0.1,
                        verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    # -----------------------------------------------------------------------------------
    return SimpleNamespace(model=model, history=history, accuracy=accuracy, y_test=y_test)


def test_the_transformer_learns(run):
    majority = max(np.mean(run.y_test), 1 - np.mean(run.y_test))
    assert run.accuracy >= 0.95 and run.accuracy > majority + 0.05
    assert run.history.history["val_accuracy"][-1] > 0.93


def test_parameter_counts_are_keras_formulas(run):
    e, f = EMBED_DIM, FF_DIM
    attention = 4 * (e * e + e)                # query, key, value and output Dense layers
    block = attention + (e * f + f) + (f * e + e) + 2 * (2 * e)   # + feed-forward + 2 norms
    expected = [0, VOCAB_SIZE * e + MAXLEN * e, block, 0, 0, (e + 1) * 20, 0, (20 + 1) * 2]
    assert [layer.count_params() for layer in run.model.layers] == expected


def test_the_hand_written_attention_is_keras_multi_head_attention():
    set_random_seed(1)
    x = np.random.default_rng(0).normal(size=(3, 7, EMBED_DIM)).astype(np.float32)
    written = MultiHeadSelfAttention(EMBED_DIM, NUM_HEADS)
    expected = written(x).numpy()
    head = EMBED_DIM // NUM_HEADS
    keras_layer = layers.MultiHeadAttention(num_heads=NUM_HEADS, key_dim=head)
    keras_layer(x, x)   # builds it
    weights = []
    for dense in (written.query_dense, written.key_dense, written.value_dense):
        kernel, bias = dense.get_weights()   # (E, E), (E,): the heads side by side
        weights += [kernel.reshape(EMBED_DIM, NUM_HEADS, head), bias.reshape(NUM_HEADS, head)]
    kernel, bias = written.combine_heads.get_weights()
    weights += [kernel.reshape(NUM_HEADS, head, EMBED_DIM), bias]
    keras_layer.set_weights(weights)
    np.testing.assert_allclose(keras_layer(x, x).numpy(), expected, rtol=1e-4, atol=1e-5)
