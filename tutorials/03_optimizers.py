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
import matplotlib.pyplot as plt
import numpy as np

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim, viz
from minidl.data import DataLoader, TensorDataset, load_digits, train_test_split
from _common import expected_run_time, pick, report, save, timed

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
# Learning rates: GD, SGD, momentum and Nesterov share η = 0.001 (larger makes GD
# unstable on the steep walls), so any difference among them comes from the method. The
# adaptive ones work on another scale (their step is about η per coordinate), so each got
# the best of η ∈ {0.03, 0.1, 0.3, 1, 3} after 2,000 steps. "SGD" here is GD with random
# noise added to every gradient, standing in for the noise of mini-batches (this function
# has no data to sample).

# %%
def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


ROSENBROCK_OPTIMIZERS = {  # name: (class, hyper-parameters)
    "GD": (optim.GD, dict(lr=1e-3)),
    "SGD (noisy gradient)": (optim.SGD, dict(lr=1e-3)),
    "momentum": (optim.SGD, dict(lr=1e-3, momentum=0.9)),
    "Nesterov": (optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
    "AdaGrad": (optim.Adagrad, dict(lr=1.0)),
    "RMSprop": (optim.RMSprop, dict(lr=1e-2)),
    "Adam": (optim.Adam, dict(lr=0.1)),
}


def descend(optimizer_class, hyper, steps, gradient_noise=0.0, seed=0):
    """Minimize Rosenbrock from (-1.2, 1); returns the (steps + 1, 2) path."""
    rng = np.random.default_rng(seed)
    x = mdl.tensor(-1.2, dtype=np.float64, requires_grad=True)
    y = mdl.tensor(1.0, dtype=np.float64, requires_grad=True)
    optimizer = optimizer_class([x, y], **hyper)
    path = [(x.item(), y.item())]
    for _ in range(steps):
        optimizer.zero_grad()
        rosenbrock(x, y).backward()
        if gradient_noise:
            x.grad = x.grad + gradient_noise * rng.normal()
            y.grad = y.grad + gradient_noise * rng.normal()
        optimizer.step()
        path.append((x.item(), y.item()))
    return np.array(path)


STEPS = pick(500, 2000)
paths = {}
for name, (optimizer_class, hyper) in ROSENBROCK_OPTIMIZERS.items():
    noise = 20.0 if name.startswith("SGD") else 0.0
    paths[name] = descend(optimizer_class, hyper, STEPS, gradient_noise=noise)
    distance = np.hypot(*(paths[name][-1] - 1))
    print(f"{name:>22}: after {STEPS} steps at ({paths[name][-1][0]:+.3f}, "
          f"{paths[name][-1][1]:+.3f}), {distance:.4f} from the minimum")
RESULTS["rosenbrock_steps"] = STEPS
RESULTS["rosenbrock_final_distance"] = {name: float(np.hypot(*(path[-1] - 1)))
                                        for name, path in paths.items()}

# %%
families = {"the gradient-descent family": ["GD", "SGD (noisy gradient)", "momentum", "Nesterov"],
            "adaptive step sizes": ["AdaGrad", "RMSprop", "Adam"]}
fig, axes = plt.subplots(1, 2, figsize=(13, 5))
for ax, (title, names) in zip(axes, families.items()):
    viz.plot_loss_surface(lambda x, y: rosenbrock(x, y), (-2, 2), (-1, 3),
                          paths={name: paths[name] for name in names}, minimum=(1, 1),
                          log_levels=True, labels=("x", "y"), title=title, ax=ax)
save(fig, "03_rosenbrock_paths.png")

fig, ax = plt.subplots(figsize=(6, 4))
for name, path in paths.items():
    ax.plot(np.hypot(path[:, 0] - 1, path[:, 1] - 1), label=name)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("distance to the minimum (1, 1)")
ax.legend(fontsize=8)
save(fig, "03_rosenbrock_distance.png")

# %% [markdown]
# What to see in the pictures:
#
# - **GD** drops into the valley in a few steps, then crawls along its floor: the
#   gradient there is tiny, and η cannot be raised without bouncing off the steep walls.
# - **SGD**'s noise makes it wander; near the minimum the noise is all there is, so it
#   jitters around it instead of settling.
# - **Momentum** and **Nesterov** use the same η as GD, but the velocity builds up along
#   the floor, where successive gradients agree, and cancels across it, where they flip
#   sign. Same cost per step, far further along.
# - **AdaGrad**, **RMSprop** and **Adam** divide each coordinate's step by the size of its
#   recent gradients, so the flat floor gets big steps and the steep walls small ones.
#   AdaGrad's sum of squares only grows, so it slows down for good; RMSprop forgets, and
#   Adam adds momentum on top.
#
# ## 2. A real model: a small network on the digits
#
# A Rosenbrock valley is a caricature. Here is the real thing: a network with one hidden
# layer of 32 units classifies the 8×8 digits (1,797 images, 75% for training). Every
# optimizer starts from the same random weights and sees the data in the same order. GD
# takes one step per pass over the data (an *epoch*); the others take one per batch of
# 32 images, 43 per epoch.
#
# Learning rates: for each optimizer we tried three values a factor 3 apart around its
# usual range (GD 0.5, 1, 2; SGD 0.05, 0.1, 0.3; momentum and Nesterov 0.01, 0.03, 0.1;
# AdaGrad 0.03, 0.1, 0.3; RMSprop and Adam 0.001, 0.003, 0.01), after 8 and after 40
# epochs, and kept the best. Comparing optimizers each at someone else's learning rate
# says more about the learning rate than about the optimizer.

# %%
images, labels = load_digits()
X_train, X_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25,
                                                    stratify=labels, random_state=0)
print(f"{len(X_train)} training and {len(X_test)} test images")

NETWORK_OPTIMIZERS = {  # each at the best of three learning rates (see the text)
    "GD (full batch)": (optim.GD, dict(lr=0.5)),
    "SGD": (optim.SGD, dict(lr=0.3)),
    "momentum": (optim.SGD, dict(lr=0.1, momentum=0.9)),
    "Nesterov": (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "AdaGrad": (optim.Adagrad, dict(lr=0.1)),
    "RMSprop": (optim.RMSprop, dict(lr=0.01)),
    "Adam": (optim.Adam, dict(lr=0.01)),
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


EPOCHS = pick(8, 40)
curves, RESULTS["digits_test_accuracy"], RESULTS["digits_seconds"] = {}, {}, {}
for name, (optimizer_class, hyper) in NETWORK_OPTIMIZERS.items():
    batch_size = len(X_train) if name.startswith("GD") else 32
    (network, curves[name]), seconds = timed(train, optimizer_class, hyper, EPOCHS, batch_size)
    RESULTS["digits_test_accuracy"][name] = accuracy(network, X_test, y_test)
    RESULTS["digits_seconds"][name] = seconds
    print(f"{name:>16}: final training loss {curves[name][-1]:.4f}, "
          f"test accuracy {RESULTS['digits_test_accuracy'][name]:.3f}, {seconds:.2f} s")
RESULTS["digits_epochs"] = EPOCHS
RESULTS["digits_final_train_loss"] = {name: curve[-1] for name, curve in curves.items()}

fig = viz.plot_curves(curves, xlabel="epoch", ylabel="mean training loss (cross-entropy)",
                      logy=True, start=1,
                      title=f"A 64-32-10 network on the digits, {EPOCHS} epochs")
save(fig, "03_digits_training_loss.png")

# %% [markdown]
# Reading the results:
#
# - **GD** is hopeless *per epoch*: one step per pass over the data. On a data set this
#   small its steps are cheap, but with a million images each one would take minutes.
# - **SGD** makes 43 noisy steps in the same pass and gets far further; **momentum** and
#   **Nesterov** speed it up once more.
# - **Adam** and **RMSprop**, at their best η, are as fast as momentum. Their appeal is
#   that one η suits all the parameters, however different the scales of their
#   gradients. (Adam's usual default η = 0.001 is on the timid side for a network this
#   small: try it.) **AdaGrad** is good early and then slows as its sum of squares grows.
# - Test accuracies end up close together. Optimizers mostly decide how *fast* you get
#   to a good model (and how much tuning η needs), less often how good it is in the end.
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
