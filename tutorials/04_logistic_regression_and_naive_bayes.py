# %% [markdown]
# # 04 · Spam or not? Logistic regression by Newton's method and by SGD, and naive Bayes
#
# Logistic regression is usually trained by gradient descent, with thousands of small
# steps. Newton's method gets to the exact minimum in about ten, because it also uses the
# *curvature*, the Hessian matrix of second derivatives. And naive Bayes, a model from
# the same family of linear classifiers, is not trained at all: it counts.
#
# This tutorial puts the three side by side on real text messages, labelled spam or not
# (the SMS Spam Collection, bundled with minidl). Along the way the Hessian is computed
# twice — by automatic differentiation, differentiating the gradient once more, and by
# the formula Xᵀ S X — and the two are checked against each other at every step.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import minidl as mdl
import minidl.functional as F
from minidl import optim, viz
from minidl.classic import LogisticRegression, MultinomialNB
from minidl.data import Tokenizer, load_sms_spam, train_test_split
from minidl.metrics import confusion_matrix, precision_score, recall_score
from _common import expected_run_time, pick, report, save, timed

expected_run_time("04")

mdl.set_default_dtype(np.float64)
RESULTS = {}

# %% [markdown]
# ## 1. From messages to counts
#
# A message becomes a row of word counts over a vocabulary of the most frequent words
# in the training messages (a *bag of words*: order is thrown away). About 12% of the
# messages are spam, so a model that always says "not spam" is already 88% accurate:
# keep an eye on the precision and recall of the spam class.

# %%
texts, labels, class_names = load_sms_spam()
train_texts, test_texts, y_train, y_test = train_test_split(texts, labels, test_size=0.25,
                                                            stratify=labels, random_state=0)
VOCABULARY = pick(150, 500)
tokenizer = Tokenizer(num_words=VOCABULARY + 1).fit_on_texts(train_texts)
# column 0 of the matrix is the unused index 0: drop it
X_train = tokenizer.texts_to_matrix(train_texts, mode="count")[:, 1:]
X_test = tokenizer.texts_to_matrix(test_texts, mode="count")[:, 1:]
words = [tokenizer.index_word[i] for i in range(1, VOCABULARY + 1)]
n, d = X_train.shape
print(f"{n} training and {len(X_test)} test messages, {y_train.mean():.1%} spam, "
      f"vocabulary of {d} words: {words[:12]} ...")

# %% [markdown]
# ## 2. The objective, its gradient and its Hessian
#
# With θ = (w, b) and z = X w + b, the model says P(spam | x) = σ(z) = 1 / (1 + e⁻ᶻ).
# Fitting minimizes the negative log-likelihood plus a small penalty on the weights
# (C = 1, as scikit-learn's default, so `minidl.classic.LogisticRegression` fits the very
# same objective):
#
#   f(θ) = Σₙ [log(1 + e^{zₙ}) - tₙ zₙ] + ‖w‖² / (2C)
#
# Differentiating by hand, with p = σ(z):
#
#   ∇f = Aᵀ(p - t) + R θ,    H = Aᵀ S A + R,    S = diag(p (1 - p))
#
# where A is X with a column of ones and R = diag(1/C, ..., 1/C, 0) (no penalty on b).
#
# By autograd: `mdl.grad(f, [θ], create_graph=True)` gives ∇f as a tensor still in the
# graph. Differentiating it against a unit vector eᵢ gives H eᵢ, the i-th column of H: one
# extra backward pass per column (tutorial 01 did the same with an arbitrary vector v).

# %%
A_train = np.hstack([X_train, np.ones((n, 1))])
A, t = mdl.tensor(A_train), mdl.tensor(y_train.astype(np.float64))
penalty = np.r_[np.ones(d), 0.0]   # 1/C for the weights, 0 for the intercept
R = mdl.tensor(penalty)


def objective(theta):
    z = A @ theta
    return F.binary_cross_entropy_with_logits(z, t, reduction="sum") + 0.5 * (R * theta**2).sum()


def gradient_and_hessian_by_autograd(theta_np):
    theta = mdl.tensor(theta_np, requires_grad=True)
    gradient, = mdl.grad(objective(theta), [theta], create_graph=True)
    columns = []
    for unit in np.eye(len(theta_np)):
        column, = mdl.grad(gradient, [theta], grad_outputs=[mdl.tensor(unit)], retain_graph=True)
        columns.append(column.numpy())
    return gradient.numpy(), np.stack(columns, axis=1)


def hessian_by_formula(theta_np):
    p = 1 / (1 + np.exp(-(A_train @ theta_np)))
    return A_train.T @ ((p * (1 - p))[:, None] * A_train) + np.diag(penalty)


def relative_difference(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


theta_random = np.random.default_rng(0).normal(0.0, 0.1, size=d + 1)
_, H_autograd = gradient_and_hessian_by_autograd(theta_random)
H_formula = hessian_by_formula(theta_random)
H_classic = LogisticRegression(C=1.0).hessian(X_train, y_train, theta_random)
print(f"Hessian {H_autograd.shape} at a random θ: autograd vs formula "
      f"{relative_difference(H_autograd, H_formula):.1e}, "
      f"vs minidl.classic {relative_difference(H_autograd, H_classic):.1e} (relative)")
RESULTS["hessian_vs_classic_relative_error"] = relative_difference(H_autograd, H_classic)

# %% [markdown]
# ## 3. Newton's method
#
# Near θ, f looks like its second-order Taylor expansion
# f(θ + δ) ≈ f + ∇fᵀδ + ½ δᵀHδ, whose minimum is at the *Newton step* δ = -H⁻¹∇f
# (computed by solving H δ = -∇f, never by inverting H). f is convex, so H is positive
# definite and δ points downhill; if a full step happens to overshoot, halve it until f
# decreases (a backtracking line search). Near the minimum the number of correct digits
# doubles at every step.

# %%
def newton(tol=1e-8, max_steps=50):
    """Newton's method from θ = 0 with the autograd Hessian; returns θ and a log per step."""
    theta, log = np.zeros(d + 1), []
    start = time.perf_counter()
    for _ in range(max_steps):
        gradient, hessian = gradient_and_hessian_by_autograd(theta)
        with mdl.no_grad():
            loss = objective(mdl.tensor(theta)).item()
        log.append(dict(loss=loss, seconds=time.perf_counter() - start,
                        hessian_error=relative_difference(hessian, hessian_by_formula(theta))))
        if np.abs(gradient).max() <= tol * n:
            break
        step = np.linalg.solve(hessian, -gradient)
        with mdl.no_grad():
            while objective(mdl.tensor(theta + step)).item() > loss:
                step /= 2
        theta = theta + step
    return theta, log


(theta_newton, newton_log), newton_seconds = timed(newton)
f_star = newton_log[-1]["loss"]
for k, entry in enumerate(newton_log):
    print(f"step {k:2d}: f = {entry['loss']:.10f}   autograd vs formula Hessian "
          f"{entry['hessian_error']:.1e}")


def accuracy_of(theta, X, y):
    return float((((X @ theta[:-1] + theta[-1]) > 0) == y).mean())


classic, classic_seconds = timed(LogisticRegression(C=1.0).fit, X_train, y_train)
parameter_difference = np.abs(theta_newton - classic.flat_parameters()).max()
print(f"Newton: {len(newton_log) - 1} steps, {newton_seconds:.2f} s; test accuracy "
      f"{accuracy_of(theta_newton, X_test, y_test):.4f}; largest difference from "
      f"minidl.classic.LogisticRegression's parameters: {parameter_difference:.1e}")
print(f"minidl.classic.LogisticRegression, the same Newton's method with the formula "
      f"Hessian: {classic.n_iter_} steps, {classic_seconds:.3f} s")
RESULTS["newton_steps"] = len(newton_log) - 1
RESULTS["newton_seconds"] = newton_seconds
RESULTS["classic_newton_seconds"] = classic_seconds
RESULTS["hessian_autograd_vs_formula_max_relative_error"] = max(
    entry["hessian_error"] for entry in newton_log)
RESULTS["newton_vs_classic_max_parameter_difference"] = parameter_difference
RESULTS["newton_train_accuracy"] = accuracy_of(theta_newton, X_train, y_train)
RESULTS["newton_test_accuracy"] = accuracy_of(theta_newton, X_test, y_test)

# %% [markdown]
# ## 4. The same model by stochastic gradient descent
#
# SGD needs no Hessian and only looks at a mini-batch per step. It minimizes the same
# objective divided by n (the mean loss plus the penalty spread over the batches), so
# that the learning rate does not depend on the size of the data set.

# %%
def sgd(epochs, lr=1.0, batch_size=32, seed=0):
    """Plain SGD from θ = 0; returns θ and f after each epoch, with the elapsed time."""
    rng = np.random.default_rng(seed)
    theta = mdl.zeros(d + 1, requires_grad=True)
    optimizer = optim.SGD([theta], lr=lr)
    log, start = [], time.perf_counter()
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(n), n // batch_size):
            optimizer.zero_grad()
            z = mdl.tensor(A_train[batch]) @ theta
            loss = (F.binary_cross_entropy_with_logits(z, mdl.tensor(y_train[batch] * 1.0))
                    + 0.5 * (R * theta**2).sum() / n)
            loss.backward()
            optimizer.step()
        with mdl.no_grad():
            log.append(dict(loss=objective(theta).item(), seconds=time.perf_counter() - start))
    return theta.numpy().copy(), log


SGD_EPOCHS = pick(5, 30)
theta_sgd, sgd_log = sgd(SGD_EPOCHS)
sgd_steps = SGD_EPOCHS * (n // 32)
print(f"SGD: {SGD_EPOCHS} epochs = {sgd_steps} steps, {sgd_log[-1]['seconds']:.2f} s; "
      f"f = {sgd_log[-1]['loss']:.4f} vs the minimum {f_star:.4f}; "
      f"test accuracy {accuracy_of(theta_sgd, X_test, y_test):.4f}")
RESULTS["sgd_steps"] = sgd_steps
RESULTS["sgd_seconds"] = sgd_log[-1]["seconds"]
RESULTS["sgd_loss_relative_gap"] = (sgd_log[-1]["loss"] - f_star) / f_star
RESULTS["sgd_test_accuracy"] = accuracy_of(theta_sgd, X_test, y_test)

fig, ax = plt.subplots(figsize=(6, 4))
for name, log in (("Newton (one point per step)", newton_log),
                  ("SGD (one point per epoch)", sgd_log)):
    seconds = [entry["seconds"] for entry in log]
    gaps = [max(entry["loss"] - f_star, 1e-12) / f_star for entry in log]
    ax.plot(seconds, gaps, marker="o", label=name)
ax.set_yscale("log")
ax.set_xlabel("seconds")
ax.set_ylabel("(f - minimum) / minimum")
ax.set_title("Logistic regression on SMS spam")
ax.legend()
save(fig, "04_newton_vs_sgd.png")

# %% [markdown]
# Newton takes a handful of steps and ends at the minimum to machine precision. Its
# steps are expensive here because building the Hessian by autograd takes d + 1
# backward passes; with the formula, `minidl.classic.LogisticRegression` runs the same
# steps in a fraction of the time (printed above). Either way a step also solves a
# (d+1)×(d+1) system, about d³/3 operations. SGD's steps are cheap, but after hundreds
# of them it is still above the minimum. As in tutorial 02, the exact method wins while
# d is small: with 100,000 words H would have 10¹⁰ entries, and only first-order
# methods (or Newton with Hessian-vector products and conjugate gradients, which never
# forms H) remain.
#
# ## 5. Naive Bayes: no optimization at all
#
# Multinomial naive Bayes models each class as a bag of words drawn with class-specific
# word probabilities: P(word j | spam) is the count of word j in spam messages over all
# words in spam messages (plus 1 for every word, *Laplace smoothing*, so an unseen word
# does not get probability zero). Prediction adds up log-probabilities of the words in a
# message. Fitting is one pass of counting.
#
# Like logistic regression, its decision is linear in the counts: it says spam when
# Σⱼ xⱼ log(P(j | spam) / P(j | ham)) + log(P(spam) / P(ham)) > 0. The two models share
# the form of the rule and differ in how the weights are chosen: counted from each
# class separately (generative), or fitted to separate the classes (discriminative).

# %%
bayes, bayes_seconds = timed(MultinomialNB(alpha=1.0).fit, X_train, y_train, repeat=3)
bayes_test = bayes.predict(X_test)
print(f"naive Bayes: fitted in {bayes_seconds * 1e3:.1f} ms; "
      f"test accuracy {bayes.score(X_test, y_test):.4f}")
RESULTS["bayes_seconds"] = bayes_seconds
RESULTS["bayes_test_accuracy"] = bayes.score(X_test, y_test)

bayes_weights = bayes.feature_log_prob_[1] - bayes.feature_log_prob_[0]
for name, weights in (("logistic regression", theta_newton[:-1]), ("naive Bayes", bayes_weights)):
    top = np.argsort(weights)[::-1][:10]
    print(f"most spam-like words for {name}: {[words[j] for j in top]}")
RESULTS["weight_correlation"] = float(np.corrcoef(theta_newton[:-1], bayes_weights)[0, 1])
print(f"correlation of the two models' word weights: {RESULTS['weight_correlation']:.2f}")

# %% [markdown]
# ## 6. Side by side

# %%
newton_test = (X_test @ theta_newton[:-1] + theta_newton[-1] > 0).astype(int)
sgd_test = (X_test @ theta_sgd[:-1] + theta_sgd[-1] > 0).astype(int)
rows = [("logistic regression, Newton, autograd H", RESULTS["newton_steps"], newton_seconds,
         newton_test),
        ("logistic regression, Newton, formula H", classic.n_iter_, classic_seconds,
         classic.predict(X_test)),
        ("logistic regression, SGD", sgd_steps, RESULTS["sgd_seconds"], sgd_test),
        ("naive Bayes (counting)", 0, bayes_seconds, bayes_test)]
print(f"{'model':<42}{'steps':>6}{'seconds':>9}{'accuracy':>10}{'spam precision':>16}"
      f"{'spam recall':>13}")
for name, steps, seconds, predicted in rows:
    print(f"{name:<42}{steps:>6}{seconds:>9.3f}{np.mean(predicted == y_test):>10.4f}"
          f"{precision_score(y_test, predicted):>16.3f}{recall_score(y_test, predicted):>13.3f}")
RESULTS["newton_spam_recall"] = recall_score(y_test, newton_test)
RESULTS["bayes_spam_recall"] = recall_score(y_test, bayes_test)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
for ax, (name, predicted) in zip(axes, (("logistic regression", newton_test),
                                        ("naive Bayes", bayes_test))):
    viz.plot_confusion_matrix(confusion_matrix(y_test, predicted), class_names, title=name, ax=ax)
fig.tight_layout()
save(fig, "04_confusion_matrices.png")

# %% [markdown]
# ## What to remember
#
# - Newton's method uses the Hessian to take the step that would be exact for a
#   quadratic; on a smooth convex loss it reaches the minimum in a handful of steps.
# - The Hessian can come from autograd (differentiate the gradient again, one column per
#   backward pass) or from the formula Aᵀ S A + R; they agree to rounding error.
# - SGD trades many cheap noisy steps for never needing H; it is the method that scales.
# - Naive Bayes makes the same kind of linear decision from counts alone, in
#   milliseconds, and is a strong baseline for text.

# %%
report("04", RESULTS)
