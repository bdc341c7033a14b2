"""compile(), fit(), evaluate(), predict() and the callbacks of minidl.keras, with Keras's
conventions: what evaluate returns, how validation_split splits, what History holds, what
verbose prints, when EarlyStopping stops and restores."""
import re

import numpy as np
import pytest

from minidl import keras
from minidl.keras import callbacks, layers, losses, optimizers
from minidl.keras.utils import set_random_seed, to_categorical

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 5)).astype(np.float32)
LABELS = (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def classifier(output="softmax"):
    set_random_seed(0)
    units = 1 if output == "sigmoid" else 2
    return keras.Sequential([keras.Input(shape=(5,)), layers.Dense(8, activation="relu"),
                             layers.Dense(units, activation=output)])


def test_strings_and_objects_compile_the_same_training():
    histories = []
    for optimizer, loss in (("adam", "categorical_crossentropy"),
                            (optimizers.Adam(), losses.CategoricalCrossentropy())):
        model = classifier()
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        set_random_seed(1)
        histories.append(model.fit(X, to_categorical(LABELS), epochs=3, verbose=0).history)
    assert histories[0] == histories[1]


def test_evaluate_returns_what_keras_returns():
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(X, LABELS, verbose=0)
    assert isinstance(loss, float)                       # no metrics: the loss alone
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    loss_again, accuracy = model.evaluate(X, LABELS, verbose=0)
    assert loss_again == pytest.approx(loss)
    probabilities = model.predict(X, verbose=0)
    assert accuracy == pytest.approx(np.mean(probabilities.argmax(1) == LABELS))
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(96), LABELS])),
                                 rel=1e-4)
    assert model.evaluate(X, LABELS, verbose=0, return_dict=True) == {
        "loss": loss_again, "accuracy": accuracy}


@pytest.mark.parametrize("output, loss, targets, accuracy_of", [
    ("sigmoid", "binary_crossentropy", LABELS[:, None].astype(np.float32),
     lambda p: np.mean((p[:, 0] > 0.5) == LABELS)),                     # binary_accuracy
    ("softmax", "sparse_categorical_crossentropy", LABELS,
     lambda p: np.mean(p.argmax(1) == LABELS)),                          # sparse categorical
    ("softmax", "categorical_crossentropy", to_categorical(LABELS),
     lambda p: np.mean(p.argmax(1) == LABELS)),                          # categorical
])
def test_accuracy_is_resolved_from_the_targets_and_outputs(output, loss, targets, accuracy_of):
    model = classifier(output)
    model.compile(optimizer="sgd", loss=loss, metrics=["acc"])
    _, accuracy = model.evaluate(X, targets, verbose=0)
    assert accuracy == pytest.approx(accuracy_of(model.predict(X, verbose=0)))


def test_validation_split_holds_out_the_last_samples():
    histories = []
    for kwargs in (dict(x=X, y=LABELS, validation_split=0.25),
                   dict(x=X[:72], y=LABELS[:72], validation_data=(X[72:], LABELS[72:]))):
        model = classifier()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        set_random_seed(2)
        histories.append(model.fit(epochs=2, batch_size=10, verbose=0, **kwargs).history)
    assert histories[0] == histories[1]
    assert list(histories[0]) == ["loss", "accuracy", "val_loss", "val_accuracy"]


def test_the_epoch_loss_is_the_mean_over_its_batches():
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    batch_logs = []
    record = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: batch_logs.append(logs))
    history = model.fit(X, LABELS, batch_size=40, epochs=1, verbose=0, callbacks=[record])
    assert len(batch_logs) == 3                      # 40 + 40 + 16 samples
    assert batch_logs[-1]["loss"] == pytest.approx(history.history["loss"][0])
    assert history.epoch == [0] and history.params["steps"] == 3


def test_verbose_prints_keras_lines(capsys):
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, LABELS, epochs=2, batch_size=32, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(r"3/3 - \d+s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: "
                        r"\d\.\d{4} - val_accuracy: \d\.\d{4} - \d+[mu]?s/epoch - \d+[mu]?s/step",
                        lines[1]), lines[1]
    model.evaluate(X, LABELS, verbose=1)
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"3/3 \[={30}\] - \d+s \d+[mu]?s/step - loss: \d\.\d{4} - accuracy: "
                        r"\d\.\d{4}", line), line
    model.fit(X, LABELS, epochs=1, verbose=0)
    model.predict(X, verbose=0)
    assert capsys.readouterr().out == ""


def test_early_stopping_stops_and_restores_the_best_weights():
    model = classifier()
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="mse")
    losses_seen = iter([3.0, 2.0, 2.5, 2.4, 2.3, 2.2])

    class FakeValidation(callbacks.Callback):   # val_loss 3, 2 (the best), then worse
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(losses_seen)
            self.model.layers[0].set_weights([w + epoch for w in weights])

    weights = model.layers[0].get_weights()
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                      restore_best_weights=True)
    history = model.fit(X, to_categorical(LABELS), epochs=6, verbose=0,
                        callbacks=[FakeValidation(), stopper])
    assert history.epoch == [0, 1, 2, 3] and stopper.stopped_epoch == 3
    assert stopper.best == 2.0 and stopper.best_epoch == 1
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], weights[0] + 1)


def test_checkpoints_schedules_and_nan(tmp_path):
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    path = str(tmp_path / "w-{epoch:02d}.npz")
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 / (epoch + 1))
    history = model.fit(X, LABELS, epochs=2, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(path, monitor="loss", save_weights_only=True), schedule])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-01.npz", "w-02.npz"]
    assert history.history["lr"] == pytest.approx([0.01, 0.005])
    assert model.optimizer.learning_rate == pytest.approx(0.005)
    with pytest.raises(NotImplementedError, match="save_weights_only=True"):
        callbacks.ModelCheckpoint(path)
    model.compile(optimizer=optimizers.SGD(learning_rate=1e30), loss="mse")
    with np.errstate(over="ignore", invalid="ignore"):   # it diverges on purpose
        history = model.fit(X, to_categorical(LABELS) * 1e30, epochs=3, verbose=0,
                            callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.epoch) == 1


def test_clear_errors():
    model = classifier()
    with pytest.raises(RuntimeError, match="must compile your model"):
        model.fit(X, LABELS)
    with pytest.raises(ValueError, match="Unknown loss function: 'cross_entropy'"):
        model.compile(optimizer="adam", loss="cross_entropy")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 'adamw2'"):
        model.compile(optimizer="adamw2", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric function: 'acuracy'"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"Shapes \(32,\) and \(32, 2\) are incompatible"):
        model.fit(X, LABELS, verbose=0)       # integer labels need sparse_categorical_...
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit(X, to_categorical(LABELS)[:90], verbose=0)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 5\), found shape=\(32, 4\)"):
        model.fit(X[:, :4], to_categorical(LABELS), verbose=0)


def test_train_on_batch_and_the_training_flag():
    set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dropout(0.5), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    loss = model.train_on_batch(X, LABELS.astype(np.float32))
    assert isinstance(loss, float)
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))
    assert not model.training                    # back to inference after training


def test_an_optimizer_belongs_to_one_model_and_an_output_may_go_untrained():
    shared = optimizers.Adam()
    first, second = classifier(), classifier()
    first.compile(optimizer=shared, loss="sparse_categorical_crossentropy")
    first.fit(X, LABELS, verbose=0)
    second.compile(optimizer=shared, loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="built for other weights"):
        second.fit(X, LABELS, verbose=0)
    inputs = keras.Input(shape=(5,))
    hidden = layers.Dense(4, name="hidden")(inputs)
    model = keras.Model(inputs, [layers.Dense(1, name="trained")(hidden), hidden])
    model.compile(optimizer="sgd", loss={"trained": "mse"})
    history = model.fit(X, [LABELS[:, None], np.zeros((96, 4))], epochs=1, verbose=0)
    assert list(history.history) == ["loss", "trained_loss"]
    assert history.history["loss"] == history.history["trained_loss"]
