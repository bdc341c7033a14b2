"""Module and Parameter: the building blocks every layer and model is made of.

A `Module` holds three kinds of named things, each registered simply by
assigning an attribute in `__init__`:

    self.weight = Parameter(...)       # a trainable tensor: parameters() yields it
    self.fc = Linear(4, 3)             # a submodule: its parameters are ours too
    self.register_buffer("running_mean", mdl.zeros(3))   # state that is not trained

`__setattr__` sorts each value into `_parameters`, `_modules` or `_buffers`,
and `__getattr__` finds it there again. From these three dicts everything
else follows: dotted names (`fc.weight`, as in PyTorch), `state_dict()`,
`load_state_dict()`, moving to the GPU, switching train/eval mode.
The containers `Sequential` and `ModuleList` are Modules whose submodules
are named "0", "1", ...

Calling a module runs `forward` between hooks, as in PyTorch: forward pre-hooks
(they may change the arguments), forward hooks (they may change the output), and
backward hooks, called with the gradients of the module's inputs and outputs
(minidl/nn/hooks.py says how those are found).
"""
import warnings
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..tensor import RemovableHandle, Tensor
from .hooks import HookedCall


class Parameter(Tensor):
    """A tensor that is a trainable weight of a Module: a leaf that requires grad.

    Assigning a Parameter to a Module attribute registers it, so that
    `module.parameters()` (and therefore an optimizer) sees it.
    """
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:   # Parameter(): an empty one, as in PyTorch
            data = np.empty((0,), dtype=backend.default_dtype())
        if isinstance(data, Tensor):
            data = data.data
        elif not hasattr(data, "dtype"):
            data = np.asarray(data, dtype=backend.default_dtype())
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model. Subclasses define `__init__` and `forward`.

    Call `super().__init__()` first in a subclass's `__init__`, then assign
    Parameters, submodules and buffers as attributes. `module(x)` runs
    `forward(x)` and then any forward hooks.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        for hooks in ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks",
                      "_backward_hooks"):
            object.__setattr__(self, hooks, OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(
                    f"cannot assign {name!r} before Module.__init__() was called: call "
                    f"super().__init__() first in {type(self).__name__}.__init__")
            object.__setattr__(self, name, value)
        elif isinstance(value, Parameter):
            self._register(self._parameters, name, value)
        elif isinstance(value, Module):
            self._register(self._modules, name, value)
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a Tensor or "
                                f"None, not {type(value).__name__}")
            self._buffers[name] = value
        elif name in self._parameters or name in self._modules:
            registry = self._parameters if name in self._parameters else self._modules
            if value is not None:  # a plain tensor here would silently stop being trained
                kind = "Parameter" if registry is self._parameters else "Module"
                raise TypeError(f"{type(self).__name__}: {name!r} holds a {kind}; cannot "
                                f"assign a {type(value).__name__} to it")
            registry[name] = None  # e.g. removing a bias
        else:
            object.__setattr__(self, name, value)

    def _register(self, registry, name, value):
        """Put value under name in registry; a name already there keeps its place in order."""
        if name not in registry:
            self._forget(name)
        registry[name] = value

    def _forget(self, name):
        for registry in (self._parameters, self._buffers, self._modules, self.__dict__):
            registry.pop(name, None)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the three registries
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Same as `self.name = param`; `param` may be None (an absent bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"not {type(param).__name__}")
        self._register(self._parameters, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register state that is moved with the module but not trained (BatchNorm's
        running mean, for instance), and saved in the state_dict unless persistent=False.
        Later `self.name = t` replaces it."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, "
                            f"not {type(tensor).__name__}")
        self._register(self._buffers, name, tensor)
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Same as `self.name = module`, for names that are not identifiers ("0", "1")."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, not {type(module).__name__}")
        self._register(self._modules, name, module)

    # ------------------------------------------------------------------ running
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        """forward(*args, **kwargs) between the hooks (the order is PyTorch's): forward
        pre-hooks, the inputs wrapped for the backward hooks, forward, forward hooks, the
        outputs wrapped for the backward hooks. If anything raises, the forward hooks
        registered with always_call=True that have not run yet run before it propagates."""
        output, ran = None, set()
        try:
            if self._forward_pre_hooks:
                args, kwargs = self._run_forward_pre_hooks(args, kwargs)
            hooked = None
            if self._backward_hooks or self._backward_pre_hooks:
                hooked = HookedCall(self, list(self._backward_hooks.values()),
                                    list(self._backward_pre_hooks.values()))
                args = hooked.wrap_inputs(args)
            output = self.forward(*args, **kwargs)
            for key, (hook, with_kwargs, _) in list(self._forward_hooks.items()):
                ran.add(key)
                result = (hook(self, args, kwargs, output) if with_kwargs
                          else hook(self, args, output))
                if result is not None:
                    output = result
            if hooked is not None:
                output = hooked.wrap_outputs(output)
            return output
        except Exception:
            self._run_hooks_after_an_error(args, kwargs, output, ran)
            raise

    def _run_forward_pre_hooks(self, args, kwargs):
        """(args, kwargs) after every forward pre-hook: hook(module, args) may return new
        args (a value that is not a tuple is the one argument); with_kwargs=True:
        hook(module, args, kwargs) may return a pair (args, kwargs)."""
        for hook, with_kwargs in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{type(self).__name__}: a forward pre-hook with "
                                           "with_kwargs=True must return None or a tuple "
                                           f"(new_args, new_kwargs), not {result!r}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        return args, kwargs

    def _run_hooks_after_an_error(self, args, kwargs, output, ran):
        """The always_call forward hooks that have not run, run after an error (with the
        output so far, None if forward raised); an error they raise is only warned
        about, so the first one is what the caller sees."""
        for key, (hook, with_kwargs, always_call) in list(self._forward_hooks.items()):
            if always_call and key not in ran:
                try:
                    hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
                except Exception as exc:  # noqa: BLE001
                    warnings.warn(f"{type(self).__name__}: a forward hook with always_call=True "
                                  f"raised {exc!r} after an error in the call", stacklevel=3)

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call `hook(module, args)` before every forward; it may return new args (a
        non-tuple is the one argument). with_kwargs=True: `hook(module, args, kwargs)`,
        which may return (new_args, new_kwargs). prepend=True runs it before the hooks
        already there. Returns a handle with `.remove()`."""
        return _add_hook(self._forward_pre_hooks, (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Call `hook(module, args, output)` after every forward (with_kwargs=True:
        `hook(module, args, kwargs, output)`); a non-None return value replaces the
        output. prepend=True runs it before the hooks already there; always_call=True
        runs it even when forward raises. Returns a handle with `.remove()`."""
        return _add_hook(self._forward_hooks, (hook, with_kwargs, always_call), prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call `hook(module, grad_output)` when the gradients of the module's outputs are
        known, before they go into the module; a tuple it returns replaces them.
        grad_output has one entry per output (None for one that is not a tensor, or that
        no gradient reached). Returns a handle with `.remove()`."""
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call `hook(module, grad_input, grad_output)` when the gradients of the module's
        inputs are known; a tuple it returns replaces grad_input.

        As in PyTorch: grad_input has one entry per positional argument (None where it
        is not a tensor; keyword arguments are not included), grad_output one per output;
        when no input requires grad, the hook is called with grad_input all None as soon
        as grad_output is known. Change neither in place. Returns a handle with
        `.remove()`."""
        return _add_hook(self._backward_hooks, hook, prepend)

    # ------------------------------------------------------------------ walking the tree
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every module below it, each once
        (remove_duplicate=False: a module reached twice is listed under both names).
        `memo`, a set of modules, are left out (and the ones listed are added to it)."""
        seen = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if module in seen:
                    continue
                seen.add(module)
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self, remove_duplicate=True):
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_children(self):
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate=True):
        """(dotted name, tensor) from one registry of every module, each tensor once
        (a weight shared by two layers is listed under its first name), or under each of
        its names with remove_duplicate=False."""
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_name, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs, e.g. ("0.weight", ...) in a Sequential."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def num_parameters(self, trainable_only=False):
        """How many numbers the parameters hold (only those that require grad, if asked)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call fn(module) on every submodule, then on self (e.g. a custom init). Returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode=True):
        """Training mode (Dropout drops, BatchNorm uses batch statistics) for every module."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter: set them to None (the default) or,
        with set_to_none=False, to zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            param.grad = None if set_to_none else Tensor(
                backend.get_array_module(param.data).zeros_like(param.data))

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze (True) every parameter. Returns self."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    # ------------------------------------------------------------------ state
    def _state_entries(self, persistent_only=True):
        """(dotted name, owner module, its name there, tensor) for every parameter and
        buffer (without the non-persistent buffers, unless asked), in registration order."""
        for module_name, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for name, value in registry.items():
                    if value is None or (persistent_only and registry is module._buffers and
                                         name in module._non_persistent_buffers_set):
                        continue
                    yield (f"{module_name}.{name}" if module_name else name), module, name, value

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An ordered dict name -> Tensor of every parameter and persistent buffer.

        The tensors are detached but share memory with the module, as in
        PyTorch: copy them (`{k: v.numpy().copy() ...}`) to keep a snapshot.
        keep_vars=True gives the Parameters and buffers themselves. A weight
        shared by two layers appears under both names. Names start with
        `prefix`; `destination`, a dict to fill and return, and positional
        arguments (destination, prefix, keep_vars) are PyTorch's deprecated forms.
        """
        if args:
            destination, prefix, keep_vars = (args + (destination, prefix, keep_vars)[len(args):])
        out = OrderedDict() if destination is None else destination
        for name, _, _, value in self._state_entries():
            out[prefix + name] = value if keep_vars else Tensor(value.data)
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values (Tensors or NumPy arrays) into the parameters and buffers by name.

        Every entry is checked before anything is written: a value whose shape
        differs, and with strict=True a missing or unexpected name, raises a
        RuntimeError listing all of them and leaves the module unchanged.
        Values are cast to each entry's dtype and moved to its device; the
        Parameter objects stay the same, so an optimizer built earlier still
        holds them. assign=True instead puts the given values in place (as new
        Parameters that keep requires_grad, with the values' dtype), as PyTorch.
        Returns (missing_keys, unexpected_keys).
        """
        state = state_dict
        owners = {name: (module, key) for name, module, key, _ in self._state_entries()}
        entries = OrderedDict((name, value) for name, _, _, value in self._state_entries())
        missing = [name for name in entries if name not in state]
        unexpected = [name for name in state if name not in entries]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        new_values = {}
        for name, target in entries.items():
            if name not in state:
                continue
            value = state[name]
            value = value.data if isinstance(value, Tensor) else value
            shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
            if shape != target.shape:
                problems.append(f"{name} has shape {shape} in the state but "
                                f"{target.shape} in the model")
                continue
            xp = backend.get_array_module(target.data)
            new_values[name] = xp.array(backend.to_device(value, target.device),
                                        dtype=None if assign else target.dtype)
        if problems:
            raise RuntimeError(f"load_state_dict into {type(self).__name__}: "
                               + "; ".join(problems) + ". Nothing was changed.")
        for name, array in new_values.items():
            if not assign:
                entries[name].data = array
                continue
            module, key = owners[name]
            if key in module._parameters:
                module._parameters[key] = Parameter(array, entries[name].requires_grad)
            else:
                module._buffers[key] = Tensor(array)
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, *args, **kwargs):
        """Move (and/or cast the floating-point) parameters and buffers in place:
        to(device), to(dtype), to(device, dtype), to(tensor) (its device and dtype),
        or the same as device=, dtype= (PyTorch's forms; non_blocking is ignored).

        The Parameter objects are kept, only their arrays change, so an
        optimizer made before `model.to("cuda")` still updates the model.
        """
        device, dtype = _device_and_dtype(args, kwargs)
        if device is not None:
            device = backend.check_device(device)
        for _, _, _, tensor in self._state_entries(persistent_only=False):
            tensor.data = _converted(tensor.data, device, dtype)
            if tensor.grad is not None:
                tensor.grad = Tensor(_converted(tensor.grad.data, device, dtype))
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        """Move to the GPU (minidl has one: `device`, PyTorch's GPU index, is ignored)."""
        return self.to("cuda")

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """The text inside the parentheses, e.g. `in_features=4, out_features=3, bias=True`."""
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(module).replace("\n", "\n  ")
                 for name, module in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        extra = [self.extra_repr()] if self.extra_repr() else []
        body = "\n  ".join(extra + lines)
        return f"{type(self).__name__}(\n  {body}\n)"


def _add_hook(hooks, entry, prepend):
    """Put entry into the ordered dict of hooks, last (or first); its handle removes it."""
    handle = RemovableHandle(hooks, entry)
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _device_and_dtype(args, kwargs):
    """(device, dtype) from Module.to's arguments, as PyTorch reads them."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str):
            device = arg
        elif isinstance(arg, bool):   # non_blocking, given positionally
            continue
        else:
            dtype = arg
    return device, dtype


def _converted(array, device, dtype):
    if dtype is not None and array.dtype.kind == "f":
        array = array.astype(dtype)
    if device is not None:
        array = backend.to_device(array, device)
    return array


# ----------------------------------------------------------------------------
# containers
# ----------------------------------------------------------------------------
class _Container(Module):
    """What Sequential and ModuleList share: submodules in order, by position."""

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return modules[_checked_index(index, len(modules), type(self).__name__)]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class Sequential(_Container):
    """Modules applied one after the other: `Sequential(Linear(4, 8), ReLU(), Linear(8, 2))`.

    The submodules are named "0", "1", ... (or by the keys of an OrderedDict
    passed instead), so parameter names are "0.weight", "2.bias" as in PyTorch.
    Indexing gives a module (`seq[0]`) or, with a slice, a new Sequential.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)


class ModuleList(_Container):
    """A list of modules whose parameters are registered (a plain Python list's are not).

    For layers built in a loop, e.g. one Linear per layer of a deep MLP.
    It has no forward: the owner decides how to call the modules.
    """

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return super().__getitem__(index)

    def __setitem__(self, index, module):
        index = _checked_index(index, len(self), "ModuleList")
        self.add_module(str(index), module)

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Put module before position index; the later ones move up by one."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)


def _checked_index(index, length, who):
    if not -length <= index < length:
        raise IndexError(f"{who}: index {index} is out of range for {length} modules")
    return index % length
