"""What every tutorial shares: the fast-mode switch, where figures go, timing, the results.

    from _common import FAST, pick, timed, save, report, expected_run_time

MINIDL_FAST=1 in the environment makes each tutorial run in seconds (fewer epochs, smaller
subsets): the test suite runs them that way. MINIDL_FIGURES=folder sends the figures and
the results file somewhere else than tutorials/figures/.
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from minidl.viz import save_figure

FAST = os.environ.get("MINIDL_FAST") == "1"
FIGURES = Path(os.environ.get("MINIDL_FIGURES") or Path(__file__).resolve().parent / "figures")
RUN_TIMES = Path(__file__).resolve().parent / "run_times.json"


def pick(fast, full):
    """`fast` in fast mode, `full` otherwise: EPOCHS = pick(3, 50)."""
    return fast if FAST else full


def timed(fn, *args, repeat=1, **kwargs):
    """(fn(*args, **kwargs), seconds): the result and the fastest of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def save(fig, name):
    """Save a figure as FIGURES/name (e.g. "01_graph.png") and say where it went.

    In a script the figure is then closed, to free its memory; in a notebook it stays
    open, so that it is shown under the cell.
    """
    path = save_figure(fig, FIGURES / name)
    print(f"figure saved: {path}")
    if "ipykernel" not in sys.modules:
        import matplotlib.pyplot as plt
        plt.close(fig)
    return path


def _plain(value):
    """NumPy numbers and arrays as plain Python, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"report: cannot write a {type(value).__name__} to JSON")


def report(tutorial, results):
    """Print the key numbers of a tutorial and write them to FIGURES/<tutorial>_results.json.

    The file is written whole to a temporary name and then renamed, so a reader (the
    tests) never sees half of it.
    """
    width = max(len(key) for key in results)
    print(f"\n== {tutorial}: results ==")
    for key, value in results.items():
        if isinstance(value, (float, np.floating)):
            shown = f"{value:.6g}"
        else:
            shown = json.dumps(value, default=_plain)
        print(f"  {key:<{width}}  {shown}")
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{tutorial}_results.json"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(results, indent=2, default=_plain) + "\n")
    os.replace(temporary, path)
    return path


def format_seconds(seconds):
    """A measured duration for a reader: "8 s", "45 s", "2.5 min", "16 min"."""
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 9.95 else f"{minutes:.0f} min"


def expected_run_time(tutorial):
    """Print how long this tutorial took when it was last measured, in this mode and the
    other, and return the seconds for this mode (None when it was never measured).

    The times come from tutorials/run_times.json, which `python tools/time_tutorials.py`
    writes by running every tutorial; each tutorial calls this first, so that a student
    knows before waiting.
    """
    try:
        measured = json.loads(RUN_TIMES.read_text())
    except FileNotFoundError:
        measured = {}
    entry = measured.get("tutorials", {}).get(tutorial, {})
    this, other = ("fast", "full") if FAST else ("full", "fast")
    seconds = entry.get(f"{this}_s")
    if seconds is None:
        print(f"expected run time: not measured yet in {this} mode "
              "(python tools/time_tutorials.py measures it)")
        return None
    line = f"expected run time: about {format_seconds(seconds)} in {this} mode"
    if entry.get(f"{this}_cpu_s") is not None:
        line += f" ({format_seconds(entry[f'{this}_cpu_s'])} of CPU time)"
    if entry.get(f"{other}_s") is not None:
        line += f", {format_seconds(entry[f'{other}_s'])} in {other} mode"
    cpus = measured.get("machine", {}).get("cpus")
    print(line + (f"; measured on {cpus} CPU cores" if cpus else ""))
    return seconds
