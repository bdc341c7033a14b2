"""Per-op overhead of the autograd engine, against PyTorch CPU when it is installed.

Two measurements, each a forward + backward:
- a chain of 100 elementwise ops on a tiny tensor (4 numbers): the arithmetic is
  nothing, so the time is the engine's bookkeeping per op — Function objects,
  Tensor wrappers, the graph walk;
- a chain of 8 matmuls of 512x512 float32 matrices: the arithmetic dominates,
  so this shows what the bookkeeping costs on real work (about nothing).

Run: python benchmarks/overhead.py   (prints a markdown table, writes results/overhead.json)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import minidl as mdl  # noqa: E402
from benchmarks._report import markdown_table, median_time, torch_or_none, write_json  # noqa: E402

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


def main():
    torch = torch_or_none()
    if torch:
        torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    ops_per_chain = CHAIN // 4 * 4 + 1  # 4 ops per round, plus the sum
    t = median_time(small_chain(
        mdl.tensor(np.ones(4, dtype=np.float32), requires_grad=True)))
    tt = median_time(small_chain(torch.ones(4, requires_grad=True))) if torch else None
    rows.append(("elementwise chain, per op (fwd+bwd)", t / ops_per_chain,
                 tt and tt / ops_per_chain))
    for kernels in ("numpy", "numba"):
        mdl.set_kernels(kernels)
        t = median_time(matmul_chain(lambda a, rg: mdl.tensor(a, requires_grad=rg)),
                        repeat=5, warmup=1)
        tt = (median_time(matmul_chain(lambda a, rg: torch.tensor(a, requires_grad=rg)),
                          repeat=5, warmup=1) if torch else None)
        rows.append((f"{MATMULS} x matmul {N}x{N} chain (fwd+bwd), kernels={kernels}", t, tt))

    table, results = [], []
    for name, ours, theirs in rows:
        ratio = f"{ours / theirs:.2f}x" if theirs else "PyTorch not installed"
        their_text = f"{theirs * 1e6:,.1f} us" if theirs else "not installed"
        table.append((name, f"{ours * 1e6:,.1f} us", their_text, ratio))
        results.append({"measurement": name, "minidl_s": ours, "torch_s": theirs})
    print(markdown_table(["measurement", "minidl", "PyTorch CPU", "minidl / PyTorch"], table))
    write_json(os.path.join(os.path.dirname(__file__), "results", "overhead.json"), results)


if __name__ == "__main__":
    main()
