"""The build's one custom step: the top-level folder kernels/ goes into the wheel as
minidl/kernels/. (Run from a checkout, minidl/__init__.py finds kernels/ where it is, so
an editable install needs nothing more.)"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:
            shutil.copytree("kernels", Path(self.build_lib) / "minidl" / "kernels",
                            dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))


setup(cmdclass={"build_py": BuildPyWithKernels})
