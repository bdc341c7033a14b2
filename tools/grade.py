"""Grade the exercises: run every grader on a tree and print a table per exercise.

    python tools/grade.py                        # the reference solutions (`make grade`)
    python tools/grade.py --student build/student   # a student's tree (`make grade STUDENT=...`)

The graders are this tree's exercises/NN_name/test_*.py. They run on the tree given by
--student (this one by default): its exercise files and its minidl, which has holes of its
own (environment variable MINIDL_STUDENT, read by exercises/grading.py). They run in
one pytest process, except the graders marked `pytest.mark.cudasim` (exercise 12), which
run in a process of their own with NUMBA_ENABLE_CUDASIM=1 (numba's CUDA simulator must be
chosen before numba.cuda is first imported; NUMBA_ENABLE_CUDASIM=0 in the environment runs
them on a GPU instead). If a process crashes (a student's numba code can write past an
array and take the process down), or with --isolate, each exercise runs in a process of
its own, so that the crash costs only that exercise's points. A test is a point: the tests are first collected from the graders on this tree,
which holds the reference solutions, so a student tree that fails to import still has
every point counted, as lost.

The output is a table per exercise, one row per test with the reason of any failure, then
one row per exercise, with what its measure.py reports (exercise 10: the speed-up of the
blocked matmul over the naive loop) once all its tests pass, and last `grade: N/M`.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Exercise:
    """One exercise's grading: each test's outcome and, when it failed, why."""
    name: str
    tests: dict = field(default_factory=dict)     # test id -> None (passed) or the reason
    measured: str = ""

    @property
    def passed(self):
        return sum(reason is None for reason in self.tests.values())


def exercise_folders(root, only=None):
    folders = sorted(p for p in (root / "exercises").glob("[0-9][0-9]_*") if p.is_dir())
    if only:
        folders = [p for p in folders if p.name[:2] in only or p.name in only]
    return folders


def grader_files(folder):
    return sorted(folder.glob("test_*.py"))


def simulated(folder):
    """Whether the exercise's kernels run in numba's CUDA simulator: its grader says
    `pytestmark = pytest.mark.cudasim`."""
    return any("pytest.mark.cudasim" in f.read_text() for f in grader_files(folder))


def environment(student, cudasim=False):
    paths = [str(student), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, MINIDL_STUDENT=str(student), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(p for p in paths if p),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    if cudasim:
        env.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    return env


def pytest_command(*args):
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=",
            "-q", *map(str, args)]


def collect(root, folders):
    """{exercise name: [test id, ...]}, collected from the graders on the tree `root`."""
    files = [f for folder in folders for f in grader_files(folder)]
    process = subprocess.run(pytest_command("--collect-only", *files), cwd=root,
                             env=environment(root), capture_output=True, text=True)
    if process.returncode != 0:
        raise RuntimeError(f"grade: the graders in {root / 'exercises'} could not be "
                           f"collected:\n{process.stdout[-3000:]}{process.stderr[-3000:]}")
    tests = {folder.name: [] for folder in folders}
    for line in process.stdout.splitlines():
        path, _, test = line.strip().partition("::")
        if test:
            tests[Path(path).parent.name].append(test)
    return tests


def _first_line(text, width=160):
    line = next((s.strip() for s in (text or "").splitlines() if s.strip()), "failed")
    return line if len(line) <= width else line[:width - 3] + "..."


def _collection_error(text):
    """The line that says why a grader module did not load (its last 'E   ...' line)."""
    lines = [line[1:].strip() for line in (text or "").splitlines() if line.startswith("E ")]
    return "could not load: " + _first_line(lines[-1] if lines else text)


def read_junit(path):
    """{exercise: ({test name: None or the reason it failed}, why its module did not
    load or None)} from pytest's JUnit XML report."""
    found = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        problem = next((case.find(tag) for tag in ("failure", "error", "skipped")
                        if case.find(tag) is not None), None)
        if not case.get("classname"):  # exercises.NN_name.test_NN_name did not load
            exercise = case.get("name").split(".")[1]
            found.setdefault(exercise, ({}, None))
            found[exercise] = (found[exercise][0], _collection_error(problem.text))
            continue
        exercise = case.get("classname").split(".")[1]
        reason = None
        if problem is not None:
            kind = "skipped: " if problem.tag == "skipped" else ""
            reason = kind + _first_line(problem.get("message") or problem.text)
        found.setdefault(exercise, ({}, None))[0][case.get("name")] = reason
    return found


def run_graders(folders, student, timeout):
    """Run the graders of `folders` (all simulated or none) in one pytest process on the
    student tree; returns
    read_junit's dict, or None when the process died without a whole report (a crash)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        files = [f for folder in folders for f in grader_files(folder)]
        command = pytest_command("--continue-on-collection-errors", f"--junitxml={report}",
                                 *files)
        try:
            process = subprocess.run(command, cwd=folders[0].parent.parent,
                                     env=environment(student, simulated(folders[0])),
                                     capture_output=True,
                                     text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {folder.name: ({}, f"timed out after {timeout} s") for folder in folders}
        if process.returncode < 0 or not report.exists():  # killed by a signal
            return None
        return read_junit(report)


def outcomes_of(folder, expected, found):
    """The Exercise for `folder`: every expected test, passed or with a reason."""
    result = Exercise(folder.name)
    outcomes, error = found.get(folder.name, ({}, None))
    for test in expected:
        if test in outcomes:
            result.tests[test] = outcomes[test]
        else:
            result.tests[test] = error or "not run"
    return result


def measure(folder, student, timeout):
    """The last line that the exercise's measure.py prints, or "" if it has none."""
    script = folder / "measure.py"
    if not script.exists():
        return ""
    try:
        process = subprocess.run([sys.executable, str(script)], cwd=student,
                                 env=environment(student), capture_output=True, text=True,
                                 timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"measure.py: timed out after {timeout} s"
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        errors = process.stderr.strip().splitlines()
        return "measure.py failed: " + _first_line(errors[-1] if errors else "")
    return lines[-1]


def grade(student=ROOT, root=ROOT, only=None, measure_speed=True, isolate=False, timeout=600):
    """[Exercise, ...]: the graders of `root` run on the tree `student`.

    The exercises run in one process, those in the CUDA simulator in another, unless
    `isolate` is set or a process crashed (a segfault in a student's numba code): then
    each of its exercises runs in a process of its own."""
    student, root = Path(student).resolve(), Path(root).resolve()
    folders = exercise_folders(root, only)
    expected = collect(root, folders)
    groups = [[f] for f in folders] if isolate else [
        group for group in ([f for f in folders if not simulated(f)],
                            [f for f in folders if simulated(f)]) if group]
    found = {}
    for group in groups:
        together = run_graders(group, student, timeout * len(group))
        if together is not None:
            found.update(together)
            continue
        for folder in group:
            alone = None if len(group) == 1 else run_graders([folder], student, timeout)
            found.update(alone if alone is not None else
                         {folder.name: ({}, "the grader process crashed")})
    results = [outcomes_of(folder, expected[folder.name], found) for folder in folders]
    for folder, result in zip(folders, results):
        if measure_speed and result.passed == len(result.tests):
            result.measured = measure(folder, student, timeout)
    return results


def print_report(results, out=sys.stdout):
    for result in results:
        print(f"\n{result.name}: {result.passed}/{len(result.tests)}", file=out)
        print("| test | result |", file=out)
        print("| --- | --- |", file=out)
        for test, reason in result.tests.items():
            print(f"| {test} | {'pass' if reason is None else 'FAIL: ' + reason} |", file=out)
    print("\n| exercise | passed | measured |", file=out)
    print("| --- | ---: | --- |", file=out)
    for result in results:
        print(f"| {result.name} | {result.passed}/{len(result.tests)} | {result.measured} |",
              file=out)
    total = sum(len(r.tests) for r in results)
    print(f"\ngrade: {sum(r.passed for r in results)}/{total}", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", default=str(ROOT),
                        help="the tree to grade (default: this one, the reference)")
    parser.add_argument("--only", nargs="*", help="exercise numbers, e.g. 01 04")
    parser.add_argument("--no-measure", action="store_true",
                        help="skip the measurements (measure.py)")
    parser.add_argument("--isolate", action="store_true",
                        help="grade each exercise in a process of its own")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per exercise")
    args = parser.parse_args(argv)
    student = Path(args.student)
    if not (student / "minidl").is_dir() or not (student / "exercises").is_dir():
        print(f"grade: {student} is not a student tree (it needs minidl/ and exercises/); "
              "make one with `make exercises`", file=sys.stderr)
        return 2
    try:
        results = grade(student, ROOT, args.only, not args.no_measure, args.isolate,
                        args.timeout)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
