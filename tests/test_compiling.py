"""Compiling the numba kernels: the first compilation says so once, `--warm` compiles every
kernel the layers use (an MLP, a CNN, and the recurrent layers), and the cache works when
the package folder cannot be written."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TRAIN_SMALL_MODELS = """
import numpy as np
from numba.core import event
import minidl as mdl
from minidl import nn, optim
compiled = []
event.register("numba:compile", type("L", (event.Listener,), {
    "on_start": lambda self, ev: compiled.append(ev.data["dispatcher"].py_func.__name__),
    "on_end": lambda self, ev: None})())
for setting, dtype in [(s, d) for s in ("numba", "fast") for d in (np.float32, np.float64)]:
    mdl.set_kernels(setting)
    mdl.set_default_dtype(dtype)
    for model, shape in ((nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)), (5, 8)),
                         (nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.MaxPool2d(2),
                                        nn.Conv2d(4, 4, 3, groups=2), nn.AvgPool2d(2),
                                        nn.Flatten(), nn.Linear(4, 3)), (5, 2, 8, 8)),
                         (nn.Sequential(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                                   batch_first=True),
                                        nn.Flatten(), nn.LayerNorm(24), nn.Linear(24, 3)),
                          (5, 3, 8))):
        opt = optim.SGD(model.parameters(), lr=0.1)
        loss = nn.CrossEntropyLoss(label_smoothing=0.1)(model(mdl.randn(*shape, dtype=dtype)),
                                                        mdl.tensor([0, 1, 2, 0, 1]))
        loss.backward()
        opt.step()
    for layer in (nn.RNN(4, 3), nn.RNN(4, 3, nonlinearity="relu"), nn.LSTM(4, 3, num_layers=2),
                  nn.GRU(4, 3, bidirectional=True)):
        layer.to(dtype=dtype)
        out, _ = layer(mdl.randn(5, 2, 4, dtype=dtype))
        out.sum().backward()
print("compiled:", sorted(set(compiled)))
"""


def run(code_or_args, env, cwd=ROOT):
    args = [sys.executable] + (["-c", code_or_args] if isinstance(code_or_args, str)
                               else code_or_args)
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def test_warm_compiles_everything_the_layers_use_and_says_so_once(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    warm = run(["-m", "minidl.kernels", "--warm"], env)
    assert warm.stderr.count("minidl: compiling numba kernels, once") == 1
    assert str(tmp_path / "cache") in warm.stderr and "kernels ready" in warm.stdout
    trained = run(TRAIN_SMALL_MODELS, env)
    assert "compiled: []" in trained.stdout, trained.stdout
    assert "compiling numba kernels" not in trained.stderr


def test_the_cache_goes_elsewhere_when_the_package_folder_cannot_be_written(tmp_path):
    """A __pycache__ that is a file, not a folder, stands for a read-only install (root
    ignores permission bits, so chmod would prove nothing here)."""
    shutil.copytree(ROOT / "kernels", tmp_path / "minidl" / "kernels",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "minidl" / "kernels" / "__pycache__").write_text("not a folder")
    shutil.copytree(ROOT / "minidl", tmp_path / "minidl", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(tmp_path), HOME=str(tmp_path / "home"),
               XDG_CACHE_HOME=str(tmp_path / "home" / ".cache"))
    code = ("import numpy as np\n"
            "from minidl.kernels import table\n"
            "a = np.ones((3, 4), np.float32)\n"
            "print(table.get('numba').matmul(a, a.T).sum())\n")
    first = run(code, env, cwd=tmp_path)
    assert first.stdout.strip() == "36.0"
    assert str(tmp_path / "home") in first.stderr  # told where the cache went
    second = run(code, env, cwd=tmp_path)
    assert second.stdout.strip() == "36.0" and "compiling" not in second.stderr
