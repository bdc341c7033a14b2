"""fit / evaluate / predict, History, and the callbacks, on the bundled digits data."""
import re
import sys
import warnings
from io import StringIO

import numpy as np
import pytest

import minidl as mdl
from minidl import io, nn, optim
from minidl.data import Dataset, TensorDataset, load_digits, train_test_split
from minidl.optim import lr_scheduler
from minidl.train import (
    Callback, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint, TerminateOnNaN,
    copy_state, evaluate, fit, predict,
)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits()
    return train_test_split(x / 16, y, test_size=0.25, random_state=0)


def mlp(seed=0, dropout=0.0):
    mdl.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 10))


LOSS = nn.CrossEntropyLoss()


class Recorder(Callback):
    """Keeps a copy of the weights after every epoch."""

    def on_train_begin(self, model):
        self.weights = []

    def on_epoch_end(self, epoch, logs, model):
        self.weights.append(copy_state(model.state_dict()))


def same_weights(model, state):
    return all(np.array_equal(v.numpy(), state[k].numpy()) for k, v in model.state_dict().items())


class Pairs(Dataset):
    """A Dataset that is not a TensorDataset: one (input, label) pair per item."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def sorted_rows(a):
    return a[np.lexsort(a.T[::-1])]


def scripted_metric(values):
    """A metric that reports the given values, one per epoch (training data only)."""
    values = iter(values)

    def scripted(y_true, outputs):
        return next(values)
    return scripted


# ----------------------------------------------------------------------------
# the package
# ----------------------------------------------------------------------------
def test_the_loop_and_the_callbacks_live_in_their_own_modules():
    from minidl.train import callbacks, loop
    assert mdl.fit is fit is loop.fit and mdl.evaluate is loop.evaluate
    assert mdl.predict is loop.predict and mdl.History is History is loop.History
    assert mdl.EarlyStopping is EarlyStopping is callbacks.EarlyStopping
    assert ModelCheckpoint is callbacks.ModelCheckpoint and Callback is callbacks.Callback
    assert not hasattr(loop, "EarlyStopping") and not hasattr(callbacks, "fit")


# ----------------------------------------------------------------------------
# fit, evaluate, predict
# ----------------------------------------------------------------------------
def test_fit_learns_digits_and_evaluate_reports_test_accuracy(digits):
    x_train, x_test, y_train, y_test = digits
    model = mlp()
    history = fit(model, LOSS, optim.Adam(model.parameters(), lr=1e-2), x_train, y_train,
                  epochs=4, batch_size=64, validation_split=0.2, verbose=False, seed=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1, 2, 3] and all(len(v) == 4 for v in history.history.values())
    assert history["loss"][-1] < history["loss"][0] / 3
    assert history["val_accuracy"][-1] > 0.85
    result = evaluate(model, LOSS, x_test, y_test, batch_size=100)
    assert set(result) == {"loss", "accuracy"}
    assert result["accuracy"] > 0.85  # measured 0.91 after 4 epochs


def test_validation_split_holds_out_the_last_fraction_and_never_trains_on_it(digits):
    x, y = digits[0][:400], digits[2][:400]
    model = mlp()
    seen = []
    model.register_forward_hook(lambda m, inputs, out: seen.append(
        (m.training, mdl.is_grad_enabled(), inputs[0].numpy().copy())))
    history = fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), x, y, epochs=2,
                  batch_size=64, validation_split=0.25, verbose=False)
    training = np.concatenate([batch for train, grad, batch in seen if train])
    validation = np.concatenate([batch for train, grad, batch in seen if not train])
    assert all(grad for train, grad, _ in seen if train)          # train mode, graph recorded
    assert not any(grad for train, grad, _ in seen if not train)  # eval mode under no_grad
    assert len(training) == 2 * 300 and len(validation) == 2 * 100
    np.testing.assert_allclose(validation[:100], x[300:])  # the last quarter, in order
    np.testing.assert_allclose(sorted_rows(training[:300]), sorted_rows(x[:300]))
    expected = evaluate(model, LOSS, x[300:], y[300:])
    assert history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-6)
    assert history["val_accuracy"][-1] == expected["accuracy"]
    assert model.training  # fit leaves the model in the mode it found it in


def test_validation_data_and_dataset_inputs_give_the_same_run(digits):
    x, y = digits[0][:300], digits[2][:300]
    xv, yv = digits[1][:100], digits[3][:100]
    runs = []
    for inputs in (dict(x=x, y=y, validation_data=(xv, yv)),
                   dict(dataset=TensorDataset(x, y), validation_data=TensorDataset(xv, yv)),
                   dict(dataset=Pairs(x, y), validation_data=Pairs(xv, yv))):
        model = mlp()
        runs.append(fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), **inputs, epochs=2,
                        batch_size=50, seed=3, verbose=False).history)
    assert runs[0] == runs[1] == runs[2]
    assert runs[0]["val_loss"][-1] == pytest.approx(evaluate(model, LOSS, xv, yv)["loss"], rel=1e-6)


def test_seed_makes_the_shuffling_reproducible(digits):
    x, y = digits[0][:200], digits[2][:200]

    def run(seed):
        model = mlp()
        return fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), x, y, epochs=1,
                   batch_size=32, seed=seed, verbose=False)["loss"]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_predict_returns_eval_mode_outputs_as_numpy(digits):
    x = digits[1][:70]
    model = mlp(dropout=0.5)
    out = predict(model, x, batch_size=32)
    assert isinstance(out, np.ndarray) and out.shape == (70, 10) and out.dtype == np.float32
    model.eval()
    np.testing.assert_allclose(out, model(mdl.tensor(x)).numpy(), atol=1e-6)  # no dropout
    model.train()
    np.testing.assert_allclose(predict(model, mdl.tensor(x), batch_size=70), out, atol=1e-6)
    assert model.training


def test_float64_inputs_feed_a_float32_model(digits):
    x, y = digits[0][:64].astype(np.float64), digits[2][:64]
    model = mlp()
    history = fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), x, y, verbose=False)
    assert np.isfinite(history["loss"][0])
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_regression_with_mae_and_a_named_metric_function():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None] + 0.3
    mdl.manual_seed(0)
    model = nn.Linear(3, 1)

    def max_error(y_true, outputs):
        return np.abs(y_true - outputs).max()

    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9), x, y,
                  epochs=15, batch_size=32, metrics=("mae", max_error), verbose=False)
    assert set(history.history) == {"loss", "mae", "max_error"}
    assert history["mae"][-1] < 0.02 and history["mae"][0] > 0.2
    assert history["max_error"][-1] >= history["mae"][-1]
    with pytest.raises(ValueError, match="accuracy: the targets are not class labels"):
        evaluate(model, nn.MSELoss(), x, y + 0.5)


def test_progress_bar_is_shown_unless_verbose_is_false(digits, capsys):
    x, y = digits[0][:64], digits[2][:64]
    model = mlp()
    fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), x, y, epochs=2, verbose=True,
        validation_split=0.5)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "val_accuracy=" in err
    fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), x, y, epochs=2, verbose=False)
    assert capsys.readouterr().err == ""


class FakeTerminal(StringIO):
    """Captured text that says it is a terminal, as sys.stderr is in a console."""

    def isatty(self):
        return True


def test_a_terminal_gets_a_progress_bar_per_epoch(digits, monkeypatch):
    x, y = digits[0][:64], digits[2][:64]
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    model = mlp()
    fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), x, y, epochs=2, batch_size=16,
        validation_split=0.5)
    out = terminal.getvalue()
    assert "\r" in out  # the bar redraws itself in place
    for epoch in (1, 2):
        assert re.search(rf"Epoch {epoch}/2: 100%.* 2/2 .*val_accuracy=", out)
    assert "Epoch 1/2: loss=" not in out  # no plain lines


def test_elsewhere_each_epoch_is_one_plain_line(digits, monkeypatch):
    x, y = digits[0][:64], digits[2][:64]
    log = StringIO()  # a file or a pipe: not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    model = mlp()
    history = fit(model, LOSS, optim.SGD(model.parameters(), lr=0.1), x, y, epochs=3,
                  batch_size=16, validation_split=0.5)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 3
    for epoch, line in enumerate(lines):
        numbers = ", ".join(f"{name}={values[epoch]:.4g}"
                            for name, values in history.history.items())
        assert line == f"Epoch {epoch + 1}/3: {numbers}"
    assert lines[0].startswith("Epoch 1/3: loss=") and "val_accuracy=" in lines[0]


def test_bad_arguments_are_clear_errors(digits):
    x, y = digits[0][:64], digits[2][:64]
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="fit: x has 64 samples but y has 10"):
        fit(model, LOSS, opt, x, y[:10])
    with pytest.raises(ValueError, match="fit: pass validation_split or validation_data"):
        fit(model, LOSS, opt, x, y, validation_split=0.1, validation_data=(x, y))
    with pytest.raises(ValueError, match="validation_split needs x and y arrays"):
        fit(model, LOSS, opt, dataset=Pairs(x, y), validation_split=0.1)
    with pytest.raises(ValueError, match="validation_split=0.99 of 64 samples leaves an empty"):
        fit(model, LOSS, opt, x, y, validation_split=0.99)
    with pytest.raises(ValueError, match="fit: unknown metric 'f1'"):
        fit(model, LOSS, opt, x, y, metrics=("f1",))
    with pytest.raises(ValueError, match="fit: pass either x and y or dataset"):
        fit(model, LOSS, opt, x, y, dataset=TensorDataset(x, y))
    with pytest.raises(KeyError, match="monitor 'val_loss' is not among the logged values"):
        fit(model, LOSS, opt, x, y, callbacks=[EarlyStopping()], verbose=False)


# ----------------------------------------------------------------------------
# callbacks
# ----------------------------------------------------------------------------
def test_early_stopping_stops_after_patience_epochs_without_improvement(digits):
    x, y = digits[0][:64], digits[2][:64]
    model = mlp()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    # lr = 0: the validation loss never improves after the first epoch
    history = fit(model, LOSS, optim.SGD(model.parameters(), lr=0.0), x, y, epochs=10,
                  validation_split=0.25, callbacks=[stopper], verbose=False)
    assert len(history.epoch) == 3
    assert stopper.stopped_epoch == 2 and stopper.best_epoch == 0


def test_early_stopping_min_delta_mode_and_restore_best_weights(digits):
    x, y = digits[0][:64], digits[2][:64]
    model = mlp()
    recorder = Recorder()
    # improvements of 0.05 do not count with min_delta=0.1: the best stays epoch 1
    stopper = EarlyStopping(monitor="scripted", mode="max", patience=2, min_delta=0.1,
                            restore_best_weights=True)
    history = fit(model, LOSS, optim.SGD(model.parameters(), lr=0.5), x, y, epochs=10,
                  metrics=[scripted_metric([0.1, 0.5, 0.55, 0.6, 0.9])],
                  callbacks=[recorder, stopper], verbose=False)
    assert history["scripted"] == [0.1, 0.5, 0.55, 0.6]
    assert stopper.best_epoch == 1 and stopper.best == 0.5
    assert same_weights(model, recorder.weights[1])
    assert not same_weights(model, recorder.weights[3])


def test_restore_best_weights_also_when_training_runs_to_the_end(digits):
    x, y = digits[0][:64], digits[2][:64]
    model = mlp()
    recorder = Recorder()
    stopper = EarlyStopping(monitor="scripted", patience=5, restore_best_weights=True)
    fit(model, LOSS, optim.SGD(model.parameters(), lr=0.5), x, y, epochs=3,
        metrics=[scripted_metric([3.0, 1.0, 2.0])], callbacks=[recorder, stopper], verbose=False)
    assert stopper.stopped_epoch is None
    assert same_weights(model, recorder.weights[1])


def test_model_checkpoint_writes_every_epoch_or_only_the_best(digits, tmp_path):
    x, y = digits[0][:64], digits[2][:64]
    model = mlp()
    recorder = Recorder()
    every = ModelCheckpoint(tmp_path / "model-{epoch:02d}-{loss:.2f}.npz")
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="scripted", save_best_only=True)
    history = fit(model, LOSS, optim.SGD(model.parameters(), lr=0.5), x, y, epochs=4,
                  metrics=["accuracy", scripted_metric([2.0, 1.0, 1.5, 1.2])],
                  callbacks=[recorder, every, best], verbose=False)
    expected = [str(tmp_path / f"model-{e + 1:02d}-{loss:.2f}.npz")
                for e, loss in enumerate(history["loss"])]
    assert every.saved == expected
    assert best.saved == [str(tmp_path / "best.npz")] * 2  # only the first two epochs improved
    restored = mlp(seed=9)
    restored.load_state_dict(io.load(tmp_path / "best.npz"))
    assert same_weights(restored, recorder.weights[1])
    restored.load_state_dict(io.load(expected[2]))
    assert same_weights(restored, recorder.weights[2])


def test_learning_rate_scheduler_callback_steps_each_epoch_and_logs_lr(digits):
    x, y = digits[0][:64], digits[2][:64]
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    schedule = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(model, LOSS, opt, x, y, epochs=3, callbacks=[LearningRateScheduler(schedule)],
                  verbose=False)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)


# ----------------------------------------------------------------------------
# a loss that is not finite
# ----------------------------------------------------------------------------
class BatchLosses(Callback):
    """Keeps the loss of every batch, epoch by epoch."""

    def on_train_begin(self, model):
        self.epochs = []

    def on_epoch_begin(self, epoch, model):
        self.epochs.append([])

    def on_batch_end(self, batch, logs, model):
        self.epochs[-1].append(logs["loss"])


def regression_data(n=96):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)


def test_a_diverging_learning_rate_stops_fit_at_the_first_loss_that_is_not_finite():
    x, y = regression_data()
    mdl.manual_seed(0)
    model = nn.Linear(3, 1)
    losses, stopper = BatchLosses(), TerminateOnNaN()
    # lr = 5 is far above 2 / (largest curvature of the MSE), about 1: every step
    # overshoots further, until the squared errors overflow float32
    with pytest.warns(RuntimeWarning, match=r"the loss is (nan|inf) at epoch \d+, batch \d+"), \
            np.errstate(over="ignore", invalid="ignore"):
        history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=5.0), x, y,
                      epochs=200, batch_size=16, validation_split=0.25, metrics=("mae",),
                      callbacks=[losses, stopper], verbose=False)
    stopped_epoch, stopped_batch = stopper.stopped_epoch, stopper.stopped_batch
    assert 0 < stopped_epoch < 199 and history.epoch == list(range(stopped_epoch + 1))
    assert len(losses.epochs) == stopped_epoch + 1 and len(losses.epochs[-1]) == stopped_batch + 1
    batch_losses = np.concatenate([np.array(epoch) for epoch in losses.epochs])
    assert np.isfinite(batch_losses[:-1]).all() and not np.isfinite(batch_losses[-1])
    assert np.isfinite(history["loss"][:-1]).all() and not np.isfinite(history["loss"][-1])
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(values) == len(history.epoch) for values in history.history.values())


def test_the_default_terminate_on_nan_warns_once_and_can_be_turned_off():
    x, y = regression_data()

    def run(**kwargs):
        mdl.manual_seed(0)
        model = nn.Linear(3, 1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(all="ignore"):
                history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=5.0), x, y,
                              epochs=60, batch_size=16, metrics=(), verbose=False, **kwargs)
        return history, [w for w in caught if "TerminateOnNaN" in str(w.message)]

    history, caught = run()
    assert len(caught) == 1 and len(history.epoch) < 60
    _, again = run(callbacks=[TerminateOnNaN()])  # the one given replaces the default
    assert len(again) == 1
    history, caught = run(terminate_on_nan=False)
    assert caught == [] and len(history.epoch) == 60 and not np.isfinite(history["loss"][-1])


class NanAt:
    """MSE, but nan at one (epoch, batch): a loss that diverges at a known place."""

    def __init__(self, epoch, batch):
        self.where, self.epoch, self.batch = (epoch, batch), -1, -1

    def __call__(self, output, target):
        loss = mdl.functional.mse_loss(output, target)
        return loss * float("nan") if (self.epoch, self.batch) == self.where else loss


class CountBatches(Callback):
    """Tells a NanAt loss which epoch and batch fit() is at."""

    def __init__(self, loss):
        self.loss = loss

    def on_epoch_begin(self, epoch, model):
        self.loss.epoch, self.loss.batch = epoch, 0

    def on_batch_end(self, batch, logs, model):
        self.loss.batch = batch + 1


def test_the_epoch_that_diverged_is_recorded_over_the_batches_it_ran():
    x, y = regression_data()
    mdl.manual_seed(0)
    model = nn.Linear(3, 1)
    loss_fn = NanAt(epoch=2, batch=1)
    opt = optim.SGD(model.parameters(), lr=0.05)
    schedule = LearningRateScheduler(lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    stopper = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    recorder = Recorder()
    with pytest.warns(RuntimeWarning, match="the loss is nan at epoch 3, batch 2 "):
        history = fit(model, loss_fn, opt, x, y, epochs=10, batch_size=16, metrics=("mae",),
                      validation_split=0.25, callbacks=[CountBatches(loss_fn), recorder,
                                                        schedule, stopper], verbose=False)
    assert history.epoch == [0, 1, 2]
    assert all(len(values) == 3 for values in history.history.values())
    assert np.isnan(history["loss"][2]) and np.isfinite(history["loss"][:2]).all()
    # the two batches' outputs were finite (the nan came after them); the model then
    # validated had nan weights, and nan outputs have no mae
    assert np.isfinite(history["mae"][2]) and np.isnan(history["val_mae"][2])
    assert np.isnan(history["val_loss"][2])
    assert history["lr"] == pytest.approx([0.05, 0.025, 0.0125])  # the cut epoch's lr too
    # the callbacks saw the cut epoch, so EarlyStopping put back the best weights
    assert stopper.best_epoch == 1 and same_weights(model, recorder.weights[1])


# ----------------------------------------------------------------------------
# History
# ----------------------------------------------------------------------------
def test_history_plot_writes_a_png_with_one_panel_per_quantity(tmp_path):
    history = History()
    for epoch, (loss, val_loss) in enumerate([(1.0, 1.2), (0.5, 0.8), (0.3, 0.7)]):
        history.append(epoch, {"loss": loss, "accuracy": 1 - loss, "val_loss": val_loss,
                               "val_accuracy": 1 - val_loss})
    figure = history.plot(tmp_path / "history.png")
    assert (tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [axes.get_title() for axes in figure.axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in figure.axes[0].lines] == ["loss", "val_loss"]
    np.testing.assert_array_equal(figure.axes[0].lines[1].get_ydata(), [1.2, 0.8, 0.7])
    assert "3 epochs" in repr(history)


# ----------------------------------------------------------------------------
# GPU
# ----------------------------------------------------------------------------
@pytest.mark.skipif(not mdl.cuda_is_available(), reason="needs CuPy and a GPU")
def test_fit_on_the_gpu_matches_the_cpu(digits):
    x, y = digits[0][:256], digits[2][:256]
    histories = []
    for device in ("cpu", "cuda"):
        model = mlp()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        histories.append(fit(model, LOSS, opt, x, y, epochs=2, batch_size=64, seed=0,
                             validation_split=0.25, device=device, verbose=False))
        assert all(p.device == device for p in model.parameters())
        assert predict(model, x[:5]).shape == (5, 10)
    for name in ("loss", "val_loss"):
        np.testing.assert_allclose(histories[1][name], histories[0][name], rtol=1e-4)


def test_accuracy_of_a_sigmoid_model_trained_with_bce_thresholds_at_one_half():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)[:, None]
    mdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    history = fit(model, nn.BCELoss(), optim.Adam(model.parameters(), lr=0.1), x, y,
                  epochs=20, batch_size=50, verbose=False)
    assert history.history["accuracy"][-1] > 0.95  # a 0 threshold would call every row 1
    assert evaluate(model, nn.BCELoss(), x, y)["accuracy"] > 0.95


class MeanSquaredProbabilityLoss(nn.Module):
    """Any loss, not only BCELoss, may say that its model outputs probabilities."""

    model_outputs = "probabilities"

    def forward(self, output, target):
        return mdl.functional.mse_loss(output, target)


def fixed_single_output_model(squash):
    """A model whose one output per sample is w.x (a logit), or sigmoid(w.x) if squash."""
    linear = nn.Linear(2, 1, bias=False)
    with mdl.no_grad():
        linear.weight.data[...] = np.array([[1.0, -1.0]], dtype=np.float32)
    return nn.Sequential(linear, nn.Sigmoid()) if squash else linear


@pytest.mark.parametrize("loss_fn, squash", [
    (MeanSquaredProbabilityLoss(), True), (mdl.functional.binary_cross_entropy, True),
    (nn.BCELoss(), True), (nn.BCEWithLogitsLoss(), False),
    (mdl.functional.binary_cross_entropy_with_logits, False)])
def test_accuracy_thresholds_where_the_loss_says_the_model_outputs_probabilities(loss_fn,
                                                                                  squash):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 2)).astype(np.float32)
    y = (x[:, :1] > x[:, 1:]).astype(np.float32)  # class 1 exactly where w.x > 0
    model = fixed_single_output_model(squash)
    # with the other threshold, every sigmoid output (> 0) would be class 1, or for
    # logits 0.5 would call some positives 0
    assert evaluate(model, loss_fn, x, y)["accuracy"] == 1.0
    history = fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.0), x, y,
                  verbose=False)
    assert history["accuracy"] == [1.0]


def test_the_metrics_of_model_outputs_live_in_minidl_metrics():
    from minidl.train import loop
    assert not any(hasattr(loop, name) for name in ("accuracy", "mae", "METRICS"))
