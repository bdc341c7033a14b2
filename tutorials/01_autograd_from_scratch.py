# %% [markdown]
# # 01 · What does `.backward()` actually do?
#
# You write `loss.backward()` and every parameter gets a `.grad`. This tutorial opens the
# box. We compute the same gradients twice, once by hand with the chain rule and once with
# minidl's engine, and check that they agree to the last digit. Then we look at the graph
# the engine records, test the engine against finite differences (and catch a bug), and
# take derivatives of derivatives.
#
# The idea in one sentence: while your code runs forward, every operation writes down
# what it did (a node in a *computation graph*); `backward()` walks that graph from the
# loss back to the inputs and multiplies local derivatives along the way. That is the
# chain rule, applied mechanically. It is called *reverse-mode automatic
# differentiation*.
#
# Everything here runs in float64 so that "agree" can mean "agree to rounding error": the
# largest differences are printed as we go, and the tests hold them below 10⁻¹².

# %%
import numpy as np

import minidl as mdl
from minidl import viz
from minidl.data import load_digits
from _common import FIGURES, expected_run_time, report, save

expected_run_time("01")

mdl.set_default_dtype(np.float64)
RESULTS = {}

# %% [markdown]
# ## 1. Two numbers, by hand
#
# Take f(x, y) = x·y + tanh(x) at x = 0.5, y = -2. Break it into single operations, the
# way the engine sees it:
#
# | step | value | local derivatives |
# |---|---|---|
# | u = x · y | -1.0 | ∂u/∂x = y, ∂u/∂y = x |
# | t = tanh(x) | 0.4621 | ∂t/∂x = 1 - t² |
# | f = u + t | -0.5379 | ∂f/∂u = 1, ∂f/∂t = 1 |
#
# Backward goes through the table from the bottom up, carrying "how much does f change
# per unit change of this value" (the *adjoint*, written with a bar):
#
# - f̄ = 1 (f changes one-for-one with itself)
# - ū = f̄ · 1 = 1 and t̄ = f̄ · 1 = 1
# - x̄ = ū · y + t̄ · (1 - t²): x was used **twice**, so its two contributions add up
# - ȳ = ū · x
#
# Add-up-where-a-value-is-reused is the one rule people forget when doing this by hand;
# the engine does it for every tensor used more than once.

# %%
x = mdl.tensor(0.5, requires_grad=True)
y = mdl.tensor(-2.0, requires_grad=True)
u = x * y
t = x.tanh()
f = u + t
print(f"forward: u = {u.item():.4f}, t = {t.item():.4f}, f = {f.item():.4f}")
RESULTS["scalar_forward"] = {"u": u.item(), "t": t.item(), "f": f.item()}
f.backward()

tanh_x = np.tanh(0.5)
by_hand = {"x": -2.0 + (1 - tanh_x**2), "y": 0.5}
by_engine = {"x": x.grad.item(), "y": y.grad.item()}
for name in by_hand:
    print(f"df/d{name}: by hand {by_hand[name]:+.15f}   engine {by_engine[name]:+.15f}")
RESULTS["scalar_grad_max_error"] = max(abs(by_hand[k] - by_engine[k]) for k in by_hand)

# %% [markdown]
# ## 2. A neuron on real data, by hand
#
# Now a real model on real data: the handwritten digits of `load_digits`, 8×8 images
# with pixel values 0..16 (the run prints how many). One neuron decides "is this a zero?":
#
#   z = X w + b,   p = sigmoid(z),   L = mean over images of -[t log p + (1 - t) log(1 - p)]
#
# where t is 1 for zeros and 0 otherwise (the cross-entropy loss). The chain rule for one
# image, step by step:
#
# - ∂L/∂p = -t/p + (1 - t)/(1 - p)
# - ∂p/∂z = p (1 - p)   (the derivative of the sigmoid)
# - so ∂L/∂z = (∂L/∂p)(∂p/∂z) = p - t: the messy fractions cancel
# - ∂z/∂w = x and ∂z/∂b = 1
#
# Averaged over the n images: ∂L/∂w = Xᵀ(p - t) / n and ∂L/∂b = mean(p - t).

# %%
images, digits = load_digits(dtype=np.float64)
X_np = images / 16.0                      # pixels in [0, 1]
t_np = (digits == 0).astype(np.float64)   # 1 for a zero
rng = np.random.default_rng(0)
w_np = rng.normal(0.0, 0.1, size=64)

X, target = mdl.tensor(X_np), mdl.tensor(t_np)
w = mdl.tensor(w_np, requires_grad=True)
b = mdl.tensor(0.0, requires_grad=True)


def neuron_loss(w, b):
    p = (X @ w + b).sigmoid()
    return -(target * p.log() + (1 - target) * (1 - p).log()).mean()


loss = neuron_loss(w, b)
print(f"{len(X_np)} images of {images.shape[1]} pixels, values {images.min():.0f}..{images.max():.0f}, "
      f"{int(t_np.sum())} zeros; loss at random weights: {loss.item():.4f}")
RESULTS["images"] = list(images.shape)
RESULTS["pixel_range"] = [float(images.min()), float(images.max())]

# %% [markdown]
# ## 3. The graph the engine recorded
#
# Before calling `backward`, look at what the forward pass left behind. Every box is a
# `Function` (an operation), every oval a tensor with its shape. Blue ovals are the leaves
# we asked gradients for (w and b), grey ones constants (the data, the targets, the 1 in
# 1 - p), green is the loss. `to_dot` gives the graph as Graphviz text (paste it into any
# Graphviz viewer); `draw_graph` draws it with matplotlib. The chain of operations is
# long, so we draw it top to bottom (`rankdir="TB"`, Graphviz's name): inputs at the top,
# the loss at the bottom.
#
# `1 - t` is grey as well: it was computed from constants only, nothing needs its
# gradient, so the engine did not record how it was made.
#
# Note the shapes: `X @ w` turns the (images, 64) data and the (64,) weights into one
# number per image, adding the scalar b broadcasts it to every image, and `mean` brings
# everything down to one number. Backward runs this picture from bottom to top.

# %%
names = {"X": X, "w": w, "b": b, "t": target, "loss": loss}
dot = viz.to_dot(loss, names=names, rankdir="TB")
print(f"the graph as Graphviz text: {dot.count(chr(10)) + 1} lines, starting")
print("\n".join(dot.splitlines()[:4]) + "\n  ...")
FIGURES.mkdir(parents=True, exist_ok=True)
(FIGURES / "01_neuron_graph.dot").write_text(dot)
save(viz.draw_graph(loss, names=names, rankdir="TB"), "01_neuron_graph.png")
RESULTS["graph_functions"] = dot.count("shape=box")
RESULTS["graph_tensors"] = dot.count("shape=ellipse")

# %% [markdown]
# Now backward, and the comparison with the formula derived by hand.
#
# `backward` also *frees* the graph as it goes (each Function drops the arrays it saved
# for its backward), which is what keeps memory flat during training. Drawing the graph
# after it, or calling backward twice, is an error unless you pass `retain_graph=True`.

# %%
loss.backward()

p_np = 1 / (1 + np.exp(-(X_np @ w_np)))     # b = 0
grad_w_hand = X_np.T @ (p_np - t_np) / len(X_np)
grad_b_hand = np.mean(p_np - t_np)
error_w = np.abs(w.grad.numpy() - grad_w_hand).max()
error_b = abs(b.grad.item() - grad_b_hand)
print(f"dL/dw: largest difference hand vs engine {error_w:.2e} "
      f"(largest entry {np.abs(grad_w_hand).max():.3f})")
print(f"dL/db: hand {grad_b_hand:.12f}  engine {b.grad.item():.12f}")
RESULTS["neuron_grad_max_error"] = float(max(error_w, error_b))

# %% [markdown]
# What did `backward` do? The whole idea fits on one page, and minidl keeps that page
# as `mdl.autograd.backward_reference`: put the operations in an order where each comes
# after the ones that made its inputs, then walk that order backwards, handing each
# operation the gradient of its output and adding what it returns into the gradients of
# its inputs (the chain rule; a tensor used twice collects both). The real walk does
# exactly this, plus what a real engine needs (no recursion limit, gradients of tensors
# in the middle of the graph, hooks, freeing memory as it goes).

# %%
import inspect  # noqa: E402

print(inspect.getsource(mdl.autograd.backward_reference))
reference = mdl.autograd.backward_reference(neuron_loss(w, b))  # a fresh graph
RESULTS["reference_walk_max_error"] = float(max(np.abs(reference[w] - w.grad.numpy()).max(),
                                                np.abs(reference[b] - b.grad.numpy()).max()))
print(f"backward_reference vs loss.backward(): largest difference "
      f"{RESULTS['reference_walk_max_error']:.1e}")

# %% [markdown]
# ## 4. Trust, but check: gradcheck
#
# For a new model you will not derive every gradient by hand. Instead compare the engine
# with *finite differences*, which need nothing but the forward pass:
#
#   ∂L/∂wᵢ ≈ (L(w + ε eᵢ) - L(w - ε eᵢ)) / (2ε)
#
# (the central difference has error O(ε²)). `mdl.gradcheck(fn, inputs)` does this for
# every entry of every input that requires grad. It costs two forward passes per entry,
# so it is a test, not a way to train.

# %%
RESULTS["gradcheck_passed"] = bool(mdl.gradcheck(neuron_loss, [w, b]))
print("gradcheck of the neuron:", RESULTS["gradcheck_passed"])

# %% [markdown]
# Here is where it earns its keep. A new operation is a `Function` with a `forward` on
# plain arrays and a `backward` that turns the gradient of the output into gradients of
# the inputs. Below is x³ written as a Function, and the same with a typical slip in the
# backward (the power rule applied as 3x instead of 3x²). Both run without error; only
# one is right, and gradcheck says which.

# %%
class Cube(mdl.Function):
    def forward(self, a):
        return a ** 3

    def backward(self, grad_output):
        a, = self.inputs
        return grad_output * 3 * a * a


class BuggyCube(Cube):
    def backward(self, grad_output):
        a, = self.inputs
        return grad_output * 3 * a     # wrong: d(a^3)/da is 3a^2


a = mdl.tensor(rng.normal(size=5), requires_grad=True)
print("Cube passes gradcheck:", mdl.gradcheck(lambda v: Cube()(v), [a]))
try:
    mdl.gradcheck(lambda v: BuggyCube()(v), [a])
    RESULTS["buggy_backward_caught"] = False
except mdl.GradcheckError as error:
    print("BuggyCube:", error)
    RESULTS["buggy_backward_caught"] = True

# %% [markdown]
# ## 5. Derivatives of derivatives
#
# The backward of every minidl Function is written with tensor operations, so the
# backward pass can itself be recorded as a graph. Ask for that with
# `mdl.grad(y, [x], create_graph=True)`: the gradient comes back as a tensor that is
# connected to x, and you can differentiate it again.
#
# First, tanh on a grid of points. By hand: tanh' = 1 - tanh², and
# tanh'' = -2 tanh (1 - tanh²).

# %%
xs = mdl.linspace(-4, 4, 201)
xs.requires_grad = True
first, = mdl.grad(xs.tanh().sum(), [xs], create_graph=True)   # d tanh(x_i)/d x_i
second, = mdl.grad(first.sum(), [xs])                           # d² tanh(x_i)/d x_i²

th = np.tanh(xs.numpy())
RESULTS["tanh_second_derivative_max_error"] = float(max(
    np.abs(first.numpy() - (1 - th**2)).max(),
    np.abs(second.numpy() - (-2 * th * (1 - th**2))).max()))
print(f"tanh' and tanh'': largest difference from the formulas "
      f"{RESULTS['tanh_second_derivative_max_error']:.1e}")

# %% [markdown]
# (Summing before `grad` is a trick that works because point i only affects output i: the
# gradient of the sum is then the vector of derivatives at each point.)

# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(xs.numpy(), th, label="tanh(x)")
ax.plot(xs.numpy(), first.numpy(), label="tanh'(x), by autograd")
ax.plot(xs.numpy(), second.numpy(), label="tanh''(x), autograd of autograd")
ax.axhline(0, color="0.8", linewidth=0.8)
ax.set_xlabel("x")
ax.legend(loc="upper left")
save(fig, "01_tanh_derivatives.png")

# %% [markdown]
# ### The Hessian-vector product
#
# For a loss of many parameters the second derivative is the Hessian matrix H, with
# H[i, j] = ∂²L/∂wᵢ∂wⱼ. Storing it for a million parameters is out of the question, but
# most second-order methods only need H times a vector v, and that costs just one more
# backward pass:
#
#   H v = ∂/∂w (∇L(w) · v)
#
# (v is a constant, so differentiating the dot product of the gradient with v gives H v).
#
# For our neuron the Hessian is known by hand: differentiating ∂L/∂w = Xᵀ(p - t)/n once
# more gives H = Xᵀ S X / n with S = diag(p (1 - p)), so H v = Xᵀ (S (X v)) / n.
# Tutorial 04 uses exactly this to fit logistic regression by Newton's method.

# %%
w = mdl.tensor(w_np, requires_grad=True)
b = mdl.tensor(0.0, requires_grad=True)
v = mdl.tensor(rng.normal(size=64))

grad_w, = mdl.grad(neuron_loss(w, b), [w], create_graph=True)
hv, = mdl.grad((grad_w * v).sum(), [w])

s = p_np * (1 - p_np)
hv_hand = X_np.T @ (s * (X_np @ v.numpy())) / len(X_np)
RESULTS["hvp_max_error"] = float(np.abs(hv.numpy() - hv_hand).max())
print(f"H v: largest difference hand vs autograd {RESULTS['hvp_max_error']:.2e} "
      f"(largest entry {np.abs(hv_hand).max():.3f})")

# %% [markdown]
# And the second derivatives of the whole neuron checked against finite differences of
# its gradient, the way minidl's own tests check every operation:

# %%
RESULTS["gradgradcheck_passed"] = bool(mdl.gradgradcheck(neuron_loss, [w, b]))
print("gradgradcheck of the neuron:", RESULTS["gradgradcheck_passed"])

# %% [markdown]
# ## What to remember
#
# - The forward pass records a graph of operations; `backward()` walks it in reverse,
#   multiplying local derivatives (the chain rule) and adding the contributions of values
#   used more than once.
# - Hand-derived and engine gradients agree to rounding error; gradcheck verifies any
#   gradient with finite differences and catches a wrong backward.
# - With `create_graph=True` the backward pass is itself differentiable: second
#   derivatives and Hessian-vector products come at the cost of one more backward.

# %%
report("01", RESULTS)
