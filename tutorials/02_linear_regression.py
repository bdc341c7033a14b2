# %% [markdown]
# # 02 · Linear regression: solve it in one line, or walk downhill to it?
#
# A linear model predicts ŷ = X w + b. For the mean squared error there is a formula for
# the best w (the *normal equations*), so why would anyone train it by gradient descent?
# This tutorial fits the same model on real data three ways — closed form, gradient
# descent (GD) and stochastic gradient descent (SGD) — checks that they land on the same
# weights, looks at the loss surface they walk on, and measures when the formula stops
# being the cheap option.
#
# The data: diabetes patients (age, sex, body-mass index, blood pressure and six
# blood-serum measurements) and a measure of how far their disease progressed a year
# later (Efron et al., 2004, bundled with minidl). The run prints how many.
#
# Section 5 times the two methods against each other, so everything runs on one core:
# a BLAS on several busy cores makes timings that say more about the machine than about
# the method.

# %%
import os

# BLAS reads its thread count when NumPy first loads it: set it first.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import matplotlib.pyplot as plt  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
from minidl import optim, viz  # noqa: E402
from minidl.classic import LinearRegression  # noqa: E402
from minidl.data import load_diabetes, standardize, train_test_split  # noqa: E402
from _common import expected_run_time, pick, report, save, timed  # noqa: E402

numba.set_num_threads(1)  # minidl's numba kernels on one core too

expected_run_time("02")

mdl.set_default_dtype(np.float64)
mdl.manual_seed(0)
RESULTS = {}

X_all, y_all, info = load_diabetes(return_info=True, dtype=np.float64)
X_train, X_test, y_train, y_test = train_test_split(X_all, y_all, test_size=0.2,
                                                    random_state=0)
# Features in different units (years, mg/dl, ...) -> mean 0, standard deviation 1,
# with the statistics of the training set only.
X_train, X_test = standardize(X_train, X_test)
n, d = X_train.shape
print(f"{len(X_all)} patients: {n} for training and {len(X_test)} for testing; {d} features: "
      f"{info.feature_names}")
RESULTS["patients"] = {"train": n, "test": len(X_test)}


def correlation(a, b):
    """The correlation of two features over the training patients."""
    columns = [info.feature_names.index(name) for name in (a, b)]
    return float(np.corrcoef(X_train[:, columns].T)[0, 1])


RESULTS["correlations"] = {f"{a}, {b}": correlation(a, b) for a, b in (("bmi", "s5"),
                                                                       ("s1", "s2"))}
print("correlations:", ", ".join(f"{pair} {value:.2f}"
                                 for pair, value in RESULTS["correlations"].items()))


def r2(prediction, y):
    """R² = 1 - (squared error of the model) / (squared error of predicting the mean)."""
    return 1 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2)


# %% [markdown]
# ## 1. The closed form
#
# Write the loss as L(w) = ‖y - X w‖² (absorbing b as a column of ones). Its gradient is
# -2 Xᵀ(y - X w); setting it to zero gives the normal equations Xᵀ X w = Xᵀ y, one
# linear system. `minidl.classic.LinearRegression` solves it through an orthogonal
# factorization (`np.linalg.lstsq`) rather than by inverting XᵀX, which would square the
# condition number and lose digits (its docstring explains).

# %%
closed, seconds = timed(LinearRegression().fit, X_train, y_train, repeat=5)
w_star, b_star = closed.coef_, closed.intercept_
mse_star = np.mean((X_train @ w_star + b_star - y_train) ** 2)
print(f"closed form: {seconds * 1e3:.2f} ms, train MSE {mse_star:.2f}, "
      f"test R² {closed.score(X_test, y_test):.3f}")
for name, weight in zip(info.feature_names, w_star):
    print(f"  {name:>4}: {weight:+8.2f}")
RESULTS["closed_form_test_r2"] = closed.score(X_test, y_test)
RESULTS["closed_form_train_mse"] = mse_star

# %% [markdown]
# ## 2. Gradient descent, with the autograd engine
#
# Gradient descent forgets the formula and only uses the slope: start at w = 0 and
# repeat w ← w - η ∇L(w). The engine computes ∇L for us; `optim.GD` applies the update.
#
# How big may the step η be? Along each eigenvector of the Hessian H = (2/n) AᵀA (A is
# X with a column of ones) the error is multiplied by (1 - η λ) at every step. That
# shrinks only if |1 - η λ| < 1 for every eigenvalue λ, i.e. η < 2 / λ_max. We take
# η = 1 / λ_max. The smallest eigenvalue then sets the speed: its error shrinks by
# (1 - λ_min/λ_max) per step, so the *condition number* κ = λ_max/λ_min counts roughly
# how many steps it takes to gain a factor e.

# %%
A = np.hstack([X_train, np.ones((n, 1))])
eigenvalues = np.linalg.eigvalsh(2 / n * A.T @ A)
L_max, L_min = eigenvalues[-1], eigenvalues[0]
print(f"Hessian eigenvalues from {L_min:.4f} to {L_max:.3f}: condition number {L_max / L_min:.0f}")
RESULTS["condition_number"] = L_max / L_min

Xt, yt = mdl.tensor(X_train), mdl.tensor(y_train)


def mse(w, b, X, y):
    return ((X @ w + b - y) ** 2).mean()


def gradient_descent(lr, steps):
    """Full-batch GD from zero; returns w, b and the loss before each step."""
    w, b = mdl.zeros(d, requires_grad=True), mdl.zeros((), requires_grad=True)
    optimizer = optim.GD([w, b], lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = mse(w, b, Xt, yt)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return w.numpy(), b.item(), np.array(losses)


GD_STEPS = pick(4000, 8000)
(w_gd, b_gd, gd_losses), seconds = timed(gradient_descent, 1 / L_max, GD_STEPS)
weight_error = np.abs(w_gd - w_star).max() / np.abs(w_star).max()
print(f"GD, {GD_STEPS} steps in {seconds:.2f} s: train MSE {gd_losses[-1]:.4f} "
      f"(closed form {mse_star:.4f}); largest weight difference {weight_error:.1e} "
      f"of the largest weight; test R² {r2(X_test @ w_gd + b_gd, y_test):.4f}")
RESULTS["gd_steps"] = GD_STEPS
RESULTS["gd_weight_relative_error"] = weight_error
RESULTS["gd_loss_relative_gap"] = (gd_losses[-1] - mse_star) / mse_star
RESULTS["gd_test_r2"] = r2(X_test @ w_gd + b_gd, y_test)

# %% [markdown]
# The loss gets close to the minimum long before the weights do: what is left is error
# along the flat directions of the surface, where moving hardly changes the loss.
# Here s1 and s2 (two cholesterol measurements, correlation 0.89, printed above) make
# such a direction:
# raising one weight and lowering the other barely changes the prediction.
#
# The step size matters a lot. Below the same descent with four step sizes: a small step
# is slow, 1/λ_max is safe, just under 2/λ_max oscillates along the steepest direction
# but still converges, and just above 2/λ_max it blows up.

# %%
fig, ax = plt.subplots(figsize=(6, 4))
RESULTS["step_size_final_gap"] = {}
for factor in (0.2, 1.0, 1.95, 2.05):
    _, _, losses = gradient_descent(factor / L_max, pick(150, 300))
    ax.plot(losses - mse_star, label=f"η = {factor} / λ_max")
    RESULTS["step_size_final_gap"][str(factor)] = (losses[-1] - mse_star) / (losses[0] - mse_star)
print("loss above the minimum at the last step / at the first: " + ", ".join(
    f"η = {factor} / λ_max: {gap:.1e}" for factor, gap in RESULTS["step_size_final_gap"].items()))
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("train MSE - minimum")
ax.set_title("Gradient descent with different step sizes")
ax.legend()
save(fig, "02_step_sizes.png")

# %% [markdown]
# ## 3. Stochastic gradient descent
#
# Each GD step reads all n patients. SGD shuffles the data, cuts it into mini-batches of
# 32, and takes a step after each batch, with the gradient of that batch alone: a noisy
# but cheap estimate of the full gradient. One pass over the data (an *epoch*) now makes
# n // 32 steps instead of 1 (11 here: the run prints it). With a constant step size it
# never settles exactly: the noise keeps it jittering around the minimum.

# %%
def stochastic_gradient_descent(X, y, lr, epochs, batch_size=32, seed=0):
    """SGD from zero; returns w, b, the full training loss after each epoch, and the path."""
    rng = np.random.default_rng(seed)
    n_samples, n_features = X.shape
    w, b = mdl.zeros(n_features, requires_grad=True), mdl.zeros((), requires_grad=True)
    optimizer = optim.SGD([w, b], lr=lr)
    epoch_losses, path = [], [w.numpy().copy()]
    for _ in range(epochs):
        order = rng.permutation(n_samples)
        for batch in np.array_split(order, n_samples // batch_size):
            optimizer.zero_grad()
            mse(w, b, mdl.tensor(X[batch]), mdl.tensor(y[batch])).backward()
            optimizer.step()
            path.append(w.numpy().copy())
        epoch_losses.append(np.mean((X @ w.numpy() + b.item() - y) ** 2))
    return w.numpy(), b.item(), np.array(epoch_losses), np.array(path)


SGD_EPOCHS, SGD_LR, BATCH = pick(30, 100), 0.05, 32
STEPS_PER_EPOCH = n // BATCH
RESULTS["sgd_steps_per_epoch"] = STEPS_PER_EPOCH
(w_sgd, b_sgd, sgd_losses, _), seconds = timed(stochastic_gradient_descent, X_train, y_train,
                                                SGD_LR, SGD_EPOCHS)
print(f"SGD, {SGD_EPOCHS} epochs of {STEPS_PER_EPOCH} steps in {seconds:.2f} s: train MSE "
      f"{sgd_losses[-1]:.2f}, test R² {r2(X_test @ w_sgd + b_sgd, y_test):.4f}")
RESULTS["sgd_loss_relative_gap"] = (sgd_losses[-1] - mse_star) / mse_star
RESULTS["sgd_test_r2"] = r2(X_test @ w_sgd + b_sgd, y_test)

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(np.arange(1, GD_STEPS + 1), gd_losses - mse_star, label="GD (1 step per epoch)")
ax.plot(np.arange(1, SGD_EPOCHS + 1), sgd_losses - mse_star, marker=".",
        label=f"SGD, batches of {BATCH} ({STEPS_PER_EPOCH} steps per epoch)")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("epochs (passes over the training set)")
ax.set_ylabel("train MSE - minimum")
ax.legend()
save(fig, "02_gd_vs_sgd.png")


def epochs_to_reach(losses, within):
    """The first epoch after which the training loss is within a fraction of the minimum."""
    close = np.flatnonzero(losses <= mse_star * (1 + within))
    return int(close[0]) + 1 if close.size else None


PLATEAU_EPOCH = 30
RESULTS["epochs_to_2_percent"] = {"GD": epochs_to_reach(gd_losses, 0.02),
                                  "SGD": epochs_to_reach(sgd_losses, 0.02)}
RESULTS["gd_gap_at_epoch_30"] = (gd_losses[PLATEAU_EPOCH - 1] - mse_star) / mse_star
print(f"within 2% of the minimum after: SGD {RESULTS['epochs_to_2_percent']['SGD']} epochs, "
      f"GD {RESULTS['epochs_to_2_percent']['GD']}; GD after {PLATEAU_EPOCH} epochs: still "
      f"{RESULTS['gd_gap_at_epoch_30']:.2%} above it, after {GD_STEPS}: "
      f"{RESULTS['gd_loss_relative_gap']:.0e}; SGD after {SGD_EPOCHS}: "
      f"{RESULTS['sgd_loss_relative_gap']:.2%}")

# %% [markdown]
# Both curves first fall fast, then flatten out on a plateau a little above the
# minimum (the printout says how far): the flat valley direction of section 2. SGD gets
# close in fewer epochs than GD, because it makes many steps for each one of GD's. Then
# GD slowly finishes the job and reaches the exact answer, while SGD with its constant
# step keeps jittering at its noise level (a step size that shrinks over time would
# settle it). For the test R² all three are as good: the last digits of the training
# loss do not matter for predictions.
#
# ## 4. The loss surface, seen from above
#
# With two features the loss is a function of two weights, and we can draw it. (With
# standardized features and the target centred, the best intercept is exactly the mean
# of y whatever the weights, so it drops out.) Left: body-mass index and s5 (blood
# triglycerides), weakly correlated. Right: s1 and s2, strongly correlated (the
# correlations were printed in section 1). Correlated features stretch the bowl into a
# long valley, with a larger condition number (in each panel's title): GD first drops
# to the valley floor, then crawls along it.

# %%
def mse_surface(X2, y):
    """The mean squared error as a function of the two weights, for grids of them."""
    a, c = X2[:, 0], X2[:, 1]
    yc = y - y.mean()
    terms = [np.mean(v) for v in (yc * yc, a * yc, c * yc, a * a, a * c, c * c)]
    yy, ay, cy, aa, ac, cc = terms
    return lambda w1, w2: yy - 2 * w1 * ay - 2 * w2 * cy + w1**2 * aa + 2 * w1 * w2 * ac + w2**2 * cc


fig, axes = plt.subplots(1, 2, figsize=(12, 5))
pairs = [("bmi", "s5"), ("s1", "s2")]
RESULTS["pair_condition_numbers"] = []
for ax, pair in zip(axes, pairs):
    columns = [info.feature_names.index(name) for name in pair]
    X2, yc = X_train[:, columns], y_train - y_train.mean()
    best = LinearRegression(fit_intercept=False).fit(X2, yc).coef_
    hessian = 2 / n * X2.T @ X2
    curvature = np.linalg.eigvalsh(hessian)
    RESULTS["pair_condition_numbers"].append(curvature[-1] / curvature[0])

    # GD on the two weights, recording where it is after each step
    w = mdl.zeros(2, requires_grad=True)
    optimizer = optim.GD([w], lr=1 / curvature[-1])
    gd_path = [w.numpy().copy()]
    for _ in range(100):
        optimizer.zero_grad()
        ((mdl.tensor(X2) @ w - mdl.tensor(yc)) ** 2).mean().backward()
        optimizer.step()
        gd_path.append(w.numpy().copy())
    _, _, _, sgd_path = stochastic_gradient_descent(X2, yc, SGD_LR, 5)

    span = np.abs(best).max() * 1.6
    viz.plot_loss_surface(mse_surface(X2, y_train), (-span, span), (-span, span),
                          paths={"GD, 100 steps": np.array(gd_path),
                                 "SGD, 5 epochs": sgd_path},
                          minimum=best, log_levels=True, labels=(f"w_{pair[0]}", f"w_{pair[1]}"),
                          title=f"{pair[0]} and {pair[1]}: condition number "
                                f"{curvature[-1] / curvature[0]:.0f}", ax=ax)
save(fig, "02_loss_surfaces.png")

# %% [markdown]
# ## 5. When does the formula stop being cheap?
#
# Solving the least-squares problem for n samples and d features costs about n·d²
# operations (and d² memory for XᵀX or the factorization). One GD step costs about
# 2·n·d (two matrix-vector products), so k steps cost 2·k·n·d. The formula wins while
# d is small compared with the number of steps GD needs; once d grows past it, descent
# wins — *provided* the problem is well conditioned, because k grows with κ.
#
# The diabetes data has only 10 features, so to see the trend we switch to **synthetic
# data**: n random Gaussian samples with d independent features, y = X w_true + noise.
# Both methods run in plain NumPy here, so that we time the algorithms and not the
# framework. GD stops when the gradient has shrunk by 10⁴; its step size comes from 20
# rounds of power iteration (included in its time).

# %%
def gd_numpy(X, y, tol=1e-4, max_steps=10_000, seed=0):
    """Plain gradient descent on mean squared error; returns w and the number of steps."""
    n_samples = len(X)
    v = np.random.default_rng(seed).normal(size=X.shape[1])
    for _ in range(20):  # power iteration: v -> the top eigenvector of X^T X
        v = X.T @ (X @ v)
        v /= np.linalg.norm(v)
    lr = 1 / (2 / n_samples * np.linalg.norm(X.T @ (X @ v)))
    w = np.zeros(X.shape[1])
    first = None
    for step in range(max_steps):
        grad = 2 / n_samples * (X.T @ (X @ w - y))
        size = np.linalg.norm(grad)
        first = size if first is None else first
        if size <= tol * first:
            break
        w -= lr * grad
    return w, step


def lstsq(X, y):
    return np.linalg.lstsq(X, y, rcond=None)[0]


rng = np.random.default_rng(1)
N_SYNTHETIC = pick(2000, 8000)
FEATURE_COUNTS = pick([25, 50, 100, 200, 400], [25, 50, 100, 200, 400, 800, 1600])
timing = {"d": FEATURE_COUNTS, "lstsq_s": [], "gd_s": [], "gd_steps": [], "loss_gap": []}
for width in FEATURE_COUNTS:
    Xs = rng.normal(size=(N_SYNTHETIC, width))
    ys = Xs @ rng.normal(size=width) + rng.normal(size=N_SYNTHETIC)
    w_exact, t_exact = timed(lstsq, Xs, ys, repeat=3)
    (w_descent, steps), t_descent = timed(gd_numpy, Xs, ys, repeat=3)
    exact_loss = np.mean((Xs @ w_exact - ys) ** 2)
    timing["lstsq_s"].append(t_exact)
    timing["gd_s"].append(t_descent)
    timing["gd_steps"].append(steps)
    timing["loss_gap"].append((np.mean((Xs @ w_descent - ys) ** 2) - exact_loss) / exact_loss)
    print(f"d = {width:5d}: lstsq {t_exact * 1e3:8.1f} ms   GD {t_descent * 1e3:8.1f} ms "
          f"({steps} steps, loss {timing['loss_gap'][-1]:.1e} above the minimum)")
RESULTS["timing"] = timing

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(FEATURE_COUNTS, timing["lstsq_s"], marker="o", label="closed form (lstsq, SVD)")
ax.loglog(FEATURE_COUNTS, timing["gd_s"], marker="o", label="gradient descent")
ax.set_xticks(FEATURE_COUNTS, [str(width) for width in FEATURE_COUNTS])
ax.set_xticks([], minor=True)
ax.set_xlabel(f"number of features d (synthetic data, n = {N_SYNTHETIC})")
ax.set_ylabel("seconds")
ax.legend()
save(fig, "02_closed_form_vs_gd_time.png")

# %%
def growth(times):
    """The exponent a in time ~ d^a, from the last three widths (small d is all overhead)."""
    return np.polyfit(np.log(FEATURE_COUNTS[-3:]), np.log(times[-3:]), 1)[0]


RESULTS["lstsq_time_exponent"] = growth(timing["lstsq_s"])
RESULTS["gd_time_exponent"] = growth(timing["gd_s"])
print(f"over the last three widths, time grows like d^{RESULTS['lstsq_time_exponent']:.1f} "
      f"for lstsq and d^{RESULTS['gd_time_exponent']:.1f} for GD (the theory: d^2 for "
      f"lstsq, d times the number of steps for GD)")
faster = [width for width, exact, descent in zip(FEATURE_COUNTS, timing["lstsq_s"],
                                                 timing["gd_s"]) if descent < exact]
if faster:
    print(f"GD was faster than the closed form at d = {', '.join(map(str, faster))}")
else:
    print("the closed form was faster at every width tried here")

# %% [markdown]
# Read the printout with the theory in mind (timings on a busy machine are noisy; run
# it twice). The closed form's work grows like d², a factor 4 per doubling of d; the
# measured exponent gets there only once d is large enough for the arithmetic to
# outweigh the fixed costs of a call. GD's work grows like d times its number of steps,
# which here stays small because random independent features are well conditioned (it
# creeps up as d approaches n: see the step counts). So for large enough d, GD is the
# faster one. At small d both are quick and fixed costs decide, so which
# wins there depends on the machine and its BLAS: the run says where it found GD the
# faster on yours. Feed GD correlated features, like s1 and
# s2, and its step count grows with the condition number, while the closed form does not
# care. That is why small and medium problems are solved exactly, and why models with
# millions of parameters, where even storing XᵀX is impossible, are trained by descent.
#
# ## What to remember
#
# - Closed form and gradient descent reach the same weights; the closed form in one
#   solve, GD after a number of steps set by the condition number of the problem.
# - The step size must stay below 2/λ_max; correlated features make long valleys that
#   GD crawls along.
# - SGD makes many cheap noisy steps: close to the minimum fast, never exactly on it.
# - The formula costs n·d², a GD step n·d: for large d, descent wins.

# %%
report("02", RESULTS)
