# %% [markdown]
# # 05 · Digits three ways: logistic regression, a multilayer perceptron, a CNN
#
# Is a neural network worth it on small images, and is a *convolutional* one worth more
# than a plain one? This tutorial trains three classifiers on the same 8×8 handwritten
# digits, on the same split, and compares what matters in practice: accuracy, the number
# of parameters, training time and the time to classify one image. Then it looks inside:
# which digits get confused, which images go wrong, and what the CNN's filters learned.
#
# The three models:
#
# | model | what it computes |
# |---|---|
# | logistic regression | one linear score per class, softmax; Newton's method (`minidl.classic`) |
# | multilayer perceptron (MLP) | 64 pixels → 512 ReLU units → 10 scores, trained by Adam |
# | convolutional network (CNN) | small 3×3 filters slid over the image, pooled, then 10 scores |

# %%
import matplotlib.pyplot as plt
import numpy as np

import minidl as mdl
from minidl import nn, optim, viz
from minidl.classic import LogisticRegression
from minidl.data import load_digits, train_test_split
from minidl.metrics import accuracy_score, confusion_matrix
from minidl.train import fit, predict
from _common import expected_run_time, pick, report, save, timed

expected_run_time("05")

RESULTS = {}

# %% [markdown]
# ## 1. The data, split three ways
#
# 1,797 images of 8×8 pixels with values 0..16 (scaled to [0, 1] here), about 180 of each
# digit. A quarter is set aside as the *test set*, stratified so that every digit keeps
# its share, and is looked at only to report the final numbers. The last 10% of the
# remaining images form a *validation set*: it picks logistic regression's penalty and
# draws the networks' learning curves, so that no choice is made by peeking at the test
# set. All three models train on the same rest.

# %%
images, labels = load_digits()
X_train, X_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25,
                                                    stratify=labels, random_state=0)
n_validation = len(X_train) // 10
X_fit, y_fit = X_train[:-n_validation], y_train[:-n_validation]
X_val, y_val = X_train[-n_validation:], y_train[-n_validation:]
print(f"{len(X_fit)} images to train on, {len(X_val)} to validate, {len(X_test)} to test")

fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for digit, ax in enumerate(axes):
    ax.imshow(X_fit[y_fit == digit][0].reshape(8, 8), cmap="gray_r")
    ax.set_title(str(digit))
    ax.set_axis_off()
fig.suptitle("One training image of each digit (8×8 pixels)", y=1.08)
save(fig, "05_examples.png")


# %% [markdown]
# Every model is measured the same way. Training time is one call of `fit`. Inference
# time is the time to classify the whole test set in one go, divided by the number of
# images (the best of five runs, so that a busy machine disturbs it less). Timings
# depend on your machine; their ratios say more than their values.

# %%
def seconds_per_image(classify, X):
    _, seconds = timed(classify, X, repeat=5)
    return seconds / len(X)


def record(name, parameters, train_seconds, test_predictions, inference_seconds):
    """Keep one model's numbers for the comparison at the end."""
    RESULTS.setdefault("models", {})[name] = dict(
        parameters=int(parameters), train_seconds=train_seconds,
        test_accuracy=accuracy_score(y_test, test_predictions),
        inference_seconds_per_image=inference_seconds)
    print(f"{name}: test accuracy {RESULTS['models'][name]['test_accuracy']:.4f}, "
          f"{parameters:,} parameters, trained in {train_seconds:.2f} s")


predictions = {}

# %% [markdown]
# ## 2. Logistic regression
#
# Each class k gets a weight vector wₖ (one weight per pixel) and a bias bₖ; the model
# says P(digit = k | x) = softmax(W x + b)ₖ. That is 10 × (64 + 1) = 650 numbers. The
# loss is convex, so Newton's method (`minidl.classic.LogisticRegression`, tutorial 04)
# finds its exact minimum in a handful of steps, with no learning rate and no epochs.
#
# Its one knob is the strength of the L2 penalty on the weights, 1/C: a larger C trusts
# the training images more. We fit four values and keep the one that does best on the
# validation set.

# %%
penalties = (0.1, 1.0, 10.0, 100.0)
validation_accuracy = {C: LogisticRegression(C=C).fit(X_fit, y_fit).score(X_val, y_val)
                       for C in penalties}
best_C = max(penalties, key=validation_accuracy.get)   # the first best, on a tie
print("validation accuracy for each C:", validation_accuracy, "-> C =", best_C)

logistic, seconds = timed(LogisticRegression(C=best_C).fit, X_fit, y_fit)
predictions["logistic regression"] = logistic.predict(X_test)
record("logistic regression", logistic.parameter_count(), seconds,
       predictions["logistic regression"], seconds_per_image(logistic.predict, X_test))
print(f"Newton steps: {logistic.n_iter_}")
RESULTS["logistic_C"] = best_C

# %% [markdown]
# ## 3. A multilayer perceptron
#
# A hidden layer of 512 ReLU units sits between the pixels and the scores. Each hidden
# unit computes its own weighted sum of all 64 pixels, so the network can combine
# features ("a stroke here *and* no stroke there") that a linear model cannot. With so
# many units and only 1,213 images it would soon learn the training images by heart, so
# dropout sets a random half of the hidden units to zero at each training step: no unit
# can rely on another being there. Dropout is switched off at test time.
#
# `nn.summary` runs one forward pass and lists every layer with the shape of its output
# and its number of parameters: a Linear(64, 512) has a 512×64 weight matrix and 512
# biases.

# %%
EPOCHS = pick(3, 40)

mdl.manual_seed(0)
mlp = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10))
nn.summary(mlp, (1, 64))

# %% [markdown]
# `minidl.train.fit` is the training loop: shuffle, cut into batches of 32, and for each
# batch compute the cross-entropy loss, backpropagate, and let Adam update the weights.
# After every epoch it measures loss and accuracy on the validation set, and returns
# them in a `History`.

# %%
optimizer = optim.Adam(mlp.parameters(), lr=1e-3)
history_mlp, seconds = timed(fit, mlp, nn.CrossEntropyLoss(), optimizer, X_fit, y_fit,
                             epochs=EPOCHS, batch_size=32, validation_data=(X_val, y_val),
                             verbose=False, seed=0)
predictions["MLP"] = predict(mlp, X_test, batch_size=len(X_test)).argmax(axis=1)
record("MLP", mlp.num_parameters(), seconds, predictions["MLP"],
       seconds_per_image(lambda X: predict(mlp, X, batch_size=len(X)), X_test))

# %% [markdown]
# ## 4. A convolutional network
#
# The MLP sees 64 unrelated numbers: shift a digit by one pixel and, to the MLP, it is a
# different input altogether. A convolutional layer instead slides small filters (3×3
# pixels here) over the image and computes the same weighted sum at every position, so
# a stroke is detected wherever it is, with only 9 weights per filter. The network:
#
# - two 3×3 convolutions with 32 filters each (padding 1 keeps the 8×8 size), ReLU,
#   then 2×2 max pooling: the largest value of each 2×2 block, 8×8 → 4×4;
# - a convolution with 64 filters, ReLU, pooling again: 64 maps of 2×2;
# - flatten those 256 numbers, dropout, and one Linear layer to the 10 scores.
#
# The images go in as (N, 1, 8, 8): N images, one channel (grey), 8 rows, 8 columns.

# %%
CNN_EPOCHS = pick(2, 40)


def as_images(X):
    """(N, 64) rows of pixels -> (N, channels, height, width) images."""
    return X.reshape(-1, 1, 8, 8)


mdl.manual_seed(0)
cnn = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 2 * 2, 10))
nn.summary(cnn, (1, 1, 8, 8))

optimizer = optim.Adam(cnn.parameters(), lr=1e-3)
history_cnn, seconds = timed(fit, cnn, nn.CrossEntropyLoss(), optimizer, as_images(X_fit),
                             y_fit, epochs=CNN_EPOCHS, batch_size=32,
                             validation_data=(as_images(X_val), y_val), verbose=False, seed=0)
predictions["CNN"] = predict(cnn, as_images(X_test), batch_size=len(X_test)).argmax(axis=1)
record("CNN", cnn.num_parameters(), seconds, predictions["CNN"],
       seconds_per_image(lambda X: predict(cnn, as_images(X), batch_size=len(X)), X_test))

# %% [markdown]
# ## 5. Side by side

# %%
print(f"\n{'model':<21}{'parameters':>11}{'train s':>9}{'µs / image':>12}{'test accuracy':>15}"
      f"{'errors':>8}")
for name, numbers in RESULTS["models"].items():
    errors = int(np.sum(predictions[name] != y_test))
    print(f"{name:<21}{numbers['parameters']:>11,}{numbers['train_seconds']:>9.2f}"
          f"{numbers['inference_seconds_per_image'] * 1e6:>12.1f}"
          f"{numbers['test_accuracy']:>15.4f}{errors:>8}")

# %% [markdown]
# Reading the table (the full run; fast mode trains the networks for only a few epochs):
#
# - **Logistic regression** is already close to the best (its row above): which pixels
#   are inked tells most digits apart, and a linear score captures much of that. It
#   trains exactly, with no learning rate or number of epochs to choose, and it
#   classifies fastest: one 10×64 matrix-vector product per image.
# - **The MLP** gains a little on it, with about 60 times the parameters and 40 epochs
#   of training.
# - **The CNN** makes the fewest errors (the last column), with *fewer* parameters than
#   the MLP.
#   It is the slowest to train and to run, because each filter is applied at every
#   pixel: its second convolution alone does 32 × 32 × 9 × 64 = 589,824 multiply-adds
#   per image with 9,248 weights, while the whole MLP does 64 × 512 + 512 × 10 = 37,888.
#   Parameters measure memory; they do not measure compute.
#
# On a test set of 450 images one error is 0.2 percentage points, so differences of a
# few errors are within the luck of the split and the seed. Try another `random_state`.
#
# ## 6. Learning curves
#
# The History of each network holds the loss and the accuracy of every epoch, on the
# training batches (measured while learning, with dropout on) and on the validation set.
# Training loss that keeps falling while the validation loss stalls or rises is the
# signature of overfitting.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, metric, ylabel in ((axes[0], "loss", "cross-entropy loss"),
                           (axes[1], "accuracy", "accuracy")):
    curves = {f"{name}, {split}": history[prefix + metric]
              for name, history in (("MLP", history_mlp), ("CNN", history_cnn))
              for split, prefix in (("training", ""), ("validation", "val_"))}
    viz.plot_curves(curves, xlabel="epoch", ylabel=ylabel, logy=(metric == "loss"), start=1,
                    title=f"{metric} per epoch", ax=ax)
axes[1].set_ylim(pick(0.0, 0.9), 1.0)  # zoom in on the last few percent (full run)
fig.tight_layout()
save(fig, "05_learning_curves.png")
RESULTS["mlp_loss_per_epoch"] = history_mlp["loss"]
RESULTS["cnn_loss_per_epoch"] = history_cnn["loss"]

# %% [markdown]
# Both networks fit their training batches better and better, while their validation
# loss stops falling after 10 to 15 epochs: the remaining epochs buy little.
# (Early in training the training accuracy is *below* the validation accuracy:
# it is averaged over the epoch, while the model was still improving, and with dropout
# on.) An `EarlyStopping(patience=...)` callback would stop where the validation loss
# stops falling.
#
# ## 7. Where the best model goes wrong
#
# The confusion matrix counts, for each true digit (row), what the model predicted
# (column): the diagonal holds the correct answers, everything else is an error.

# %%
best = max(RESULTS["models"], key=lambda name: RESULTS["models"][name]["test_accuracy"])
cm = confusion_matrix(y_test, predictions[best])
fig = viz.plot_confusion_matrix(cm, title=f"{best}: confusion matrix on the test set")
save(fig, "05_confusion_matrix.png")
RESULTS["best_model"] = best
RESULTS["best_confusion_matrix"] = cm

wrong = np.flatnonzero(predictions[best] != y_test)
shown = wrong[:12]
fig, axes = plt.subplots(1, max(len(shown), 1), figsize=(1.3 * max(len(shown), 1) + 0.5, 1.9),
                         squeeze=False)
for ax in axes.ravel():
    ax.set_axis_off()
for ax, i in zip(axes.ravel(), shown):
    ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{y_test[i]} → {predictions[best][i]}", fontsize=10)
which = f"the {len(wrong)}" if len(shown) == len(wrong) else f"{len(shown)} of its {len(wrong)}"
fig.suptitle(f"{best}: {which} misclassified test images (true → predicted)", y=1.05)
save(fig, "05_misclassified.png")
RESULTS["best_misclassified_shown"] = len(shown)

all_wrong = np.ones(len(y_test), dtype=bool)
for name in predictions:
    all_wrong &= predictions[name] != y_test
print(f"{best} misclassifies {len(wrong)} test images; {int(all_wrong.sum())} of them "
      "fool all three models")
RESULTS["misclassified_by_all_three"] = int(all_wrong.sum())

# %% [markdown]
# Look at the misclassified images before blaming the model: at 8×8 pixels some of them
# are hard for a person too, and the printout above counts how many of them fool all
# three models.
#
# ## 8. What the networks learned
#
# Each of the CNN's first-layer filters is a 3×3 pattern of weights (red positive, blue
# negative). Slid over the image, a filter responds most where the image looks like it.
# Several are edge detectors, positive on one side and negative on the other, in
# different orientations; others respond to a bright centre or a corner. Each one looks
# at a 3×3 patch only, wherever it is in the image.

# %%
fig = viz.show_filters(cnn[0].weight, ncols=8,
                       title="CNN: the 32 first-layer 3×3 filters (red +, blue −)")
save(fig, "05_cnn_filters.png")

# %% [markdown]
# An MLP hidden unit, by contrast, has one weight per pixel of the whole image, so its
# weights can be drawn as an 8×8 image too. Each one spreads over the whole digit area
# and is tied to fixed positions: what it learns about a stroke at one place does not
# carry over to the same stroke one pixel to the left. Here are the first 16 of its 512.

# %%
fig = viz.show_filters(mlp[0].weight, image_shape=(8, 8), max_filters=16, ncols=8,
                       title="MLP: the weights of 16 hidden units, as 8×8 images")
save(fig, "05_mlp_weights.png")

# %% [markdown]
# ## What to remember
#
# - On small, clean images a linear model is a strong baseline: check it before reaching
#   for a network. It trains exactly, in a fraction of a second.
# - A hidden layer adds features a linear model cannot form; convolution adds the prior
#   that the same stroke means the same thing anywhere in the image, which is what makes
#   CNNs the most accurate here.
# - Parameters count memory, not time: a convolution reuses each weight at every pixel,
#   so the CNN is the slowest model per image.
# - Compare models on a test set that no choice has looked at, and remember how few
#   errors separate them.

# %%
report("05", RESULTS)
