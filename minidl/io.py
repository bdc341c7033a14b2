"""Save and load state: a (nested) dict of Tensors, arrays and numbers, in one .npz file.

    mdl.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7}, "ckpt.npz")
    ckpt = mdl.load("ckpt.npz")
    model.load_state_dict(ckpt["model"])

An .npz file is a zip archive of .npy files, one per array, and any NumPy can read it.
Every leaf of the state (Tensor, array, Python number, bool or string) becomes one
array, named by its path with dots: "model.fc.weight", "optimizer.state.0.exp_avg",
"optimizer.param_groups.0.lr". Those names alone cannot say whether "fc.weight" was one
key or two nested ones, nor whether a 0 was an int key or a list index, so one more
entry, "__minidl__", holds the tree as JSON; `load` rebuilds the exact dicts, lists,
tuples, Tensors, arrays and Python numbers from it.

No pickle anywhere: object arrays are refused on save and every read passes
allow_pickle=False, so loading a file can never run code.

`save` writes a temporary file in the same folder and renames it over `path`
(os.replace is atomic), so a crash or a full disk mid-write leaves the old file intact,
never half a new one. `load` reads every array at once and turns a truncated or
corrupt file into one clear error.
"""
import json
import os
import uuid
import zipfile

import numpy as np

from . import backend
from .tensor import Tensor

STRUCTURE_KEY = "__minidl__"
FORMAT = "minidl-state"
VERSION = 1

# Python leaves are stored as 0-d arrays and come back as these types.
_PYTHON_LEAVES = {"bool": bool, "int": int, "float": float, "str": str}


# ----------------------------------------------------------------------------
# state tree <-> (flat dict of arrays, JSON description)
# ----------------------------------------------------------------------------
def _flatten(value, key, arrays):
    """Put the leaves of `value` into `arrays` under dotted keys; return its description."""
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} "
                                f"under {key or 'the top'}")
            items.append([k, _flatten(v, _join(key, k), arrays)])
        return {"type": "dict", "items": items}
    if isinstance(value, (list, tuple)):
        children = [_flatten(v, _join(key, i), arrays) for i, v in enumerate(value)]
        return {"type": type(value).__name__, "items": children}
    if value is None:
        return {"type": "none"}
    array, kind = _leaf_array(value, key)
    if key in arrays or key == STRUCTURE_KEY:
        raise ValueError(f"save: two entries would both be stored as {key!r}; "
                         "rename one of the keys")
    arrays[key] = array
    return {"type": kind, "key": key}


def _join(prefix, key):
    return f"{prefix}.{key}" if prefix else str(key)


def _leaf_array(value, key):
    """The NumPy array that stores a leaf, and the leaf's kind (to rebuild it)."""
    if isinstance(value, Tensor):
        array, kind = value.numpy(), "tensor"
    elif type(value) in (bool, int, float, str):
        array, kind = np.asarray(value), type(value).__name__
    elif isinstance(value, np.generic):
        array, kind = np.asarray(value), "numpy_scalar"
    elif hasattr(value, "dtype") and hasattr(value, "shape"):  # numpy or cupy array
        array, kind = backend.to_device(value, "cpu"), "array"
    else:
        raise TypeError(f"save: {key!r} is a {type(value).__name__}; a state holds only dicts, "
                        "lists, tuples, Tensors, arrays, numbers, bools, strings and None")
    if array.dtype.kind not in "biufcSU":
        raise TypeError(f"save: {key!r} has dtype {array.dtype}; only numeric, bool and "
                        "string arrays can be saved (minidl never pickles)")
    return array, kind


def _unflatten(description, arrays, device):
    """Rebuild the state tree from its JSON description and the loaded arrays."""
    kind = description["type"]
    if kind == "dict":
        return {k: _unflatten(d, arrays, device) for k, d in description["items"]}
    if kind in ("list", "tuple"):
        children = [_unflatten(d, arrays, device) for d in description["items"]]
        return children if kind == "list" else tuple(children)
    if kind == "none":
        return None
    array = arrays[description["key"]]
    if kind == "tensor":
        return Tensor(backend.to_device(array, device))
    if kind == "array":
        return array
    if kind == "numpy_scalar":
        return array[()]
    return _PYTHON_LEAVES[kind](array.item())


# ----------------------------------------------------------------------------
# save
# ----------------------------------------------------------------------------
def save(state, path):
    """Write `state` (a dict, possibly nested) to the .npz file `path`, atomically.

    Tensors are stored from the CPU (a GPU tensor is copied over first); `load`
    puts them back on the device it is asked for.
    """
    if not isinstance(state, dict):
        raise TypeError(f"save: state must be a dict (such as model.state_dict()), "
                        f"got {type(state).__name__}")
    arrays = {}
    tree = _flatten(state, "", arrays)
    header = {"format": FORMAT, "version": VERSION, "tree": tree}
    arrays[STRUCTURE_KEY] = np.asarray(json.dumps(header))
    _write_atomically(arrays, os.fspath(path))


def _write_atomically(arrays, path):
    """Write the archive to a temporary file beside `path`, then rename it to `path`."""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as file:
            _write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_npz(file, arrays):
    """An .npz is a zip archive holding one `<name>.npy` file per array."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


# ----------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------
def load(path, device="cpu"):
    """Read a state written by `save`; Tensors come back on `device` ('cpu' or 'cuda')."""
    path = os.fspath(path)
    device = backend.check_device(device)
    arrays = _read_npz(path)
    if STRUCTURE_KEY not in arrays:
        raise ValueError(f"load: {path} is an .npz file but has no {STRUCTURE_KEY!r} entry, so "
                         "it was not written by minidl.save; read it with np.load(path)")
    try:
        header = json.loads(str(arrays.pop(STRUCTURE_KEY)))
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ValueError(f"unknown format {header.get('format')!r} "
                             f"version {header.get('version')!r}")
        return _unflatten(header["tree"], arrays, device)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"load: {path} has a damaged structure entry ({exc})") from None


def _read_npz(path):
    """Every array in the archive, read now, so any damage shows up here and only here."""
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(f"it holds a single {type(npz).__name__}, not an .npz archive")
        with npz:
            return {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"load: {path} ({os.path.getsize(path)} bytes) is truncated, corrupt "
                         f"or not a minidl file: {type(exc).__name__}: {exc}") from None
