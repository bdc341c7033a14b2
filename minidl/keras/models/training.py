"""compile(), fit(), evaluate() and predict(): Keras's training loop for a Model.

    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=32, validation_split=0.2)
    loss, accuracy = model.evaluate(x_test, y_test)

fit() is minidl's training loop with Keras's conventions: each batch runs the model with
training=True, adds up the losses of the outputs (times loss_weights), takes one
optimizer step, and updates the running loss and metrics, which are what the epoch
reports (so the training numbers of an epoch are averages over the batches while the
model was learning, as in Keras). Then the validation data, with training=False. The
History holds one number per epoch for "loss", each metric, and their "val_" twins.

evaluate() returns what Keras returns: the loss alone when there is nothing else to
report, else the list [loss, *metrics] (with several outputs: [loss, loss of each output,
*metrics of each output]), or a dict with return_dict=True. predict() returns a NumPy
array (a list of them for several outputs).
"""
import numpy as np

from ...autograd import no_grad
from ...tensor import Tensor
from .. import callbacks as callbacks_module
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers
from ..symbolic import flatten
from .data import Samples, arrays
from .progress import Progress, epoch_header


class Training:
    """The training methods of Model (a mixin: Model holds the layers and the graph)."""

    compiled = False
    optimizer = None
    stop_training = False
    history = None

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, steps_per_execution=None,
                jit_compile=None, **unsupported):
        """Choose the optimizer, the loss of each output and the metrics to report.

        Strings or objects: optimizer "adam" or optimizers.Adam(1e-3); loss
        "categorical_crossentropy", a losses.Loss or a function loss(y_true, y_pred); one
        loss for every output, or a list / dict (by output name) of them; metrics a list
        for every output, or a dict / list of lists per output."""
        if unsupported:
            raise TypeError(f"compile: arguments not supported: {sorted(unsupported)}")
        if loss is None:
            raise ValueError("compile: a loss is needed to train, e.g. loss='mse'")
        names = self.output_names
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._losses = [None if spec is None else losses_module.get(spec)   # None: not trained
                        for spec in _per_output(loss, names, "loss")]
        weights = [1.0] * len(names) if loss_weights is None else \
            _per_output(loss_weights, names, "loss_weights")
        self._loss_weights = [float(w) for w in weights]
        self._metric_specs = _metrics_per_output(metrics, names)
        for spec in flatten(self._metric_specs):
            metrics_module.check(spec)
        self._metrics = None          # Metric objects, made from the first batch's shapes
        self.compiled = True

    def _check_compiled(self):
        if not self.compiled:
            raise RuntimeError("You must compile your model before training/testing. Use "
                               "`model.compile(optimizer, loss)`.")

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` passes over (x, y); return the History (see the module doc)."""
        self._check_compiled()
        _refuse(class_weight=class_weight, sample_weight=sample_weight,
                steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
        batch_size = batch_size or 32
        train = self._samples(x, y, "fit")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val)")
            validation = self._samples(*validation_data, "fit")
        elif validation_split:
            train, validation = train.split(validation_split)
        verbose = 1 if verbose == "auto" else verbose
        steps = train.steps(batch_size)
        self.history = callbacks_module.History()
        callback_list = list(callbacks or []) + [self.history]
        for callback in callback_list:
            callback.set_model(self)
            callback.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
        self._build_optimizer()
        self.stop_training = False
        for callback in callback_list:
            callback.on_train_begin({})
        try:
            for epoch in range(initial_epoch, epochs):
                logs = self._fit_epoch(train, batch_size, shuffle, epoch, epochs, verbose,
                                       callback_list, validation, validation_batch_size,
                                       validation_freq)
                if self.stop_training:
                    break
        finally:
            self.train(False)
        for callback in callback_list:
            callback.on_train_end(logs if epochs > initial_epoch else {})
        return self.history

    def _fit_epoch(self, train, batch_size, shuffle, epoch, epochs, verbose, callback_list,
                   validation, validation_batch_size, validation_freq):
        """One epoch: the batches, the validation, the callbacks; returns its logs."""
        epoch_header(epoch, epochs, verbose)
        for callback in callback_list:
            callback.on_epoch_begin(epoch, {})
        totals = _Totals(self)
        progress = Progress(train.steps(batch_size), verbose)
        self.train(True)
        logs = {}
        for step, (xs, ys) in enumerate(train.batches(batch_size, shuffle)):
            for callback in callback_list:
                callback.on_train_batch_begin(step, {})
            outputs, loss, output_losses = self._forward_loss(xs, ys, training=True)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            totals.add(len(xs[0]), loss, output_losses, ys, outputs)
            logs = totals.logs()
            progress.update(step + 1, logs)
            for callback in callback_list:
                callback.on_train_batch_end(step, dict(logs))
            if self.stop_training:
                break
        self.train(False)
        if validation is not None and (epoch + 1) % validation_freq == 0:
            scores = self._evaluate_samples(validation, validation_batch_size or batch_size)
            logs.update({"val_" + name: value for name, value in scores.items()})
        progress.done(logs)
        for callback in callback_list:
            callback.on_epoch_end(epoch, logs)
        return logs

    def _build_optimizer(self):
        """Hand the optimizer this model's parameters (once; compile may precede the build)."""
        parameters = list(self.parameters())
        if not self.optimizer.built:
            self.optimizer.build(parameters)
            return
        mine = {id(p) for p in parameters}
        if {id(p) for g in self.optimizer.param_groups for p in g["params"]} != mine:
            raise ValueError("This optimizer was built for other weights (another model, or "
                             "this one before layers were added): give compile() a new one")

    # ------------------------------------------------------------------ evaluate, predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss and metrics on (x, y), in inference mode: a number, a list, or a dict."""
        self._check_compiled()
        _refuse(sample_weight=sample_weight, steps=steps)
        samples = self._samples(x, y, "evaluate")
        logs = self._evaluate_samples(samples, batch_size or 32, verbose)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _evaluate_samples(self, samples, batch_size, verbose=0):
        totals = _Totals(self)
        progress = Progress(samples.steps(batch_size), verbose)
        with no_grad():
            for step, (xs, ys) in enumerate(samples.batches(batch_size)):
                outputs, loss, output_losses = self._forward_loss(xs, ys, training=False)
                totals.add(len(xs[0]), loss, output_losses, ys, outputs)
                progress.update(step + 1, totals.logs())
        logs = totals.logs()
        progress.done(logs)
        return logs

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, batch by batch, in inference mode, as NumPy arrays."""
        _refuse(steps=steps)
        xs = arrays(x, self.input_names, "input")
        samples = Samples(xs)
        batch_size = batch_size or 32
        progress = Progress(samples.steps(batch_size), verbose)
        results = []
        with no_grad():
            for step, (batch, _) in enumerate(samples.batches(batch_size)):
                outputs = self(batch if len(batch) > 1 else batch[0], training=False)
                results.append([o.numpy() for o in flatten(outputs)])
                progress.update(step + 1, {})
        progress.done({})
        joined = [np.concatenate(parts) for parts in zip(*results)]
        return joined[0] if len(joined) == 1 else joined

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on (x, y); the loss and metrics of that batch."""
        self._check_compiled()
        self._build_optimizer()
        xs, ys = arrays(x, self.input_names, "input"), arrays(y, self.output_names, "output")
        self.train(True)
        try:
            outputs, loss, output_losses = self._forward_loss(xs, ys, training=True)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        finally:
            self.train(False)
        totals = _Totals(self)
        totals.add(len(xs[0]), loss, output_losses, ys, outputs)
        logs = totals.logs()
        values = list(logs.values())
        return logs if return_dict else values[0] if len(values) == 1 else values

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=len(arrays(x, self.input_names, "input")[0]),
                            verbose=0)

    # ------------------------------------------------------------------ the loss
    def _samples(self, x, y, where):
        if x is None or y is None:
            raise ValueError(f"{where}: give the inputs x and the targets y")
        return Samples(arrays(x, self.input_names, "input"), arrays(y, self.output_names,
                                                                      "output"))

    def _forward_loss(self, xs, ys, training):
        """(outputs, the total loss, each output's loss) for one batch."""
        outputs = list(flatten(self(xs if len(xs) > 1 else xs[0], training=training)))
        output_losses = [None if loss is None else loss(y, output)
                         for loss, y, output in zip(self._losses, ys, outputs)]
        weighted = [w * l for w, l in zip(self._loss_weights, output_losses) if l is not None]
        total = weighted[0] if len(weighted) == 1 and len(outputs) == 1 else \
            sum(weighted, Tensor(np.zeros((), dtype=outputs[0].dtype)))
        return outputs, total, output_losses


class _Totals:
    """The running loss (weighted by batch size, as Keras's loss tracker) and metrics."""

    def __init__(self, model):
        self.model, self.count, self.loss = model, 0, 0.0
        self.output_losses = [0.0] * len(model.output_names)
        if model._metrics is not None:
            for metric in flatten(model._metrics):
                metric.reset_state()

    def add(self, size, loss, output_losses, ys, outputs):
        self.count += size
        self.loss += float(loss.item()) * size
        for i, value in enumerate(output_losses):
            if value is not None:
                self.output_losses[i] += float(value.item()) * size
        predictions = [o.numpy() for o in outputs]
        if self.model._metrics is None:   # first batch: "accuracy" resolved from the shapes
            self.model._metrics = [[metrics_module.resolve(spec, y, p) for spec in specs]
                                   for specs, y, p in zip(self.model._metric_specs, ys,
                                                          predictions)]
        for metrics, y, p in zip(self.model._metrics, ys, predictions):
            for metric in metrics:
                metric.update_state(y, p)

    def logs(self):
        names = self.model.output_names
        logs = {"loss": self.loss / max(self.count, 1)}
        if len(names) > 1:
            for name, total, loss in zip(names, self.output_losses, self.model._losses):
                if loss is not None:
                    logs[f"{name}_loss"] = total / max(self.count, 1)
        for name, metrics in zip(names, self.model._metrics or []):
            for metric in metrics:
                key = metric.name if len(names) == 1 else f"{name}_{metric.name}"
                logs[key] = float(metric.result())
        return logs


def _per_output(spec, names, what):
    """One entry per output from a single spec, a list, or a dict by output name."""
    if isinstance(spec, dict):
        unknown = set(spec) - set(names)
        if unknown:
            raise ValueError(f"compile: {what} names {sorted(unknown)} are not outputs of the "
                             f"model ({names})")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(f"compile: {len(spec)} {what} given for {len(names)} outputs "
                             f"({names})")
        return list(spec)
    return [spec] * len(names)


def _metrics_per_output(metrics, names):
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        return [_as_list(m) for m in _per_output(metrics, names, "metrics")]
    metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    if len(names) > 1 and len(metrics) == len(names) and all(
            isinstance(m, (list, tuple)) for m in metrics):
        return [list(m) for m in metrics]
    return [list(metrics) for _ in names]


def _as_list(value):
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _refuse(**options):
    given = sorted(name for name, value in options.items() if value is not None)
    if given:
        raise NotImplementedError(f"minidl.keras does not support {given} yet")
