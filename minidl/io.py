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

No pickle anywhere: object arrays are refused on save, and `load` reads each .npy
header itself and refuses object dtypes before any data is read, so loading a file can
never run code.

`save` writes a temporary file in the same folder, fsyncs it, renames it over `path`
(os.replace is atomic) and fsyncs the folder, so a crash or a full disk mid-write
leaves the old file intact, never half a new one. On any failure the temporary file is
removed and the error names `path`, not the temporary file.

`load` checks every entry (zip checksum, .npy header, dtype, size) and reads every array
at once, so a truncated, corrupt or foreign file fails here, with one ValueError that
names the file and what is wrong with it. A missing file is a FileNotFoundError.
"""
import json
import math
import os
import struct
import uuid
import zipfile
import zlib

import numpy as np

from . import backend
from .tensor import Tensor

STRUCTURE_KEY = "__minidl__"
FORMAT = "minidl-state"
VERSION = 1

# Python leaves are stored as 0-d arrays and come back as these types; the dtype kinds
# that NumPy gives each of them on save.
_PYTHON_LEAVES = {"bool": bool, "int": int, "float": float, "str": str}
_PYTHON_LEAF_KINDS = {"bool": "b", "int": "iu", "float": "f", "str": "U"}

# Array dtype kinds a state may hold: bool, ints, floats, complex, bytes and str.
_SAVED_KINDS = "biufcSU"


class _Malformed(Exception):
    """What is wrong with a file being loaded; `load` turns it into a ValueError naming the file."""


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
    if array.dtype.kind not in _SAVED_KINDS:
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
    array = _leaf(description["key"], kind, arrays)
    if kind == "tensor":
        return Tensor(backend.to_device(array, device))
    if kind == "array":
        return array
    if kind == "numpy_scalar":
        return array[()]
    return _PYTHON_LEAVES[kind](array.item())


def _leaf(key, kind, arrays):
    """The array stored for leaf `key`, checked to fit the kind the description gives it."""
    if kind not in ("tensor", "array", "numpy_scalar", *_PYTHON_LEAVES):
        raise _Malformed(f"it describes {key!r} as {kind!r}, which is no kind of entry")
    if not isinstance(key, str) or key not in arrays:
        raise _Malformed(f"it refers to an array {key!r} that the file does not hold")
    array = arrays[key]
    if kind == "tensor" and array.dtype.kind not in "biufc":
        raise _Malformed(f"it describes {key!r} as a Tensor, but {key!r} holds {array.dtype}")
    if kind == "numpy_scalar" and array.shape != ():
        raise _Malformed(f"it describes {key!r} as a scalar, but {key!r} has shape {array.shape}")
    if kind in _PYTHON_LEAVES and (array.shape != () or
                                   array.dtype.kind not in _PYTHON_LEAF_KINDS[kind]):
        raise _Malformed(f"it describes {key!r} as a Python {kind}, but {key!r} holds "
                         f"{array.dtype} of shape {array.shape}")
    return array


# ----------------------------------------------------------------------------
# save
# ----------------------------------------------------------------------------
def save(obj, f):
    """Write the state `obj` (a dict, possibly nested) to the .npz file at path `f`,
    atomically (PyTorch's argument names; the file is not PyTorch's format).

    Tensors are stored from the CPU (a GPU tensor is copied over first); `load`
    puts them back on the device it is asked for.
    """
    if not isinstance(obj, dict):
        raise TypeError(f"save: obj must be a dict (such as model.state_dict()), "
                        f"got {type(obj).__name__}")
    arrays = {}
    tree = _flatten(obj, "", arrays)
    header = {"format": FORMAT, "version": VERSION, "tree": tree}
    arrays[STRUCTURE_KEY] = np.asarray(json.dumps(header))
    _write_atomically(arrays, os.fspath(f))


def _write_atomically(arrays, path):
    """Write the archive to a temporary file beside `path`, then rename it to `path`.

    `path` is untouched until the new file is complete and on disk. On any failure the
    temporary file is removed, and an OSError names `path` rather than the temporary file.
    """
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name[:64]}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        file = open(tmp, "xb")
    except OSError as exc:  # no such folder, no permission, not a folder...
        raise _about_path(exc, path) from None
    try:
        with file:
            _write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, OSError):
            raise _about_path(exc, path) from None
        raise
    _fsync_folder(folder)  # ... and the new name is on disk too


def _write_npz(file, arrays):
    """An .npz is a zip archive holding one `<name>.npy` file per array."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _about_path(exc, path):
    """The OSError `exc`, met on the temporary file, told about `path` instead."""
    if exc.errno is None:  # raised without an errno, so it names no file either
        return exc
    return OSError(exc.errno, f"save: {exc.strerror}", path)  # FileNotFoundError etc. by errno


def _remove_quietly(tmp):
    try:
        os.unlink(tmp)
    except OSError:
        pass  # never created, or already gone


def _fsync_folder(folder):
    """Make the rename durable by fsyncing the folder, where the OS lets a folder be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a folder
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot fsync a folder; the file itself is complete
    finally:
        os.close(descriptor)


# ----------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------
def load(f, map_location=None):
    """Read the state that `save` wrote at path `f`; Tensors come back on the device
    `map_location` names ('cpu', the default, or 'cuda').

    A file that is not a complete minidl state raises ValueError naming it.
    """
    path = os.fspath(f)
    device = backend.check_device("cpu" if map_location is None else str(map_location))
    arrays = _read_npz(path)
    try:
        tree = _read_structure(arrays.pop(STRUCTURE_KEY))
        return _unflatten(tree, arrays, device)
    except _Malformed as exc:
        problem = str(exc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        problem = f"its tree is malformed ({type(exc).__name__}: {exc})"
    raise ValueError(f"load: {path} has a damaged {STRUCTURE_KEY!r} entry: {problem}")


def _read_structure(array):
    """The tree from the JSON header that `save` stores under STRUCTURE_KEY."""
    if array.shape != () or array.dtype.kind != "U":
        raise _Malformed(f"it should be one JSON string, not {array.dtype} of shape {array.shape}")
    try:
        header = json.loads(str(array))
    except (ValueError, RecursionError) as exc:
        raise _Malformed(f"it is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _Malformed(f"it does not say format {FORMAT!r}")
    if header.get("version") != VERSION:
        raise _Malformed(f"it is format version {header.get('version')!r}; this minidl reads "
                         f"version {VERSION}")
    if "tree" not in header:
        raise _Malformed("it has no tree")
    return header["tree"]


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip starts with a member, or is empty
_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}

# What zipfile, zlib and NumPy's .npy header parser raise on bytes that are not what
# they claim to be (checksums, lengths, offsets, headers).
_PARSE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error,
                 OverflowError, NotImplementedError)


def _read_npz(path):
    """Every array in the archive by name, read and checked now, so damage shows up here."""
    with open(path, "rb") as file:  # a missing file is a FileNotFoundError naming `path`
        size = os.fstat(file.fileno()).st_size
        try:
            return _read_archive(file, size)
        except _Malformed as exc:
            raise ValueError(f"load: {path} ({size} bytes) {exc}") from None


def _read_archive(file, size):
    """The arrays of the open zip archive `file` (of `size` bytes), by name."""
    start = file.read(len(_NPY_MAGIC))
    if not start:
        raise _Malformed("is empty")
    if start == _NPY_MAGIC:
        raise _Malformed("holds a single array written by np.save, not an .npz archive; "
                         "read it with np.load(path)")
    if start[:4] not in _ZIP_MAGICS:
        raise _Malformed(f"is not an .npz file: it does not start as a zip archive does "
                         f"(its first bytes are {start[:4]!r})")
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except _PARSE_ERRORS as exc:
        raise _Malformed(f"is truncated or corrupt: its zip directory cannot be read "
                         f"({type(exc).__name__}: {exc})") from None
    with archive:
        infos = archive.infolist()
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise _Malformed(f"is a zip archive but not an .npz file: its entry "
                                 f"{info.filename!r} is not a .npy array")
        names = [info.filename[:-len(".npy")] for info in infos]
        if STRUCTURE_KEY not in names:
            raise _Malformed(f"is an .npz file but has no {STRUCTURE_KEY!r} entry, so it was "
                             "not written by minidl.save; read it with np.load(path)")
        return {name: _read_entry(archive, info, name, size) for name, info in zip(names, infos)}


def _read_entry(archive, info, name, size):
    """One .npy entry as an array: its header and size are checked before any data is read."""
    if info.flag_bits & 0x1:
        raise _Malformed(f"has an encrypted entry {name!r}")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Malformed(f"has an entry {name!r} compressed with zip method {info.compress_type}"
                         "; an .npz holds stored or deflated entries only")
    if info.compress_size > size or (info.compress_type == zipfile.ZIP_STORED
                                     and info.file_size != info.compress_size):
        raise _Malformed(f"is truncated or corrupt: the sizes of entry {name!r} "
                         f"({info.compress_size} / {info.file_size} bytes) do not fit the file")
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in _NPY_HEADER_READERS:
                raise _Malformed(f"has an entry {name!r} in .npy format version {version}, "
                                 "which minidl.save never writes")
            shape, fortran_order, dtype = _NPY_HEADER_READERS[version](member)
            _check_dtype(name, dtype)
            nbytes = math.prod(shape) * dtype.itemsize
            if info.file_size - member.tell() != nbytes:
                raise _Malformed(f"is truncated or corrupt: entry {name!r} should hold "
                                 f"{nbytes} bytes of {dtype} {shape} after its header, "
                                 f"but holds {info.file_size - member.tell()}")
            data = bytearray(nbytes)
            if member.readinto(data) != nbytes or member.read(1):  # reading to the end
                raise _Malformed(f"is truncated or corrupt: entry {name!r} "  # checks the CRC
                                 "is not as long as its zip directory says")
    except _PARSE_ERRORS as exc:
        raise _Malformed(f"is truncated or corrupt: entry {name!r}: "
                         f"{type(exc).__name__}: {exc}") from None
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")


def _check_dtype(name, dtype):
    if dtype.hasobject:
        raise _Malformed(f"has an entry {name!r} of Python objects (dtype {dtype}), stored with "
                         "pickle; minidl never unpickles, since that can run any code")
    if dtype.kind not in _SAVED_KINDS or dtype.itemsize == 0:
        raise _Malformed(f"has an entry {name!r} of dtype {dtype}, which minidl.save never "
                         "writes (it stores bool, number and string arrays)")
