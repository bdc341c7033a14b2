"""Optimizer: the base class of every gradient-descent method in minidl.optim.

An optimizer holds the parameters it updates in *parameter groups*: a list of dicts, each
with its own "params" and hyperparameters ("lr", "momentum", ...). Most code uses one
group; several let different layers learn at different rates:

    opt = optim.SGD([{"params": model.body.parameters()},
                     {"params": model.head.parameters(), "lr": 0.1}], lr=0.01, momentum=0.9)

A hyperparameter a group leaves out takes the optimizer's default.

`step()` walks every parameter that has a gradient and hands its raw arrays (`p.data`,
`p.grad.data`) to the subclass's `update`, which changes `p.data` in place; then it bumps
the parameter's version, so that a backward through a graph built with the old values
raises instead of silently using the new ones. Working on
arrays keeps the update out of the autograd graph and runs the same on NumPy and CuPy
(`xp = get_array_module(p.data)`). `update` never writes into the gradient array: autograd
may hand out read-only views (the gradient of a sum is a broadcast).

Whatever an optimizer remembers between steps (momentum buffers, running averages, the
step count) lives in `self.state[p]`, a dict per parameter. `state_dict()` gives the
state and the groups with parameters replaced by their position (0, 1, 2, ... over all
groups, in order), as in PyTorch, so it can be saved with minidl.save and loaded into a
new optimizer built over a new copy of the same model.
"""
from .. import backend
from ..autograd import enable_grad, increment_version
from ..tensor import Tensor


class _Required:
    """Marks a hyperparameter that has no default and must be given."""

    def __repr__(self):
        return "<required>"


required = _Required()


class Optimizer:
    """Base class. Subclasses define `update(param, grad, state, group)` on raw arrays."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{self.name}: params must be an iterable of Tensors (such as "
                            "model.parameters()) or of dicts, got a single Tensor; "
                            "wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self.name}: got an empty list of parameters to optimize")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        lines = [f"{self.name} ("]
        for i, group in enumerate(self.param_groups):
            settings = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {settings}")
        return "\n".join(lines + [")"])

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a dict {"params": tensors, hyperparameter: value, ...}; defaults fill the rest."""
        group = param_group
        if not isinstance(group, dict):
            raise TypeError(f"{self.name}.add_param_group: a group is a dict, "
                            f"got {type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            self._check_param(p)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len(seen | {id(p) for p in params}) != len(seen) + len(params):
            raise ValueError(f"{self.name}: a parameter appears twice (in one group or in two)")
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{self.name}: unknown hyperparameters {sorted(unknown)}; "
                             f"known are {sorted(self.defaults)}")
        full = {"params": params}
        for key, default in self.defaults.items():
            value = group.get(key, default)
            if value is required:
                raise ValueError(f"{self.name}: parameter group has no {key!r} "
                                 "and there is no default")
            full[key] = value
        if "initial_lr" in group:
            full["initial_lr"] = group["initial_lr"]
        self.check_hyperparameters(full)
        self.param_groups.append(full)

    def _check_param(self, p):
        if not isinstance(p, Tensor):
            raise TypeError(f"{self.name}: can only optimize Tensors, got {type(p).__name__}")
        if not p.is_leaf:
            raise ValueError(f"{self.name}: can only optimize leaf tensors (parameters), but a "
                             f"tensor of shape {p.shape} was made by {p.creator.name}; "
                             "use detach()")
        if p.dtype.kind != "f":
            raise TypeError(f"{self.name}: can only optimize floating-point tensors, got {p.dtype}")

    def check_hyperparameters(self, group):
        """Raise a clear ValueError for a bad value; subclasses check their own."""
        check_at_least(self.name, "lr", group["lr"], 0.0)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """Forget the gradients before the next backward (which would add to them).

        set_to_none=True (the default) drops them, so parameters not reached by the next
        backward keep grad None and are skipped by step(); False puts zeros there instead.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = Tensor(backend.get_array_module(p.data).zeros_like(p.data))

    def step(self, closure=None):
        """Update every parameter that has a gradient; return closure()'s loss if given.

        closure, if given, recomputes the loss and its gradients (zero_grad, forward,
        backward) and returns the loss; it runs before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._check_grad(p)
                grad = p.grad.data
                if group.get("maximize", False):   # ascend f: descend -f (a new array)
                    grad = -grad
                self.update(p.data, grad, self.state.setdefault(p, {}), group)
                increment_version(p)  # a graph that saved the old values may not reuse them
        return loss

    def _check_grad(self, p):
        if p.grad.shape != p.shape or p.grad.device != p.device:
            raise RuntimeError(f"{self.name}.step: gradient {p.grad.shape} on {p.grad.device} does "
                               f"not match its parameter {p.shape} on {p.device}")

    def update(self, param, grad, state, group):
        """Change `param` (an array) in place from `grad`; `state` persists between steps."""
        raise NotImplementedError

    # ------------------------------------------------------------------ saving
    def state_dict(self):
        """{"state": {index: {name: value}}, "param_groups": [{..., "params": [indices]}]}.

        Parameters are named by their position over all groups. Arrays in the state are
        copied into new Tensors, so later steps do not change a state dict already taken.
        """
        index = self._param_index()
        state = {index[id(p)]: {k: _snapshot(v) for k, v in s.items()}
                 for p, s in self.state.items() if s}
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take the state and hyperparameters of `state_dict` (from state_dict() or minidl.load).

        Checks that the groups hold the same number of parameters and that every saved
        array fits its parameter's shape; on any mismatch it raises and changes nothing.
        Arrays move to each parameter's device and take its dtype.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self.name}.load_state_dict: the state has {len(saved_groups)} "
                             f"parameter groups, this optimizer {len(self.param_groups)}")
        params_by_index = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{self.name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters in the state but "
                                 f"{len(group['params'])} here")
            params_by_index.update(zip(saved["params"], group["params"]))
        new_state = {}
        for index, saved_state in state_dict["state"].items():
            if index not in params_by_index:
                raise ValueError(f"{self.name}.load_state_dict: state for parameter {index}, "
                                 "which no group lists")
            p = params_by_index[index]
            new_state[p] = {k: self._restore(v, p, index, k) for k, v in saved_state.items()}
        new_groups = [{**{k: v for k, v in saved.items() if k != "params"},
                       "params": group["params"]}
                      for saved, group in zip(saved_groups, self.param_groups)]
        for group in new_groups:
            self.check_hyperparameters(group)
        self.state = new_state
        self.param_groups = new_groups

    def _restore(self, value, p, index, key):
        """A saved state entry, as an array on p's device with p's dtype (numbers stay numbers)."""
        if isinstance(value, Tensor):
            value = value.data
        if not hasattr(value, "shape"):
            return value
        if value.shape != p.shape:
            raise ValueError(f"{self.name}.load_state_dict: state {key!r} of parameter {index} has "
                             f"shape {value.shape}, but the parameter has shape {p.shape}")
        xp = backend.get_array_module(p.data)
        return xp.array(backend.to_device(value, p.device), dtype=p.dtype)

    def _param_index(self):
        params = [p for g in self.param_groups for p in g["params"]]
        return {id(p): i for i, p in enumerate(params)}


def _snapshot(value):
    """A state entry for state_dict(): arrays are copied into Tensors, numbers kept."""
    return Tensor(value.copy()) if hasattr(value, "shape") else value


def check_at_least(where, name, value, low):
    if not value >= low:
        raise ValueError(f"{where}: {name} must be >= {low}, got {value}")


def check_fraction(where, name, value):
    """A decay rate: 0 <= value < 1."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1), got {value}")
