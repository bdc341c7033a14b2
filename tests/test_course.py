"""The course's tools: the student edition (tools/make_student.py) and the grader
(tools/grade.py), run on the exercises of this repository.

The reference solutions score every point. The student edition imports, raises
NotImplementedError only where a solution was cut out, and scores nothing; and no grader
passes without its own exercise's code: with minidl's holes filled (a tree with only the
exercise files cut), or with only exercise 03's holes in minidl, the exercises in
question still score nothing. The student trees fail fast (every stub raises at once).
"""
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name):
    spec = importlib.util.spec_from_file_location(f"course_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_student = _tool("make_student")
grade = _tool("grade")
EXERCISES = [p.name for p in grade.exercise_folders(ROOT)]
# the exercises whose holes are in minidl itself, not in their own folder
IN_MINIDL = {"02_graph_walk", "03_op_backward"}


def _report(results):
    lines = []

    class Out:
        def write(self, text):
            lines.append(text)

    grade.print_report(results, out=Out())
    return "".join(lines)


def _reasons(results):
    return [(r.name, test, why) for r in results for test, why in r.tests.items()]


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("course") / "student"
    stubs = make_student.build(out)
    assert stubs >= len(EXERCISES)
    return out


@pytest.fixture(scope="module")
def reference_results():
    return grade.grade(ROOT, ROOT, measure_speed=False)


# ------------------------------------------------------------------ make_student
SOURCE = textwrap.dedent('''\
    """A module."""
    import math


    class Op:
        def backward(self, gy):
            """The docstring stays."""
            a = gy * 2
            # BEGIN SOLUTION (exercise 07)
            b = a + 1
            return b
            # END SOLUTION


    def helper(x):
        # BEGIN SOLUTION
        def inner():
            return x
        return inner()
        # END SOLUTION
    ''')


def test_each_block_becomes_a_stub_naming_its_function_and_file():
    student = make_student.strip_solutions(SOURCE, "pkg/mod.py")
    assert "b = a + 1" not in student and "return inner()" not in student
    assert "SOLUTION" not in student
    assert '"""The docstring stays."""' in student and "a = gy * 2" in student
    namespace = {}
    exec(compile(student, "pkg/mod.py", "exec"), namespace)   # it imports
    with pytest.raises(NotImplementedError, match=r"Op\.backward in pkg/mod\.py.*exercise 07"):
        namespace["Op"]().backward(1.0)
    with pytest.raises(NotImplementedError, match=r"helper in pkg/mod\.py"):
        namespace["helper"](1.0)


def test_select_cuts_only_the_blocks_it_accepts():
    student = make_student.strip_solutions(SOURCE, "pkg/mod.py",
                                           select=lambda where, note: note == "exercise 07")
    assert "b = a + 1" not in student and "return inner()" in student


def test_a_source_without_blocks_is_unchanged():
    assert make_student.strip_solutions("x = 1\n") == "x = 1\n"


@pytest.mark.parametrize("source, message", [
    ("x = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION\n", "inside a function"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n    # END SOLUTION\n", "without a # BEGIN"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n",
     "do not nest"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n  # END SOLUTION\n", "indented differently"),
    ("def f():\n    return 1  # BEGIN SOLUTION\n", "comment line of its own"),
])
def test_malformed_blocks_are_a_clear_error(source, message):
    with pytest.raises(make_student.MarkerError, match=message):
        make_student.strip_solutions(source, "bad.py")


def test_the_repository_markers_are_well_formed_and_cut_into_every_exercise():
    """Every exercise has a hole: in its folder, or in minidl (noted with its number)."""
    notes = {}
    for path in sorted(p for folder in make_student.FOLDERS for p in (ROOT / folder).rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        for block in make_student.blocks(path.read_text(encoding="utf-8"), where):
            notes.setdefault(where.split("/")[1] if where.startswith("exercises/")
                             else block[3], []).append(where)
    for exercise in EXERCISES:
        key = f"exercise {exercise[:2]}" if exercise in IN_MINIDL else exercise
        assert notes.get(key), f"{exercise} has no solution block to cut"


def test_rebuilding_keeps_a_students_work(tmp_path):
    out = tmp_path / "student"
    make_student.build(out)
    make_student.build(out)                       # unchanged: rebuilt without a word
    work = out / "exercises" / "07_maxpool_backward" / "maxpool.py"
    work.write_text(work.read_text() + "\n# my work\n")
    with pytest.raises(FileExistsError, match="07_maxpool_backward/maxpool.py"):
        make_student.build(out)
    assert "# my work" in work.read_text()
    make_student.build(out, force=True)
    assert "# my work" not in work.read_text()
    assert not list(tmp_path.glob(".*.tmp")), "a temporary folder was left behind"


# ------------------------------------------------------------------ the student edition
def test_student_edition_imports_and_a_stub_raises_only_when_called(student_edition):
    """minidl with holes imports and runs forward passes; the first backward reaches the
    missing graph walk; every exercise module imports."""
    script = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(student_edition / "exercises")!r})
        import minidl as mdl, minidl.functional as F, minidl.nn as nn
        import grading
        assert mdl.__file__.startswith({str(student_edition)!r}), mdl.__file__
        x = mdl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = (x * x).exp() @ x
        assert y.shape == (2, 2)
        nn.Linear(2, 3)(x)
        try:
            y.sum().backward()
        except NotImplementedError as exc:
            assert "_topological_order in minidl/autograd.py" in str(exc), exc
        else:
            raise AssertionError("backward ran without the graph walk")
        for name in sorted(p.name for p in grading.STUDENT.glob("exercises/[0-9][0-9]_*")):
            for path in sorted((grading.STUDENT / "exercises" / name).glob("[a-z]*.py")):
                if not path.name.startswith("test_") and path.name != "measure.py":
                    grading.load(str(path), path.stem)
        print("ok")
    ''')
    env = dict(os.environ, MINIDL_STUDENT=str(student_edition), NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=str(student_edition))
    process = subprocess.run([sys.executable, "-c", script], cwd=student_edition, env=env,
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    assert process.stdout.strip() == "ok"


def test_the_reference_scores_every_point(reference_results):
    assert [r.name for r in reference_results] == EXERCISES
    assert len(EXERCISES) >= 10
    failed = [(name, test, why) for name, test, why in _reasons(reference_results) if why]
    assert not failed, failed
    total = sum(len(r.tests) for r in reference_results)
    assert all(len(r.tests) >= 5 for r in reference_results)
    assert _report(reference_results).rstrip().splitlines()[-1] == f"grade: {total}/{total}"


def test_the_untouched_student_edition_scores_nothing(student_edition, reference_results):
    results = grade.grade(student_edition, ROOT, measure_speed=False)
    total = sum(len(r.tests) for r in reference_results)
    assert sum(len(r.tests) for r in results) == total
    for name, test, why in _reasons(results):
        assert why and "NotImplementedError" in why, f"{name}::{test}: {why}"
    report = _report(results)
    assert report.rstrip().splitlines()[-1] == f"grade: 0/{total}"
    for name in EXERCISES:
        assert re.search(rf"^\| {name} \| 0/\d+ \|", report, re.M), name


def test_no_grader_passes_without_its_own_exercise(tmp_path):
    """With minidl whole and only the exercise files cut, every exercise outside minidl
    scores nothing, each test stopped by a stub of its own folder; with only exercise
    03's blocks cut from minidl (the graph walk whole), exercise 03 scores nothing."""
    own = tmp_path / "own"
    make_student.build(own, select=lambda where, note: where.startswith("exercises/"))
    outside = [name[:2] for name in EXERCISES if name not in IN_MINIDL]
    for name, test, why in _reasons(grade.grade(own, ROOT, only=outside, measure_speed=False)):
        assert why and "NotImplementedError" in why and f"exercises/{name}/" in why, (
            f"{name}::{test}: {why}")

    ops = tmp_path / "ops"
    make_student.build(ops, select=lambda where, note: note == "exercise 03")
    for name, test, why in _reasons(grade.grade(ops, ROOT, only=["03"], measure_speed=False)):
        assert why and "NotImplementedError" in why and "exercise 03" in why, (
            f"{name}::{test}: {why}")


# ------------------------------------------------------------------ the table
def test_the_table_shows_each_test_and_what_an_exercise_measured():
    one = grade.Exercise("10_numba_matmul", {"test_a": None, "test_b": "AssertionError: x"},
                         measured="speed-up over the naive loop: 3.0x at n=512")
    two = grade.Exercise("11_closed_form", {"test_c": None})
    report = _report([one, two])
    assert "| test_b | FAIL: AssertionError: x |" in report
    assert "| 10_numba_matmul | 1/2 | speed-up over the naive loop: 3.0x at n=512 |" in report
    assert report.rstrip().splitlines()[-1] == "grade: 2/3"


def test_measure_reports_the_last_line_of_measure_py(tmp_path):
    folder = tmp_path / "exercises" / "10_fake"
    folder.mkdir(parents=True)
    (folder / "measure.py").write_text("print('compiling')\nprint('speed-up: 2.0x')\n")
    assert grade.measure(folder, tmp_path, timeout=60) == "speed-up: 2.0x"
    (folder / "measure.py").write_text("raise ValueError('no kernel')\n")
    assert grade.measure(folder, tmp_path, timeout=60) == (
        "measure.py failed: ValueError: no kernel")
