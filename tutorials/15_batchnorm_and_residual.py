# %% [markdown]
# # 15 · Why can't we just stack more layers? Batch norm and residual connections
#
# A network with more layers can compute more things, so why not use 30 of them? Because
# it has to be *trained*, and gradient descent trains a layer only with the gradient that
# reaches it, through every layer above. This tutorial builds the same network five ways,
# from 2 to 32 hidden layers, and measures what goes wrong with depth and what fixes it:
#
# | network | each hidden layer |
# |---|---|
# | plain | Linear → ReLU, with PyTorch's default initialization |
# | plain, He init | the same, with weights drawn to keep the signal's size (He et al. 2015) |
# | batch norm | Linear → BatchNorm → ReLU (Ioffe and Szegedy 2015) |
# | residual | x + Linear(ReLU(Linear(ReLU(x)))): two layers and a shortcut (He et al. 2016) |
# | residual + batch norm | the same with BatchNorm before each ReLU: a pre-activation ResNet block |
#
# For each we look at the network before training (how big the signal stays going up, how
# big the gradient stays coming down, layer by layer), then train it and compare training
# curves and test accuracy against depth. The data are the 8×8 digits: small enough that
# dozens of networks train in a few minutes, so that depth is the only thing that changes.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import minidl as mdl
import minidl.functional as F
from minidl import nn, optim
from minidl.data import load_digits, train_test_split
from minidl.train import LearningRateScheduler, fit, predict
from _common import expected_run_time, pick, report, save, timed

expected_run_time("15")
RESULTS = {}

# %% [markdown]
# ## 1. The data
#
# The 1,797 digits, scaled to [0, 1], with a stratified quarter set aside for testing
# (the split of tutorial 05). Nothing here is chosen by looking at the test set: every
# network gets the same recipe, fixed in advance.

# %%
images, labels = load_digits()
X_train, X_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25,
                                                    stratify=labels, random_state=0)
print(f"{len(X_train)} training images, {len(X_test)} test images, 64 pixels each")

# %% [markdown]
# ## 2. Five ways to build a deep network
#
# Every network has `depth` hidden layers of 64 units, each a `Linear(64, 64)` (the
# 64 pixels are 64 numbers too, so even the first one is 64 → 64), and one
# `Linear(64, 10)` for the ten scores. The five kinds differ only in what surrounds
# those weight matrices.
#
# **Batch norm** standardizes each of the 64 units over the batch: during training it
# subtracts the batch's mean and divides by its standard deviation, then multiplies by
# a learned weight (γ, starting at 1) and adds a learned bias (β, starting at 0). Whatever
# the layers below do to the scale of the numbers, the next layer receives numbers of a
# fixed size. At test time there may be a single image, so `BatchNorm1d` then uses
# running averages of the means and variances seen in training; `model.eval()` switches
# to them (`fit` and `predict` do it for us).
#
# **A residual block** computes x + F(x): its two layers only have to learn a
# *correction* F(x) to their input, and the input itself passes through unchanged. Two
# layers make one block, so a residual network of depth 32 has 16 blocks and exactly
# the weight matrices of a plain one. In the block with batch norm, each `Linear` is
# preceded by BatchNorm → ReLU (the "pre-activation" block of He et al. 2016), and the
# shortcut x carries no normalization at all.

# %%
WIDTH = 64
KINDS = ("plain", "plain, He init", "batch norm", "residual", "residual + batch norm")


def norm_or_nothing(batch_norm):
    return nn.BatchNorm1d(WIDTH) if batch_norm else nn.Identity()


class PlainLayer(nn.Module):
    """Linear -> BatchNorm (if asked) -> ReLU."""

    def __init__(self, batch_norm):
        super().__init__()
        self.linear = nn.Linear(WIDTH, WIDTH)
        self.norm = norm_or_nothing(batch_norm)

    def forward(self, x):
        return F.relu(self.norm(self.linear(x)))


class ResidualBlock(nn.Module):
    """x + Linear(ReLU(Linear(ReLU(x)))), with BatchNorm before each ReLU if asked."""

    def __init__(self, batch_norm):
        super().__init__()
        self.norm1, self.linear1 = norm_or_nothing(batch_norm), nn.Linear(WIDTH, WIDTH)
        self.norm2, self.linear2 = norm_or_nothing(batch_norm), nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        correction = self.linear1(F.relu(self.norm1(x)))
        correction = self.linear2(F.relu(self.norm2(correction)))
        return x + correction


def he_init(module):
    """Weights from N(0, 2 / fan_in), biases 0: the ReLU's halving undone at every layer."""
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)


def build(kind, depth):
    """A network of `kind` with `depth` hidden Linear(64, 64) layers, then Linear(64, 10)."""
    batch_norm = "batch norm" in kind
    if kind.startswith("residual"):
        body = [ResidualBlock(batch_norm) for _ in range(depth // 2)]
        top = [norm_or_nothing(batch_norm), nn.ReLU()]  # a block ends on a Linear
    else:
        body, top = [PlainLayer(batch_norm) for _ in range(depth)], []
    model = nn.Sequential(nn.Sequential(*body), *top, nn.Linear(WIDTH, 10))
    if kind == "plain, He init":
        model[0].apply(he_init)
    return model


def hidden_linears(model):
    """The model's Linear(64, 64) layers, from the input up."""
    return [m for m in model[0].modules() if isinstance(m, nn.Linear)]


DEEP = 32
for kind in KINDS:
    model = build(kind, DEEP)
    assert len(hidden_linears(model)) == DEEP
    RESULTS.setdefault("parameters_at_depth_32", {})[kind] = model.num_parameters()
    print(f"{kind:<22} depth {DEEP}: {model.num_parameters():,} parameters")

# %% [markdown]
# Batch norm adds 128 numbers per normalized layer (γ and β for 64 units); the
# shortcuts add none.
#
# ## 3. Before training: the signal going up, the gradient coming down
#
# Take one batch of 256 training images and a freshly initialized network of depth 32.
# Going up, we record the size of what each layer (or block) hands to the next, its
# root mean square; a *forward hook* (`register_forward_hook`) on each one sees its
# output. Coming down, after `loss.backward()`, we take the norm of the gradient of each
# of the 32 weight matrices: how hard gradient descent will push each layer.
#
# Why the plain network is in trouble: PyTorch draws a `Linear`'s weights from
# U(-1/√n, 1/√n) for n inputs, of variance 1/(3n). A layer's output sums n products, so
# its mean square is n · 1/(3n) = 1/3 of the mean square of its inputs, and the ReLU that
# follows zeroes half of it: each layer shrinks the mean square about 6-fold, the root
# mean square about √6 ≈ 2.4-fold (until the biases, which do not shrink, are all that is
# left). The gradient coming down goes through the same matrices, transposed, and the
# same ReLUs, and shrinks the same way. He initialization draws the weights with variance
# 2/n instead, which makes that factor 1.

# %%
probe = np.random.default_rng(0).choice(len(X_train), 256, replace=False)
x_probe, y_probe = mdl.tensor(X_train[probe]), mdl.tensor(y_train[probe])


def signal_and_gradient(model):
    """RMS of each hidden layer's (block's) output, and the gradient norm of each weight."""
    sizes = []
    handles = [layer.register_forward_hook(
        lambda layer, args, output: sizes.append(float(np.sqrt(np.mean(output.numpy() ** 2)))))
        for layer in model[0]]
    F.cross_entropy(model(x_probe), y_probe).backward()
    for handle in handles:
        handle.remove()
    gradients = [float(np.linalg.norm(linear.weight.grad.numpy()))
                 for linear in hidden_linears(model)]
    return sizes, gradients


signal, gradient, factor = {}, {}, {}
for kind in KINDS:
    mdl.manual_seed(0)
    signal[kind], gradient[kind] = signal_and_gradient(build(kind, DEEP))
    first_to_last = gradient[kind][0] / gradient[kind][-1]
    factor[kind] = first_to_last ** (1 / (DEEP - 1))
    print(f"{kind:<22} output RMS: layer 1 {signal[kind][0]:.2g}, top {signal[kind][-1]:.2g};"
          f"  gradient norm: layer 1 {gradient[kind][0]:.2g}, layer {DEEP} "
          f"{gradient[kind][-1]:.2g} (ratio {first_to_last:.1e}, a factor of "
          f"{factor[kind]:.2f} per layer going down)")
RESULTS["signal_rms_at_init"] = signal
RESULTS["gradient_norm_at_init"] = gradient
RESULTS["gradient_factor_per_layer"] = factor

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
for kind in KINDS:
    step = DEEP // len(signal[kind])  # a residual block holds two layers
    left.plot(np.arange(1, len(signal[kind]) + 1) * step, signal[kind], marker=".", label=kind)
    right.plot(np.arange(1, DEEP + 1), gradient[kind], marker=".", label=kind)
for ax in (left, right):
    ax.set_yscale("log")
    ax.set_xlabel("weight layer (1 = next to the input)")
left.set_ylabel("root mean square of the output")
left.set_title(f"Going up: the signal, depth {DEEP}, before training")
right.set_ylabel("‖∂loss/∂W‖ of the layer's weights")
right.set_title("Coming down: the gradient of each layer")
right.legend(fontsize=8)
fig.tight_layout()
save(fig, "15_signal_and_gradient.png")

# %% [markdown]
# On a log scale a constant factor per layer is a straight line, and the printout gives
# each line's slope as a factor per layer (the tests check the ranges quoted here):
#
# - **plain**: the signal falls for the first layers, until only the biases' noise is
#   left, and the gradient shrinks by a factor of about 2 per layer on its way down (√6 ≈
#   2.4 was the estimate): the first layer gets less than a billionth of the gradient of
#   the last. Whatever the learning rate, the first layers will not move, and what they
#   pass on is drowned in the biases' noise.
# - **plain, He init**: the gradient stays level, give or take the randomness of 64
#   units, and the signal stays within a small factor of its size at the first layer.
#   The initialization was the whole problem, at least before training.
# - **batch norm**: the signal is brought back to the same size at every layer (a ReLU of
#   numbers of mean 0 and variance 1 has a root mean square of √½ ≈ 0.71), but the
#   gradient *grows* on its way down, by a steady factor between 1.1 and 1.3 per layer,
#   and is hundreds of times larger at the first layer than at the last. This is no
#   accident of this network: Yang et al. (2019) showed that batch norm itself makes
#   gradients explode with depth in networks without shortcuts, whatever the
#   initialization.
# - **residual**: the output of a block is x + F(x), so ∂output/∂x = I + ∂F/∂x. The
#   identity carries the gradient down unchanged, whatever the branch does, and the
#   gradient is about the same size at every layer. The signal grows a little, block
#   after block, as each adds its correction.
# - **residual + batch norm**: each block adds a normalized correction, so the signal
#   grows steadily; the batch norms of the upper blocks divide by that larger size, which
#   lets the gradient grow gently on the way down (a few per cent per layer).
#
# ## 4. Training them
#
# Now the real test. Each kind, at each depth, is trained the same way: Adam starting
# from the usual learning rate of 10⁻³ (not tuned for any of them), lowered to 0 along a
# cosine over the epochs (so that the last epochs settle rather than jump about), batches
# of 64, the same number of epochs, the same initial seed. We keep the training loss of each epoch
# and, at the end, the test accuracy. A loss of ln 10 ≈ 2.30 means the network still
# guesses: ten equally likely digits.

# %%
DEPTHS = pick([4, 16], [2, 4, 8, 16, 32])
EPOCHS = pick(3, 15)


def train(kind, depth):
    mdl.manual_seed(0)
    model = build(kind, depth)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, X_train, y_train, epochs=EPOCHS,
                  batch_size=64, callbacks=[LearningRateScheduler(schedule)], verbose=False,
                  seed=0)
    predicted = predict(model, X_test, batch_size=len(X_test)).argmax(axis=1)
    return history["loss"], float(np.mean(predicted == y_test))


runs = {kind: {} for kind in KINDS}
for depth in DEPTHS:
    for kind in KINDS:
        (losses, accuracy), seconds = timed(train, kind, depth)
        runs[kind][depth] = dict(losses=losses, test_accuracy=accuracy,
                                 seconds_per_epoch=seconds / EPOCHS)
        print(f"depth {depth:2d}  {kind:<22} training loss {losses[0]:.3f} -> {losses[-1]:.3f}"
              f", test accuracy {accuracy:.3f}  ({seconds / EPOCHS:.2f} s per epoch)")
RESULTS["depths"], RESULTS["epochs"] = DEPTHS, EPOCHS
RESULTS["training"] = {kind: {str(depth): run for depth, run in by_depth.items()}
                       for kind, by_depth in runs.items()}

# %%
deepest = DEPTHS[-1]
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
for kind in KINDS:
    left.plot(np.arange(1, EPOCHS + 1), runs[kind][deepest]["losses"], marker=".", label=kind)
    right.plot(DEPTHS, [runs[kind][d]["test_accuracy"] for d in DEPTHS], marker="o",
               label=kind)
left.axhline(math.log(10), color="0.5", linestyle="--", linewidth=0.8)
left.text(1, math.log(10), "guessing (ln 10)", va="bottom", fontsize=8, color="0.4")
left.set_yscale("log")
left.set_xlabel("epoch")
left.set_ylabel("training loss (cross-entropy)")
left.set_title(f"Training {deepest} hidden layers")
right.axhline(0.1, color="0.5", linestyle="--", linewidth=0.8)
right.set_xscale("log", base=2)
right.set_xticks(DEPTHS, [str(d) for d in DEPTHS])
right.set_ylim(0, 1.02)
right.set_xlabel("hidden layers")
right.set_ylabel("test accuracy")
right.set_title(f"After {EPOCHS} epochs of Adam")
right.legend(fontsize=8, loc="lower left")
fig.tight_layout()
save(fig, "15_training_by_depth.png")

# %%
print(f"\ntest accuracy after {EPOCHS} epochs")
print(f"{'hidden layers':<24}" + "".join(f"{d:>7d}" for d in DEPTHS))
for kind in KINDS:
    print(f"{kind:<24}" + "".join(f"{runs[kind][d]['test_accuracy']:>7.3f}" for d in DEPTHS))
print(f"\ntraining loss of the last epoch")
for kind in KINDS:
    print(f"{kind:<24}" + "".join(f"{runs[kind][d]['losses'][-1]:>7.3f}" for d in DEPTHS))

# %% [markdown]
# What to look for in the tables and the figure (the lines printed below put your run's
# numbers on each point):
#
# - With the fewest layers every kind learns the digits: depth is what breaks things.
# - The **plain** network gets worse as it gets deeper, and at the greatest depth it is
#   stuck at a loss of ln 10: it guesses, as its vanishing gradient predicted, and no
#   amount of patience would help.
# - **He init** rescues it. In the full run it still learns at 32 layers, but its
#   training loss ends higher than at 16: the gradients were the right size at the start,
#   yet a deep plain stack remains harder to optimize. He et al. (2016) saw the same with
#   far bigger networks and called it the *degradation* problem: more layers gave a
#   *higher* training error.
# - **Batch norm** alone is among the best at a few layers, and fails when the network
#   is deep, as its exploding gradient suggested.
# - **Residual** networks train at the greatest depth about as well as at the smallest,
#   with the same weights and the same recipe: the shortcut is what made depth trainable.
#   Batch norm inside the blocks does not help here: the network is slower per epoch and
#   ends no better. Its great benefit in big convolutional networks, training with much
#   larger learning rates, is not something this small problem needs.
#
# Notice also what depth did *not* buy: no deep network clearly beats the best shallow
# one on these small images. Depth is worth having on hard problems (images of
# 224×224 pixels, long texts); residual connections are what make it affordable.

# %%
def what_the_run_shows():
    """The points above, each with this run's numbers."""
    accuracy = {kind: [runs[kind][d]["test_accuracy"] for d in DEPTHS] for kind in KINDS}
    last_loss = {kind: [runs[kind][d]["losses"][-1] for d in DEPTHS] for kind in KINDS}
    shallow, deep = DEPTHS[0], DEPTHS[-1]
    by_depth = lambda values: ", ".join(f"{v:.0%} at {d}" for v, d in zip(values, DEPTHS))
    at_shallow = [accuracy[kind][0] for kind in KINDS]
    lines = [f"with {shallow} hidden layers the five kinds reach {min(at_shallow):.0%} to "
             f"{max(at_shallow):.0%} of the test images",
             f"plain: {by_depth(accuracy['plain'])}; its last training loss at {deep} layers "
             f"is {last_loss['plain'][-1]:.3f} (guessing: ln 10 = {math.log(10):.3f})",
             f"plain, He init: {by_depth(accuracy['plain, He init'])}; training loss "
             + " -> ".join(f"{v:.3f}" for v in last_loss["plain, He init"])
             + " from the fewest layers to the most",
             f"batch norm: {by_depth(accuracy['batch norm'])}; training loss at {deep} layers "
             f"{last_loss['batch norm'][-1]:.3f}",
             f"residual: {by_depth(accuracy['residual'])}",
             f"residual + batch norm: {by_depth(accuracy['residual + batch norm'])}, at "
             f"{runs['residual + batch norm'][deep]['seconds_per_epoch'] / runs['residual'][deep]['seconds_per_epoch']:.1f}"
             f" times the residual network's time per epoch at {deep} layers",
             f"best test accuracy with {shallow} layers: {max(at_shallow):.1%}; with {deep}: "
             f"{max(accuracy[kind][-1] for kind in KINDS):.1%}"]
    print("\nwhat this run shows:")
    for line in lines:
        print(f"- {line}")


what_the_run_shows()

# %% [markdown]
# (Fast mode trains depths 4 and 16 for 3 epochs only: the plain network is stuck at
# ln 10 at 16 layers and the one with batch norm far behind, while the residual one is
# well on its way.)
#
# ## What to remember
#
# - A deep network is trained through a product of one Jacobian per layer. If each
#   shrinks the gradient (PyTorch's default init with ReLU: about 2 per layer), the first
#   layers never learn; initialization that preserves the variance (He) is the first fix.
# - Batch norm keeps the *signal* at a fixed size at every layer, but in a plain stack
#   it makes the gradient grow with depth: it is not, by itself, a licence to go deep.
# - A residual block computes x + F(x); its Jacobian is I + ∂F/∂x, so the gradient
#   reaches every layer, and 32 layers train like 4. This is why every deep network
#   today (ResNets, transformers: tutorial 08's encoder layer) has shortcuts.
# - Measure before you train: one forward and one backward pass with hooks show whether
#   a network's gradients can reach its first layers.

# %%
report("15", RESULTS)
