"""Learning-rate schedules: how lr changes over training.

A schedule wraps an optimizer and rewrites each parameter group's "lr" as a function of
the number of `step()` calls so far, t (one call per epoch, after that epoch's optimizer
steps, or one per batch for OneCycleLR):

    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        train_one_epoch(model, opt)
        sched.step()

Every schedule but the last here is a closed form lr(t) of the group's starting lr (lr_0,
kept in the group as "initial_lr"), written in its docstring. Being closed forms, they
can be put one after another (SequentialLR) and resumed (state_dict) exactly, and they
give PyTorch's values (PyTorch updates most of them recursively, lr(t) from lr(t - 1),
which agrees to rounding). Unlike PyTorch's, two schedules stepping the same optimizer
do not multiply together: each sets the lr it computes. Run them in turn with SequentialLR.

ReduceLROnPlateau is different in kind: not a function of t but a controller that
watches a validation metric and cuts lr when it stops improving, so it has its own class
(in PyTorch it is a subclass of LRScheduler) and its step takes the metric.

`state_dict()` is plain data (numbers, strings, lists): it can be saved with minidl.save.
`load_state_dict` takes the saved settings and step count, as PyTorch's does, and also
puts the saved schedule's learning rates back into the groups.
"""
import bisect
import math
import numbers
import types

from .optimizer import Optimizer


class LRScheduler:
    """Base class: sets every group's lr to lr_at(initial_lr, t) at t = 0, 1, 2, ...

    A subclass defines `lr_at(base_lr, t)`; one whose groups differ by more than their
    starting lr (LambdaLR's functions, OneCycleLR's peaks and momenta) overrides
    `_set_group(i, group, t)` instead. Settings named in `_settings` go into state_dict.

    last_epoch=-1 starts the schedule (t = 0). Another value resumes it at t = last_epoch + 1
    (PyTorch's meaning), from the groups' "initial_lr", which must then already be there,
    as after loading the optimizer's state_dict. The lr is the closed form's at that t;
    PyTorch's StepLR and MultiStepLR instead multiply the loaded lr by gamma once more
    when a decay falls at t.
    """

    _settings = ()

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = _check_optimizer(self.name, optimizer)
        self.base_lrs = _initial_lrs(self.name, optimizer, last_epoch)
        self._step_to(last_epoch + 1)

    @property
    def name(self):
        return type(self).__name__

    def lr_at(self, base_lr, t):
        """The learning rate after t calls to step(), for a group that started at base_lr."""
        raise NotImplementedError

    def step(self):
        """Move on by one (epoch or batch, as you choose) and set the new learning rates."""
        self._step_to(self.last_epoch + 1)

    def get_last_lr(self):
        """The learning rate of each group, as last set by this schedule (a new list)."""
        return list(self._last_lr)

    def _step_to(self, t):
        groups = _groups(self.name, self.optimizer, len(self.base_lrs))
        for i, group in enumerate(groups):
            self._set_group(i, group, t)
        self.last_epoch = t
        self._last_lr = [group["lr"] for group in groups]

    def _set_group(self, i, group, t):
        group["lr"] = self.lr_at(self.base_lrs[i], t)

    def state_dict(self):
        """{"base_lrs", "last_epoch", and each setting by its attribute name}: plain data."""
        state = {name: _plain(getattr(self, name)) for name in self._settings}
        state.update(base_lrs=list(self.base_lrs), last_epoch=self.last_epoch)
        return state

    def load_state_dict(self, state_dict):
        """Take the saved settings and step count; the groups get the saved learning rates."""
        _check_keys(self.name, state_dict, ("base_lrs", "last_epoch") + self._settings)
        _groups(self.name, self.optimizer, len(state_dict["base_lrs"]))
        for name in self._settings:
            setattr(self, name, _plain(state_dict[name]))
        self.base_lrs = list(state_dict["base_lrs"])
        self._step_to(int(state_dict["last_epoch"]))


class StepLR(LRScheduler):
    """Decay by gamma every step_size steps:  lr(t) = lr_0 * gamma ** floor(t / step_size)."""

    _settings = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if isinstance(step_size, bool) or int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """Decay by gamma at each milestone:  lr(t) = lr_0 * gamma ** (number of milestones <= t).

    e.g. milestones=[30, 80] trains at lr_0 until step 30, at lr_0 * gamma until 80, then
    at lr_0 * gamma^2. The milestones must be increasing, as PyTorch documents (PyTorch
    does not check; a repeated milestone there decays by gamma once per repeat).
    """

    _settings = ("milestones", "gamma")

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        if not all(_is_int(m) and m >= 0 for m in milestones) or \
                any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"MultiStepLR: milestones must be increasing non-negative integers, "
                             f"got {milestones}")
        self.milestones, self.gamma = [int(m) for m in milestones], gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, t)


class ExponentialLR(LRScheduler):
    """Decay by gamma every step:  lr(t) = lr_0 * gamma ** t."""

    _settings = ("gamma",)

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr_0 down to eta_min over T_max steps (Loshchilov and Hutter, 2017):

        lr(t) = eta_min + (lr_0 - eta_min) * (1 + cos(pi * t / T_max)) / 2

    Fast learning early, a slow careful approach at the end. Past T_max the cosine
    climbs back up (a period of 2 * T_max), as PyTorch's does; stop at T_max, or chain
    another schedule after it with SequentialLR.
    """

    _settings = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):  # noqa: N803 (PyTorch's)
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be > 0, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        cosine = math.cos(math.pi * t / self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + cosine) / 2


class LinearLR(LRScheduler):
    """Scale lr_0 by a factor going linearly from start_factor to end_factor in T = total_iters
    steps, then staying there:

        lr(t) = lr_0 * (start_factor + (end_factor - start_factor) * min(t, T) / T)

    With end_factor = 1 this is the usual linear warm-up: start small while Adam's
    averages and the weights' scale settle, then train at lr_0.
    """

    _settings = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: need 0 < start_factor <= 1 and 0 <= end_factor <= 1, "
                             f"got {start_factor} and {end_factor}")
        if total_iters < 1:
            raise ValueError(f"LinearLR: total_iters must be >= 1, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        progress = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class LambdaLR(LRScheduler):
    """Any schedule you can write as a factor:  lr(t) = lr_0 * lr_lambda(t).

    lr_lambda is one function for every group or a list of one per group, e.g. a warm-up
    then inverse square root decay:  lambda t: min((t + 1) / 100, (100 / (t + 1)) ** 0.5).

    state_dict() cannot hold the functions. As in PyTorch it stores None for a plain
    function (or lambda) and a copy of the attributes (`__dict__`) of a callable object,
    which load_state_dict puts back; the functions themselves come from your code.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer("LambdaLR", optimizer)
        self.lr_lambdas = _per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer)
        for f in self.lr_lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable (a function of the step "
                                f"count), got {type(f).__name__}")
        super().__init__(optimizer, last_epoch)

    def _set_group(self, i, group, t):
        group["lr"] = self.base_lrs[i] * self.lr_lambdas[i](t)

    def state_dict(self):
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(f, types.FunctionType) else dict(vars(f))
                               for f in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        saved = state_dict.get("lr_lambdas", [None] * len(self.lr_lambdas))
        if len(saved) != len(self.lr_lambdas):
            raise ValueError(f"LambdaLR.load_state_dict: the state has {len(saved)} lr_lambdas, "
                             f"this schedule {len(self.lr_lambdas)}")
        for f, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                vars(f).update(attributes)
        super().load_state_dict(state_dict)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin, 2017), stepped once per batch.

    With N = total_steps (or epochs * steps_per_epoch), p = pct_start, max = max_lr,
    initial = max / div_factor and min = initial / final_div_factor, lr goes

        initial -> max          over steps 0 .. p*N - 1
        max     -> min          over the rest, up to step N - 1

    or, with three_phase=True, initial -> max over 0 .. p*N - 1, max -> initial up to
    2*p*N - 2, then initial -> min up to N - 1. Each leg follows half a cosine
    (anneal_strategy="cos") or a straight line ("linear"). With cycle_momentum, SGD's
    momentum (Adam's beta1) moves the other way: max_momentum -> base_momentum while lr
    rises, back to max_momentum while it falls (and stays there in a third phase). A
    large lr with less momentum early, then a long cool-down, trains many networks in
    few epochs.

    max_lr, base_momentum and max_momentum are numbers or lists of one per group. The
    group's "initial_lr" is set to initial (it is the schedule's lr_0). Steps past N
    raise ValueError, as in PyTorch.
    """

    _settings = ("max_lrs", "total_steps", "pct_start", "anneal_strategy", "cycle_momentum",
                 "base_momentums", "max_momentums", "div_factor", "final_div_factor",
                 "three_phase")

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        _check_optimizer("OneCycleLR", optimizer)
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, numbers.Real) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be a number in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        if not div_factor > 0 or not final_div_factor > 0:
            raise ValueError(f"OneCycleLR: div_factor and final_div_factor must be > 0, "
                             f"got {div_factor} and {final_div_factor}")
        self.pct_start, self.anneal_strategy, self.three_phase = pct_start, anneal_strategy, \
            three_phase
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self._check_phases()
        if cycle_momentum and not {"momentum", "betas"} & set(optimizer.defaults):
            raise ValueError(f"OneCycleLR: cycle_momentum=True needs an optimizer with momentum "
                             f"or betas, and {optimizer.name} has neither; "
                             "pass cycle_momentum=False")
        self.cycle_momentum = cycle_momentum
        self.max_momentums = _per_group("OneCycleLR", "max_momentum", max_momentum, optimizer)
        self.base_momentums = _per_group("OneCycleLR", "base_momentum", base_momentum, optimizer)
        self.max_lrs = _per_group("OneCycleLR", "max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, self.max_lrs):
                group["initial_lr"] = peak / div_factor
        super().__init__(optimizer, last_epoch)

    def _phases(self):
        """Each phase's (last step, lr from, lr to, momentum from, momentum to)."""
        rise_end = float(self.pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if self.three_phase:
            return [(rise_end, "initial", "max", "max", "base"),
                    (float(2 * self.pct_start * self.total_steps) - 2, "max", "initial",
                     "base", "max"),
                    (last, "initial", "min", "max", "max")]
        return [(rise_end, "initial", "max", "max", "base"), (last, "max", "min", "base", "max")]

    def _check_phases(self):
        """PyTorch divides by zero on a phase of no length that a step falls in: say why."""
        phases = self._phases()
        first_end, last_start, last_end = phases[0][0], phases[-2][0], phases[-1][0]
        if first_end == 0 or last_end == last_start:
            raise ValueError(f"OneCycleLR: pct_start={self.pct_start} with total_steps="
                             f"{self.total_steps} leaves a phase with no steps (pct_start * "
                             "total_steps must not be 1, and the last phase must be longer)")

    def _step_to(self, t):
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times. The specified number of "
                             f"total steps is {self.total_steps}")
        super()._step_to(t)

    def _set_group(self, i, group, t):
        lrs = {"initial": self.base_lrs[i], "max": self.max_lrs[i],
               "min": self.base_lrs[i] / self.final_div_factor}
        momenta = {"max": self.max_momentums[i], "base": self.base_momentums[i]}
        phases, start = self._phases(), 0.0
        for k, (end, lr_from, lr_to, momentum_from, momentum_to) in enumerate(phases):
            if t <= end or k == len(phases) - 1:
                break
            start = end
        pct = (t - start) / (end - start)
        group["lr"] = self._anneal(lrs[lr_from], lrs[lr_to], pct)
        if self.cycle_momentum:
            momentum = self._anneal(momenta[momentum_from], momenta[momentum_to], pct)
            if "betas" in self.optimizer.defaults:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum

    def _anneal(self, start, end, pct):
        """From start (pct = 0) to end (pct = 1), along half a cosine or a line."""
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start


class SequentialLR(LRScheduler):
    """Run schedules one after another, each restarting its own count at its milestone:

        lr(t) = schedulers[i]'s lr at (t - milestones[i - 1])
                for milestones[i - 1] <= t < milestones[i]   (milestones[-1] = 0)

    e.g. 5 steps of linear warm-up, then cosine annealing over the remaining 95:

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, cosine], milestones=[5])

    Only this schedule's step() is called; each one inside computes from its own base_lrs
    (the groups' "initial_lr" when it was made), as PyTorch's do after their milestone.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: expects at least one scheduler, got none")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: scheduler {i} is a ReduceLROnPlateau, which "
                                 "steps on a metric and so cannot be run in sequence")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"SequentialLR: scheduler {i} is a {type(s).__name__}, "
                                "not a schedule from minidl.optim.lr_scheduler")
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} ({s.name}) wraps another "
                                 "optimizer; every scheduler must wrap the same one")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {len(milestones)}")
        if any(b <= a for a, b in zip([0] + milestones, milestones)):
            raise ValueError(f"SequentialLR: milestones must be positive and increasing, "
                             f"got {milestones}")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer, last_epoch)

    def _step_to(self, t):
        i = bisect.bisect_right(self.milestones, t)
        start = self.milestones[i - 1] if i > 0 else 0
        self.schedulers[i]._step_to(t - start)
        self.last_epoch = t
        self._last_lr = self.schedulers[i].get_last_lr()

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "milestones": list(self.milestones),
                "schedulers": [s.state_dict() for s in self.schedulers]}

    def load_state_dict(self, state_dict):
        _check_keys(self.name, state_dict, ("last_epoch", "milestones", "schedulers"))
        if len(state_dict["schedulers"]) != len(self.schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: the state has "
                             f"{len(state_dict['schedulers'])} schedulers, "
                             f"this one {len(self.schedulers)}")
        for s, saved in zip(self.schedulers, state_dict["schedulers"]):
            s.load_state_dict(saved)
        self.milestones = list(state_dict["milestones"])
        self._step_to(int(state_dict["last_epoch"]))


class ReduceLROnPlateau:
    """Cut lr by `factor` when a metric has not improved for more than `patience` steps.

        sched = ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=3)
        for epoch in range(epochs):
            train_one_epoch(model, opt)
            sched.step(validation_loss(model))

    A metric improves when it beats the best so far by more than the threshold:
    below best * (1 - threshold) ("rel") or best - threshold ("abs") in mode "min",
    above best * (1 + threshold) or best + threshold in mode "max". Each step without
    improvement adds a bad epoch; when there are more than `patience` of them, every
    group's lr becomes max(lr * factor, min_lr), unless that changes it by no more than
    eps, and counting pauses for `cooldown` steps (bad epochs in a cooldown are not
    counted). min_lr is one number or a list of one per group. All as in PyTorch.

    Not a closed form of t: the lr depends on the metrics seen, and the state
    (best, bad epochs, cooldown left) is what state_dict saves.
    """

    _settings = ("factor", "default_min_lr", "min_lrs", "patience", "cooldown", "eps", "mode",
                 "threshold", "threshold_mode")
    _counters = ("last_epoch", "_last_lr", "best", "cooldown_counter", "num_bad_epochs")

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        self.optimizer = _check_optimizer("ReduceLROnPlateau", optimizer)
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not _is_int(value) or value < 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be a non-negative integer, "
                                 f"got {value}")
        self.factor, self.patience, self.cooldown, self.eps = factor, patience, cooldown, eps
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = _per_group("ReduceLROnPlateau", "min_lr", min_lr, optimizer)
        self._set_rule(mode, threshold, threshold_mode)
        self.best = self.mode_worse
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    @property
    def name(self):
        return type(self).__name__

    def _set_rule(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', "
                             f"got {threshold_mode!r}")
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def is_better(self, a, best):
        """Whether metric value a is an improvement on best, by the threshold rule."""
        if self.mode == "min":
            bar = best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else best - self.threshold
            return a < bar
        bar = best * (self.threshold + 1) if self.threshold_mode == "rel" \
            else best + self.threshold
        return a > bar

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def step(self, metrics):
        """Record this step's metric (a number or a one-element Tensor); cut lr if it is time."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(self.min_lrs) != len(groups):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer now has {len(groups)} "
                                   f"parameter groups but min_lr lists {len(self.min_lrs)}; "
                                   "set min_lrs to one value per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def get_last_lr(self):
        """The learning rate of each group after the last step (a new list)."""
        return list(self._last_lr)

    def state_dict(self):
        """The settings and the counters (best, bad epochs, cooldown left, lrs): plain data."""
        return {name: _plain(getattr(self, name)) for name in self._settings + self._counters}

    def load_state_dict(self, state_dict):
        """Take the saved settings and counters; the groups get the saved learning rates."""
        _check_keys(self.name, state_dict, self._settings + self._counters)
        _groups(self.name, self.optimizer, len(state_dict["_last_lr"]))
        self._set_rule(state_dict["mode"], state_dict["threshold"], state_dict["threshold_mode"])
        for name in self._settings + self._counters:
            setattr(self, name, _plain(state_dict[name]))
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


# ----------------------------------------------------------------------------
# checks shared by the schedules
# ----------------------------------------------------------------------------
def _check_optimizer(where, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: expected a minidl Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _initial_lrs(where, optimizer, last_epoch):
    """Each group's "initial_lr": set from its lr when starting (last_epoch=-1), else required."""
    if not _is_int(last_epoch) or last_epoch < -1:
        raise ValueError(f"{where}: last_epoch must be an integer >= -1, got {last_epoch}")
    groups = optimizer.param_groups
    if last_epoch == -1:
        for group in groups:
            group.setdefault("initial_lr", group["lr"])
    missing = [i for i, group in enumerate(groups) if "initial_lr" not in group]
    if missing:
        raise KeyError(f"{where}: last_epoch={last_epoch} resumes a schedule, but parameter "
                       f"groups {missing} have no 'initial_lr'; load the optimizer's state_dict "
                       "first, or start with last_epoch=-1")
    return [group["initial_lr"] for group in groups]


def _groups(where, optimizer, expected):
    groups = optimizer.param_groups
    if len(groups) != expected:
        raise ValueError(f"{where}: the optimizer has {len(groups)} parameter groups, "
                         f"the schedule {expected}")
    return groups


def _per_group(where, name, value, optimizer):
    """A list of one value per parameter group, from one value or a list of them."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{where}: expected {n} values of {name} (one per parameter "
                             f"group), got {len(value)}")
        return list(value)
    return [value] * n


def _total_steps(total_steps, epochs, steps_per_epoch):
    if total_steps is not None:
        if not _is_int(total_steps) or total_steps <= 0:
            raise ValueError(f"OneCycleLR: total_steps must be a positive integer, "
                             f"got {total_steps}")
        return int(total_steps)
    if epochs is None or steps_per_epoch is None:
        raise ValueError("OneCycleLR: give either total_steps or both epochs and "
                         "steps_per_epoch")
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not _is_int(value) or value <= 0:
            raise ValueError(f"OneCycleLR: {name} must be a positive integer, got {value}")
    return int(epochs) * int(steps_per_epoch)


def _check_keys(where, state_dict, keys):
    missing = [k for k in keys if k not in state_dict]
    if missing:
        raise ValueError(f"{where}.load_state_dict: the state lacks {missing}; "
                         "it is not a state_dict of this kind of schedule")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _plain(value):
    """Lists and tuples copied, so a state dict and the schedule never share one."""
    return list(value) if isinstance(value, (list, tuple)) else value
