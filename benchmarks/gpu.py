"""How fast is the teaching matmul on the GPU? Against cuBLAS and the chip's peak.

    python benchmarks/gpu.py        # prints a markdown table, writes results/gpu.json

Square float32 matrices, n = 1024 ... 8192, C = A @ B:
- tiled: kernels/cuda/matmul.py (numba.cuda), one output per thread, TILE x TILE
  shared-memory tiles (TILE = 16);
- cuBLAS: cupy.matmul, NVIDIA's tuned SGEMM.
GFLOP/s = 2*n^3 flops / seconds; the peak is the chip's FP32 rate without tensor
cores (SMs x FP32 lanes per SM x 2 flops per FMA x boost clock), so "% of peak"
says how much of the arithmetic units each kernel keeps busy.

TF32 is off (CUPY_TF32=0, set before CuPy is imported): with it cuBLAS would run
float32 products on tensor cores with 10-bit mantissas, a different computation.
Times come from CUDA events around each call (GPU time, not Python's), median of
several runs after a warm-up run that also pays for compiling the kernel (numba
compiles it on its first call, and the kernel runs on CuPy's current stream, between
the events).
Without CuPy and a GPU this prints "no GPU: skipped" and exits 0.
"""
import os
import statistics
import sys

os.environ["CUPY_TF32"] = "0"  # before anything imports cupy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
from benchmarks._report import markdown_table, write_json  # noqa: E402
from minidl import backend  # noqa: E402
from minidl.kernels.cuda import matmul as cuda_matmul  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SIZES = (1024, 2048, 4096, 8192)

# FP32 units per SM, by compute capability (NVIDIA's architecture white papers)
FP32_LANES_PER_SM = {(7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 9): 128, (9, 0): 128}


def gpu_seconds(fn, repeat=5, warmup=1):
    """Median GPU time of fn() in seconds, measured with CUDA events."""
    cp = backend.cupy()
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end) / 1e3)  # ms -> s
    return statistics.median(times)


def device_info():
    """The GPU's name and FP32 peak in GFLOP/s (None when its architecture is not listed)."""
    cp = backend.cupy()
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    lanes = FP32_LANES_PER_SM.get((props["major"], props["minor"]))
    clock_khz = props.get("clockRate")
    peak = None
    if lanes and clock_khz:
        peak = props["multiProcessorCount"] * lanes * 2 * clock_khz * 1e3 / 1e9
    return {"name": name, "compute_capability": f"{props['major']}.{props['minor']}",
            "sms": props["multiProcessorCount"], "boost_clock_mhz": (clock_khz or 0) / 1e3,
            "fp32_peak_gflops": peak, "cupy": cp.__version__, "tf32": "off"}


def run():
    """Measure every size; returns the results dict (nothing printed or written)."""
    cp = backend.cupy()
    info = device_info()
    rng = np.random.default_rng(0)
    rows = []
    for n in SIZES:
        a = cp.asarray(rng.standard_normal((n, n), dtype=np.float32))
        b = cp.asarray(rng.standard_normal((n, n), dtype=np.float32))
        flops = 2.0 * n ** 3
        tiled = flops / gpu_seconds(lambda: cuda_matmul.matmul_tiled_cuda(a, b)) / 1e9
        cublas = flops / gpu_seconds(lambda: cp.matmul(a, b)) / 1e9
        reference = cp.matmul(a, b)
        error = float(cp.abs(cuda_matmul.matmul_tiled_cuda(a, b) - reference).max()
                      / cp.abs(reference).max())
        rows.append({"n": n, "tiled_gflops": tiled, "cublas_gflops": cublas,
                     "tiled_max_relative_difference": error})
        del a, b, reference
    return {"device": info, "matmul_float32": rows}


def _percent(gflops, peak):
    return f"{100 * gflops / peak:.0f}%" if peak else "unknown"


def main():
    if not mdl.cuda_is_available():
        print("no GPU: skipped")
        return
    results = run()
    info, peak = results["device"], results["device"]["fp32_peak_gflops"]
    print(f"{info['name']} (compute capability {info['compute_capability']}, {info['sms']} SMs, "
          f"{info['boost_clock_mhz']:.0f} MHz): FP32 peak "
          + (f"{peak:,.0f} GFLOP/s" if peak else "unknown") + ", TF32 off\n")
    headers = ["n", "tiled GFLOP/s", "tiled % of peak", "cuBLAS GFLOP/s", "cuBLAS % of peak",
               "cuBLAS / tiled", "tiled vs cuBLAS: max difference / max entry"]
    table = [(r["n"], r["tiled_gflops"], _percent(r["tiled_gflops"], peak), r["cublas_gflops"],
              _percent(r["cublas_gflops"], peak), f"{r['cublas_gflops'] / r['tiled_gflops']:.1f}x",
              f"{r['tiled_max_relative_difference']:.1e}")
             for r in results["matmul_float32"]]
    print(markdown_table(headers, table))
    write_json(os.path.join(RESULTS, "gpu.json"), results)


if __name__ == "__main__":
    main()
