"""minidl.save / load: exact round trips, plain .npz, no pickle, atomic writes, clear errors."""
import base64
import errno
import json
import os
import pickle
import stat
import struct
import traceback
import zipfile
import zlib
from io import BytesIO

import numpy as np
import pytest

import minidl as mdl
from minidl import io, nn, optim


def nested_state():
    return {
        "model": {"fc.weight": mdl.tensor([[1.0, 2.0], [3.0, 4.0]]),
                  "fc.bias": mdl.tensor([0.5, -0.5], dtype=np.float64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.arange(4, dtype=np.float32)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False,
                                        "params": [0, 1], "name": "body", "note": None}]},
        "epoch": 7,
        "half": np.ones((2, 3), dtype=np.float16),
        "mask": np.array([True, False]),
        "counts": np.array([1, 2, 3], dtype=np.int64),
        "scalar": np.float32(2.5),
        "nan": float("nan"),
        "empty": {},
        "nothing": [],
    }


def test_round_trip_keeps_structure_types_values_and_dtypes(tmp_path):
    state = nested_state()
    io.save(state, tmp_path / "state.npz")
    loaded = io.load(tmp_path / "state.npz")
    assert list(loaded) == list(state)
    weight = loaded["model"]["fc.weight"]
    assert isinstance(weight, mdl.Tensor) and weight.dtype == np.float32
    np.testing.assert_array_equal(weight.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    assert loaded["model"]["fc.bias"].dtype == np.float64
    opt_state = loaded["optimizer"]["state"]
    assert list(opt_state) == [0]  # an int key stays an int
    assert opt_state[0]["step"] == 3 and type(opt_state[0]["step"]) is int
    assert isinstance(opt_state[0]["exp_avg"], np.ndarray)
    assert opt_state[0]["exp_avg"].dtype == np.float32
    group = loaded["optimizer"]["param_groups"][0]
    assert group == {"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False, "params": [0, 1],
                     "name": "body", "note": None}
    assert type(group["betas"]) is tuple and type(group["amsgrad"]) is bool
    assert loaded["half"].dtype == np.float16 and loaded["mask"].dtype == bool
    np.testing.assert_array_equal(loaded["counts"], [1, 2, 3])
    assert type(loaded["scalar"]) is np.float32 and loaded["scalar"] == 2.5
    assert np.isnan(loaded["nan"])
    assert loaded["empty"] == {} and loaded["nothing"] == []


def test_file_is_a_plain_npz_with_dotted_keys(tmp_path):
    io.save(nested_state(), tmp_path / "state.npz")
    with np.load(tmp_path / "state.npz", allow_pickle=False) as raw:
        names = set(raw.files)
        np.testing.assert_array_equal(raw["model.fc.weight"], [[1.0, 2.0], [3.0, 4.0]])
        assert raw["optimizer.param_groups.0.lr"] == 0.1
        assert raw["optimizer.param_groups.0.betas.1"] == 0.999
    assert {"optimizer.state.0.exp_avg", "optimizer.state.0.step", "epoch", "__minidl__"} <= names


def test_save_and_load_never_use_pickle(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("dumps", "dump", "loads", "load"):
        monkeypatch.setattr(pickle, name, refuse)
    io.save(nested_state(), tmp_path / "state.npz")
    assert io.load(tmp_path / "state.npz")["epoch"] == 7


def test_object_arrays_and_unknown_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="save: 'a.b' has dtype object.*never pickles"):
        io.save({"a": {"b": np.array([{}, 1], dtype=object)}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="save: 'f' is a set; a state holds only dicts"):
        io.save({"f": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="obj must be a dict.*got Tensor"):
        io.save(mdl.tensor([1.0]), tmp_path / "x.npz")
    with pytest.raises(ValueError, match="both be stored as 'a.b'"):
        io.save({"a.b": 1, "a": {"b": 2}}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)  # nothing was written, not even a temporary file


def test_save_writes_exactly_the_path_given(tmp_path):
    io.save({"x": 1}, tmp_path / "weights.bin")
    io.save({"x": 2}, str(tmp_path / "weights.bin"))  # replaces it
    assert os.listdir(tmp_path) == ["weights.bin"]
    assert io.load(tmp_path / "weights.bin") == {"x": 2}


def assert_names_only(exc, path):
    """`exc` and everything printed with it name `path`, never the temporary file."""
    assert str(path) in str(exc)
    printed = "".join(traceback.format_exception(exc))
    assert ".tmp" not in printed, printed


def test_saving_into_a_missing_folder_names_the_path(tmp_path):
    path = tmp_path / "no_such_folder" / "ckpt.npz"
    with pytest.raises(FileNotFoundError, match="save: No such file") as info:
        io.save({"x": 1}, path)
    assert_names_only(info.value, path)
    assert info.value.filename == str(path)
    assert os.listdir(tmp_path) == []


def test_saving_below_a_file_names_the_path(tmp_path):
    (tmp_path / "a_file").write_bytes(b"")
    path = tmp_path / "a_file" / "ckpt.npz"
    with pytest.raises(NotADirectoryError) as info:  # fails for root too
        io.save({"x": 1}, path)
    assert_names_only(info.value, path)
    assert os.listdir(tmp_path) == ["a_file"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may write into a read-only folder")
def test_saving_into_a_read_only_folder_names_the_path(tmp_path):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            io.save({"x": 1}, folder / "ckpt.npz")
        assert_names_only(info.value, folder / "ckpt.npz")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


def test_saving_over_a_folder_names_the_path_and_removes_the_temporary_file(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError) as info:  # os.replace refuses
        io.save({"x": 1}, tmp_path / "taken")
    assert_names_only(info.value, tmp_path / "taken")
    assert os.listdir(tmp_path) == ["taken"] and os.listdir(tmp_path / "taken") == []


@pytest.mark.parametrize("error", [OSError("disk full"),
                                   OSError(errno.ENOSPC, "No space left on device"),
                                   TypeError("cannot store this value"), KeyboardInterrupt()],
                         ids=["no_errno", "disk_full", "unsupported_value", "interrupted"])
def test_a_failure_while_writing_an_array_leaves_the_old_file_and_no_temporary_file(
        tmp_path, monkeypatch, error):
    path = tmp_path / "ckpt.npz"
    io.save({"epoch": 1, "w": np.zeros(1000)}, path)
    original = path.read_bytes()
    write_array = np.lib.format.write_array

    def fail_on_the_second_array(file, array, **kwargs):
        if array.size == 1000:  # the first ("epoch") is written; this one half-way
            file.write(b"\x93NUMPY half an array")
            raise error
        write_array(file, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", fail_on_the_second_array)
    with pytest.raises(type(error)) as info:
        io.save({"epoch": 2, "w": np.ones(1000)}, path)
    if isinstance(error, OSError) and error.errno is not None:
        assert info.value.errno == errno.ENOSPC
        assert_names_only(info.value, path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_save_fsyncs_the_file_then_renames_then_fsyncs_the_folder(tmp_path, monkeypatch):
    events = []
    fsync, replace = os.fsync, os.replace

    def record_fsync(descriptor):
        is_folder = stat.S_ISDIR(os.fstat(descriptor).st_mode)
        events.append("fsync folder" if is_folder else "fsync file")
        fsync(descriptor)

    def record_replace(source, target):
        events.append("replace")
        replace(source, target)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "replace", record_replace)
    io.save({"x": 1}, tmp_path / "ckpt.npz")
    assert events == ["fsync file", "replace", "fsync folder"]


def test_save_skips_the_folder_fsync_where_a_folder_cannot_be_opened(tmp_path, monkeypatch):
    def open_files_only(name, flags, *args, **kwargs):
        if os.path.isdir(name):
            raise PermissionError(errno.EACCES, "Permission denied", name)  # as on Windows
        return real_open(name, flags, *args, **kwargs)

    real_open = os.open
    monkeypatch.setattr(os, "open", open_files_only)
    io.save({"x": 1}, tmp_path / "ckpt.npz")
    assert io.load(tmp_path / "ckpt.npz") == {"x": 1}


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    io.save(nested_state(), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"load: .*ckpt.npz \\({cut} bytes\\) is truncated"):
            io.load(path)


def test_corrupt_bytes_inside_an_array_are_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    io.save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array's bytes: the zip checksum catches it
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="ckpt.npz .* is truncated or corrupt: entry 'w'.*CRC"):
        io.load(path)


def test_files_not_written_by_minidl_are_clear_errors(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(3))
    with pytest.raises(ValueError, match="not written by minidl.save; read it with np.load"):
        io.load(tmp_path / "plain.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="single array written by np.save, not an .npz archive"):
        io.load(tmp_path / "single.npy")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="text.npz .* is not an .npz file"):
        io.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.npz")


def write_npz(path, entries):
    """An .npz with exactly these entries, written by NumPy (which pickles object arrays)."""
    with open(path, "wb") as file:
        np.savez(file, **entries)


def header(tree, format=io.FORMAT, version=io.VERSION):
    return np.asarray(json.dumps({"format": format, "version": version, "tree": tree}))


def test_random_bytes_are_a_clear_error_that_never_mentions_pickle(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="noise.npz \\(1000 bytes\\) is not an .npz file") as info:
        io.load(path)
    assert "pickle" not in str(info.value)


def test_an_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz \\(0 bytes\\) is empty"):
        io.load(tmp_path / "empty.npz")


def test_a_zip_that_is_not_an_npz_is_a_clear_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="notes.npz .* is a zip archive but not an .npz file: "
                                         "its entry 'notes.txt' is not a .npy array"):
        io.load(tmp_path / "notes.npz")


@pytest.mark.parametrize("structure, problem", [
    (np.arange(3), "should be one JSON string, not int64 of shape \\(3,\\)"),
    (np.asarray("{not json"), "is not valid JSON"),
    (np.asarray('["a list"]'), "does not say format 'minidl-state'"),
    (header({"type": "none"}, format="other"), "does not say format 'minidl-state'"),
    (header({"type": "none"}, version=99), "format version 99; this minidl reads version 1"),
    (np.asarray('{"format": "minidl-state", "version": 1}'), "it has no tree"),
    (header({"type": "dict", "items": [["w", {"type": "tensor", "key": "gone"}]]}),
     "refers to an array 'gone' that the file does not hold"),
    (header({"type": "dict", "items": [["w", {"type": "gadget", "key": "w"}]]}),
     "describes 'w' as 'gadget', which is no kind of entry"),
    (header({"type": "dict", "items": [["w", {"type": "numpy_scalar", "key": "w"}]]}),
     "describes 'w' as a scalar, but 'w' has shape \\(3,\\)"),
    (header({"type": "dict", "items": [["w", {"type": "str", "key": "w"}]]}),
     "describes 'w' as a Python str, but 'w' holds float64 of shape \\(3,\\)"),
    (header({"type": "dict", "items": [["w", "not a description"]]}), "tree is malformed"),
], ids=["not_a_string", "not_json", "not_an_object", "wrong_format", "wrong_version",
        "no_tree", "missing_array", "unknown_kind", "scalar_of_an_array", "str_of_an_array",
        "malformed_tree"])
def test_a_wrong_structure_entry_is_a_clear_error(tmp_path, structure, problem):
    write_npz(tmp_path / "odd.npz", {"__minidl__": structure, "w": np.arange(3.0)})
    with pytest.raises(ValueError, match=f"odd.npz has a damaged '__minidl__' entry: .*{problem}"):
        io.load(tmp_path / "odd.npz")


def test_a_pickled_object_array_is_refused_without_unpickling(tmp_path, monkeypatch):
    write_npz(tmp_path / "objects.npz", {
        "__minidl__": header({"type": "dict", "items": [["x", {"type": "array", "key": "x"}]]}),
        "x": np.array([{"a": 1}, None], dtype=object)})

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    with pytest.raises(ValueError, match="objects.npz .* has an entry 'x' of Python objects "
                                         "\\(dtype object\\), stored with pickle") as info:
        io.load(tmp_path / "objects.npz")
    assert "allow_pickle" not in str(info.value)


def test_an_array_header_larger_than_its_data_is_refused_before_allocating(tmp_path):
    huge = BytesIO()
    np.lib.format.write_array_header_1_0(
        huge, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("__minidl__.npy", npy_bytes(header({"type": "none"})))
        archive.writestr("w.npy", huge.getvalue() + bytes(8))
    with pytest.raises(ValueError, match="huge.npz .* entry 'w' should hold 8000000000000 bytes "
                                         "of float64 \\(1000000000000,\\) after its header, "
                                         "but holds 8"):
        io.load(tmp_path / "huge.npz")


def npy_bytes(array):
    buffer = BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def set_in_every_entry(data, local_offset, central_offset, value):
    """Write the 2-byte `value` into every local and central zip header of `data`."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = data.find(signature)
        while start >= 0:
            data[start + offset:start + offset + 2] = struct.pack("<H", value)
            start = data.find(signature, start + 4)
    return bytes(data)


@pytest.mark.parametrize("local_offset, central_offset, value, problem", [
    (8, 10, 98, "has an entry '.*' compressed with zip method 98; an .npz holds stored or "
                "deflated entries only"),
    (6, 8, 0x1, "has an encrypted entry"),
], ids=["unknown_compression", "encrypted"])
def test_entries_that_zipfile_cannot_read_are_clear_errors(
        tmp_path, local_offset, central_offset, value, problem):
    path = tmp_path / "ckpt.npz"
    io.save({"w": np.arange(3.0)}, path)
    path.write_bytes(set_in_every_entry(path.read_bytes(), local_offset, central_offset, value))
    with pytest.raises(ValueError, match=f"ckpt.npz .* {problem}"):
        io.load(path)


def same(a, b):
    """Whether two states are equal in structure, types, dtypes and values."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, mdl.Tensor):
        return isinstance(b, mdl.Tensor) and same(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b))
    return type(a) is type(b) and a == b


def zip_bookkeeping(data):
    """Positions of the bytes in `data` that are zip headers, not entry contents: the CRC
    covers the contents, nothing covers these."""
    contents = set()
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for info in archive.infolist():
            name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
            start = info.header_offset + 30 + name_length + extra_length
            contents.update(range(start, start + info.compress_size))
    return np.array([i for i in range(len(data)) if i not in contents])


def test_damaged_files_load_exactly_or_raise_a_value_error_naming_the_path(tmp_path):
    state = {"model": {"w": mdl.tensor(np.arange(6.0).reshape(2, 3))},
             "optimizer": {0: {"step": 3, "m": np.arange(4, dtype=np.float32)}},
             "name": "run", "lr": 0.1, "flag": True, "pair": (1, None)}
    path = tmp_path / "ckpt.npz"
    io.save(state, path)
    data = path.read_bytes()
    bookkeeping = zip_bookkeeping(data)
    rng = np.random.default_rng(0)
    loaded_exactly = failed = 0
    for variant in range(300):
        damaged = bytearray(data)
        if variant % 3 == 0:
            damaged = damaged[:rng.integers(len(data))]
        else:  # flip 1-3 bits anywhere, or in the zip headers only
            positions = np.arange(len(data)) if variant % 3 == 1 else bookkeeping
            for position in rng.choice(positions, size=rng.integers(1, 4)):
                damaged[position] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        try:
            loaded = io.load(path)
        except ValueError as exc:
            assert str(path) in str(exc), (variant, exc)
            failed += 1
        else:
            assert same(loaded, state), (variant, loaded)
            loaded_exactly += 1
    assert failed > 200 and loaded_exactly > 0  # some flips only touch timestamps and such


# A file that minidl.save wrote before load checked each entry (zlib-compressed, base64):
# {"model": {"fc.weight": tensor([[1., -2.]]), "fc.bias": tensor([0.5], float64)},
#  "optimizer": {"state": {0: {"step": 3, "exp_avg": arange(3, float16)}},
#                "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False,
#                                  "name": "body", "note": None}]},
#  "scalar": np.int32(7), "mask": array([True, False])}
EARLIER_FILE = (
    "eNrdmU9oFFcYwN8aNRrS4J8gGAhuRNgWkzEbFUQE9VIKUt2L0FLC8Db7djNk/jEzRtcYTEKIXoRIL1XorafaHoRS"
    "6J9DPXirPZWit4KXIlWP7UHR9+L36ZuXmdnZP+6uTvgyuzPv+973+9733sx+r3CqZ+MYeXWMkOt3n/e+gGMnGSSW"
    "U2KmVp7SzjOjMh1otlvNkG3kKijg+cvTZz8tfJ4hs2QuV2L+lJc7ms0dKx/KjWZzZccLPGrrjldi4vrH1PQZv+5P"
    "U5fx7x/mR7MTH41m57MNH32ELBznbvxWCME8urv7a4TZLsMUDerXiXIkJUpzIGso4vj7eBjlwY8//4MoQxzFcQPD"
    "Mi4yT/MDGjBtnJ+ZWx+TkY6pWSLO1AN+hJkeL1w7iUzDkUzsgqvT2QpirYDqSvJQTaTCOtiSoTpGToShyK8DOxBq"
    "TwjKpR619IrnnHN9zmZ6byUDWzBaN2+I4yclAx89vH8HwfYlgRVZQMW5S+nu/S6OfxW6Dz77062DLt+tdPuv7Hrw"
    "x39PFbrB4RffpKKjll/xaAnpFsHCYhLdpWK+XXTKAnJg8LtbiDWShGVTiyHTKqivJo7Y2UPtYipyHxwuJS7VdWtk"
    "/9jtHxCxjyP6U9Skr1eOZWi3nLzOt42ld53/T3b/Mon+bxGPYOrPoPdL0GqpFdk10fxynlF8L397maDvA9x3XbcM"
    "2yiZuo4Ez7a9aovnmFzKjx8+3I4h6JvjPuzlUoac8rhYXCiXAO4d5ZKFz+KewcWGs8hBk4uIgQ86qMtAZ1TSn4Xr"
    "HrQ3oF9b6Suv6AWgwyS72HZOaiPmgxvRZi/4KvqbktjkPgzJbwv8k218AYJxwDnIIAayvU74VAY7GpfzoCP0K1ym"
    "I+yn9RH7t6F/zBPV1xloV43JGzVeWh0+z3OZlPqLYi6CLpXi1K2sUb4i42QCrwO+B6CP8/GiNK86nYe11oF2+zTe"
    "JfFg0F8jscA1N6gzF9PkixYzZhrETothiMtR0eYCtNPB5izM6UbYKfjpwedqh2JQiytq/ibNZVdio+CXDvY88Psc"
    "tGt0PTOB1W8ijzsxZ8wm1rIy6DvKe0yr86Xe8ZNzSeaLy48i9Be04JmGfpgx72WtzIN3If5RscX7OCbvY97FceeV"
    "XIzLSSrlR0XyodRgbuJvWSfiHbob4lWLNy5OtqTb6PuPL/3u6ba4RPElxcJp8l3Qln4nsoTnbZrnrg/PKAo5R5t4"
    "1tgQIwvaVCGGafqoNY5JNuLYLGlez3TofSvKB3Vc5tfqPpkNYz3hnaSrUBndSd4cCxnxP2JfSTUgdm/QwPaQgXuy"
    "AdzLUdXFjgmqD4XUv+IexO+fqHbELsUKbDoMh+yYG0jynoVqSuwNoEt7QqZO9pBaOwXrwvPw/h00ti9kbGgjSVWd"
    "Vy2KGni0xf9rW8xHWRR150WoH4ct/rWJpKpCqxZFyXcVqrcjIYvfbya1C8CqOVFeXYYCal/I3GovkYqtqp4oay5B"
    "6XJLSK/Av2KRU9USBUVRKhQyENLq30qU8mLh1KbN4l4//zvDs+OTtRx+CV/cZ/E=")


def test_files_written_by_earlier_versions_still_load(tmp_path):
    (tmp_path / "old.npz").write_bytes(zlib.decompress(base64.b64decode(EARLIER_FILE)))
    state = io.load(tmp_path / "old.npz")
    assert same(state, {
        "model": {"fc.weight": mdl.tensor([[1.0, -2.0]]),
                  "fc.bias": mdl.tensor([0.5], dtype=np.float64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.arange(3, dtype=np.float16)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False,
                                        "name": "body", "note": None}]},
        "scalar": np.int32(7), "mask": np.array([True, False])})


def make_model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_model_and_optimizer_round_trip_end_to_end(tmp_path):
    mdl.manual_seed(0)
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    x, y = mdl.randn(16, 4), mdl.tensor(np.arange(16) % 3)
    for _ in range(3):
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    io.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt.npz")

    mdl.manual_seed(1)
    restored = make_model()
    restored_opt = optim.Adam(restored.parameters(), lr=0.5)
    checkpoint = io.load(tmp_path / "ckpt.npz")
    restored.load_state_dict(checkpoint["model"])
    restored_opt.load_state_dict(checkpoint["optimizer"])
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())
    assert restored_opt.param_groups[0]["lr"] == 0.01
    for a, b in zip(model.parameters(), restored.parameters()):
        np.testing.assert_array_equal(opt.state[a]["exp_avg"], restored_opt.state[b]["exp_avg"])


def test_loading_into_a_different_model_fails_and_changes_nothing(tmp_path):
    io.save(make_model().state_dict(), tmp_path / "model.npz")
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 5))
    before = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    with pytest.raises(RuntimeError, match="2.weight has shape \\(3, 8\\).*\\(5, 8\\)"):
        other.load_state_dict(io.load(tmp_path / "model.npz"))
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])


def test_gpu_tensors_round_trip_and_load_onto_either_device(cuda_backend, tmp_path):
    model = make_model().to("cuda")
    io.save(model.state_dict(), tmp_path / "gpu.npz")
    on_cpu = io.load(tmp_path / "gpu.npz")
    on_gpu = io.load(tmp_path / "gpu.npz", map_location="cuda")
    for name, value in model.state_dict().items():
        assert on_cpu[name].device == "cpu" and on_gpu[name].device == "cuda"
        np.testing.assert_array_equal(on_cpu[name].numpy(), value.numpy())
        np.testing.assert_array_equal(on_gpu[name].numpy(), value.numpy())
