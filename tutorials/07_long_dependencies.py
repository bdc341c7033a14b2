# %% [markdown]
# # 07 · Why does a simple RNN forget, and how does an LSTM remember?
#
# A recurrent network reads a sequence one step at a time and carries a hidden state
# from step to step, so in principle it can remember anything it has read. In practice a
# plain RNN trained by gradient descent soon forgets. This tutorial measures why, on real
# text (Moby-Dick, bundled with minidl):
#
# 1. We set a task that needs memory: read a window of text and, at its end, say what
#    its **first** character was, k steps ago.
# 2. We measure how much the loss at the end of a window is moved by each input: the
#    gradient norm per time step. In a plain RNN it shrinks (or grows) geometrically
#    with the distance, the *vanishing* and *exploding* gradients; along the LSTM's cell
#    state it can stay put.
# 3. We train an RNN and two LSTMs on the task at growing lags k and plot accuracy
#    against k.
# 4. We make an RNN's gradients explode on purpose and tame them with gradient clipping.
#
# The full run trains more than a dozen networks, some on long windows (its measured time
# is printed first); `MINIDL_FAST=1` runs a smaller version of every step in a fraction
# of the time.

# %%
import os

# The matrices here are small: one BLAS thread does them fastest, and several threads on
# a busy machine wait on each other. BLAS reads its thread count when NumPy first loads
# it: set it first.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import math  # noqa: E402
import re  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
import minidl.functional as F  # noqa: E402
from minidl import nn, optim, viz  # noqa: E402
from minidl.data import CharVocab, load_char_corpus  # noqa: E402
from _common import expected_run_time, pick, report, save, timed  # noqa: E402

expected_run_time("07")

RESULTS = {}

# %% [markdown]
# ## 1. The text, as 27 symbols
#
# To keep the task about memory rather than spelling, the text is lower-cased and every
# run of characters that is not a letter becomes one space: 26 letters and the space.
# The first 90% of the book is for training, the last 10% for testing.

# %%
text = re.sub(r"[^a-z]+", " ", load_char_corpus().lower())
vocab = CharVocab(text)
codes = vocab.encode(text)
split = int(0.9 * len(codes))
train_codes, test_codes = codes[:split], codes[split:]
print(f"{len(codes):,} characters, {vocab.size} symbols: {''.join(vocab.itos)!r}")
print(f"training text starts: {vocab.decode(train_codes[:70])!r}")

# %% [markdown]
# ## 2. A task that needs memory
#
# Cut a random window of k + 1 characters out of the text. The network reads all of
# them; after the last one it must name the first. Between seeing that character and
# being asked about it, the network reads k others, so it has to keep it in its hidden
# state for k steps.
#
# Nearby characters in English depend on each other, so a network that only remembers
# the last few characters can still guess the first one for small k. For large k the
# last characters say almost nothing about the first, and the best guess without memory
# is the most common symbol, the space: that is the *chance level* below.

# %%
def windows(source, count, length, rng):
    """`count` random windows of `length` consecutive characters of `source`."""
    starts = rng.integers(0, len(source) - length, count)
    return source[starts[:, None] + np.arange(length)]


chance = np.bincount(test_codes, minlength=vocab.size).max() / len(test_codes)
example = windows(test_codes, 1, 21, np.random.default_rng(1))[0]
print(f"window of k = 20: {vocab.decode(example)!r} -> answer {vocab.decode(example[:1])!r}")
print(f"chance level (always say the most common symbol, the space): {chance:.3f}")
RESULTS["chance_accuracy"] = chance

# %% [markdown]
# The model: each character becomes a learned vector of 16 numbers (an embedding), the
# recurrent layer reads the vectors, and a linear layer turns its last hidden state into
# 27 scores, one per symbol. The batches are (windows, characters, features), so the
# recurrent layers are built with `batch_first=True` (PyTorch's default puts time first).

# %%
HIDDEN = 64


class FirstCharacter(nn.Module):
    """Characters -> embeddings -> RNN or LSTM -> last hidden state -> 27 scores."""

    def __init__(self, recurrent_layer):
        super().__init__()
        self.embed = nn.Embedding(vocab.size, 16)
        self.recurrent = recurrent_layer
        self.head = nn.Linear(HIDDEN, vocab.size)

    def forward(self, characters):
        outputs, _ = self.recurrent(self.embed(characters))
        return self.head(outputs[:, -1])


for name, layer in (("RNN", nn.RNN(16, HIDDEN, batch_first=True)),
                    ("LSTM", nn.LSTM(16, HIDDEN, batch_first=True))):
    model = FirstCharacter(layer)
    RESULTS.setdefault("parameters", {})[name] = model.num_parameters()
    print(f"{name}: {model.num_parameters():,} parameters "
          f"(recurrent layer {layer.num_parameters():,})")

# %% [markdown]
# The LSTM has four times the recurrent weights of the RNN: one set per gate.
#
# ## 3. How far back does the gradient reach?
#
# A plain RNN computes h_t = tanh(W_ih x_t + W_hh h_{t-1} + b). By the chain rule the
# loss L at the last step T reaches the input at step t through every step in between:
#
#   ∂L/∂h_t = ∂L/∂h_T · J_T · J_{T-1} ⋯ J_{t+1},
#   J_s = ∂h_s/∂h_{s-1} = diag(1 - h_s²) W_hh
#
# a product of T - t matrices. If they shrink vectors (the largest |eigenvalue| of W_hh,
# its *spectral radius* ρ, below about 1, and tanh' = 1 - h² ≤ 1 only shrinks more)
# the product decays geometrically: the gradient *vanishes*, and the far past gets no
# say in learning. If ρ is well above 1 the product can grow geometrically: it
# *explodes*.
#
# The LSTM keeps a second state, the cell c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, where the
# forget gate f_t = sigmoid(...) is between 0 and 1. Along the cell the step-to-step
# derivative is ∂c_t/∂c_{t-1} = diag(f_t): no matrix, no tanh. Where f_t ≈ 1 the
# gradient passes unchanged. At initialization, though, the gate's input is near 0 and
# f_t ≈ sigmoid(0) = 0.5, which halves the gradient at every step. A common fix
# (Gers et al. 2000, Jozefowicz et al. 2015) is to start the forget gate's bias at a
# positive value; we use 3, so f_t ≈ sigmoid(3) = 0.95.
#
# We measure ‖∂L/∂x_t‖ for every step t of 80-character windows (the norm over a batch
# of 32 windows and the 16 features) for five untrained models:
#
# - the RNN as initialized by default (PyTorch's U(-1/√H, 1/√H); the run prints its ρ),
# - the RNN with W_hh drawn from N(0, g²/H), whose spectral radius is about g, for
#   g = 1 and g = 3,
# - the LSTM as initialized by default, and with its forget gate opened.
#
# The vectors x_t are made inside the model, in the middle of the graph. To see their
# gradient we put a *backward hook* on the recurrent layer, as one would in PyTorch:
# `register_full_backward_hook(hook)` has `hook(layer, grad_input, grad_output)` called
# during `loss.backward()`, once the gradients with respect to the layer's inputs are
# known. grad_input[0] is ∂L/∂x, every step at once, of shape (windows, steps, features).

# %%
def rnn_with_gain(gain):
    """An RNN whose W_hh is drawn from N(0, gain²/H): spectral radius about `gain`."""
    layer = nn.RNN(16, HIDDEN, batch_first=True)
    nn.init.normal_(layer.weight_hh_l0, 0.0, gain / math.sqrt(HIDDEN))
    return layer


def lstm_with_open_forget_gate(bias=3.0):
    """An LSTM whose forget gates start at sigmoid(bias) instead of sigmoid(0) = 0.5."""
    layer = nn.LSTM(16, HIDDEN, batch_first=True)
    rows = slice(HIDDEN, 2 * HIDDEN)  # gate order i, f, g, o: the second block is f
    layer.bias_ih_l0.data[rows] = bias
    layer.bias_hh_l0.data[rows] = 0.0
    return layer


def spectral_radius(layer):
    return float(np.abs(np.linalg.eigvals(layer.weight_hh_l0.numpy())).max())


def gradient_per_step(model, characters, targets):
    """‖∂L/∂x_t‖ for each step t, listed from the last step (distance 0) backwards."""
    seen = []
    hook = model.recurrent.register_full_backward_hook(
        lambda layer, grad_input, grad_output: seen.append(grad_input[0].numpy()))
    F.cross_entropy(model(characters), targets).backward()
    hook.remove()
    gradient, = seen   # called once: one backward through the layer
    norms = np.sqrt((gradient.astype(np.float64) ** 2).sum(axis=(0, 2)))
    return norms[::-1]


MAKERS = {
    "RNN, default init": lambda: nn.RNN(16, HIDDEN, batch_first=True),
    "RNN, gain 1": lambda: rnn_with_gain(1.0),
    "RNN, gain 3": lambda: rnn_with_gain(3.0),
    "LSTM, default init": lambda: nn.LSTM(16, HIDDEN, batch_first=True),
    "LSTM, forget gate open": lambda: lstm_with_open_forget_gate(),
}
LENGTH = 80
probe = windows(test_codes, 32, LENGTH, np.random.default_rng(2))
profiles = {}
for name, make in MAKERS.items():
    mdl.manual_seed(0)
    model = FirstCharacter(make())
    profiles[name] = gradient_per_step(model, mdl.tensor(probe), mdl.tensor(probe[:, 0]))
    radius = (f"spectral radius {spectral_radius(model.recurrent):.2f}, "
              if name.startswith("RNN") else "")
    ratio = profiles[name][-1] / profiles[name][0]
    print(f"{name:<24}{radius}gradient {LENGTH - 1} steps back / at the last step: "
          f"{ratio:.1e}, a factor of {ratio ** (1 / (LENGTH - 1)):.2f} per step")
RESULTS["gradient_ratio_far_to_near"] = {
    name: float(norms[-1] / norms[0]) for name, norms in profiles.items()}

fig = viz.plot_curves(profiles, xlabel="steps between the input x_t and the loss",
                      ylabel="‖∂L/∂x_t‖", logy=True,
                      title=f"Gradient reaching each input of an {LENGTH}-character window")
fig.axes[0].legend(fontsize=8, loc="lower left")
save(fig, "07_gradient_per_step.png")

# %% [markdown]
# On a log scale a geometric decay is a straight line, and the printout gives each
# line's factor per step. The default RNN's gradient shrinks fastest of all: 79 steps
# back it is many orders of magnitude below its size at the last step, far below
# anything a learning rate could use. With gain 1 it shrinks more slowly (tanh' < 1
# still takes its share), and with gain 3 it grows, by orders of magnitude over the
# window: the same mechanism, the other way. The default LSTM vanishes too, its forget
# gates being near 0.5. With the forget gate open the gradient 79 steps back is still of
# the order of its size at the last step: the cell is a path along which it travels
# without passing through W_hh and a tanh at every step.
#
# These are untrained networks. Training changes the weights, and with them the
# picture: an LSTM can *learn* to hold its forget gate near 1 where it needs to. The
# next section measures what each network actually learns.
#
# ## 4. Accuracy against the lag
#
# For each lag k we train three networks from scratch: the default RNN, the default
# LSTM and the LSTM with its forget gate open. Each gets the same budget: Adam with
# learning rate 0.01, batches of 256 fresh random windows, the gradient clipped to norm
# 1 (section 5 says why), and the same number of steps. Then each names the first
# character of 2,000 windows from the test part of the book.

# %%
LAGS = pick([4, 12], [5, 10, 20, 40])
STEPS = pick(80, 300)
BATCH = 256
MODELS = pick(("RNN, default init", "LSTM, forget gate open"),  # fast mode: two of them
              ("RNN, default init", "LSTM, default init", "LSTM, forget gate open"))


def train_first_character(make, lag, steps, seed=0):
    """A FirstCharacter(make()) trained at one lag."""
    mdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FirstCharacter(make())
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        batch = windows(train_codes, BATCH, lag + 1, rng)
        loss = F.cross_entropy(model(mdl.tensor(batch)), mdl.tensor(batch[:, 0]))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
    return model


def test_accuracy(model, lag):
    test = windows(test_codes, 2000, lag + 1, np.random.default_rng(3))
    with mdl.no_grad():
        predicted = model(mdl.tensor(test)).numpy().argmax(axis=1)
    return float(np.mean(predicted == test[:, 0]))


accuracy = {name: [] for name in MODELS}
for lag in LAGS:
    for name in MODELS:
        model, seconds = timed(train_first_character, MAKERS[name], lag, STEPS)
        accuracy[name].append(test_accuracy(model, lag))
        print(f"lag {lag:3d}  {name:<24} test accuracy {accuracy[name][-1]:.3f}  "
              f"({seconds:.1f} s)")
RESULTS["lags"] = LAGS
RESULTS["steps"] = STEPS
RESULTS["accuracy_by_lag"] = accuracy

for name, values in accuracy.items():
    remembers = [lag for lag, value in zip(LAGS, values) if value >= 0.9]
    guesses = [lag for lag, value in zip(LAGS, values) if value < chance + 0.1]
    print(f"{name:<24} right on 90% or more at lags {remembers or 'none'}; "
          f"at chance (within 0.1) at lags {guesses or 'none'}")

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in accuracy.items():
    ax.plot(LAGS, values, marker="o", label=name)
ax.axhline(chance, color="0.5", linestyle="--", label="chance (always a space)")
ax.set_xscale("log", base=2)
ax.set_xticks(LAGS, [str(k) for k in LAGS])
ax.set_ylim(0, 1.02)
ax.set_xlabel("lag k (characters read after the one to name)")
ax.set_ylabel("test accuracy")
ax.set_title(f"Naming the character seen k steps ago ({STEPS} training steps)")
ax.legend(fontsize=8, loc="center left")
save(fig, "07_accuracy_by_lag.png")

# %% [markdown]
# Read the plot with the summary printed under it. At the shortest lag every network
# names the character. As the lag grows, the RNN and the default LSTM fall to the
# chance level: their gradients from the answer back to the first character have
# vanished, so nothing tells them to keep that character. The LSTM with its forget gate
# open names the first character of nearly every window at every lag, the longest
# included, after the same number of steps. The default LSTM could in principle learn
# to open its gates, but it has to find that out through gradients that start out
# vanishing too; the right initialization makes the cell a memory from the first step.
# (Fast mode runs two short and long lags with fewer steps: the same picture, smaller.)
#
# ## 5. Exploding gradients and clipping
#
# Now the opposite problem. An RNN with recurrent gain 2 (ρ ≈ 2) does not forget: its
# gradients reach far back, but they can be huge, and the loss surface of such a
# network has steep *cliffs*. A gradient step taken on a cliff, of length learning rate
# × gradient norm, throws the weights far away, and training may never recover.
#
# `nn.utils.clip_grad_norm_(parameters, max_norm)` treats all the gradients as one long
# vector and, when its norm is above max_norm, scales it down to max_norm: the gradient
# keeps its direction but its length is capped. It returns the norm it found, so the
# same call with max_norm = ∞ measures the norm without clipping.
#
# Pairs of runs on the task at lag 10, identical except for the clipping: SGD with
# momentum 0.9 and learning rate 0.2, the same initial weights, the same batches. A run
# without clipping is *chaotic*: the smallest change (another seed, or another CPU whose
# BLAS rounds the last bit differently) sends it down another path. So one run proves
# little, and we make four pairs, with seeds 0 to 3, and count for each run its *loss
# spikes*: steps whose loss is more than 1 above the lowest loss seen so far.

# %%
CLIP_LAG = 10
CLIP_STEPS = pick(100, 200)
CLIP_SEEDS = range(4)


def train_with_sgd(max_norm, steps, seed, lag=CLIP_LAG):
    """Train an RNN of gain 2 with SGD; returns the model, the loss and gradient norm per step."""
    mdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FirstCharacter(rnn_with_gain(2.0))
    optimizer = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses, norms = [], []
    for _ in range(steps):
        batch = windows(train_codes, 128, lag + 1, rng)
        loss = F.cross_entropy(model(mdl.tensor(batch)), mdl.tensor(batch[:, 0]))
        optimizer.zero_grad()
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        optimizer.step()
        losses.append(loss.item())
    return model, losses, norms


def loss_spikes(losses):
    """Steps whose loss is more than 1 above the lowest loss before them."""
    losses = np.asarray(losses)
    return int(np.sum(losses[1:] > np.minimum.accumulate(losses)[:-1] + 1.0))


SETTINGS = {"no clipping": math.inf, "clipped to norm 1": 1.0}
curves = {}
for name, max_norm in SETTINGS.items():
    rows = []
    for seed in CLIP_SEEDS:
        model, losses, norms = train_with_sgd(max_norm, CLIP_STEPS, seed)
        rows.append(dict(seed=seed, first_loss=losses[0],
                         final_loss=float(np.mean(losses[-20:])),
                         largest_gradient_norm=max(norms), loss_spikes=loss_spikes(losses),
                         test_accuracy=test_accuracy(model, CLIP_LAG)))
        if seed == 0:
            curves[name] = (losses, norms)
        print(f"{name:<18} seed {seed}: loss {losses[0]:.2f} -> {rows[-1]['final_loss']:.2f} "
              f"(mean of the last 20 steps), {rows[-1]['loss_spikes']:3d} spikes, largest "
              f"gradient norm {max(norms):5.1f}, test accuracy {rows[-1]['test_accuracy']:.3f}")
    RESULTS.setdefault("clipping", {})[name] = rows
clip_summary = {name: {key: float(np.median([row[key] for row in rows]))
                       for key in ("final_loss", "loss_spikes", "test_accuracy")}
                for name, rows in RESULTS["clipping"].items()}
for name, medians in clip_summary.items():
    print(f"{name:<18} median over the {len(CLIP_SEEDS)} seeds: final loss "
          f"{medians['final_loss']:.2f}, {medians['loss_spikes']:.0f} spikes, test accuracy "
          f"{medians['test_accuracy']:.3f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
viz.plot_curves({name: curve[0] for name, curve in curves.items()}, xlabel="SGD step",
                ylabel="training loss (cross-entropy)",
                title=f"RNN of gain 2, lag {CLIP_LAG}, seed 0: loss", ax=left)
viz.plot_curves({name: curve[1] for name, curve in curves.items()}, xlabel="SGD step",
                ylabel="gradient norm before clipping", logy=True,
                title="Gradient norm", ax=right)
right.axhline(1.0, color="0.5", linestyle="--", linewidth=0.8)
left.set_ylim(0, 4.8)
left.legend(loc="upper right")
right.get_legend().remove()  # the same two runs as on the left
fig.tight_layout()
save(fig, "07_gradient_clipping.png")

# %% [markdown]
# Without clipping, the loss first falls, then jumps back up each time a step with a
# large gradient hits the momentum: the runs are full of spikes and most end near where
# they started. Which seed ends where differs from machine to machine; that the
# unclipped runs spike and the clipped ones do not, does not. With clipping, the very
# same recipe, fed the very same batches, brings the loss down and names the first
# character of most test windows (the medians above). It meets large gradients too
# (right, and the largest norm of each run above), but none of them enters the momentum
# longer than 1.
#
# Large recurrent weights keep the gradient from vanishing, and clipping keeps it from
# doing harm. Exploding gradients have this simple fix; vanishing ones do not (scaling
# up a gradient many orders of magnitude too small does not bring back its direction),
# which is why the LSTM's cell state, a path where the gradient neither vanishes nor
# explodes, was the step forward.
#
# ## What to remember
#
# - Backpropagation through time multiplies one Jacobian per step. In a plain RNN these
#   are diag(tanh') W_hh, so the gradient from far back shrinks or grows geometrically:
#   vanishing or exploding gradients, measured above over 80 steps.
# - A network cannot learn to remember what its gradient does not reach: the RNN fails
#   the first-character task at the longer lags.
# - The LSTM's cell state is updated by c_t = f_t ⊙ c_{t-1} + ..., and along it the
#   gradient is only multiplied by the forget gate. With that gate open (a positive
#   initial bias) the gradient reaches far back, and the LSTM learns the longest lag in
#   the steps in which the RNN and the default LSTM fail.
# - Exploding gradients are tamed by `nn.utils.clip_grad_norm_`, called between
#   `backward()` and `step()`.

# %%
report("07", RESULTS)
