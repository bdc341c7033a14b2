# %% [markdown]
# # 03 · Which optimizer, and why? GD, SGD, momentum, Nesterov, AdaGrad, RMSprop, Adam
#
# Every optimizer in `minidl.optim` follows the gradient downhill; they differ in what
# they do with it. This tutorial runs all of them on two problems: the Rosenbrock
# function, a curved narrow valley in two dimensions where we can *watch* each one move,
# and a small neural network on the real handwritten digits, where we compare how fast
# the training loss falls and how well the result classifies.
#
# The update rules, with g the gradient and η the learning rate:
#
# | optimizer | update |
# |---|---|
# | GD | p ← p - η g, with g over the whole data set |
# | SGD | the same, with g from a small random batch: cheap and noisy |
# | momentum | b ← μ b + g, p ← p - η b: a velocity that keeps going where steps agree |
# | Nesterov | as momentum, but the gradient is taken where the velocity is about to carry p |
# | AdaGrad | s ← s + g², p ← p - η g / √s: each coordinate's step shrinks with its own gradient history |
# | RMSprop | s ← α s + (1-α) g²: AdaGrad with a memory that fades, so steps do not die out |
# | Adam | momentum on g and RMSprop on g², both bias-corrected: steps of about η per coordinate |

# %%
import os

# The matrices here are small: one BLAS thread does them fastest, and several threads on
# a busy machine wait on each other. BLAS reads its thread count when NumPy first loads
# it: set it first.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
import minidl.functional as F  # noqa: E402
from minidl import nn, optim, viz  # noqa: E402
from minidl.data import DataLoader, TensorDataset, load_digits, train_test_split  # noqa: E402
from _common import expected_run_time, pick, report, save, timed  # noqa: E402

expected_run_time("03")

RESULTS = {}

# %% [markdown]
# ## 1. The Rosenbrock valley
#
# f(x, y) = (1 - x)² + 100 (y - x²)² has its minimum 0 at (1, 1), at the end of a curved
# valley whose walls are 100 times steeper than its floor. Starting from (-1.2, 1), an
# optimizer must first drop into the valley and then follow its bend. That is the shape
# of trouble in real loss surfaces too: some directions steep, others nearly flat.
#
# Learning rates: GD, SGD, momentum and Nesterov share one η, so any difference among
# them comes from the method. How large may it be? Section 2 of tutorial 02 says: below
# 2 / λ_max, with λ_max the largest curvature (eigenvalue of the Hessian), here largest
# at the bottom of the valley. We take half of that limit, and show what GD does with
# ten times more. The adaptive ones work on another scale (their step is about η per
# coordinate), so each gets the best η of a grid, the one that ends nearest the minimum
# after the same number of steps; the run prints the whole search. "SGD" here is GD with
# random noise added to every gradient, standing in for the noise of mini-batches (this
# function has no data to sample).

# %%
def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


# The Hessian of f at the minimum (1, 1), by hand: [[2 + 800, -400], [-400, 200]].
curvature = np.linalg.eigvalsh(np.array([[802.0, -400.0], [-400.0, 200.0]]))
GD_LR = 1 / curvature[-1]
print(f"largest curvature at the minimum: λ_max = {curvature[-1]:.1f}; stable steps need "
      f"η < 2 / λ_max = {2 / curvature[-1]:.4f}; the GD family gets η = {GD_LR:.4f}")
RESULTS["rosenbrock_gd_lr"] = GD_LR


def descend(optimizer_class, hyper, steps, gradient_noise=0.0, seed=0):
    """Minimize Rosenbrock from (-1.2, 1); returns the path, (steps + 1, 2), or up to the
    step where it left the finite numbers."""
    rng = np.random.default_rng(seed)
    x = mdl.tensor(-1.2, dtype=np.float64, requires_grad=True)
    y = mdl.tensor(1.0, dtype=np.float64, requires_grad=True)
    optimizer = optimizer_class([x, y], **hyper)
    path = [(x.item(), y.item())]
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is one of the results
        for _ in range(steps):
            optimizer.zero_grad()
            rosenbrock(x, y).backward()
            if gradient_noise:
                x.grad = x.grad + gradient_noise * rng.normal()
                y.grad = y.grad + gradient_noise * rng.normal()
            optimizer.step()
            path.append((x.item(), y.item()))
            if not np.isfinite(path[-1]).all():
                break
    return np.array(path)


def distance_to_minimum(path):
    return float(np.hypot(*(path[-1] - 1)))


STEPS = pick(500, 2000)
too_big = descend(optim.GD, dict(lr=10 * GD_LR), STEPS)
RESULTS["rosenbrock_gd_10x_lr_finite"] = bool(np.isfinite(too_big[-1]).all())
print(f"GD with η = {10 * GD_LR:.4f}: " + (
    f"left the finite numbers after {len(too_big) - 1} steps"
    if not RESULTS["rosenbrock_gd_10x_lr_finite"]
    else f"{distance_to_minimum(too_big):.4f} from the minimum"))

ADAPTIVE_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
search = {}
for name, optimizer_class in (("AdaGrad", optim.Adagrad), ("RMSprop", optim.RMSprop),
                              ("Adam", optim.Adam)):
    search[name] = {lr: distance_to_minimum(descend(optimizer_class, dict(lr=lr), STEPS))
                    for lr in ADAPTIVE_GRID}
    print(f"{name:>8}, distance after {STEPS} steps for η = " + ", ".join(
        f"{lr:g}: {distance:.3g}" for lr, distance in search[name].items()))
best_lr = {name: min(distances, key=lambda lr: np.nan_to_num(distances[lr], nan=np.inf))
           for name, distances in search.items()}
RESULTS["rosenbrock_lr_search"] = {name: {str(lr): d for lr, d in distances.items()}
                                   for name, distances in search.items()}
RESULTS["rosenbrock_lr"] = dict(best_lr)

ROSENBROCK_OPTIMIZERS = {  # name: (class, hyper-parameters)
    "GD": (optim.GD, dict(lr=GD_LR)),
    "SGD (noisy gradient)": (optim.SGD, dict(lr=GD_LR)),
    "momentum": (optim.SGD, dict(lr=GD_LR, momentum=0.9)),
    "Nesterov": (optim.SGD, dict(lr=GD_LR, momentum=0.9, nesterov=True)),
    "AdaGrad": (optim.Adagrad, dict(lr=best_lr["AdaGrad"])),
    "RMSprop": (optim.RMSprop, dict(lr=best_lr["RMSprop"])),
    "Adam": (optim.Adam, dict(lr=best_lr["Adam"])),
}
paths = {}
for name, (optimizer_class, hyper) in ROSENBROCK_OPTIMIZERS.items():
    noise = 20.0 if name.startswith("SGD") else 0.0
    paths[name] = descend(optimizer_class, hyper, STEPS, gradient_noise=noise)
    print(f"{name:>22} (η = {hyper['lr']:.3g}): after {STEPS} steps at "
          f"({paths[name][-1][0]:+.3f}, {paths[name][-1][1]:+.3f}), "
          f"{distance_to_minimum(paths[name]):.4f} from the minimum")
RESULTS["rosenbrock_steps"] = STEPS
RESULTS["rosenbrock_final_distance"] = {name: distance_to_minimum(path)
                                        for name, path in paths.items()}

# %% [markdown]
# One panel per optimizer, so that no path hides another, and last all the distances to
# the minimum on one log scale.

# %%
fig, axes = plt.subplots(2, 4, figsize=(18, 8.5))
for ax, (name, path) in zip(axes.flat, paths.items()):
    viz.plot_loss_surface(lambda x, y: rosenbrock(x, y), (-2, 2), (-1, 3),
                          paths={name: path}, minimum=(1, 1), log_levels=True,
                          labels=("x", "y"), ax=ax,
                          title=f"{name}, η = {ROSENBROCK_OPTIMIZERS[name][1]['lr']:.2g}")
    ax.get_legend().remove()  # the title says whose path it is; the star is the minimum
distance_ax = axes.flat[-1]
for name, path in paths.items():
    distance_ax.plot(np.hypot(path[:, 0] - 1, path[:, 1] - 1), label=name)
distance_ax.set_yscale("log")
distance_ax.set_xlabel("step")
distance_ax.set_ylabel("distance to the minimum (1, 1)")
distance_ax.set_title("all seven")
distance_ax.legend(fontsize=7)
fig.suptitle(f"{STEPS} steps on the Rosenbrock function from (-1.2, 1)")
fig.tight_layout()
save(fig, "03_rosenbrock_paths.png")

# %% [markdown]
# What to see in the pictures:
#
# - **GD** drops into the valley in a few steps, then crawls along its floor: the
#   gradient there is tiny, and η cannot be raised much: the limit 2 / λ_max is only
#   twice the η used, and with ten times more GD leaves the finite numbers within a few
#   steps (printed above).
# - **SGD**'s noise makes it wander; where the gradient is small the noise is all there
#   is, so it cannot settle.
# - **Momentum** and **Nesterov** use the same η as GD, but the velocity builds up along
#   the floor, where successive gradients agree, and cancels across it, where they flip
#   sign. Same cost per step, far further along.
# - **AdaGrad**, **RMSprop** and **Adam** divide each coordinate's step by the size of its
#   recent gradients, so the flat floor gets big steps and the steep walls small ones.
#   AdaGrad's sum of squares only grows, so it slows down for good; RMSprop forgets, and
#   Adam adds momentum on top. Look at the search, too: a learning rate one step of the
#   grid away from the best can end far from the minimum.
#
# ## 2. A real model: a small network on the digits
#
# A Rosenbrock valley is a caricature. Here is the real thing: a network with one hidden
# layer of 32 units classifies the 8×8 digits (1,797 images, 75% for training). Every
# optimizer starts from the same random weights and sees the data in the same order. GD
# takes one step per pass over the data (an *epoch*); the others take one per batch of
# 32 images, 43 per epoch.
#
# Learning rates: for each optimizer we try three values a factor 2 or 3 apart around its
# usual range and keep the one with the lowest training loss after the same number of
# epochs (the run prints the search). Comparing optimizers each at someone else's
# learning rate says more about the learning rate than about the optimizer.

# %%
images, labels = load_digits()
X_train, X_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25,
                                                    stratify=labels, random_state=0)
print(f"{len(X_train)} training and {len(X_test)} test images")

NETWORK_OPTIMIZERS = {  # name: (class, other hyper-parameters, the learning rates tried)
    "GD (full batch)": (optim.GD, {}, (0.5, 1.0, 2.0)),
    "SGD": (optim.SGD, {}, (0.03, 0.1, 0.3)),
    "momentum": (optim.SGD, dict(momentum=0.9), (0.01, 0.03, 0.1)),
    "Nesterov": (optim.SGD, dict(momentum=0.9, nesterov=True), (0.01, 0.03, 0.1)),
    "AdaGrad": (optim.Adagrad, {}, (0.03, 0.1, 0.3)),
    "RMSprop": (optim.RMSprop, {}, (0.001, 0.003, 0.01)),
    "Adam": (optim.Adam, {}, (0.001, 0.003, 0.01)),
}


def make_network():
    mdl.manual_seed(0)  # the same starting weights for every optimizer
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def train(optimizer_class, hyper, epochs, batch_size):
    """Train a fresh network; returns it and the mean training loss of each epoch."""
    network = make_network()
    optimizer = optimizer_class(network.parameters(), **hyper)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True,
                        seed=0)
    epoch_losses = []
    for _ in range(epochs):
        total = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(network(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(inputs)
        epoch_losses.append(total / len(X_train))
    return network, epoch_losses


def accuracy(network, X, y):
    with mdl.no_grad():
        return float((network(mdl.tensor(X)).numpy().argmax(axis=1) == y).mean())


# One untimed epoch of each kind first: the first calls of minidl's kernels compile them
# (tutorial 09), a one-off cost that would otherwise be charged to the first optimizer.
train(optim.GD, dict(lr=0.5), 1, len(X_train))
train(optim.Adam, dict(lr=0.001), 1, 32)

EPOCHS = pick(8, 40)
curves, RESULTS["digits_test_accuracy"], RESULTS["digits_seconds"] = {}, {}, {}
RESULTS["digits_lr"], RESULTS["digits_lr_search"] = {}, {}
for name, (optimizer_class, hyper, rates) in NETWORK_OPTIMIZERS.items():
    batch_size = len(X_train) if name.startswith("GD") else 32
    runs = {lr: timed(train, optimizer_class, dict(hyper, lr=lr), EPOCHS, batch_size)
            for lr in rates}
    final_loss = {lr: run[0][1][-1] for lr, run in runs.items()}
    lr = min(rates, key=lambda rate: np.nan_to_num(final_loss[rate], nan=np.inf))
    (network, curves[name]), seconds = runs[lr]
    RESULTS["digits_lr_search"][name] = {str(rate): loss for rate, loss in final_loss.items()}
    RESULTS["digits_lr"][name] = lr
    RESULTS["digits_test_accuracy"][name] = accuracy(network, X_test, y_test)
    RESULTS["digits_seconds"][name] = seconds
    print(f"{name:>16}: final training loss for η = " + ", ".join(
        f"{rate:g}: {loss:.4f}" for rate, loss in final_loss.items()) + f"; kept η = {lr:g}")
RESULTS["digits_epochs"] = EPOCHS
RESULTS["digits_final_train_loss"] = {name: curve[-1] for name, curve in curves.items()}
RESULTS["digits_train_loss_curves"] = curves

print(f"\n| optimizer | η | training loss after {EPOCHS} epochs | test accuracy | "
      f"seconds per epoch |\n|---|---:|---:|---:|---:|")
for name in NETWORK_OPTIMIZERS:
    print(f"| {name} | {RESULTS['digits_lr'][name]:g} | "
          f"{RESULTS['digits_final_train_loss'][name]:.4f} | "
          f"{RESULTS['digits_test_accuracy'][name]:.3f} | "
          f"{RESULTS['digits_seconds'][name] / EPOCHS:.3f} |")

fig = viz.plot_curves(curves, xlabel="epoch", ylabel="mean training loss (cross-entropy)",
                      logy=True, start=1,
                      title=f"A 64-32-10 network on the digits, {EPOCHS} epochs")
save(fig, "03_digits_training_loss.png")

# %% [markdown]
# Reading the results:
#
# - **GD** is hopeless *per epoch*: one step per pass over the data. On data this small
#   each of its steps is cheap (the last column: one product of the whole data set with
#   the weights beats many small ones), but with a million images each step would read
#   all million.
# - **SGD** makes many noisy steps in the same pass and gets far further; **momentum**
#   and **Nesterov** speed it up once more.
# - **Adam** and **RMSprop**, at their best η, end below plain SGD too. Their appeal is
#   that one η suits all the parameters, however different the scales of their
#   gradients. (Adam's usual default η = 0.001 is on the timid side for a network this
#   small: the search shows it.) **AdaGrad** is quick in the first epoch and then slows
#   as its sum of squares grows, ending behind Adam.
# - Where the best η is the largest of its three, a larger one may be better still: the
#   search only says which of the three is best.
# - Test accuracies of the mini-batch optimizers end up close together. Optimizers
#   mostly decide how *fast* you get to a good model (and how much tuning η needs),
#   less often how good it is in the end.
#
# Try it: double each learning rate and run again. Which ones tolerate it?
#
# ## What to remember
#
# - All of them follow the gradient; they differ in what they remember of past
#   gradients (a velocity, a per-coordinate scale, or both).
# - Momentum fixes slow progress along flat directions of a narrow valley at no cost.
# - Adaptive methods give each parameter its own step size; Adam = momentum + RMSprop.
# - Compare optimizers at their own best learning rate, and per unit of work (epochs),
#   not per step.

# %%
report("03", RESULTS)
