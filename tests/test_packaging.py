"""The package builds as a wheel in which the top-level kernels/ folder is minidl.kernels."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_kernels_as_a_subpackage(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "--quiet", "-w", str(tmp_path)],
                   check=True, cwd=tmp_path)
    wheel, = tmp_path.glob("minidl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "minidl/kernels/__init__.py" in names
    assert "minidl/kernels/matmul.py" in names
    assert not any(n.startswith("kernels/") for n in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "import minidl, minidl.kernels.matmul as m; print(minidl.__file__, m.__file__)"
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=tmp_path).stdout.split()
    assert all(path.startswith(str(site)) for path in out), out
