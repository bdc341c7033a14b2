"""How long does one training step take? Four reference models, minidl against PyTorch.

    python benchmarks/train_step.py                 # CPU, one thread: prints a markdown
                                                    # table, writes results/train_step.json
                                                    # and .png (--threads N for more)
    python benchmarks/train_step.py --device cuda   # GPU, batches 128 and 1024: writes
                                                    # results/train_step_cuda.json and .png
    python benchmarks/train_step.py --quick         # fewer repetitions (a smoke test)

One step is what a training loop does per mini-batch: zero_grad, forward,
loss, backward, and an SGD update of every parameter. The models:

- MLP 784-256-128-10 with ReLU, cross-entropy, batch 128;
- CNN conv(1->8, 3x3)-relu-maxpool 2-conv(8->16, 3x3)-relu-maxpool 2-flatten-
  linear(400->10) on 1x28x28 images, cross-entropy, batch 64;
- LSTM, input 32, hidden 128, 50 steps, batch-first, batch 32; loss = sum of
  the output (every step's h);
- Transformer encoder layer, d_model 128, 4 heads, feed-forward 512, dropout 0,
  64 tokens, batch 32; loss = mean of output * G for a fixed random G (the plain
  sum of a layer norm's output is always 0, and would send no gradient back);
- one Conv2d layer 16->32, 3x3, padding 1, on 64x16x28x28: the convolution's
  forward and both backwards (loss = sum of the output).

On the CPU every model runs under each of minidl's kernel settings (the default
"fast", "numpy" and "numba") and in PyTorch, and the table says whether the
targets are met: default / PyTorch at most 1.3 (MLP, CNN, transformer) or 1.5
(LSTM, conv2d), and the default never slower than "numpy".

Both frameworks train the same model: minidl builds it, and its state dict is
copied into PyTorch's (the layouts are PyTorch's; only the attention's q, k, v
projections are packed into one in_proj_weight). Their losses on the first
step, with identical weights, are compared: |delta loss| is float32 rounding.

Timing: each step is timed after warm-up steps (numba compilation, caches,
memory pools), and the frameworks take turns step by step, so that load from
other processes on a shared machine slows all alike; each number is the
median. On the CPU everything runs on one thread by default (numba, BLAS and
PyTorch alike; --threads N to change it); on the GPU
(minidl on CuPy, PyTorch CUDA) TF32 is off in both and the device is
synchronised before the clock is read. Without PyTorch its columns say
"not installed"; with --device cuda and no GPU this prints a message and exits 0.
Importable: `run(device, quick)` returns the results dict without printing or
writing anything.
"""
import argparse
import os
import statistics
import sys
from typing import Callable, NamedTuple

os.environ["CUPY_TF32"] = "0"  # before anything imports cupy: float32 matmuls in full float32

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numba  # noqa: E402
import threadpoolctl  # noqa: E402

import minidl as mdl  # noqa: E402
from benchmarks._report import (bar_chart, machine_info, markdown_table,  # noqa: E402
                                median_time, torch_or_none, write_json)
from minidl import backend, nn, optim  # noqa: E402
import minidl.functional as F  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
LR = 1e-3
CUDA_BATCHES = (128, 1024)
REPEAT, QUICK_REPEAT = 15, 3   # timed steps per framework and model
WARMUP = 2                     # untimed steps before (after the one that checks the loss)
NOT_INSTALLED = "not installed"
NO_TORCH_CUDA = "no CUDA in this PyTorch"


# ----------------------------------------------------------------------------
# The four models, each built the same way in both frameworks
# ----------------------------------------------------------------------------
def mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 5 * 5, 10))


def lstm(nn):
    return nn.LSTM(32, 128, batch_first=True)


def transformer(nn):
    return nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0,
                                      batch_first=True)


def conv_layer(nn):
    return nn.Conv2d(16, 32, 3, padding=1)


def classes(rng, batch, shape):
    """Random inputs of `shape` and class indices 0..9: (x, target)."""
    return (rng.standard_normal((batch,) + shape, dtype=np.float32),
            rng.integers(0, 10, batch))


def sequence(rng, batch, shape, weighted=False):
    """Random sequences of `shape` and, if weighted, a random weighting G of the
    (N, T, 128) output: (x, G or None)."""
    x = rng.standard_normal((batch,) + shape, dtype=np.float32)
    return x, (rng.standard_normal(x.shape[:2] + (128,), dtype=np.float32) if weighted else None)


class Model(NamedTuple):
    name: str
    label: str
    build: Callable       # build(nn) -> the model, nn being minidl.nn or torch.nn
    data: Callable        # data(rng, batch) -> (x, target or None), NumPy arrays
    loss: str             # "cross_entropy", "sum" or "weighted_mean" (see loss_of)
    cpu_batch: int


MODELS = [
    Model("MLP", "MLP 784-256-128-10", mlp, lambda r, n: classes(r, n, (784,)),
          "cross_entropy", 128),
    Model("CNN", "CNN 2 conv + 2 pool + linear", cnn, lambda r, n: classes(r, n, (1, 28, 28)),
          "cross_entropy", 64),
    Model("LSTM", "LSTM 32->128, 50 steps", lstm, lambda r, n: sequence(r, n, (50, 32)),
          "sum", 32),
    Model("Transformer", "Transformer encoder layer 128/4/512, 64 tokens", transformer,
          lambda r, n: sequence(r, n, (64, 128), weighted=True), "weighted_mean", 32),
    Model("conv2d", "Conv2d 16->32 3x3 on 28x28 (fwd + bwd)", conv_layer,
          lambda r, n: (r.standard_normal((n, 16, 28, 28), dtype=np.float32), None), "sum", 64),
]
# default / PyTorch at most this (the targets of the fast-by-default work)
TARGETS = {"MLP": 1.3, "CNN": 1.3, "Transformer": 1.3, "LSTM": 1.5, "conv2d": 1.5}
SETTINGS = ("fast", "numpy", "numba")


def loss_of(kind, output, target):
    """The loss in either framework (only methods both have are called). For
    cross-entropy `target` is (that framework's cross_entropy, class indices)."""
    if isinstance(output, tuple):  # a recurrent layer: (every step's h, final state)
        output = output[0]
    if kind == "cross_entropy":
        cross_entropy, labels = target
        return cross_entropy(output, labels)
    if kind == "sum":
        return output.sum()
    return (output * target).mean()


# ----------------------------------------------------------------------------
# Copying minidl's weights into PyTorch
# ----------------------------------------------------------------------------
def torch_copy(torch, build, model):
    """The same architecture in PyTorch, with minidl model's weights."""
    theirs = build(torch.nn)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return theirs


# ----------------------------------------------------------------------------
# One training step in each framework
# ----------------------------------------------------------------------------
def training_step(model, opt, x, target, kind):
    """A function doing one training step; returns the loss. The same code runs
    in both frameworks: their Module and optimizer methods have the same names."""
    def step():
        opt.zero_grad()
        loss = loss_of(kind, model(x), target)
        loss.backward()
        opt.step()
        return loss
    return step


def minidl_step(model, x, target, kind, device, setting=None):
    """training_step for a minidl model on the device, from NumPy x and target, under a
    kernel setting (None: the one in force)."""
    model.to(device)
    opt = optim.SGD(model.parameters(), lr=LR)
    x = mdl.tensor(x, device=device)
    if target is not None:
        target = mdl.tensor(target, device=device)
    if kind == "cross_entropy":
        target = (F.cross_entropy, target)
    step = training_step(model, opt, x, target, kind)
    if setting is None:
        return step

    def step_with_setting():
        mdl.set_kernels(setting)
        return step()
    return step_with_setting


def torch_step(torch, model, x, target, kind, device):
    """training_step for a PyTorch model on the device, from NumPy x and target."""
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x = torch.from_numpy(x).to(device)
    if target is not None:
        target = torch.from_numpy(target).to(device)
    if kind == "cross_entropy":
        target = (torch.nn.functional.cross_entropy, target)
    return training_step(model, opt, x, target, kind)


def synchronizer(framework, device):
    """A function that waits until the device has finished its queued work."""
    if device == "cpu":
        return lambda: None
    if framework == "minidl":
        return lambda: backend.cupy().cuda.Device().synchronize()
    import torch
    return torch.cuda.synchronize


def alternating_medians(steps, repeat):
    """{name: median seconds} of `repeat` calls of each step, taking turns, so that
    load from other processes during the run slows every framework alike."""
    times = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            times[name].append(median_time(step, repeat=1, warmup=0))
    return {name: statistics.median(t) for name, t in times.items()}


def bench_model(spec, batch, torch, device, repeat):
    """Time one Model at one batch size -> a result row (a dict)."""
    x, target = spec.data(np.random.default_rng(0), batch)
    mdl.manual_seed(0)
    model = spec.build(nn)
    steps = {}
    if torch is not None:  # copied before minidl's model moves to the device
        theirs = torch_copy(torch, spec.build, model)
        steps["torch"] = torch_step(torch, theirs, x, target, spec.loss, device)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    settings = SETTINGS if device == "cpu" else (None,)
    for setting in settings:  # the same weights under each kernel setting
        copy = spec.build(nn)
        copy.load_state_dict(state)
        steps[setting or "minidl"] = minidl_step(copy, x, target, spec.loss, device, setting)
    default = settings[0] or "minidl"
    # the first step, on identical weights, checks the two losses agree
    losses = {fw: float(step().item()) for fw, step in steps.items()}
    synced = {fw: _then(step, synchronizer(fw, device)) for fw, step in steps.items()}
    for step in synced.values():
        for _ in range(WARMUP):
            step()
    seconds = alternating_medians(synced, repeat)
    mdl.set_kernels(settings[0] or mdl.get_kernels())
    row = {"model": spec.name, "label": spec.label, "batch": batch, "device": device,
           "minidl_ms": 1e3 * seconds[default], "minidl_loss": losses[default]}
    if device == "cpu":
        row.update({f"{s}_ms": 1e3 * seconds[s] for s in SETTINGS})
        row["default_vs_numpy"] = seconds["fast"] / seconds["numpy"]
    if torch is not None:
        row.update(torch_ms=1e3 * seconds["torch"], torch_loss=losses["torch"],
                   ratio=seconds[default] / seconds["torch"],
                   abs_loss_difference=abs(losses[default] - losses["torch"]))
    return row


def _then(step, sync):
    def synced():
        step()
        sync()
    return synced


# ----------------------------------------------------------------------------
# Running, reporting
# ----------------------------------------------------------------------------
def usable_torch(device):
    """(torch or None, why not) for the device."""
    torch = torch_or_none()
    if torch is None:
        return None, NOT_INSTALLED
    if device == "cuda" and not torch.cuda.is_available():
        return None, NO_TORCH_CUDA
    torch.set_num_threads(numba.get_num_threads())
    if device == "cuda":  # full float32 products, as minidl's (CUPY_TF32=0)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return torch, None


def run(device="cpu", quick=False, threads=1):
    """Every model on the device -> one JSON-ready dict (nothing printed or written)."""
    numba.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads)
    torch, missing = usable_torch(device)
    repeat = QUICK_REPEAT if quick else REPEAT
    rows = []
    for spec in MODELS:
        batches = CUDA_BATCHES if device == "cuda" else (spec.cpu_batch,)
        for batch in batches:
            rows.append(bench_model(spec, batch, torch, device, repeat))
    results = {"machine": machine_info(), "device": device, "torch": missing or "used",
               "threads": threads,
               "torch_threads": torch.get_num_threads() if torch else None,
               "lr": LR, "repeat": repeat, "rows": rows}
    if device == "cuda":
        from benchmarks.gpu import device_info
        results["gpu"] = device_info()
    return results


def tables(results):
    """The results as a markdown table with a line saying where they were measured."""
    info = results["machine"]
    threads = results.get("threads", 1)
    if results["device"] == "cuda":
        gpu = results["gpu"]
        where = (f"{gpu['name']}, minidl on CuPy {gpu['cupy']} vs PyTorch CUDA, "
                 f"float32, TF32 off")
    else:
        where = f"{info['cpu']}, {threads} thread(s) for numba, BLAS and PyTorch, float32"
    where_line = (f"One training step (zero_grad, forward, loss, backward, SGD step), "
                  f"median milliseconds (lower is better)\n{where}; numpy {info['numpy']}, "
                  f"numba {info['numba']}, torch {info['torch']}")
    missing = results["torch"] if results["torch"] != "used" else None
    if results["device"] == "cpu":
        return where_line + "\n\n" + cpu_table(results["rows"], missing)
    table = []
    for r in results["rows"]:
        model = f"{r['label']}, batch {r['batch']}"
        if missing:
            table.append((model, r["minidl_ms"], missing, missing, missing))
        else:
            table.append((model, r["minidl_ms"], r["torch_ms"], f"{r['ratio']:.2f}x",
                          f"{r['abs_loss_difference']:.1e}"))
    return (where_line + "\n\n"
            + markdown_table(["model", "minidl ms", "PyTorch ms", "ratio (minidl / PyTorch)",
                              "|Δloss| (first step)"], table))


def cpu_table(rows, missing):
    """Each model under the three settings and PyTorch, and whether the targets are met."""
    table = []
    for r in rows:
        target = TARGETS[r["model"]]
        ratio = "—" if missing else f"{r['ratio']:.2f}"
        met = "—" if missing else ("yes" if r["ratio"] <= target else "no")
        table.append((f"{r['label']}, batch {r['batch']}", f"{r['fast_ms']:.2f}",
                      f"{r['numpy_ms']:.2f}", f"{r['numba_ms']:.2f}",
                      missing or f"{r['torch_ms']:.2f}", ratio, f"<= {target}", met,
                      "yes" if r["default_vs_numpy"] <= 1.0 else "no"))
    return markdown_table(["one training step", "default (fast) ms", "numpy ms", "numba ms",
                           "PyTorch ms", "default / PyTorch", "target", "met",
                           "default <= numpy"], table)


def chart(results, path):
    """Bars per model: time relative to PyTorch (= 1), or minidl's ms without PyTorch."""
    rows = results["rows"]
    labels = [r["model"] + (f" b{r['batch']}" if results["device"] == "cuda" else "")
              for r in rows]
    where = "GPU" if results["device"] == "cuda" else "CPU"
    if results["torch"] != "used":
        bar_chart(path, labels, {"minidl": [r["minidl_ms"] for r in rows]},
                  "milliseconds per training step", f"minidl training step, {where}")
        return
    bar_chart(path, labels, {"minidl": [r["ratio"] for r in rows], "PyTorch": [1.0] * len(rows)},
              "time relative to PyTorch (lower is better)",
              f"one training step, minidl vs PyTorch, {where}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not mdl.cuda_is_available():
        print("--device cuda: no GPU (CuPy and an NVIDIA GPU are needed): skipped")
        return
    results = run(args.device, args.quick, args.threads)
    name = "train_step" if args.device == "cpu" else "train_step_cuda"
    write_json(os.path.join(RESULTS, name + ".json"), results)
    chart(results, os.path.join(RESULTS, name + ".png"))
    print(tables(results))


if __name__ == "__main__":
    main()
