"""Mutation testing of minidl's core with mutmut: how many planted bugs do the tests catch?

mutmut copies minidl/ and kernels/ to mutants/, rewrites every function in the scope into
its original and a set of mutants (an operator flipped, a constant changed, an argument
dropped...) behind a trampoline, runs the tests once to learn which tests reach which
function, and then, for each mutant, runs only those tests (fastest first, stopping at the
first failure). A mutant the tests do not notice "survives". It is a measurement, like a
benchmark: it is not part of `make test`.

    python tools/mutation.py                          # the whole core, with the core tests
    python tools/mutation.py --mutate minidl/optim --tests tests/test_optim.py
    python tools/mutation.py --rerun-survivors        # after writing tests: only the survivors

It prints each survivor (its name and the diff mutmut made), then as the last line
`mutation score: K/N killed`. K counts mutants some test failed on, or whose tests ran out
of time (more than 15 times their usual time: the mutant made them hang, as every mutation
tool counts it); N counts every mutant made, including those no selected test reaches.

Three things this driver sets right around mutmut 3.3.1, each of which made results say
nothing about the mutant:
- mutmut forks each mutant's test run from a process that has already run the tests (to
  map them to functions), and so has started numba's threading layer for the parallel
  kernels. The default layer here (GNU OpenMP) is not fork-safe: the first parallel kernel
  in a forked run kills its process with SIGTERM. Such runs were listed as "suspicious"
  (exit -15) and not killed; the fork-safe layer (NUMBA_THREADING_LAYER=forksafe) is used.
- mutmut records as a test's duration that of its teardown only, and checks every run
  against the smallest estimate of any mutant, so any run longer than about 15 s was
  stopped and counted a timeout (killed) however long its tests normally take. Durations
  here are whole tests, and each run is checked against its own tests' time.
- a forked run also inherits what the tests left in the package's memory: minidl.autograd's
  cache of constants (x * 0.5), full after the mapping run, so that no mutant of the code
  that fills it was ever run. Each forked run starts with it empty, as a fresh pytest would.
A run still ended by a signal mutmut does not know counts as "suspicious", listed with
the survivors.

Functions with a decorator are not mutated (mutmut's rule): numba's @njit/@cuda.jit kernels
cannot be compiled through mutmut's trampoline, so of kernels/ only the plain Python around
the jitted kernels (dispatch, shape checks, the NumPy versions) is measured.
"""
import argparse
import collections
import difflib
import json
import os
import re
import shutil
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ["minidl/autograd.py", "minidl/functional", "kernels", "minidl/optim", "minidl/nn"]
# the fast tests of the core: per mutant, mutmut runs only those of them that reach the
# mutated function
CORE_TESTS = [
    "tests/test_autograd.py", "tests/test_gradcheck.py", "tests/test_hooks.py",
    "tests/test_inplace.py", "tests/test_ops.py", "tests/test_activations.py",
    "tests/test_losses.py", "tests/test_attention.py", "tests/test_conv.py",
    "tests/test_kernels.py", "tests/test_fused.py", "tests/test_recurrent.py",
    "tests/test_layers.py", "tests/test_nn_core.py", "tests/test_optim.py",
    "tests/test_lr_scheduler.py",
]
# the trees mutmut copies to mutants/ whole (the package must import from there); only the
# files in the scope get mutants
COPIED = ["minidl", "kernels"]
OUT = "mutants"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mutate", nargs="+", default=CORE, metavar="PATH",
                   help="files or folders to mutate (default: the core)")
    p.add_argument("--tests", nargs="+", default=CORE_TESTS, metavar="PATH",
                   help="test files to select from (default: the core's fast tests)")
    p.add_argument("--max-children", type=int, default=os.cpu_count() or 2,
                   help="mutants tested at once")
    p.add_argument("--rerun-survivors", action="store_true",
                   help="test again only the survivors of the last run, with the same "
                        "--mutate (keeping the other results): after writing tests")
    return p.parse_args(argv)


def in_scope(path, scope):
    """Whether the source file `path` (relative, with /) is inside one of the scope paths."""
    return any(path == s or path.startswith(s.rstrip("/") + "/") for s in scope)


def source_files():
    for top in COPIED:
        for path in sorted(Path(top).rglob("*.py")):
            yield path.as_posix()


def configure(scope, tests):
    """mutmut's configuration, set directly instead of read from setup.cfg: copy the whole
    package, mutate only the scope."""
    import mutmut
    from mutmut.__main__ import Config
    scope = [Path(s).as_posix().rstrip("/") for s in scope]
    for s in scope:
        if not Path(s).exists() or not in_scope(s, COPIED) and s not in COPIED:
            sys.exit(f"mutation: {s!r} is not a file or folder inside {COPIED}")
    outside = [p for p in source_files() if not in_scope(p, scope)]
    mutmut.config = Config(
        also_copy=[Path("conftest.py"), Path("tests"), Path("setup.cfg"), Path("pyproject.toml")],
        do_not_mutate=outside,
        max_stack_depth=-1,
        debug=False,
        paths_to_mutate=[Path(p) for p in COPIED],
        tests_dir=list(tests),
    )


def results():
    """{mutant name: mutmut's exit code} for every mutant of the last run."""
    codes = {}
    for meta in Path(OUT).rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def keep(codes):
    """Write `codes` into mutmut's result files, so that the next run starts from them."""
    for meta in Path(OUT).rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        data["exit_code_by_key"] = {name: codes.get(name) for name in data["exit_code_by_key"]}
        meta.write_text(json.dumps(data, indent=4))


def source_of(name):
    """The source file of a mutant, from its name: "minidl.optim.sgd.xǁSGDǁupdate__mutmut_3"
    or "minidl.optim.optimizer.x_check_at_least__mutmut_1"."""
    module = re.split(r"\.x[_ǁ]", name, maxsplit=1)[0].replace(".", "/")
    return Path(module + ".py") if Path(module + ".py").exists() else Path(module, "__init__.py")


def status(code):
    from mutmut.__main__ import status_by_exit_code
    return status_by_exit_code[code] if code in status_by_exit_code else f"exit code {code}"


def survivors_of(codes):
    return sorted(name for name, code in codes.items()
                  if status(code) not in ("killed", "timeout"))


def pytest_9_shim():
    """mutmut 3.3.1 names a test by `item._nodeid`, which pytest 9 no longer has."""
    from _pytest.nodes import Node
    if not hasattr(Node, "_nodeid"):
        Node._nodeid = property(lambda self: self.nodeid)


# A test that starts Python (subprocess.run([sys.executable, ...])) runs the trampolines
# there too, and while mutmut maps tests to functions ("stats") they need its configuration,
# which only this process has. This module, first on the children's path, gives them one.
SUBPROCESS_SITE = '''"""Written by tools/mutation.py for the Pythons that tests start under mutmut."""
import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    import mutmut
    from mutmut.__main__ import Config

    mutmut.config = Config(also_copy=[], do_not_mutate=[], max_stack_depth=-1, debug=False,
                           paths_to_mutate=[])
'''


def let_child_pythons_run_trampolines():
    site = Path(OUT, "_subprocess_site").resolve()
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SUBPROCESS_SITE)
    paths = [str(site), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    # mutmut itself must be importable there (it may sit outside the venv's site-packages)
    import mutmut
    paths.append(str(Path(mutmut.__file__).parent.parent))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)


def fork_safe_numba():
    """numba's threading layer must survive mutmut's fork (see the docstring); set before
    numba is first imported, which happens when the tests first run in this process."""
    os.environ.setdefault("NUMBA_THREADING_LAYER", "forksafe")


def record_whole_test_durations():
    """A test's duration, for mutmut's estimates: setup + call + teardown (mutmut 3.3.1 keeps
    the last phase only, the teardown, about 0)."""
    import mutmut
    from mutmut.__main__ import PytestRunner
    execute = PytestRunner.execute_pytest

    def execute_pytest(self, params, **kwargs):
        if not kwargs.get("plugins"):               # a mutant's run: nothing to time
            return execute(self, params, **kwargs)
        totals = collections.defaultdict(float)

        class Durations:
            def pytest_runtest_logreport(self, report):
                totals[report.nodeid] += report.duration

        kwargs["plugins"] = [*kwargs["plugins"], Durations()]
        code = execute(self, params, **kwargs)
        mutmut.duration_by_test.update(totals)
        return code

    PytestRunner.execute_pytest = execute_pytest


def timeout_checker(mutants):
    """mutmut's wall-clock check, each running mutant against its own tests' time (mutmut
    3.3.1 checks each against every mutant's estimate, so against the smallest)."""
    from mutmut.__main__ import START_TIMES_BY_PID_LOCK
    files = {id(m): m for m, _, _ in mutants}.values()

    def check():
        while True:
            time.sleep(1)
            now = datetime.now()
            for m in files:
                with START_TIMES_BY_PID_LOCK:
                    started = dict(m.start_time_by_pid)
                for pid, start in started.items():
                    name = m.key_by_pid.get(pid)
                    if name is None:
                        continue
                    allowed = (m.estimated_time_of_tests_by_mutant[name] + 1) * 15
                    if (now - start).total_seconds() > allowed:
                        try:
                            os.kill(pid, signal.SIGXCPU)
                        except ProcessLookupError:
                            pass
    return check


def start_forked_runs_fresh():
    """Empty, in each forked test run, the caches the tests filled in this process."""
    def forget():
        autograd = sys.modules.get("minidl.autograd")
        if autograd is not None:
            autograd._CONSTANTS.clear()
    os.register_at_fork(after_in_child=forget)


class _Statuses(dict):
    """mutmut 3.3.1's table of exit codes, which fails on a code it lacks (a test run killed
    by a signal): such a mutant counts as "suspicious", listed with the survivors."""

    def __missing__(self, code):
        return "suspicious"


def run(args):
    import mutmut.__main__
    from mutmut.__main__ import _run
    pytest_9_shim()
    fork_safe_numba()
    record_whole_test_durations()
    mutmut.__main__.timeout_checker = timeout_checker
    start_forked_runs_fresh()
    mutmut.__main__.status_by_exit_code = _Statuses(mutmut.__main__.status_by_exit_code)
    configure(args.mutate, args.tests)
    # no .pytest_cache written by the many runs; the mutants' own pytest runs see this too
    addopts = os.environ.get("PYTEST_ADDOPTS", "")
    os.environ["PYTEST_ADDOPTS"] = f"{addopts} -p no:cacheprovider".strip()
    if not args.rerun_survivors:
        shutil.rmtree(OUT, ignore_errors=True)
        let_child_pythons_run_trampolines()
        _run([], args.max_children)
        return results()
    before = results()
    again = survivors_of(before)
    if not again:
        return before
    # which tests reach which function: learnt again, as the tests changed (mutmut's own
    # update of its record can keep the names of tests since renamed, which pytest refuses)
    Path(OUT, "mutmut-stats.json").unlink(missing_ok=True)
    let_child_pythons_run_trampolines()
    # mutmut writes every result afresh when it makes the mutants: keep the others'
    try:
        _run(again, args.max_children)
    except SystemExit as stop:          # mutmut exits after naming mutants: not an error
        if stop.code:
            raise
    merged = {**before, **{name: code for name, code in results().items() if name in again}}
    keep(merged)
    return merged


def diff_of(name, modules):
    """The lines a mutant changes, from mutmut's copy of its file (parsed once per file)."""
    import libcst
    from mutmut.__main__ import read_mutant_function, read_original_function
    path = source_of(name)
    if path not in modules:
        modules[path] = libcst.parse_module((Path(OUT) / path).read_text())
    module = modules[path]
    code = [libcst.Module([f(module, name)]).code.strip().splitlines()
            for f in (read_original_function, read_mutant_function)]
    diff = difflib.unified_diff(*code, lineterm="", n=0)
    return "\n".join(line for line in list(diff)[2:] if line[:1] in "+-")


def report(codes):
    survivors = survivors_of(codes)
    if survivors:
        print(f"\n{len(survivors)} survivors:")
    modules = {}
    for name in survivors:
        print(f"\n{name}  ({status(codes[name])})")
        print(diff_of(name, modules))
    killed = len(codes) - len(survivors)
    print(f"mutation score: {killed}/{len(codes)} killed")


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    codes = run(args)
    if not codes:
        sys.exit("mutation: no mutants were made (is the scope all jitted or empty?)")
    report(codes)


if __name__ == "__main__":
    main()
