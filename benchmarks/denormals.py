"""Denormal floats on long sequences: an LSTM's forward and backward over 200 steps, with
denormals flushed to zero (mdl.set_flush_denormal(True), PyTorch's torch.set_flush_denormal)
or not.

    python benchmarks/denormals.py           # prints a markdown table, writes
                                             # results/denormals.json
    python benchmarks/denormals.py --quick   # fewer repetitions (a smoke test)

The model reads 200 steps (LSTM 32->128, batch 32, float32, batch-first) and the loss
is the sum of the last step's h, as in a sequence classifier. The gradient enters at
the last step and fades as it goes back through time; on its way to 0 it passes
through the denormal floats (below about 1.2e-38 in float32), which most processors
compute with many times slower than with normal ones. The table gives the share of
denormal numbers in the gradient of the input, and the time of forward and backward
(zero_grad, forward, loss, backward) in both frameworks, without and with flushing.
There is no optimizer step: an update can move the weights out of the regime where the
gradients fade into denormals, and every timed step should see the same numbers. The
setting is a register of the thread (kernels/denormal.py), so it holds for both
frameworks at once; it is switched off again at the end.

One thread for BLAS, numba and PyTorch; minidl's default kernels; the frameworks and
the two settings take turns step by step; medians.
"""
import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numba  # noqa: E402
import threadpoolctl  # noqa: E402

import minidl as mdl  # noqa: E402
from benchmarks._report import (machine_info, markdown_table, median_time,  # noqa: E402
                                torch_or_none, write_json)
from minidl import nn  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
STEPS, BATCH, FEATURES, HIDDEN = 200, 32, 32, 128
REPEAT, QUICK_REPEAT = 7, 2


def forward_backward(model, x):
    """Forward and backward of the model on x, in either framework (the methods have the
    same names in both): returns a function doing it, which returns the loss."""
    def step():
        model.zero_grad()
        x.grad = None
        out, _ = model(x)
        loss = out[:, -1].sum()
        loss.backward()
        return float(loss.item())
    return step


def denormal_share(array):
    """The fraction of the numbers in a float32 array that are denormal."""
    tiny = np.finfo(np.float32).tiny
    return float(np.mean((array != 0) & (np.abs(array) < tiny)))


def run(quick=False):
    """One JSON-ready dict of results (nothing printed or written)."""
    numba.set_num_threads(1)
    threadpoolctl.threadpool_limits(1)
    torch = torch_or_none()
    data = np.random.default_rng(0).standard_normal((BATCH, STEPS, FEATURES), dtype=np.float32)
    mdl.manual_seed(0)
    model = nn.LSTM(FEATURES, HIDDEN, batch_first=True)
    x = mdl.tensor(data, requires_grad=True)
    steps = {"minidl": forward_backward(model, x)}
    if torch is not None:  # the same weights
        torch.set_num_threads(1)
        theirs = torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True)
        theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
        x_torch = torch.tensor(data, requires_grad=True)
        steps["torch"] = forward_backward(theirs, x_torch)
    losses = {name: step() for name, step in steps.items()}  # flush off: the default
    shares = {"minidl": denormal_share(x.grad.numpy())}
    if torch is not None:
        shares["torch"] = denormal_share(x_torch.grad.numpy())
    repeat = QUICK_REPEAT if quick else REPEAT
    times = {(name, flush): [] for name in steps for flush in (False, True)}
    supported = mdl.set_flush_denormal(False)
    try:
        for _ in range(repeat):
            for (name, flush), seconds in times.items():
                mdl.set_flush_denormal(flush)
                seconds.append(median_time(steps[name], repeat=1, warmup=0))
    finally:
        mdl.set_flush_denormal(False)
    rows = []
    for flush in (False, True):
        row = {"flush_denormal": flush,
               "minidl_ms": 1e3 * statistics.median(times[("minidl", flush)])}
        if torch is not None:
            row["torch_ms"] = 1e3 * statistics.median(times[("torch", flush)])
            row["ratio"] = row["minidl_ms"] / row["torch_ms"]
        rows.append(row)
    return {"machine": machine_info(), "steps": STEPS, "batch": BATCH, "hidden": HIDDEN,
            "flush_supported": supported, "torch": "used" if torch else "not installed",
            "denormal_share_of_input_gradient": shares, "first_losses": losses,
            "repeat": repeat, "rows": rows}


def table(results):
    """The results as a markdown table, with lines saying what was measured."""
    torch_used = results["torch"] == "used"
    shares = ", ".join(f"{name} {share:.1%}" for name, share in
                       results["denormal_share_of_input_gradient"].items())
    lines = [f"LSTM forward and backward: {results['steps']} steps, batch {results['batch']}, "
             f"hidden {results['hidden']}, loss on the last step; median ms, one thread",
             f"denormal numbers in the gradient of the input (not flushed): {shares}"]
    if not results["flush_supported"]:
        lines.append("flushing is not supported on this processor: both rows run unflushed")
    rows = []
    for r in results["rows"]:
        rows.append(("on" if r["flush_denormal"] else "off", f"{r['minidl_ms']:.1f}",
                     f"{r['torch_ms']:.1f}" if torch_used else "not installed",
                     f"{r['ratio']:.2f}" if torch_used else "—"))
    off, on = results["rows"]
    rows.append(("off / on", f"{off['minidl_ms'] / on['minidl_ms']:.1f}x",
                 f"{off['torch_ms'] / on['torch_ms']:.1f}x" if torch_used else "—", ""))
    return "\n".join(lines) + "\n\n" + markdown_table(
        ["flush denormals", "minidl ms", "PyTorch ms", "minidl / PyTorch"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    args = parser.parse_args(argv)
    results = run(args.quick)
    write_json(os.path.join(RESULTS, "denormals.json"), results)
    print(table(results))


if __name__ == "__main__":
    main()
