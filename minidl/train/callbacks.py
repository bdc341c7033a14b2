"""Callbacks: code that fit() runs at fixed points of training, as in Keras.

    fit(model, loss_fn, optimizer, x, y, validation_split=0.1, callbacks=[
        EarlyStopping(patience=3, restore_best_weights=True),
        ModelCheckpoint("best.npz", save_best_only=True),
        LearningRateScheduler(optim.lr_scheduler.StepLR(optimizer, step_size=10))])

A Callback overrides the hooks it needs (on_train_begin, on_epoch_begin, on_batch_end,
on_epoch_end, on_train_end) and sets `stop_training = True` to end training. fit() adds a
TerminateOnNaN of its own unless told not to.
"""
import copy
import math
import warnings

from .. import io
from ..tensor import Tensor


class Callback:
    """Hooks fit() calls. Setting `self.stop_training = True` ends training: after this
    batch when set in on_batch_end (the epoch is cut short, then validated and recorded
    as usual), after this epoch when set in on_epoch_end.

    on_batch_end gets the batch's index in the epoch (0-based) and {"loss": its loss},
    after the optimizer step. on_epoch_end gets the epoch (0-based) and its logs, a dict
    such as {"loss": 0.31, "accuracy": 0.91, "val_loss": 0.35, "val_accuracy": 0.89},
    which it may add entries to (they go into the History).
    """

    stop_training = False

    def on_train_begin(self, model):
        pass

    def on_epoch_begin(self, epoch, model):
        pass

    def on_batch_end(self, batch, logs, model):
        pass

    def on_epoch_end(self, epoch, logs, model):
        pass

    def on_train_end(self, model):
        pass


class _Monitor:
    """Which logged number to watch, and whether lower ("min") or higher ("max") is better."""

    def __init__(self, who, monitor, mode, min_delta=0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":  # as Keras: accuracy-like quantities go up, the rest down
            mode = "max" if "acc" in monitor else "min"
        self.who, self.monitor, self.mode, self.min_delta = who, monitor, mode, abs(min_delta)
        self.best = None

    def value(self, logs):
        if self.monitor not in logs:
            raise KeyError(f"{self.who}: monitor {self.monitor!r} is not among the logged "
                           f"values {sorted(logs)}; for 'val_...' pass validation_split or "
                           "validation_data to fit()")
        return logs[self.monitor]

    def improved(self, value):
        """Is `value` better than the best so far by more than min_delta (and if so, keep it)?"""
        better = (self.best is None
                  or (self.mode == "min" and value < self.best - self.min_delta)
                  or (self.mode == "max" and value > self.best + self.min_delta))
        if better:
            self.best = value
        return better


class EarlyStopping(Callback):
    """Stop when the monitored value has not improved for `patience` epochs in a row.

    An epoch improves on the best so far if it beats it by more than min_delta. With
    patience=0 (or 1) training stops at the first epoch that does not improve. With
    restore_best_weights=True the model ends training with the weights of its best epoch
    (whether training stopped early or ran all its epochs). `stopped_epoch` is the
    0-based epoch training stopped after (None if it was not stopped), `best_epoch` the
    best one.
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.restore_best_weights = restore_best_weights
        self.on_train_begin(None)

    def on_train_begin(self, model):
        self._watch = _Monitor("EarlyStopping", self.monitor, self.mode, self.min_delta)
        self.wait, self.best_epoch, self.stopped_epoch, self.last_epoch = 0, None, None, None
        self.best_weights = None
        self.stop_training = False

    @property
    def best(self):
        return self._watch.best

    def on_epoch_end(self, epoch, logs, model):
        self.last_epoch = epoch
        if self._watch.improved(self._watch.value(logs)):
            self.wait, self.best_epoch = 0, epoch
            if self.restore_best_weights:
                self.best_weights = copy_state(model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stop_training, self.stopped_epoch = True, epoch

    def on_train_end(self, model):
        if self.best_weights is not None and self.best_epoch != self.last_epoch:
            model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save model.state_dict() with minidl.save after every epoch, or only when it is the best.

    `path` may hold fields filled in each epoch, e.g. "ckpt/model-{epoch:02d}-{val_loss:.3f}.npz"
    (epoch counts from 1). With save_best_only=True a file is written only when the
    monitored value improves, so a fixed `path` always holds the best model so far.
    `saved` lists the paths written.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        self.path, self.monitor, self.mode = path, monitor, mode
        self.save_best_only = save_best_only
        self.on_train_begin(None)

    def on_train_begin(self, model):
        self._watch = _Monitor("ModelCheckpoint", self.monitor, self.mode)
        self.saved = []

    def on_epoch_end(self, epoch, logs, model):
        if self.save_best_only and not self._watch.improved(self._watch.value(logs)):
            return
        path = str(self.path).format(epoch=epoch + 1, **logs)
        io.save(model.state_dict(), path)
        self.saved.append(path)


class LearningRateScheduler(Callback):
    """Step a schedule from minidl.optim.lr_scheduler after every epoch; log the lr as "lr"."""

    def __init__(self, schedule):
        self.schedule = schedule

    def on_epoch_end(self, epoch, logs, model):
        logs["lr"] = self.schedule.get_last_lr()[0]  # the lr this epoch was trained with
        self.schedule.step()


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is nan or infinite, with a warning that
    names the epoch and the batch (counting from 1), as Keras's TerminateOnNaN.

    fit() adds one by default (terminate_on_nan=True). The epoch that diverged ends at
    that batch and is still recorded: its loss is the mean over the batches it ran, so not
    finite. `stopped_epoch` and `stopped_batch` are where it stopped (0-based), or None.
    """

    def __init__(self):
        self.on_train_begin(None)

    def on_train_begin(self, model):
        self.stop_training = False
        self._epoch = self.stopped_epoch = self.stopped_batch = None

    def on_epoch_begin(self, epoch, model):
        self._epoch = epoch

    def on_batch_end(self, batch, logs, model):
        loss = logs["loss"]
        if math.isfinite(loss):
            return
        self.stop_training = True
        self.stopped_epoch, self.stopped_batch = self._epoch, batch
        warnings.warn(f"TerminateOnNaN: the loss is {loss} at epoch {self._epoch + 1}, batch "
                      f"{batch + 1} (counting from 1); training stopped there. The History "
                      "holds the epochs so far, the last one cut short at that batch.",
                      RuntimeWarning, stacklevel=2)


def copy_state(state):
    """A deep copy of a state dict (Module.state_dict shares memory with the model)."""
    return {name: Tensor(value.data.copy()) if isinstance(value, Tensor) else copy.deepcopy(value)
            for name, value in state.items()}
