# %% [markdown]
# # 09 · Why is one matmul 1000× faster than another?
#
# C = A @ B for two n×n matrices is 2n³ floating-point operations (n³ multiplies and n³
# adds), whoever does them. Yet the textbook triple loop in Python, minidl's numba kernel
# and NumPy (which hands the product to a BLAS library) take wildly different times for
# the very same arithmetic. This tutorial measures how different, explains where the
# time goes, and then looks at the other hot paths of a network: convolution (turned into
# a matrix product by *im2col*), pooling and elementwise functions.
#
# The tool for "how fast could this possibly be?" is the **roofline**: a kernel is
# limited either by how fast the core does arithmetic or by how fast memory delivers the
# bytes; which one depends on how many operations it does per byte it moves. We measure
# both limits of this machine and put every kernel under them.
#
# Then the practical side: numba compiles a kernel the first time it is called (and keeps
# the machine code on disk), `mdl.set_kernels("numba" | "numpy")` switches the whole
# framework from one implementation to the other, and a GPU, when there is one, is a
# different machine altogether.
#
# The kernels live in `kernels/matmul.py`, `kernels/conv.py` and `kernels/pool.py`
# (imported as `minidl.kernels`): each file has the plain reference version first, then
# the fast one with comments on why it is fast. Read them beside this tutorial.

# %%
import os

# Every timing here runs on ONE core, so the numbers compare with each other and with one
# core's limits. BLAS reads its thread count when NumPy first loads it: set it first.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
import minidl.functional as F  # noqa: E402
from minidl import nn, optim  # noqa: E402
from minidl.data import load_digits  # noqa: E402
from minidl.kernels import conv, matmul, pool  # noqa: E402
from minidl.profiler import profile, record_function  # noqa: E402
from _common import FAST, FIGURES, expected_run_time, pick, report, save, timed  # noqa: E402

expected_run_time("09")

numba.set_num_threads(1)  # numba's parallel loops (prange) on one core too
RESULTS = {}
rng = np.random.default_rng(0)


def best_seconds(fn, repeat):
    """The fastest of `repeat` calls of fn(), after one call that pays the one-off costs
    (compiling or loading a numba kernel, the first touch of fresh memory)."""
    fn()
    return timed(fn, repeat=repeat)[1]


# %% [markdown]
# ## 1. Three ways to multiply matrices
#
# - `matmul.matmul_reference`: the definition, C[i, j] = Σₚ A[i, p] B[p, j], as three
#   nested Python loops.
# - `matmul.matmul_numba`: the same sum, compiled by numba, in a blocked order (below).
# - `a @ b`: NumPy calls the BLAS library it was built with (OpenBLAS here), whose inner
#   loops are hand-written assembly for each family of CPUs.
#
# First make sure they compute the same thing. The reference adds in float64, the other
# two in float32, so they differ in the last digits of float32 (about 1e-6 relative).

# %%
a = rng.standard_normal((64, 64), dtype=np.float32)
b = rng.standard_normal((64, 64), dtype=np.float32)
exact = matmul.matmul_reference(a, b)
differences = {"numba": np.abs(matmul.matmul_numba(a, b) - exact).max(),
               "NumPy/BLAS": np.abs(a @ b - exact).max()}
for name, difference in differences.items():
    print(f"{name:>10} vs the Python loops: largest difference {difference:.1e} "
          f"(entries up to {np.abs(exact).max():.0f})")
RESULTS["matmul_max_difference"] = float(max(differences.values()))

# %% [markdown]
# Now the speed, in GFLOP/s: 2n³ operations divided by the seconds, in billions. Each
# time is the fastest of several runs (the machine may be busy with other work; the
# fastest run is the one least disturbed). The Python loops stop at n = 128 (64 in fast
# mode): at their speed n = 1024 would take several minutes.

# %%
PYTHON_SIZES = pick((16, 32, 64), (16, 32, 64, 128))
SIZES = pick((16, 32, 64, 128, 256, 512), (16, 32, 64, 128, 256, 512, 1024, 2048))


def matmul_gflops(product, n, repeat):
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return 2 * n**3 / best_seconds(lambda: product(a, b), repeat) / 1e9


gflops = {
    "Python loops": [matmul_gflops(matmul.matmul_reference, n, repeat=3 if n <= 64 else 1)
                     for n in PYTHON_SIZES],
    "numba": [matmul_gflops(matmul.matmul_numba, n, repeat=10 if n <= 256 else pick(3, 5))
              for n in SIZES],
    "NumPy/BLAS": [matmul_gflops(np.matmul, n, repeat=10 if n <= 256 else pick(3, 5))
                   for n in SIZES],
}
print(f"{'n':>6}{'Python loops':>14}{'numba':>10}{'NumPy/BLAS':>12}   GFLOP/s, one core")
for k, n in enumerate(SIZES):
    python = f"{gflops['Python loops'][k]:.4f}" if k < len(PYTHON_SIZES) else "-"
    print(f"{n:>6}{python:>14}{gflops['numba'][k]:>10.2f}{gflops['NumPy/BLAS'][k]:>12.2f}")

k = len(PYTHON_SIZES) - 1  # the largest size all three ran
n = PYTHON_SIZES[k]
speedups = {name: gflops[name][k] / gflops["Python loops"][k] for name in ("numba", "NumPy/BLAS")}
print(f"at n = {n}: numba is {speedups['numba']:,.0f}x and BLAS {speedups['NumPy/BLAS']:,.0f}x "
      f"faster than the Python loops; one multiply-add in the loops takes "
      f"{2 / gflops['Python loops'][k]:.0f} ns")
numba_over_blas = gflops["numba"][-1] / gflops["NumPy/BLAS"][-1]
print(f"at n = {SIZES[-1]}: numba reaches {numba_over_blas:.0%} of BLAS's speed")
RESULTS["numba_over_blas_largest"] = numba_over_blas
RESULTS["matmul_sizes"] = list(SIZES)
RESULTS["matmul_python_sizes"] = list(PYTHON_SIZES)
RESULTS["matmul_gflops"] = gflops
RESULTS["numba_over_python"] = speedups["numba"]
RESULTS["blas_over_python"] = speedups["NumPy/BLAS"]

# %%
fig, ax = plt.subplots(figsize=(6.5, 4.5))
for name, values in gflops.items():
    ax.plot(SIZES[:len(values)], values, marker="o", label=name)
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xticks(SIZES, [str(n) for n in SIZES])
ax.set_xlabel("n (multiplying two n × n float32 matrices)")
ax.set_ylabel("GFLOP/s (higher is faster)")
ax.set_title("The same 2n³ operations, three implementations, one core")
ax.legend(loc="center right")
ax.grid(True, which="major", alpha=0.3)
save(fig, "09_matmul_gflops.png")

# %% [markdown]
# A word on the measurements: on a machine shared with other programs, a run of a second
# or more (n = 1024 and up) is likely to be interrupted, so a dip of the curves at the
# largest n is the machine being busy, not the kernels getting worse. Run it again when
# the machine is quiet to see the plateau.
#
# ### Where the factor of thousands comes from
#
# **The Python loops** spend almost all their time being Python. Each multiply-add is a
# dozen bytecodes: look up `al[i]`, then `[p]`, make a float object for the product,
# another for the sum, check types, count references. That is around a hundred
# nanoseconds (the number printed above), while the core could do dozens of
# multiply-adds per nanosecond.
#
# **numba** compiles the loops to machine code, which removes the interpreter at once, but
# compiled naive loops are still slow: the rest of the speed comes from doing the
# arithmetic in the order the hardware likes (`kernels/matmul.py` explains each step):
#
# 1. *register blocking*: a tile of C (with AVX-512, 6 rows by 32 float32 columns, two
#    vector registers per row) stays in registers while the sum runs over p; each step
#    loads one row of the tile's columns of B and 6 values of A, and does 12 vector
#    multiply-adds of 16 lanes each;
# 2. *packing*: A and B are first copied into thin panels, so that the tile's loop reads
#    two contiguous streams whatever the layout of the inputs (a transposed view costs
#    nothing extra);
# 3. *cache blocking*: the loops around the tile go through C in blocks sized so that the
#    panel of B in use stays in the L1 cache and the block of A in the L2 cache;
# 4. threads over independent blocks of C (switched off here: one core).
#
# **BLAS** does all of that too, with inner loops written in assembly for this CPU family.
# It stays ahead on large matrices, by the factor printed above for the largest n.
#
# On small matrices both fall off: a 16 × 16 product is 8,192 operations, a few hundred
# nanoseconds of arithmetic, and the fixed cost of a call (checking arguments, packing,
# allocating C, for numba also entering compiled code from Python) is comparable. numba's
# fixed cost is larger than NumPy's, which is why it is further behind at small n.
#
# ## 2. Convolution as a matrix product: im2col
#
# A convolution layer slides each filter over the image. Written as loops it is seven
# nested loops (`conv.conv2d_reference`): images, output channels, output rows, output
# columns, input channels, filter rows, filter columns. Instead of writing fast versions of
# those loops, minidl (like most frameworks on the CPU) rearranges the input so that the
# convolution *becomes* a matrix product, and lets the matmul do the work.
#
# *im2col* ("image to columns") copies the pixels under each position of the filter into
# one column. A 4 × 4 image holding 0..15 and a 3 × 3 filter with no padding have 2 × 2
# output positions, so 4 columns of 3 · 3 = 9 values each:

# %%
image = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)   # (N, C, H, W)
columns = conv.im2col(image, 3, 3, stride=(1, 1), padding=(0, 0), dilation=(1, 1))
print("the image:\n", image[0, 0].astype(int))
print(f"im2col: shape {columns.shape} = (images, C·KH·KW, output positions)\n",
      columns[0].astype(int))
RESULTS["im2col_first_column"] = columns[0, :, 0].astype(int)

# %% [markdown]
# Column 0 is the window under output (0, 0) read row by row (0 1 2 / 4 5 6 / 8 9 10),
# column 1 the window one step to the right, and so on. A filter, flattened to a row of 9
# weights, times this matrix gives every output of that filter at once; O filters stacked
# as an O × 9 matrix give all O output channels:
#
#   y[n] = W.reshape(O, C·KH·KW) @ cols[n],   shape (O, OH·OW), reshaped to (O, OH, OW).
#
# The backward passes are matrix products too (the gradient of the weights is
# dy[n] @ cols[n]ᵀ summed over images; the gradient of the input is Wᵀ @ dy[n], added
# back onto the pixels by *col2im*, where overlapping windows add up).

# %%
def show_numbers(ax, array, title):
    """A small array as a picture, with each value written in its cell."""
    ax.imshow(array, cmap="Blues", vmin=-8, vmax=24)
    for (row, col), value in np.ndenumerate(array):
        ax.text(col, row, int(value), ha="center", va="center")
    ax.set_xticks(range(array.shape[1]))
    ax.set_yticks(range(array.shape[0]))
    ax.set_title(title)


fig, (left, right) = plt.subplots(1, 2, figsize=(9, 5))
show_numbers(left, image[0, 0], "4×4 image; the window of output (0, 1)")
left.add_patch(plt.Rectangle((0.5, -0.5), 3, 3, fill=False, edgecolor="red", linewidth=3))
show_numbers(right, columns[0], "im2col: one column per output position")
right.add_patch(plt.Rectangle((0.5, -0.5), 1, 9, fill=False, edgecolor="red", linewidth=3))
right.set_xlabel("output position oh·OW + ow")
right.set_ylabel("row in the window i·KW + j")
fig.tight_layout()
save(fig, "09_im2col.png")

# %% [markdown]
# The same on real images: eight handwritten digits (8 × 8 pixels) and four random 3 × 3
# filters with padding 1, through im2col + one matrix product, against the seven loops.

# %%
digit_images, _ = load_digits(dtype=np.float64)
x_small = digit_images[:8].reshape(8, 1, 8, 8) / 16
w_small = rng.standard_normal((4, 1, 3, 3))
loops = conv.conv2d_reference(x_small, w_small, stride=(1, 1), padding=(1, 1))
cols = conv.im2col(x_small, 3, 3, stride=(1, 1), padding=(1, 1), dilation=(1, 1))
as_matmul = (w_small.reshape(4, -1) @ cols).reshape(loops.shape)
RESULTS["im2col_conv_max_difference"] = float(np.abs(as_matmul - loops).max())
print(f"conv2d of {x_small.shape} by {w_small.shape}: im2col + matmul vs seven loops, largest "
      f"difference {RESULTS['im2col_conv_max_difference']:.1e}")

# %% [markdown]
# The price of im2col is memory: every pixel is copied once per filter position that
# covers it, KH · KW = 9 times for a 3 × 3 filter. Now the speed, on a layer the size of
# one in a network for 28 × 28 images (random numbers: the time does not depend on the
# values). The numpy version builds the columns with a strided view and one copy, and
# multiplies with BLAS; the numba version builds them with a compiled loop and multiplies
# with the numba GEMM of section 1. As reference, the seven loops on a tiny layer.

# %%
BATCH = pick(16, 64)
x = rng.standard_normal((BATCH, 16, 28, 28), dtype=np.float32)
w = rng.standard_normal((32, 16, 3, 3), dtype=np.float32)
gy = rng.standard_normal((BATCH, 32, 28, 28), dtype=np.float32)
geometry = ((1, 1), (1, 1), (1, 1))   # stride, padding, dilation
conv_flops = 2 * BATCH * 32 * 28 * 28 * 16 * 3 * 3   # each of the three passes
cols_bytes = BATCH * 16 * 9 * 28 * 28 * 4
print(f"x {x.shape}: {x.nbytes / 2**20:.1f} MiB; its im2col columns: {cols_bytes / 2**20:.1f} MiB")


def conv_passes(version):
    """{pass: seconds} for the three conv kernels of one version ("numba" or "numpy")."""
    forward = getattr(conv, f"conv2d_forward_{version}")
    backward_input = getattr(conv, f"conv2d_backward_input_{version}")
    backward_weight = getattr(conv, f"conv2d_backward_weight_{version}")
    repeat = pick(3, 5)
    return {"forward": best_seconds(lambda: forward(x, w, *geometry), repeat),
            "backward input": best_seconds(lambda: backward_input(gy, w, x.shape, *geometry),
                                           repeat),
            "backward weight": best_seconds(lambda: backward_weight(gy, x, w.shape, *geometry),
                                            repeat)}


conv_seconds = {version: conv_passes(version) for version in ("numba", "numpy")}
x_tiny = rng.standard_normal((2, 4, 8, 8))
w_tiny = rng.standard_normal((4, 4, 3, 3))
_, tiny_seconds = timed(conv.conv2d_reference, x_tiny, w_tiny, (1, 1), (1, 1))
conv_python_gflops = 2 * 2 * 4 * 8 * 8 * 4 * 9 / tiny_seconds / 1e9

print(f"conv2d forward/backward, x {x.shape}, w {w.shape}, padding 1 (one core):")
for version, passes in conv_seconds.items():
    cells = "   ".join(f"{name} {1e3 * s:6.1f} ms = {conv_flops / s / 1e9:5.1f} GFLOP/s"
                       for name, s in passes.items())
    print(f"  {version:>5}: {cells}")
print(f"  the seven Python loops, on a tiny layer: {conv_python_gflops:.4f} GFLOP/s")
RESULTS["conv_gflops"] = {version: {name: conv_flops / s / 1e9 for name, s in passes.items()}
                          for version, passes in conv_seconds.items()}
RESULTS["conv_python_gflops"] = conv_python_gflops

# %% [markdown]
# Both versions run the convolution at a fraction of the matmul speed of section 1. The
# matrices here are short in one direction (C · KH · KW = 144 rows in the columns, O = 32
# filters), so each matrix product is small, and building the columns moves 9 times more
# data than the input itself. How much that data movement costs is the question of the
# next section.
#
# ## 3. The roofline: arithmetic or memory?
#
# A core can only compute on data that has arrived. Two numbers bound every kernel:
#
# - **peak arithmetic**, in GFLOP/s. We take the best matmul speed measured above as this
#   core's practical peak (a large matmul is the one kernel known to get close to it);
# - **memory bandwidth**, in GB/s: measured by copying an array much larger than the
#   caches, counting the bytes read and the bytes written.
#
# A kernel that does F operations and must move at least B bytes to or from memory has
# *arithmetic intensity* I = F / B operations per byte. It cannot run faster than
# min(peak, I × bandwidth): the **roofline**. The two limits cross at the *ridge point*
# I* = peak / bandwidth. Left of it a kernel is memory-bound (faster arithmetic would not
# help; moving fewer bytes would), right of it compute-bound.
#
# The intensities, counting float32 as 4 bytes and each array read or written once:
#
# | kernel | operations | bytes at least | intensity |
# |---|---|---|---|
# | matmul n × n | 2n³ | 3 · 4n² (A, B, C) | n / 6 |
# | conv2d forward | 2 · N·O·OH·OW · C·KH·KW | 4 (x + w + y) | about 48 for the layer above |
# | the same through im2col | the same | + 2 · 4 · cols (written, read back) | about 7 |
# | max pooling 2 × 2 | 3 comparisons per output | 4 x + 4 y + 8 y (argmax) | 3 / 28 |
# | ReLU max(x, 0) | 1 per element | 4 + 4 per element | 1 / 8 |

# %%
BIG = pick(2**24, 2**25)   # float32 values: 64 or 128 MiB, far more than the caches
source = np.ones(BIG, dtype=np.float32)
target = np.empty_like(source)
bandwidth = 2 * source.nbytes / best_seconds(lambda: np.copyto(target, source), 10) / 1e9
peak = max(max(gflops["numba"]), max(gflops["NumPy/BLAS"]))
ridge = peak / bandwidth
print(f"memory bandwidth (copying {source.nbytes / 2**20:.0f} MiB): {bandwidth:.1f} GB/s; "
      f"peak (best matmul): {peak:.1f} GFLOP/s; ridge point: {ridge:.1f} operations per byte")

y_conv = conv.conv2d_forward_numpy(x, w, *geometry)
conv_bytes = 4 * (x.size + w.size + y_conv.size)
pooled, argmax = pool.max_pool2d_forward_numpy(y_conv, (2, 2), (2, 2), (0, 0))
pool_flops = 3 * pooled.size
pool_bytes = 4 * y_conv.size + 4 * pooled.size + 8 * argmax.size
pool_seconds = {version: best_seconds(lambda: getattr(pool, f"max_pool2d_forward_{version}")(
    y_conv, (2, 2), (2, 2), (0, 0)), pick(3, 5)) for version in ("numba", "numpy")}
relu_seconds = best_seconds(lambda: np.maximum(source, 0, out=target), 10)

# kernel: (implementation, operations, bytes at least, seconds)
measured = {f"matmul {n}, {name}": ("numba" if name == "numba" else "numpy", 2 * n**3,
                                    3 * 4 * n**2, 2 * n**3 / (1e9 * gflops[name][k]))
            for k, n in enumerate(SIZES) if n >= 128 for name in ("numba", "NumPy/BLAS")}
for version in ("numba", "numpy"):
    measured[f"conv2d forward, {version}"] = (version, conv_flops, conv_bytes,
                                              conv_seconds[version]["forward"])
    measured[f"conv2d forward, {version}, im2col bytes"] = (
        version, conv_flops, conv_bytes + 2 * cols_bytes, conv_seconds[version]["forward"])
    measured[f"max_pool2d, {version}"] = (version, pool_flops, pool_bytes, pool_seconds[version])
measured["ReLU, np.maximum"] = ("numpy", BIG, 8 * BIG, relu_seconds)

roofline = {}
print(f"\n{'kernel':<36}{'ops/byte':>9}{'bound by':>10}{'roof':>9}{'measured':>10}{'of roof':>9}")
for name, (implementation, flops, nbytes, seconds) in measured.items():
    intensity = flops / nbytes
    roof = min(peak, intensity * bandwidth)
    attained = flops / seconds / 1e9
    roofline[name] = dict(implementation=implementation, intensity=intensity,
                          roof_gflops=roof, measured_gflops=attained,
                          bound="memory" if intensity < ridge else "compute")
    print(f"{name:<36}{intensity:>9.3g}{roofline[name]['bound']:>10}{roof:>9.3g}"
          f"{attained:>10.3g}{attained / roof:>9.0%}")
RESULTS["bandwidth_gb_s"] = bandwidth
RESULTS["peak_gflops"] = peak
RESULTS["ridge_ops_per_byte"] = ridge
RESULTS["roofline"] = roofline

# %%
fig, ax = plt.subplots(figsize=(8, 5.5))
intensities = np.geomspace(0.05, 1000, 200)
ax.plot(intensities, np.minimum(peak, intensities * bandwidth), color="black", linewidth=2,
        label=f"roof: min({peak:.0f} GFLOP/s, I × {bandwidth:.1f} GB/s)")
ax.axvline(ridge, color="grey", linestyle=":", label=f"ridge point I* = {ridge:.1f}")
colors = {"numba": "tab:blue", "numpy": "tab:orange"}
markers = {"matmul": "o", "conv2d": "s", "max_pool2d": "v", "ReLU": "D"}
for name, point in roofline.items():
    family = name.split()[0].rstrip(",")
    ax.scatter(point["intensity"], point["measured_gflops"], marker=markers[family], s=45,
               color=colors[point["implementation"]], zorder=3,
               facecolor="none" if "im2col" in name else colors[point["implementation"]])
# one label per group of points, beside the group: (text, offset in points, alignment)
labels = {f"matmul {SIZES[-1]}, numba": (f"matmul, n = 128 … {SIZES[-1]}", (8, -4), "left"),
          "conv2d forward, numba": ("conv2d (x, w, y traffic)", (8, -4), "left"),
          "conv2d forward, numba, im2col bytes": ("conv2d (+ im2col traffic)", (-8, -4), "right"),
          "max_pool2d, numba": ("max pooling", (8, -4), "left"),
          "ReLU, np.maximum": ("ReLU", (8, -4), "left")}
for name, (text, offset, alignment) in labels.items():
    ax.annotate(text, (roofline[name]["intensity"], roofline[name]["measured_gflops"]),
                textcoords="offset points", xytext=offset, ha=alignment, fontsize=8)
for implementation, color in colors.items():
    ax.scatter([], [], color=color, label=implementation if implementation == "numba"
               else "NumPy / BLAS")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("arithmetic intensity I (operations per byte of memory traffic)")
ax.set_ylabel("GFLOP/s")
ax.set_title("The roofline of one core, and where each kernel sits under it")
ax.legend(loc="lower right", fontsize=8)
save(fig, "09_roofline.png")

# %% [markdown]
# Reading the roofline:
#
# - **Large matmuls** sit right of the ridge: compute-bound. BLAS reaches the roof (we
#   defined the roof by it) and numba gets a good fraction of it: each byte brought in
#   is used about n/6 times. This is why a network spends its effort on
#   big matrix products, and why frameworks turn convolutions into them.
# - **ReLU** and **pooling** sit far left: an eighth of an operation per byte. ReLU runs
#   right at the memory roof; no compiler could make it much faster, only doing less
#   memory traffic could (frameworks *fuse* it into the kernel before it, so the data is
#   touched once). Our pooling kernels are below even that low roof: they find the maximum
#   with branches and track where it was, work that the flop count does not see.
# - **Convolution** is compute-bound in principle (about 48 operations per byte), but the
#   im2col copy pulls its intensity down to the ridge or below, and its small matrix
#   products do not reach the peak. Frameworks that need the last factor of two use
#   direct or Winograd convolutions instead; minidl keeps im2col because it is easy to
#   read.
#
# Open squares are the same conv measurements placed at the intensity that counts the
# im2col traffic too. The roof is an upper bound, not a prediction: a point below it is
# leaving speed on the table (call overhead, short loops, branches); a point above it
# would mean that the counting is wrong, that the data came from a cache rather than
# from memory, or that the machine was busier while the roof was measured.
#
# ## 4. The one-time cost: compiling, and the cache on disk
#
# numba compiles a kernel the first time it is called with a new combination of argument
# types (float32 or float64, 2-D or 3-D), which takes seconds, because LLVM optimizes the
# loops hard. `@njit(cache=True)` then writes the machine code next to the source, in
# `__pycache__/` (files `*.nbi`, the index, and `*.nbc`, the code), and later processes
# load it instead of compiling. Set `NUMBA_CACHE_DIR` to put the cache elsewhere.
#
# To see each cost, we start fresh Python processes that call `matmul_numba` on 64 × 64
# float32 matrices six times and time the calls: with an empty cache (the first call
# compiles; full mode only, it takes a while), then with the cache filled (the first call
# loads), and compare with the later calls, when the kernel is already in memory.

# %%
FIRST_CALLS = """
import time
import numpy as np
from minidl.kernels import matmul
a = np.ones((64, 64), dtype=np.float32)
seconds = []
for call in range(6):
    start = time.perf_counter()
    matmul.matmul_numba(a, a)
    seconds.append(time.perf_counter() - start)
print(seconds[0], min(seconds[1:]))
"""
PACKAGE_ROOT = str(Path(mdl.__file__).resolve().parent.parent)   # the folder holding minidl/


def first_calls(cache_folder=None):
    """(first call, best of the next five) of matmul_numba in a new process, in seconds."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")]))
    if cache_folder is not None:
        env["NUMBA_CACHE_DIR"] = cache_folder
    output = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=env, check=True,
                            capture_output=True, text=True).stdout
    return tuple(float(value) for value in output.split())


if FAST:
    print("compiling from an empty cache: skipped in fast mode (it takes 10 s or more)")
    loaded, warm = first_calls()
else:
    with tempfile.TemporaryDirectory() as cache:
        compiled, _ = first_calls(cache)
        loaded, warm = first_calls(cache)
    print(f"first call with an empty cache (compiles):  {compiled:7.2f} s")
    RESULTS["compile_s"] = compiled
print(f"first call with the cache filled (loads):   {loaded:7.2f} s")
print(f"later calls, kernel in memory:              {warm * 1e6:7.0f} µs")
RESULTS["cached_first_call_s"] = loaded
RESULTS["warm_call_s"] = warm

cache_files = sorted(Path(matmul.__file__).parent.glob("__pycache__/matmul.*.nb[ic]"))
print(f"{len(cache_files)} cache files for kernels/matmul.py in "
      f"{Path(matmul.__file__).parent / '__pycache__'}, "
      f"{sum(f.stat().st_size for f in cache_files) / 2**20:.1f} MiB"
      if cache_files else "no cache files beside kernels/matmul.py: numba cached elsewhere "
      "(the folder is read-only, or NUMBA_CACHE_DIR is set)")

# %% [markdown]
# Even with the cache, the first call costs a noticeable fraction of a second or more:
# loading and linking the machine code, and starting numba's thread pool. Training runs
# thousands of calls, so it is paid once; a script that multiplies one small matrix and
# exits would be better off with NumPy. (Editing a kernel's source invalidates its cache
# entry: the next call compiles again.)
#
# ## 5. One switch for the whole framework: `mdl.set_kernels`
#
# Every matmul, convolution and pooling op in minidl asks the kernel table which
# implementation to call: `"numba"` (numba everywhere, the GEMM of section 1 included),
# `"numpy"` (im2col and pooling in NumPy, products by BLAS), or the default `"fast"`
# (BLAS for the large products, numba where BLAS cannot help). Switching changes nothing
# else, so the same network from the same initial weights on the same batch must give
# the same losses, up to float32 rounding, and we can time a training step both ways: a
# small convolutional network on a batch of 64 real digits.
#
# Instead of a stopwatch around the whole step we use minidl's **profiler**, which works
# like PyTorch's: inside `with profile() as prof:` every op's forward and backward is
# timed, and `record_function("training step")` names a range of our own.
# `prof.key_averages().table(...)` adds the times up by op. It also splits each forward
# into its *kernel* (the arithmetic on the arrays) and the Python around it (checking
# the arguments, wrapping the results in Tensors, recording the graph), and with
# `with_flops=True` it counts the floating-point operations of the matrix products and
# convolutions.

# %%
digits, labels = load_digits()
batch = mdl.tensor((digits[:64] / 16).reshape(64, 1, 8, 8))
batch_labels = mdl.tensor(labels[:64])


def make_cnn():
    mdl.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 2 * 2, 10))


def training_step(model, optimizer, losses):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(batch), batch_labels)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())


def profile_training(kernels, steps):
    """The profile of `steps` training steps with those kernels, and their losses."""
    mdl.set_kernels(kernels)
    warm_up = make_cnn()   # loads the kernels (a one-off cost, section 4) outside the profile
    training_step(warm_up, optim.SGD(warm_up.parameters(), lr=0.1), [])
    model = make_cnn()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    losses = []
    with profile(with_flops=True) as prof:
        for _ in range(steps):
            with record_function("training step"):
                training_step(model, optimizer, losses)
    return prof, np.array(losses)


default_kernels = mdl.get_kernels()
STEPS = pick(5, 20)
profiles, step_losses, step_seconds = {}, {}, {}
for kernels in ("numba", "numpy"):
    profiles[kernels], step_losses[kernels] = profile_training(kernels, STEPS)
    steps = [e.cpu_time_total for e in profiles[kernels].events() if e.name == "training step"]
    step_seconds[kernels] = float(np.median(steps)) / 1e6   # the profiler counts microseconds
mdl.set_kernels(default_kernels)

loss_difference = np.abs(step_losses["numba"] - step_losses["numpy"]).max()
print(f"{STEPS} training steps from the same weights: loss {step_losses['numba'][0]:.4f} -> "
      f"{step_losses['numba'][-1]:.4f}; largest difference numba vs numpy {loss_difference:.1e}")
for kernels, seconds in step_seconds.items():
    print(f"  set_kernels({kernels!r}): {1e3 * seconds:.1f} ms per step (median, batch of 64)")
print(f"\nwhere the time of the numpy steps goes, the ops with the most self time first:")
print(profiles["numpy"].key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
RESULTS["set_kernels_loss_max_difference"] = float(loss_difference)
RESULTS["set_kernels_losses"] = step_losses["numba"]
RESULTS["training_step_ms"] = {kernels: 1e3 * s for kernels, s in step_seconds.items()}
RESULTS["kernels_restored"] = mdl.get_kernels() == default_kernels

# %% [markdown]
# Each row is an op (`Conv2d`) or an op's backward (`Conv2d.backward`), called "# of
# Calls" times over the steps. *Self* time is the time in the op itself, *total* time
# includes the ops it ran (a backward is written with ops, so `Conv2d.backward` runs
# `Conv2dGradInput` and `Conv2dGradWeight`), and "training step" holds them all: the
# self times add up to its total. "In kernels" is the arithmetic; "Python %" is the
# share of an op's self time spent around it. The self time of "training step" itself
# is our own code between the ops: the loop, the optimizer's update of the weights (on
# the arrays, outside the graph), reading the loss. Per step, summed over every op:

# %%
def time_split(prof):
    """(seconds in the ops' kernels, in their Python around them, outside any op, FLOPs),
    per training step."""
    rows = prof.key_averages()
    kernel, python, outside = (us / 1e6 / STEPS for us in rows.time_split())
    return kernel, python, outside, sum(row.flops for row in rows) / STEPS


split = {kernels: time_split(prof) for kernels, prof in profiles.items()}
for kernels, (kernel, python, outside, flops) in split.items():
    total = kernel + python + outside
    print(f"set_kernels({kernels!r}): per step {1e3 * kernel:.1f} ms in kernels "
          f"({kernel / total:.0%}), {1e3 * python:.1f} ms of the ops' Python around them "
          f"({python / total:.0%}), {1e3 * outside:.1f} ms outside the ops "
          f"({outside / total:.0%}); {flops / 1e6:.1f} MFLOP, "
          f"{flops / kernel / 1e9:.1f} GFLOP/s in the kernels")

# The count by hand: each conv does 2 · N·O·OH·OW · C·KH·KW operations in each of its
# passes (forward, the input's gradient, the weight's gradient), the linear layer
# 2 · N·in·out in each of its three products; the first conv's input needs no gradient.
conv1 = 2 * 64 * 32 * 8 * 8 * 1 * 9
conv2 = 2 * 64 * 64 * 4 * 4 * 32 * 9
dense = 2 * 64 * 256 * 10
by_hand = 2 * conv1 + 3 * conv2 + 3 * dense
print(f"FLOPs per step counted by the profiler: {split['numpy'][3]:,.0f}; by hand: {by_hand:,}")

profiles["numpy"].export_chrome_trace(FIGURES / "09_training_steps_trace.json")
print(f"the timeline of these steps: {FIGURES / '09_training_steps_trace.json'} "
      "(open it in ui.perfetto.dev, or chrome://tracing)")
RESULTS["profile_python_share"] = {k: python / (kernel + python + outside)
                                   for k, (kernel, python, outside, _) in split.items()}
RESULTS["profile_flops_per_step"] = split["numpy"][3]
RESULTS["hand_counted_flops_per_step"] = by_hand
RESULTS["profile_top_ops"] = [row.key for row in sorted(
    profiles["numpy"].key_averages(), key=lambda row: row.self_cpu_time_total,
    reverse=True)[:5]]

# %% [markdown]
# On images of 8 × 8 pixels the layers are tiny, and the profile shows where that leaves
# the time: part of a step (the shares printed above) is not arithmetic at all but
# Python, building and walking the autograd graph and wrapping arrays, and the kernels
# themselves run far below the GFLOP/s of section 1 because their products are small. Which kernel setting is faster depends on the shapes (the conv layer of section
# 2 is a better test), on the machine and on its load; that is exactly why the switch
# exists. Set `MINIDL_KERNELS=numpy` in the environment to start with the NumPy path.
#
# ## 6. And on a GPU?
#
# A GPU is thousands of simple cores with their own fast memory: its roof is one or two
# orders of magnitude higher than one CPU core's, for kernels with enough parallel work.
# minidl runs the same code there (`tensor.to("cuda")`, `model.to("cuda")`), with cuBLAS
# for the matrix products and the CUDA kernels of `kernels/cuda/`. This section runs only
# where CuPy is installed and sees a GPU.

# %%
if mdl.cuda_is_available():
    import cupy

    def gpu_matmul_gflops(n, repeat=5):
        a = mdl.randn(n, n).to("cuda")
        b = mdl.randn(n, n).to("cuda")

        def product():
            a @ b
            cupy.cuda.Device().synchronize()   # the GPU works asynchronously: wait for it
        return 2 * n**3 / best_seconds(product, repeat) / 1e9

    gpu_sizes = (256, 1024, 4096)
    gpu_gflops = [gpu_matmul_gflops(n) for n in gpu_sizes]
    for n, value in zip(gpu_sizes, gpu_gflops):
        print(f"GPU matmul n = {n}: {value:,.0f} GFLOP/s")
    batch, batch_labels = batch.to("cuda"), batch_labels.to("cuda")
    model = make_cnn().to("cuda")
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    def gpu_step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch), batch_labels)
        loss.backward()
        optimizer.step()
        return loss.item()   # copying the loss to the CPU waits for the GPU

    gpu_step_ms = 1e3 * best_seconds(gpu_step, STEPS)
    print(f"the CNN training step on the GPU: {gpu_step_ms:.1f} ms (CPU, one core: "
          f"{1e3 * min(step_seconds.values()):.1f} ms)")
    RESULTS["gpu"] = {"matmul_sizes": list(gpu_sizes), "matmul_gflops": gpu_gflops,
                      "training_step_ms": gpu_step_ms}
else:
    print("No GPU here (CuPy is not installed, or it sees no device): GPU numbers skipped.")
    RESULTS["gpu"] = None

# %% [markdown]
# Expect large matmuls on a GPU to reach thousands of GFLOP/s, and the digits network's
# step to gain far less: with 8 × 8 images each op is a few microseconds of GPU work, and
# launching it from Python costs about as much. A GPU pays off when the operations are
# big.
#
# ## What to remember
#
# - The same 2n³ operations run at very different speeds: the interpreter costs the
#   Python loops a factor of thousands; vector instructions, registers, caches (and
#   threads) make the compiled kernels fast; tuned BLAS is a little faster still.
# - Convolution becomes a matrix product by im2col, at the cost of copying each pixel
#   KH · KW times.
# - The roofline bounds every kernel by min(peak, intensity × bandwidth): big matmuls are
#   compute-bound, elementwise ops and pooling memory-bound.
# - numba compiles once per type signature (seconds) and caches the result on disk; the
#   first call in a new process still pays to load it.
# - `mdl.set_kernels("numba" | "numpy")` switches every hot path at once and gives the
#   same numbers; which is faster depends on the sizes.

# %%
report("09", RESULTS)
