# %% [markdown]
# # 14 · Deeper or wider?
#
# A multilayer perceptron has two size knobs: how many hidden layers (its *depth*) and
# how many units each has (its *width*). Both add parameters; which one buys accuracy,
# and what does each cost in memory and time? This tutorial trains a grid of MLPs on the
# handwritten digits, every width from 8 to 512 units at every depth from 1 to 4 hidden
# layers (fast mode: up to 256 units, depths 1, 2 and 4), all with the same recipe, and puts their test accuracy beside their number of
# parameters and their training and inference time.

# %%
import os

# One core for everything, so that the times compare: BLAS reads its thread count when
# NumPy first loads it.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import matplotlib.pyplot as plt  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
from minidl import nn, optim  # noqa: E402
from minidl.data import load_digits, train_test_split  # noqa: E402
from minidl.metrics import accuracy_score  # noqa: E402
from minidl.train import fit, predict  # noqa: E402
from _common import FAST, expected_run_time, pick, report, save, timed  # noqa: E402

numba.set_num_threads(1)   # minidl's numba kernels on one core too
expected_run_time("14")
RESULTS = {"fast_mode": FAST}

# %% [markdown]
# ## 1. The data and the grid
#
# The 1,797 digits of 8×8 pixels (scaled to [0, 1]); a quarter, stratified, is the test
# set. Every network is 64 inputs → `depth` hidden layers of `width` ReLU units → 10
# scores, and trains with Adam (learning rate 10⁻³, batches of 32) for the same number of
# epochs. A Linear layer from a inputs to b outputs has a × b weights and b biases, so
# the parameters of the whole network are
#
#   (64 w + w) + (depth − 1)(w² + w) + (10 w + 10):
#
# linear in the width for one hidden layer, but with a w² term for every extra layer.
# Each network is trained from `pick(1, 3)` seeds (1 in fast mode) and its test accuracy
# is the mean over them: one run's luck should not decide a comparison.

# %%
images, labels = load_digits()
X_train, X_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25,
                                                    stratify=labels, random_state=0)
WIDTHS = pick([8, 32, 128, 256], [8, 32, 128, 512])
DEPTHS = pick([1, 2, 4], [1, 2, 3, 4])
EPOCHS = pick(8, 30)
SEEDS = range(pick(1, 3))
print(f"{len(X_train)} training and {len(X_test)} test images; {len(WIDTHS) * len(DEPTHS)} "
      f"networks, {EPOCHS} epochs, {len(SEEDS)} seed(s) each")


def mlp(width, depth):
    layers, inputs = [], 64
    for _ in range(depth):
        layers += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    return nn.Sequential(*layers, nn.Linear(inputs, 10))


def formula(width, depth):
    return (64 * width + width) + (depth - 1) * (width * width + width) + (10 * width + 10)


# %% [markdown]
# ## 2. Training the grid
#
# Training time is the time of `fit`; inference time is the time to classify the whole
# test set at once, divided by the number of images (the best of five). Both are this
# machine's, on one core.

# %%
grid = []
for depth in DEPTHS:
    for width in WIDTHS:
        accuracies, train_seconds, infer_seconds = [], [], []
        for seed in SEEDS:
            mdl.manual_seed(seed)
            model = mlp(width, depth)
            optimizer = optim.Adam(model.parameters(), lr=1e-3)
            _, seconds = timed(fit, model, nn.CrossEntropyLoss(), optimizer, X_train, y_train,
                               epochs=EPOCHS, batch_size=32, verbose=False, seed=seed)
            outputs, inference = timed(predict, model, X_test, batch_size=len(X_test),
                                       repeat=5)
            accuracies.append(accuracy_score(y_test, outputs.argmax(axis=1)))
            train_seconds.append(seconds)
            infer_seconds.append(inference / len(X_test))
        grid.append(dict(width=width, depth=depth, parameters=model.num_parameters(),
                         formula=formula(width, depth), test_accuracy=float(np.mean(accuracies)),
                         accuracy_per_seed=accuracies, train_seconds=float(np.mean(train_seconds)),
                         inference_us=1e6 * float(np.mean(infer_seconds))))
        row = grid[-1]
        print(f"depth {depth}, width {width:3d}: {row['parameters']:8,} parameters, test "
              f"accuracy {row['test_accuracy']:.3f}, {row['train_seconds']:5.2f} s to train, "
              f"{row['inference_us']:6.2f} µs per image")
RESULTS.update(widths=WIDTHS, depths=DEPTHS, epochs=EPOCHS, grid=grid)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
for depth in DEPTHS:
    rows = [row for row in grid if row["depth"] == depth]
    label = f"{depth} hidden layer{'s' if depth > 1 else ''}"
    axes[0].plot([r["parameters"] for r in rows], [r["test_accuracy"] for r in rows],
                 marker="o", label=label)
    axes[1].plot([r["parameters"] for r in rows], [r["train_seconds"] for r in rows],
                 marker="o", label=label)
    axes[2].plot([r["parameters"] for r in rows], [r["inference_us"] for r in rows],
                 marker="o", label=label)
    for r in rows:
        axes[0].annotate(str(r["width"]), (r["parameters"], r["test_accuracy"]),
                         textcoords="offset points", xytext=(4, -10), fontsize=7)
for ax, ylabel in zip(axes, ("test accuracy", "training seconds (one core)",
                             "µs per test image (batch of all)")):
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel(ylabel)
axes[0].legend(fontsize=8)
axes[0].set_title("accuracy (numbers: the width)")
axes[1].set_title("training time")
axes[2].set_title("inference time")
fig.suptitle(f"MLPs on the digits: width × depth, {EPOCHS} epochs of Adam", y=1.02)
fig.tight_layout()
save(fig, "14_depth_and_width.png")

# %% [markdown]
# ## 3. What the grid says
#
# The lines below are computed from the grid, so they describe this run.

# %%
def cell(width, depth):
    return next(r for r in grid if r["width"] == width and r["depth"] == depth)


best = max(grid, key=lambda r: r["test_accuracy"])
smallest_good = min((r for r in grid if r["test_accuracy"] >= best["test_accuracy"] - 0.01),
                    key=lambda r: r["parameters"])
print(f"best: depth {best['depth']}, width {best['width']}: {best['test_accuracy']:.3f} with "
      f"{best['parameters']:,} parameters")
print(f"smallest within 0.01 of it: depth {smallest_good['depth']}, width "
      f"{smallest_good['width']}: {smallest_good['test_accuracy']:.3f} with "
      f"{smallest_good['parameters']:,} parameters "
      f"({best['parameters'] / smallest_good['parameters']:.0f} times fewer)")
for depth in DEPTHS:
    print(f"depth {depth}: accuracy from width {WIDTHS[0]} to {WIDTHS[-1]}: " + " -> ".join(
        f"{cell(w, depth)['test_accuracy']:.3f}" for w in WIDTHS))
for width in WIDTHS:
    print(f"width {width:3d}: accuracy from depth {DEPTHS[0]} to {DEPTHS[-1]}: " + " -> ".join(
        f"{cell(width, d)['test_accuracy']:.3f}" for d in DEPTHS))
RESULTS["best"] = {k: best[k] for k in ("width", "depth", "parameters", "test_accuracy")}
RESULTS["smallest_within_0.01"] = {k: smallest_good[k]
                                   for k in ("width", "depth", "parameters", "test_accuracy")}

# %% [markdown]
# - **Width first.** At every depth the accuracy climbs with the width, steeply from 8
#   units to 32 and 128, then slowly. Eight units are a bottleneck: whatever comes
#   after them, the network has only eight numbers to tell ten digits apart.
# - **Depth only helps a network that is wide enough.** At the largest width a second
#   hidden layer adds a little accuracy, if any, and further layers about nothing. At width 8
#   depth does not help at all: the deeper narrow networks are no better than the
#   one-layer one, and usually worse, since each layer squeezes the signal (and its
#   gradient) through the same eight ReLUs, some of which die in training.
# - **Parameters grow much faster than accuracy.** Each extra layer of width w adds w²
#   weights, so the deep, wide corner of the grid holds nearly all the parameters; the
#   printout names the smallest network within a point of the best, and how many times
#   fewer parameters it has. On small inputs like these 64 pixels, a moderate width and one or two layers
#   are the sweet spot.
# - **Time.** The training and inference times (this machine's) barely move for the
#   small networks, where the fixed cost of every operation dominates (tutorial 09),
#   and then grow with the parameters: a wide layer's w² products are the work.
#
# ## What to remember
#
# - Count parameters with the formula: depth multiplies w², width enters squared.
# - Make a network wide enough first; add depth when the width is there and the data
#   needs it. A narrow, deep MLP is the worst of both.
# - Accuracy saturates long before the parameter count does: report the smallest model
#   that is as good, not only the best one.

# %%
report("14", RESULTS)
