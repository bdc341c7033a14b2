"""Learning-rate schedules: how lr changes over training.

A schedule wraps an optimizer and rewrites each parameter group's "lr" as a function of
the number of `step()` calls so far, t (usually one call per epoch, after that epoch's
optimizer steps):

    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        train_one_epoch(model, opt)
        sched.step()

Every schedule here is a closed form lr(t) of the group's starting lr (lr_0, kept in
the group as "initial_lr"), written in its docstring; `lr_at(lr_0, t)` computes it.
Being closed forms, they can be chained (SequentialLR) and resumed (state_dict) exactly,
and they give PyTorch's values when PyTorch's schedule is used alone.
"""
import bisect
import math

from .optimizer import Optimizer


class LRScheduler:
    """Base class: sets every group's lr to lr_at(initial_lr, t) at t = 0, 1, 2, ..."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{self.name}: expected a minidl Optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    @property
    def name(self):
        return type(self).__name__

    def lr_at(self, base_lr, t):
        """The learning rate after t calls to step(), for a group that started at base_lr."""
        raise NotImplementedError

    def step(self):
        """Move on by one (epoch or batch, as you choose) and set the new learning rates."""
        self.last_epoch += 1
        self._apply()

    def _apply(self):
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base_lr, self.last_epoch)

    def get_last_lr(self):
        """The learning rate of each group, as last set."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict):
        """Resume at the saved step: the groups get the saved schedule's learning rates."""
        if len(state_dict["base_lrs"]) != len(self.base_lrs):
            raise ValueError(f"{self.name}.load_state_dict: the state has "
                             f"{len(state_dict['base_lrs'])} groups, "
                             f"the optimizer {len(self.base_lrs)}")
        self.base_lrs = list(state_dict["base_lrs"])
        self.last_epoch = int(state_dict["last_epoch"])
        self._apply()


class StepLR(LRScheduler):
    """Decay by gamma every step_size steps:  lr(t) = lr_0 * gamma ** floor(t / step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """Decay by gamma every step:  lr(t) = lr_0 * gamma ** t."""

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr_0 down to eta_min over T_max steps (Loshchilov and Hutter, 2017):

        lr(t) = eta_min + (lr_0 - eta_min) * (1 + cos(pi * t / T_max)) / 2

    Fast learning early, a slow careful approach at the end. Past T_max the cosine
    climbs back up (a period of 2 * T_max), as PyTorch's does; stop at T_max, or chain
    another schedule after it with SequentialLR.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):  # noqa: N803 (PyTorch's name)
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be > 0, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

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

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: need 0 < start_factor <= 1 and 0 <= end_factor <= 1, "
                             f"got {start_factor} and {end_factor}")
        if total_iters < 1:
            raise ValueError(f"LinearLR: total_iters must be >= 1, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        progress = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR(LRScheduler):
    """Run schedules one after another, each restarting its own count at its milestone:

        lr(t) = schedulers[i].lr_at(lr_0, t - milestones[i - 1])
                for milestones[i - 1] <= t < milestones[i]   (milestones[-1] = 0)

    e.g. 5 steps of linear warm-up, then cosine annealing over the remaining 95:

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, cosine], milestones=[5])

    Only this schedule's step() is called; the ones inside only supply their formulas.
    """

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {len(milestones)}")
        if any(b <= a for a, b in zip([0] + milestones, milestones)):
            raise ValueError(f"SequentialLR: milestones must be positive and increasing, "
                             f"got {milestones}")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: every scheduler must wrap the same optimizer")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        i = bisect.bisect_right(self.milestones, t)
        start = self.milestones[i - 1] if i > 0 else 0
        return self.schedulers[i].lr_at(base_lr, t - start)
