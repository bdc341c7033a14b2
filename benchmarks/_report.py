"""Small helpers shared by the benchmark scripts: timing, JSON, markdown, bar charts.

    median_time(fn, repeat=7, warmup=1) -> seconds   median wall time of fn()
    interleaved_medians(steps, rounds=9) -> {name: seconds}  the same, steps in turn
    write_json(path, obj)                            atomic: temp file + os.replace
    markdown_table(headers, rows) -> str             a GitHub-style table
    bar_chart(path, labels, series, ylabel, title)   grouped bars, saved as PNG
    torch_or_none()                                  the torch module, or None
    machine_info() -> dict                           CPU, threads, library versions

Benchmarks measure; they never assert. Timings on a shared machine are noisy, so
each number is the median of several runs after warm-up runs (which also pay
any one-off costs: numba compilation, BLAS thread start-up, page faults).
"""
import json
import os
import platform
import statistics
import tempfile
import time


def median_time(fn, repeat=7, warmup=1):
    """Median wall-clock seconds of `repeat` calls of fn(), after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(steps, rounds=9, warmup=1):
    """{name: median seconds} of each step function, the steps taking turns round by
    round, so that load from other processes slows them all alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def write_json(path, obj):
    """Write obj as indented JSON to path, atomically: readers see the old file or
    the new one, never half of one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone to read
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _cell(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def markdown_table(headers, rows):
    """A markdown table; floats get 3 significant digits (whole numbers from 100 up)."""
    lines = ["| " + " | ".join(map(str, headers)) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def bar_chart(path, labels, series, ylabel, title):
    """Grouped bar chart saved to path (PNG). labels: one per group on the x axis;
    series: {name: [value per label]}, a value of None draws no bar."""
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(labels)), 4))
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i, v in enumerate(values) if v is not None]
        ax.bar(xs, [v for v in values if v is not None], width, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=15, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def torch_or_none():
    """import torch, or None when it is not installed (torch columns then say so)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def machine_info():
    """What the numbers were measured on: CPU, thread counts and library versions."""
    import numba
    import numpy as np

    torch = torch_or_none()
    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "torch": torch.__version__ if torch else "not installed",
    }


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
