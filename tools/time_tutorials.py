"""Measure how long each tutorial takes, and write tutorials/run_times.json.

    python tools/time_tutorials.py              # every tutorial in fast mode (minutes)
    python tools/time_tutorials.py --full       # and in full mode too (an hour or more)
    python tools/time_tutorials.py 07 10 --full # only these

Each tutorial runs as a student runs it, `python tutorials/NN_name.py` from the repository
root (with MINIDL_FAST=1 for fast mode), in a subprocess, its figures sent to a temporary
folder so that the checkout is left as it was. The wall-clock seconds of the whole run are
recorded (`fast_s`, `full_s`), with the CPU seconds the run used and the machine's load
average when it started: on a machine shared with other jobs the wall-clock time grows
with the load, the CPU seconds much less. The file keeps what earlier runs measured for
the tutorials and modes not measured this time, and is rewritten after every tutorial
(whole, to a temporary name, then renamed), so an interrupted run loses nothing measured.

Each tutorial prints these times first (tutorials/_common.py's expected_run_time), and the
run-time tables of docs/syllabus.md and docs/syllabus.zh.md are made from this file
(tools/syllabus.py, called at the end).
"""
import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
RUN_TIMES = TUTORIALS / "run_times.json"


def tutorial_paths(numbers=None):
    """{"01": path, ...}: every tutorials/NN_*.py, or only the numbers asked for."""
    found = {p.name[:2]: p for p in sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))}
    if numbers:
        missing = sorted(set(numbers) - set(found))
        if missing:
            raise SystemExit(f"time_tutorials: no tutorial numbered {', '.join(missing)} "
                             f"(there are {', '.join(found)})")
        found = {n: found[n] for n in sorted(numbers)}
    return found


def processor_name():
    """The CPU's model name where the system says it, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine():
    return {"cpus": os.cpu_count(), "processor": processor_name(),
            "system": platform.system(), "python": platform.python_version(),
            "numpy": np.__version__, "date": datetime.date.today().isoformat()}


def child_cpu_seconds():
    """CPU seconds (user + system) used so far by the finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(path, mode, timeout):
    """(wall-clock seconds, CPU seconds) that `python path` took in this mode, or
    (None, why) if it failed."""
    with tempfile.TemporaryDirectory() as figures:
        env = dict(os.environ, MPLBACKEND="Agg", MINIDL_FIGURES=figures,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                            os.environ.get("PYTHONPATH")])))
        env.pop("MINIDL_FAST", None)
        if mode == "fast":
            env["MINIDL_FAST"] = "1"
        start, cpu_start = time.perf_counter(), child_cpu_seconds()
        try:
            process = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env,
                                     capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"still running after {timeout} s"
        seconds, cpu = time.perf_counter() - start, child_cpu_seconds() - cpu_start
    if process.returncode != 0:
        last = (process.stderr.strip() or process.stdout.strip()).splitlines()[-1:]
        return None, f"exit status {process.returncode}: {' '.join(last)}"
    return seconds, cpu


def load(path=RUN_TIMES):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"machine": {}, "tutorials": {}}


def write(measured, path=RUN_TIMES):
    """Write the file whole to a temporary name, then rename it over the old one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def measure(numbers=None, modes=("fast",), timeout=7200, path=RUN_TIMES):
    """Run the tutorials in the given modes, recording each time as soon as it is known.
    Returns the tutorials that failed, as {(number, mode): why}."""
    measured = load(path)
    measured["machine"] = describe_machine()
    failures = {}
    for number, tutorial in tutorial_paths(numbers).items():
        for mode in modes:
            print(f"{tutorial.name} ({mode} mode) ... ", end="", flush=True)
            busy = os.getloadavg()[0]
            seconds, cpu = run_once(tutorial, mode, timeout)
            if seconds is None:
                print(f"FAILED, {cpu}")
                failures[number, mode] = cpu
                continue
            print(f"{seconds:.1f} s ({cpu:.1f} CPU seconds, load average {busy:.1f} before)")
            entry = measured["tutorials"].setdefault(number, {})
            entry["file"] = tutorial.name
            entry[f"{mode}_s"] = round(seconds, 1)
            entry[f"{mode}_cpu_s"] = round(cpu, 1)
            entry[f"{mode}_load_average"] = round(busy, 1)
            write(measured, path)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="*", help="tutorial numbers (default: all)")
    parser.add_argument("--full", action="store_true", help="measure full mode as well")
    parser.add_argument("--full-only", action="store_true", help="measure only full mode")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per run")
    args = parser.parse_args(argv)
    modes = ("full",) if args.full_only else ("fast", "full") if args.full else ("fast",)
    failures = measure(args.numbers, modes, args.timeout)
    sys.path.insert(0, str(ROOT / "tools"))
    import syllabus
    for path in syllabus.update():
        print(f"run times written into {path.relative_to(ROOT)}")
    if failures:
        print(f"{len(failures)} run(s) failed; their earlier times, if any, were kept")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
