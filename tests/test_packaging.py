"""Packaging: the wheel holds the top-level kernels/ folder as minidl.kernels, every package
is listed, the build says nothing to warn about, and a checkout imports the kernels
without a symlink."""
import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def listed_packages():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return set(config["options"]["packages"].split())


def test_every_package_folder_is_listed_in_setup_cfg():
    folders = {".".join(path.relative_to(ROOT).parts) for path in (ROOT / "minidl").rglob("*")
               if path.is_dir() and "__pycache__" not in path.parts
               and any(f.is_file() for f in path.iterdir())}
    assert folders | {"minidl"} == listed_packages()


def test_the_checkout_needs_no_symlink_for_the_kernels():
    assert not (ROOT / "minidl" / "kernels").exists() and not (ROOT / "minidl" / "kernels").is_symlink()
    code = "import minidl.kernels.matmul as m; print(m.__file__)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd="/").stdout.strip()
    assert Path(out) == ROOT / "kernels" / "matmul.py"


def test_wheel_installs_kernels_as_a_subpackage_without_warnings(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                            "--no-build-isolation", "-v", "-w", str(tmp_path)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]
    assert "Warning" not in build.stdout + build.stderr, [
        line for line in (build.stdout + build.stderr).splitlines() if "Warning" in line]
    wheel, = tmp_path.glob("minidl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "minidl/kernels/__init__.py" in names
    assert "minidl/kernels/matmul.py" in names
    assert "minidl/data/datasets/digits.npz" in names
    assert not any(n.startswith("kernels/") or "__pycache__" in n for n in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "import minidl, minidl.kernels.matmul as m; print(minidl.__file__, m.__file__)"
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=tmp_path).stdout.split()
    assert all(path.startswith(str(site)) for path in out), out
