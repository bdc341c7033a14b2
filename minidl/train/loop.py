"""The training loop: fit(), evaluate(), predict(), and the History that fit() returns.

    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                  X_train, y_train, epochs=20, batch_size=64, validation_split=0.1,
                  callbacks=[EarlyStopping(patience=3, restore_best_weights=True)])
    history.plot("training.png")
    evaluate(model, nn.CrossEntropyLoss(), X_test, y_test)    # {"loss": ..., "accuracy": ...}

fit() is the training loop every tutorial would otherwise write by hand, as in Keras:

    for each epoch:
        model.train()
        for each mini-batch (x, y), in a new random order:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            callbacks see the batch's loss (and may stop training: by default, a loss
            that is nan or infinite does)
        model.eval(); under no_grad: loss and metrics on the validation data
        callbacks see the epoch's numbers (and may stop training)

The numbers of each epoch ("loss", "accuracy", "val_loss", "val_accuracy", ...) go into
a History. The training loss and metrics of an epoch are computed on the fly, from the
outputs the model gave each batch while it was learning (in train mode, with dropout),
as Keras reports them; the validation ones from the model at the end of the epoch.

Metrics are given by name ("accuracy", "mae", from minidl.metrics.OUTPUT_METRICS) or as
functions metric(y_true, outputs) of NumPy arrays that return a number, reported under
the function's __name__. Outputs that are not all finite (a model that diverged) have no
metrics: they are logged as nan.
"""
import contextlib
import functools

import numpy as np

from .. import backend
from ..backend import to_numpy
from ..autograd import no_grad
from ..data.dataset import DataLoader, TensorDataset
from ..data.preprocessing import split_last
from ..metrics import OUTPUT_METRICS, accuracy_of_outputs
from ..nn.module import Module
from ..tensor import Tensor
from .callbacks import TerminateOnNaN
from .progress import epoch_progress


# ----------------------------------------------------------------------------
# which metrics
# ----------------------------------------------------------------------------
METRIC_ALIASES = {"acc": "accuracy"}


def _accuracy_threshold(loss_fn):
    """The score above which a single output means class 1: 0.5 when the loss declares that
    its model outputs probabilities (nn.BCELoss, F.binary_cross_entropy), else 0 (logits).
    Any loss, a function or a Module, may declare it in a `model_outputs` attribute."""
    return 0.5 if getattr(loss_fn, "model_outputs", None) == "probabilities" else 0.0


def _metric_functions(metrics, loss_fn):
    """{name: function} from names (see minidl.metrics.OUTPUT_METRICS) and callables."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    named = dict(OUTPUT_METRICS)
    named["accuracy"] = functools.partial(accuracy_of_outputs,
                                          threshold=_accuracy_threshold(loss_fn))
    functions = {}
    for metric in metrics:
        if callable(metric):
            functions[metric.__name__] = metric
            continue
        name = METRIC_ALIASES.get(metric, metric)
        if name not in named:
            known = sorted([*OUTPUT_METRICS, *METRIC_ALIASES])
            raise ValueError(f"fit: unknown metric {metric!r}; use one of {known} "
                             "or a function metric(y_true, outputs) -> float")
        functions[name] = named[name]
    return functions


class _EpochTotals:
    """Adds up the loss over the batches of an epoch and keeps outputs for the metrics."""

    def __init__(self, metric_functions):
        self.metric_functions = metric_functions
        self.loss_sum, self.count = 0.0, 0
        self.outputs, self.targets = [], []

    def add(self, loss, output, target):
        n = len(target)
        self.loss_sum += loss * n
        self.count += n
        if self.metric_functions:  # only then is it worth copying outputs off the device
            self.outputs.append(output.numpy())
            self.targets.append(target.numpy())

    @property
    def mean_loss(self):
        return self.loss_sum / max(self.count, 1)

    def results(self):
        logs = {"loss": self.mean_loss}
        if self.metric_functions:
            outputs, targets = np.concatenate(self.outputs), np.concatenate(self.targets)
            measurable = np.isfinite(outputs).all()  # a diverged model has no accuracy
            for name, function in self.metric_functions.items():
                logs[name] = float(function(targets, outputs)) if measurable else float("nan")
        return logs


# ----------------------------------------------------------------------------
# History
# ----------------------------------------------------------------------------
class History:
    """What fit() measured: `history[name]` is the list of one number per epoch."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)

    def __getitem__(self, name):
        return self.history[name]

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items())
        return f"History({len(self.epoch)} epochs, last: {last})"

    def plot(self, path=None):
        """The curves as minidl.viz.plot_history draws them: one panel per quantity, the
        training and validation curves together. Saves the image to `path` if given (the
        format from its suffix) and returns the matplotlib Figure."""
        from .. import viz  # matplotlib is imported only when a History is drawn
        figure = viz.plot_history(self)
        if path is not None:
            viz.save_figure(figure, path)
        return figure


# ----------------------------------------------------------------------------
# data in, batches out
# ----------------------------------------------------------------------------
def _as_numpy(array, name, where):
    if array is None:
        raise ValueError(f"{where}: {name} is missing")
    array = to_numpy(array)
    if array.ndim == 0 or len(array) == 0:
        raise ValueError(f"{where}: {name} must hold at least one sample, got shape {array.shape}")
    return array


def _dataset(x, y, dataset, where):
    """A Dataset from x and y, or the dataset given (never both)."""
    if dataset is not None:
        if x is not None or y is not None:
            raise ValueError(f"{where}: pass either x and y or dataset, not both")
        if len(dataset) == 0:
            raise ValueError(f"{where}: the dataset is empty")
        return dataset
    x, y = _as_numpy(x, "x", where), _as_numpy(y, "y", where)
    if len(x) != len(y):
        raise ValueError(f"{where}: x has {len(x)} samples but y has {len(y)} "
                         f"(shapes {x.shape} and {y.shape})")
    return TensorDataset(x, y)


def _validation_dataset(validation_data, where):
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) != 2:
            raise ValueError(f"{where}: validation_data must be (x_val, y_val) or a Dataset, got "
                             f"a sequence of {len(validation_data)}")
        return _dataset(*validation_data, None, where)
    return _dataset(None, None, validation_data, where)


def _split_validation(dataset, fraction, where):
    """(first part, last `fraction` of the samples), as Keras's validation_split."""
    if not isinstance(dataset, TensorDataset):
        raise ValueError(f"{where}: validation_split needs x and y arrays (or a TensorDataset); "
                         "for another dataset pass validation_data")
    parts = split_last(*dataset.arrays, validation_split=fraction)
    return TensorDataset(*parts[0::2]), TensorDataset(*parts[1::2])


def _model_device_and_dtype(model):
    params = list(model.parameters())
    floating = [p for p in params if p.dtype.kind == "f"]
    device = params[0].device if params else "cpu"
    dtype = floating[0].dtype if floating else backend.default_dtype()
    return device, dtype


def _to_model_dtype(batch, dtype):
    """Floating inputs take the model's float dtype (float64 data into a float32 model)."""
    return batch.astype(dtype) if batch.dtype.kind == "f" and batch.dtype != dtype else batch


def _unpack(batch, where):
    if not (isinstance(batch, tuple) and len(batch) == 2):
        raise ValueError(f"{where}: each sample of the dataset must be a pair (input, target)")
    return batch


@contextlib.contextmanager
def _evaluating(model):
    """model.eval() and no_grad inside; the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _evaluate_loader(model, loss_fn, loader, metric_functions, dtype):
    totals = _EpochTotals(metric_functions)
    with _evaluating(model):
        for batch in loader:
            x, y = _unpack(batch, "evaluate")
            x, y = _to_model_dtype(x, dtype), _to_model_dtype(y, dtype)
            output = model(x)
            totals.add(loss_fn(output, y).item(), output, y)
    return totals.results()


# ----------------------------------------------------------------------------
# fit, evaluate, predict
# ----------------------------------------------------------------------------
def fit(model, loss_fn, optimizer, x=None, y=None, *, dataset=None, epochs=1, batch_size=32,
        shuffle=True, validation_split=0.0, validation_data=None, metrics=("accuracy",),
        callbacks=(), verbose=True, device=None, seed=None, terminate_on_nan=True):
    """Train `model` to lower loss_fn(model(x), y) with `optimizer`; return a History.

    x, y          inputs and targets (NumPy arrays or Tensors), or
    dataset       a Dataset whose samples are (input, target) pairs
    epochs        passes over the training data
    batch_size    samples per optimizer step (the last batch may be smaller)
    shuffle       a new random order of the samples every epoch
    validation_split  hold out this last fraction of x, y (before shuffling, as in Keras)
                  and report "val_loss" and "val_<metric>" on it every epoch
    validation_data   (x_val, y_val) or a Dataset to validate on instead
    metrics       names ("accuracy", "mae") or functions metric(y_true, outputs) -> float
    callbacks     EarlyStopping, ModelCheckpoint, LearningRateScheduler, TerminateOnNaN or
                  your own Callback
    verbose       show the progress: a bar per epoch (tqdm) when sys.stderr is a terminal,
                  else one line per epoch with its numbers (see progress.py)
    device        move the model (and a loss module) there first; default: the model's device.
                  Batches go to the model's device and floating inputs to its dtype.
    seed          the shuffling order's seed (initialization and dropout follow
                  mdl.manual_seed)
    terminate_on_nan  stop at the first batch whose loss is nan or infinite, with a
                  warning naming the epoch and batch (a TerminateOnNaN callback, added
                  unless `callbacks` has one). The History then ends with that epoch,
                  its numbers taken over the batches it ran.
    """
    where = "fit"
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"{where}: epochs must be an int >= 0, got {epochs!r}")
    train_set = _dataset(x, y, dataset, where)
    if validation_split and validation_data is not None:
        raise ValueError(f"{where}: pass validation_split or validation_data, not both")
    validation_set = None
    if validation_split:
        train_set, validation_set = _split_validation(train_set, validation_split, where)
    elif validation_data is not None:
        validation_set = _validation_dataset(validation_data, where)

    if device is not None:
        model.to(device)
        if isinstance(loss_fn, Module):
            loss_fn.to(device)
    device, dtype = _model_device_and_dtype(model)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=shuffle, seed=seed,
                        device=device)
    validation_loader = None if validation_set is None else DataLoader(
        validation_set, batch_size=batch_size, device=device)
    metric_functions = _metric_functions(metrics, loss_fn)

    callbacks = list(callbacks)
    if terminate_on_nan and not any(isinstance(c, TerminateOnNaN) for c in callbacks):
        callbacks.append(TerminateOnNaN())
    trainer = _Trainer(model, loss_fn, optimizer, metric_functions, dtype, callbacks)
    return trainer.fit(loader, validation_loader, epochs, verbose)


class _Trainer:
    """One fit() call: the model, how it learns, what is measured, and who is told."""

    def __init__(self, model, loss_fn, optimizer, metric_functions, dtype, callbacks):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.metric_functions, self.dtype, self.callbacks = metric_functions, dtype, callbacks

    def fit(self, loader, validation_loader, epochs, verbose):
        """The epochs, each followed by the callbacks; returns the History."""
        history = History()
        was_training = self.model.training
        for callback in self.callbacks:
            callback.on_train_begin(self.model)
        try:
            for epoch in range(epochs):
                for callback in self.callbacks:
                    callback.on_epoch_begin(epoch, self.model)
                logs = self.epoch(loader, validation_loader, f"Epoch {epoch + 1}/{epochs}",
                                  verbose)
                for callback in self.callbacks:
                    callback.on_epoch_end(epoch, logs, self.model)
                history.append(epoch, logs)
                if self.stop_requested():
                    break
        finally:
            self.model.train(was_training)
        for callback in self.callbacks:
            callback.on_train_end(self.model)
        return history

    def epoch(self, loader, validation_loader, description, verbose):
        """The training batches (until they end or a callback stops training), then the
        validation numbers; returns the epoch's logs."""
        totals = _EpochTotals(self.metric_functions)
        self.model.train()
        with epoch_progress(description, len(loader), verbose) as progress:
            for index, batch in enumerate(loader):
                loss, output, y = self.step(batch)
                totals.add(loss, output, y)
                progress.batch_done(totals.mean_loss)
                for callback in self.callbacks:
                    callback.on_batch_end(index, {"loss": loss}, self.model)
                if self.stop_requested():
                    break
            logs = totals.results()
            if validation_loader is not None:
                validation = _evaluate_loader(self.model, self.loss_fn, validation_loader,
                                              self.metric_functions, self.dtype)
                logs.update({"val_" + name: value for name, value in validation.items()})
            progress.epoch_done(logs)
        return logs

    def step(self, batch):
        """One optimizer step on one batch; returns (the loss as a float, output, target)."""
        x, y = _unpack(batch, "fit")
        x, y = _to_model_dtype(x, self.dtype), _to_model_dtype(y, self.dtype)
        output = self.model(x)
        loss = self.loss_fn(output, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item(), output, y

    def stop_requested(self):
        return any(getattr(callback, "stop_training", False) for callback in self.callbacks)


def evaluate(model, loss_fn, x=None, y=None, batch_size=32, metrics=("accuracy",), *,
             dataset=None, device=None):
    """The mean loss and the metrics over (x, y) or a dataset, in eval mode without a graph.

    Returns a dict such as {"loss": 0.12, "accuracy": 0.97}.
    """
    data = _dataset(x, y, dataset, "evaluate")
    if device is not None:
        model.to(device)
    device, dtype = _model_device_and_dtype(model)
    loader = DataLoader(data, batch_size=batch_size, device=device)
    return _evaluate_loader(model, loss_fn, loader, _metric_functions(metrics, loss_fn), dtype)


def predict(model, x, batch_size=32, *, device=None):
    """The model's outputs for the inputs x, batch by batch, as one NumPy array."""
    x = _as_numpy(x, "x", "predict")
    if device is not None:
        model.to(device)
    device, dtype = _model_device_and_dtype(model)
    outputs = []
    with _evaluating(model):
        for (batch,) in DataLoader(TensorDataset(x), batch_size=batch_size, device=device):
            outputs.append(model(_to_model_dtype(batch, dtype)).numpy())
    return np.concatenate(outputs)
