"""What the graders share: which tree is graded, and loading the student's files from it.

The graded tree is $MINIDL_STUDENT, or else the tree that holds this exercises folder
(the repository, with the reference solutions, or a student edition). Its minidl must be
the one imported, since some exercises are holes in minidl itself; `use_student_tree`
(called by conftest.py before any grader runs) makes sure of it.
"""
import importlib.util
import os
import sys
from pathlib import Path

STUDENT = Path(os.environ.get("MINIDL_STUDENT") or Path(__file__).resolve().parent.parent).resolve()


def use_student_tree():
    """Put the graded tree first on sys.path, so that `import minidl` finds its minidl."""
    if not (STUDENT / "minidl" / "__init__.py").exists():
        raise RuntimeError(f"grading: {STUDENT} holds no minidl/ to grade (MINIDL_STUDENT "
                           "must name a student edition or the repository)")
    loaded = sys.modules.get("minidl")
    if loaded is not None and Path(loaded.__file__).resolve().parent != STUDENT / "minidl":
        raise RuntimeError(f"grading: minidl was already imported from {loaded.__file__}, "
                           f"not from the graded tree {STUDENT}")
    sys.path.insert(0, str(STUDENT))


def load(grader_file, name):
    """The student's module `name` from the exercise folder of `grader_file` (the grader's
    __file__), loaded from the graded tree: grading.load(__file__, "engine")."""
    folder = Path(grader_file).resolve().parent.name
    path = STUDENT / "exercises" / folder / f"{name}.py"
    module_name = f"student_{folder}_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or not path.exists():
        raise FileNotFoundError(f"grading: no {path} to grade")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
