"""How fast are minidl's CPU kernels? numba versions against NumPy/BLAS and PyTorch.

    python benchmarks/kernels.py          # prints markdown tables, writes
                                          # results/kernels.json and results/kernels.png

- matmul: GFLOP/s (2*m*k*n flops / seconds) of the numba GEMM against BLAS
  (NumPy's matmul), both on one thread, timed in interleaved rounds (medians):
  square n = 128 ... 2048 and the three products of an MLP layer (forward
  x @ W.T, backward gy @ W and gy.T @ x), float32 and float64. It says whether
  the goal (numba >= 70% of BLAS at n = 1024) is met, for each dtype. The pure Python
  reference only at n = 128, since it is far slower.
- conv2d forward + backward (input and weight gradients), x 64x16x28x28,
  w 32x16x3x3, padding 1: numba (im2col + blocked GEMM) vs numpy (im2col +
  np.matmul) vs PyTorch on the CPU (autograd backward).
- max_pool2d 2x2 stride 2 forward + backward on the conv's output.
- compile: the first call of each numba kernel in a fresh process with an
  empty numba cache (compilation), and again with the cache filled (loading).

    python benchmarks/kernels.py --matmul # only the matmul table (prints, writes nothing)

PyTorch (conv2d, pooling) runs with as many threads as numba (torch.set_num_threads),
so both use the same cores; when torch is not installed its columns say so. Every
time is the median of several runs after a warm-up run. Importable: `run()` returns
the results dict without printing or writing anything.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numba  # noqa: E402

from benchmarks._report import (bar_chart, interleaved_medians,  # noqa: E402
                                machine_info, markdown_table, median_time, torch_or_none,
                                write_json)
from minidl.kernels import conv, matmul, pool  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
MATMUL_SIZES = (128, 512, 1024, 2048)
MLP_BATCH, MLP_IN, MLP_OUT = 128, 784, 256
GEMM_GOAL = (1024, 0.70)  # numba at n = 1024 reaches 70% of one-thread BLAS, each dtype
REFERENCE_SIZE = 128
CONV_X, CONV_W, CONV_GEOMETRY = (64, 16, 28, 28), (32, 16, 3, 3), ((1, 1), (1, 1), (1, 1))
POOL_GEOMETRY = ((2, 2), (2, 2), (0, 0))
NOT_INSTALLED = "not installed"


def _matmul_cases(rng, dtype):
    """(name, a, b): square products, then an MLP layer's three, in the layouts the
    layer hands over (W is (out, in); W.T and gy.T are transposed views)."""
    def rand(*shape):
        return rng.standard_normal(shape).astype(dtype)
    for n in MATMUL_SIZES:
        yield f"n = {n}", rand(n, n), rand(n, n)
    x, w, gy = rand(MLP_BATCH, MLP_IN), rand(MLP_OUT, MLP_IN), rand(MLP_BATCH, MLP_OUT)
    yield f"MLP x @ W.T {x.shape} @ {w.T.shape}", x, w.T
    yield f"MLP gy @ W {gy.shape} @ {w.shape}", gy, w
    yield f"MLP gy.T @ x {gy.T.shape} @ {x.shape}", gy.T, x


def bench_matmul():
    """One thread each (numba and BLAS): GFLOP/s of every case, float32 and float64."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    rows = []
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            for dtype in (np.float32, np.float64):
                for name, a, b in _matmul_cases(rng, dtype):
                    flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
                    rounds = int(np.clip(4e9 / flops, 9, 25))  # 9 or more, for the median
                    seconds = interleaved_medians(
                        {"numba": lambda: matmul.matmul_numba(a, b), "blas": lambda: a @ b},
                        rounds)
                    numba_s, blas_s = seconds["numba"], seconds["blas"]
                    rows.append({"case": name, "dtype": np.dtype(dtype).name,
                                 "numba_gflops": flops / numba_s / 1e9,
                                 "blas_gflops": flops / blas_s / 1e9, "rounds": rounds})
    finally:
        numba.set_num_threads(threads)
    a = rng.standard_normal((REFERENCE_SIZE,) * 2).astype(np.float32)
    reference = {"n": REFERENCE_SIZE, "gflops": 2.0 * REFERENCE_SIZE ** 3 / median_time(
        lambda: matmul.matmul_reference(a, a), repeat=3, warmup=0) / 1e9}
    return rows, reference


def gemm_goal(rows, dtype):
    """(ratio, met): numba / BLAS in the goal's case for dtype (a name), and whether it
    reaches the goal."""
    n, goal = GEMM_GOAL
    row = next(r for r in rows if r["case"] == f"n = {n}" and r["dtype"] == dtype)
    ratio = row["numba_gflops"] / row["blas_gflops"]
    return ratio, ratio >= goal


def _conv_kernels(suffix):
    """(forward, backward) closures for the conv kernels named *_suffix."""
    fwd = getattr(conv, "conv2d_forward_" + suffix)
    bwd_input = getattr(conv, "conv2d_backward_input_" + suffix)
    bwd_weight = getattr(conv, "conv2d_backward_weight_" + suffix)

    def forward(x, w):
        return fwd(x, w, *CONV_GEOMETRY)

    def backward(gy, x, w):
        return (bwd_input(gy, w, x.shape, *CONV_GEOMETRY),
                bwd_weight(gy, x, w.shape, *CONV_GEOMETRY))
    return forward, backward


def bench_conv(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(CONV_X, dtype=np.float32)
    w = rng.standard_normal(CONV_W, dtype=np.float32)
    gy = rng.standard_normal((CONV_X[0], CONV_W[0]) + CONV_X[2:], dtype=np.float32)
    out = {}
    for name in ("numba", "numpy"):
        forward, backward = _conv_kernels(name)
        forward(x, w), backward(gy, x, w)  # compile
        out[name] = {"forward_ms": 1e3 * median_time(lambda: forward(x, w)),
                     "backward_ms": 1e3 * median_time(lambda: backward(gy, x, w))}
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tgy = torch.from_numpy(gy)
        stride, padding, dilation = CONV_GEOMETRY

        def forward():
            return torch.nn.functional.conv2d(tx, tw, None, stride, padding, dilation)

        def forward_backward():
            tx.grad = tw.grad = None
            forward().backward(tgy)
        with torch.no_grad():
            forward_ms = 1e3 * median_time(forward)
        total_ms = 1e3 * median_time(forward_backward)
        out["torch"] = {"forward_ms": forward_ms, "backward_ms": total_ms - forward_ms}
    for result in out.values():
        result["total_ms"] = result["forward_ms"] + result["backward_ms"]
    return out


def bench_pool(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((CONV_X[0], CONV_W[0]) + CONV_X[2:], dtype=np.float32)
    out = {}
    for name in ("numba", "numpy"):
        fwd = getattr(pool, "max_pool2d_forward_" + name)
        bwd = getattr(pool, "max_pool2d_backward_" + name)
        y, argmax = fwd(x, *POOL_GEOMETRY)
        bwd(y, argmax, x.shape, *POOL_GEOMETRY)  # compile
        out[name] = {"forward_ms": 1e3 * median_time(lambda: fwd(x, *POOL_GEOMETRY)),
                     "backward_ms": 1e3 * median_time(
                         lambda: bwd(y, argmax, x.shape, *POOL_GEOMETRY))}
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        kernel, stride, _ = POOL_GEOMETRY

        def forward():
            return torch.nn.functional.max_pool2d(tx, kernel, stride)
        ty = forward()
        tgy = torch.ones_like(ty)

        def forward_backward():
            tx.grad = None
            forward().backward(tgy)
        with torch.no_grad():
            forward_ms = 1e3 * median_time(forward)
        out["torch"] = {"forward_ms": forward_ms,
                        "backward_ms": 1e3 * median_time(forward_backward) - forward_ms}
    for result in out.values():
        result["total_ms"] = result["forward_ms"] + result["backward_ms"]
    return out


# timed in a child process, so that compilation really happens: the first call of
# each kernel, in order, on small float32 inputs
_COMPILE_SCRIPT = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from minidl.kernels import conv, matmul, pool
x = np.ones((2, 3, 8, 8), np.float32); w = np.ones((4, 3, 3, 3), np.float32)
gy = np.ones((2, 4, 8, 8), np.float32); g = ((1, 1), (1, 1), (1, 1)); p = ((2, 2), (2, 2), (0, 0))
y, argmax = pool.max_pool2d_forward_numpy(x, *p)
calls = {
    "matmul_numba": lambda: matmul.matmul_numba(x[0, 0], x[0, 0]),
    "conv2d_forward_numba": lambda: conv.conv2d_forward_numba(x, w, *g),
    "conv2d_backward_input_numba": lambda: conv.conv2d_backward_input_numba(gy, w, x.shape, *g),
    "conv2d_backward_weight_numba": lambda: conv.conv2d_backward_weight_numba(gy, x, w.shape, *g),
    "max_pool2d_forward_numba": lambda: pool.max_pool2d_forward_numba(x, *p),
    "max_pool2d_backward_numba": lambda: pool.max_pool2d_backward_numba(y, argmax, x.shape, *p),
    "avg_pool2d_forward_numba": lambda: pool.avg_pool2d_forward_numba(x, *p),
    "avg_pool2d_backward_numba": lambda: pool.avg_pool2d_backward_numba(y, x.shape, *p),
}
seconds = {}
for name, call in calls.items():
    start = time.perf_counter()
    call()
    seconds[name] = time.perf_counter() - start
print(json.dumps(seconds))
"""


def bench_compile():
    """{kernel: {"compile_s": first call, empty cache; "cached_s": first call, warm cache}}."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = [json.loads(subprocess.run(
            [sys.executable, "-c", _COMPILE_SCRIPT, root], env=env, check=True,
            capture_output=True, text=True).stdout) for _ in range(2)]
    return {name: {"compile_s": runs[0][name], "cached_s": runs[1][name]} for name in runs[0]}


def run():
    """All benchmarks -> one JSON-ready dict."""
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    matmul_rows, reference = bench_matmul()
    return {"machine": machine_info(), "matmul": matmul_rows, "matmul_reference": reference,
            "conv2d": bench_conv(torch), "max_pool2d": bench_pool(torch),
            "compile": bench_compile()}


def _fmt(value):
    return NOT_INSTALLED if value is None else value


def matmul_table(rows, reference):
    """The matmul results as a markdown table and a line on the goal."""
    cells = [(r["case"], r["dtype"], r["numba_gflops"], r["blas_gflops"],
              f"{100 * r['numba_gflops'] / r['blas_gflops']:.0f}%") for r in rows]
    cells.append((f"n = {reference['n']}, pure Python reference", "float32",
                  reference["gflops"], "", ""))
    n, goal = GEMM_GOAL
    verdicts = []
    for dtype in ("float32", "float64"):
        ratio, met = gemm_goal(rows, dtype)
        verdicts.append(f"{dtype} {'met' if met else 'NOT met'} ({ratio:.0%})")
    return ("matmul on one thread (numba and BLAS alike), GFLOP/s (higher is better), "
            "medians of interleaved rounds\n\n"
            + markdown_table(["product", "dtype", "numba GEMM", "NumPy/BLAS", "numba / BLAS"],
                             cells)
            + f"\n\ngoal: numba >= {goal:.0%} of BLAS at n = {n}: " + ", ".join(verdicts))


def tables(results):
    """The results as markdown tables, one string."""
    info = results["machine"]
    parts = [f"{info['cpu']}, {info['numba_threads']} numba threads "
             f"(PyTorch: the same number), numpy {info['numpy']}, numba {info['numba']}, "
             f"torch {info['torch']}"]
    parts.append(matmul_table(results["matmul"], results["matmul_reference"]))
    for key, title in [("conv2d", f"conv2d x {CONV_X}, w {CONV_W}, padding 1, float32"),
                       ("max_pool2d", f"max_pool2d 2x2 stride 2 on {(CONV_X[0], CONV_W[0]) + CONV_X[2:]}")]:
        res = results[key]
        rows = [(name, res[name]["forward_ms"], res[name]["backward_ms"], res[name]["total_ms"])
                if name in res else (name, NOT_INSTALLED, NOT_INSTALLED, NOT_INSTALLED)
                for name in ("numba", "numpy", "torch")]
        parts.append(f"{title}, milliseconds (lower is better)\n\n" + markdown_table(
            ["implementation", "forward", "backward", "forward + backward"], rows))
    rows = [(name, t["compile_s"], t["cached_s"]) for name, t in results["compile"].items()]
    parts.append("numba first call, seconds (in this order, in one process; the first also "
                 "starts numba's thread pool)\n\n" + markdown_table(
                     ["kernel", "empty cache (compiles)", "filled cache (loads)"], rows))
    return "\n\n".join(parts)


def chart(results, path):
    """One bar chart: each benchmark's speed relative to NumPy (NumPy = 1)."""
    labels, series = [], {"numba": [], "NumPy": [], "PyTorch": []}
    for r in results["matmul"]:
        if r["dtype"] == "float32" and r["case"].startswith("n = "):
            labels.append(f"matmul {r['case'][4:]} (1 thread)")
            series["numba"].append(r["numba_gflops"] / r["blas_gflops"])
            series["NumPy"].append(1.0)
            series["PyTorch"].append(None)
    for key in ("conv2d", "max_pool2d"):
        res = results[key]
        labels.append(f"{key} fwd+bwd")
        base = res["numpy"]["total_ms"]
        series["numba"].append(base / res["numba"]["total_ms"])
        series["NumPy"].append(1.0)
        series["PyTorch"].append(base / res["torch"]["total_ms"] if "torch" in res else None)
    bar_chart(path, labels, series, "speed relative to NumPy (higher is better)",
              f"minidl CPU kernels, {results['machine']['numba_threads']} threads")


def main():
    if "--matmul" in sys.argv[1:]:
        print(matmul_table(*bench_matmul()))
        return
    results = run()
    write_json(os.path.join(RESULTS, "kernels.json"), results)
    chart(results, os.path.join(RESULTS, "kernels.png"))
    print(tables(results))


if __name__ == "__main__":
    main()
