"""Per-op overhead of the autograd engine, against PyTorch CPU when it is installed.

Two measurements, each a forward + backward, on one thread, the frameworks taking turns:
- a chain of 100 elementwise ops on a tiny tensor (4 numbers): the arithmetic is
  nothing, so the time is the engine's bookkeeping per op — Function objects,
  Tensor wrappers, the graph walk. Target: at most 1.5x PyTorch's;
- a chain of 8 matmuls of 512x512 float32 matrices, under each kernel setting: the
  arithmetic dominates, so this shows what the bookkeeping costs on real work.

Run: python benchmarks/overhead.py   (prints a markdown table, writes results/overhead.json)
"""
import os
import sys

import numba
import numpy as np
import threadpoolctl

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import minidl as mdl  # noqa: E402
from benchmarks._report import (interleaved_medians, markdown_table,  # noqa: E402
                                torch_or_none, write_json)

CHAIN = 100
MATMULS = 8
N = 512


def small_chain(x):
    """One forward + backward of CHAIN elementwise ops from the leaf x; the same code
    runs in both frameworks."""
    def step():
        y = x
        for _ in range(CHAIN // 4):
            y = ((y * 1.001 + 0.001).tanh() - 0.5) * 2.0
        y.sum().backward()
    return step


def matmul_chain(make):
    rng = np.random.default_rng(0)
    x = make(rng.standard_normal((N, N)).astype(np.float32) / np.sqrt(N), True)
    ws = [make(rng.standard_normal((N, N)).astype(np.float32) / np.sqrt(N), True)
          for _ in range(MATMULS)]

    def step():
        y = x
        for w in ws:
            y = y @ w
        y.sum().backward()
    return step


TARGET = 1.5  # elementwise chain, minidl / PyTorch at most


def main():
    numba.set_num_threads(1)
    threadpoolctl.threadpool_limits(1)
    torch = torch_or_none()
    if torch:
        torch.set_num_threads(1)
    rows = []
    ops_per_chain = CHAIN // 4 * 4 + 1  # 4 ops per round, plus the sum
    steps = {"minidl": small_chain(mdl.tensor(np.ones(4, dtype=np.float32), requires_grad=True))}
    if torch:
        steps["torch"] = small_chain(torch.ones(4, requires_grad=True))
    seconds = interleaved_medians(steps, rounds=200, warmup=20)
    rows.append(("elementwise chain, per op (fwd+bwd)", seconds["minidl"] / ops_per_chain,
                 seconds.get("torch") and seconds["torch"] / ops_per_chain))
    matmuls = {}
    for kernels in ("fast", "numpy", "numba"):
        def step(kernels=kernels, run=matmul_chain(lambda a, rg: mdl.tensor(a, requires_grad=rg))):
            mdl.set_kernels(kernels)
            run()
        matmuls[kernels] = step
    if torch:
        matmuls["torch"] = matmul_chain(lambda a, rg: torch.tensor(a, requires_grad=rg))
    seconds = interleaved_medians(matmuls, rounds=5)
    mdl.set_kernels("fast")
    for kernels in ("fast", "numpy", "numba"):
        rows.append((f"{MATMULS} x matmul {N}x{N} chain (fwd+bwd), kernels={kernels}",
                     seconds[kernels], seconds.get("torch")))

    table, results = [], []
    for name, ours, theirs in rows:
        ratio = f"{ours / theirs:.2f}x" if theirs else "PyTorch not installed"
        their_text = f"{theirs * 1e6:,.1f} us" if theirs else "not installed"
        table.append((name, f"{ours * 1e6:,.1f} us", their_text, ratio))
        results.append({"measurement": name, "minidl_s": ours, "torch_s": theirs})
    print("one thread (numba, BLAS and PyTorch), frameworks taking turns, medians")
    print(markdown_table(["measurement", "minidl", "PyTorch CPU", "minidl / PyTorch"], table))
    if rows[0][2]:
        ratio = rows[0][1] / rows[0][2]
        print(f"\nper-op overhead: {ratio:.2f}x PyTorch's; target <= {TARGET}: "
              f"{'met' if ratio <= TARGET else 'not met'}")
    write_json(os.path.join(os.path.dirname(__file__), "results", "overhead.json"), results)


if __name__ == "__main__":
    main()
