"""minidl.save / load: exact round trips, plain .npz, no pickle, atomic writes, clear errors."""
import os
import pickle

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
    with pytest.raises(TypeError, match="state must be a dict.*got Tensor"):
        io.save(mdl.tensor([1.0]), tmp_path / "x.npz")
    with pytest.raises(ValueError, match="both be stored as 'a.b'"):
        io.save({"a.b": 1, "a": {"b": 2}}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)  # nothing was written, not even a temporary file


def test_save_writes_exactly_the_path_given(tmp_path):
    io.save({"x": 1}, tmp_path / "weights.bin")
    io.save({"x": 2}, str(tmp_path / "weights.bin"))  # replaces it
    assert os.listdir(tmp_path) == ["weights.bin"]
    assert io.load(tmp_path / "weights.bin") == {"x": 2}


def test_a_failed_save_leaves_the_old_file_intact_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    io.save({"epoch": 1, "w": np.zeros(1000)}, path)
    original = path.read_bytes()

    def crash_half_way(file, arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(io, "_write_npz", crash_half_way)
    with pytest.raises(OSError, match="disk full"):
        io.save({"epoch": 2, "w": np.ones(1000)}, path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.npz"]


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
    with pytest.raises(ValueError, match="truncated, corrupt or not a minidl file.*CRC"):
        io.load(path)


def test_files_not_written_by_minidl_are_clear_errors(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(3))
    with pytest.raises(ValueError, match="not written by minidl.save; read it with np.load"):
        io.load(tmp_path / "plain.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="single ndarray, not an .npz archive"):
        io.load(tmp_path / "single.npy")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="truncated, corrupt or not a minidl file"):
        io.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.npz")


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


@pytest.mark.skipif(not mdl.cuda_is_available(), reason="needs CuPy and a GPU")
def test_gpu_tensors_round_trip_and_load_onto_either_device(tmp_path):
    model = make_model().to("cuda")
    io.save(model.state_dict(), tmp_path / "gpu.npz")
    on_cpu = io.load(tmp_path / "gpu.npz")
    on_gpu = io.load(tmp_path / "gpu.npz", device="cuda")
    for name, value in model.state_dict().items():
        assert on_cpu[name].device == "cpu" and on_gpu[name].device == "cuda"
        np.testing.assert_array_equal(on_cpu[name].numpy(), value.numpy())
        np.testing.assert_array_equal(on_gpu[name].numpy(), value.numpy())
