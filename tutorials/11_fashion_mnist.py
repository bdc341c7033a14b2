# %% [markdown]
# # 11 · Fashion-MNIST: does a small model still keep up?
#
# On the 8×8 digits of tutorials 05 and 10, logistic regression came close to a
# convolutional network. Is that because linear models are good at images, or
# because those digits are easy? Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando
# Research, 2017) was made to settle that kind of doubt. It has the format of the classic
# MNIST digits (28×28 grey images, 60,000 to train on, 10,000 to test, 10 classes) but
# shows clothes: a T-shirt, a shirt, a pullover and a coat differ in a collar, a sleeve
# or buttons, not in a few inked strokes.
#
# Four models learn from the same images and are tested on the same 10,000:
#
# | model | what it computes | how it is fitted |
# |---|---|---|
# | logistic regression | one linear score per class, softmax | Newton's method (`minidl.classic`) |
# | linear SVM | one linear score per class, hinge loss, one-vs-rest | dual coordinate descent (`minidl.classic`) |
# | multilayer perceptron (MLP) | 784 pixels → 256 ReLU units → 10 scores | Adam (`mdl.fit`) |
# | convolutional network (CNN) | two layers of 3×3 filters with pooling → 10 scores | Adam (`mdl.fit`) |
#
# For each we measure the test accuracy, the number of parameters, the training time on
# one CPU thread and the time to classify one image, and we put the accuracies beside the
# ones the dataset's authors published.
#
# **The data** does not ship with minidl (it is 30 MB). `load_fashion_mnist` finds the
# four files the authors publish in `$MINIDL_DATA/fashion-mnist`, in
# `~/.cache/minidl/fashion-mnist`, or where the Debian/Ubuntu package puts them
# (`sudo apt-get install dataset-fashion-mnist`); `load_fashion_mnist(download=True)`
# fetches them once into the cache, checking each file's SHA-256.

# %%
import os

# One thread for everything, so that the times compare: BLAS reads its thread count when
# NumPy first loads it, so set it before importing NumPy.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import matplotlib.pyplot as plt  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402

import minidl as mdl  # noqa: E402
from minidl import nn, optim, viz  # noqa: E402
from minidl.classic import LinearSVM, LogisticRegression  # noqa: E402
from minidl.data import load_fashion_mnist, train_test_split  # noqa: E402
from minidl.metrics import accuracy_score, confusion_matrix  # noqa: E402
from minidl.train import LearningRateScheduler  # noqa: E402
from _common import FAST, expected_run_time, pick, report, save, timed  # noqa: E402

expected_run_time("11")

numba.set_num_threads(1)   # minidl's numba kernels on one thread too
RESULTS = {"fast_mode": FAST}

# %% [markdown]
# ## 1. The data
#
# Each image arrives as one row of 784 pixel values, 0 to 255, row by row, the way
# `load_digits` returns its 8×8 images; we scale them to [0, 1]. The photos were negated
# when the data set was made, so the background is 0 and the article is light. Every
# class has the same number of images (the printout counts them).
#
# Fast mode (`MINIDL_FAST=1`, used by the tests) takes a stratified part of the training
# and test images so that the whole tutorial runs in seconds; its numbers are only a
# smoke test. The full run uses everything.

# %%
(X_train, y_train), (X_test, y_test), info = load_fashion_mnist(return_info=True)
CLASSES = info.class_names


def stratified_part(X, y, n):
    """n of the examples with the class proportions of y (all of them if n >= len(y))."""
    if n >= len(y):
        return X, y
    X_part, _, y_part, _ = train_test_split(X, y, train_size=n, stratify=y, random_state=0)
    return X_part, y_part


X_train, y_train = stratified_part(X_train, y_train, pick(3000, len(y_train)))
X_test, y_test = stratified_part(X_test, y_test, pick(2000, len(y_test)))
X_train, X_test = X_train / 255.0, X_test / 255.0
print(f"{len(X_train):,} training and {len(X_test):,} test images of {X_train.shape[1]} "
      f"pixels; {len(CLASSES)} classes: {', '.join(CLASSES)}")
print(f"images per class: training {sorted(set(np.bincount(y_train).tolist()))}, "
      f"test {sorted(set(np.bincount(y_test).tolist()))}")
RESULTS["train_images"], RESULTS["test_images"] = len(X_train), len(X_test)

fig, axes = plt.subplots(3, 10, figsize=(12, 4))
for k, column in enumerate(axes.T):
    for ax, image in zip(column, X_train[y_train == k][:3]):
        ax.imshow(image.reshape(28, 28), cmap="gray")
        ax.set_axis_off()
    column[0].set_title(CLASSES[k], fontsize=9)
fig.suptitle("Three training images of each class (28×28 pixels)")
save(fig, "11_examples.png")


# %% [markdown]
# Every model is measured the same way. Training time is one call of `fit`, on one
# thread. Inference time is the time to classify all test images in one call, divided by
# their number (the best of three calls, so that a busy machine disturbs it less). The
# times are this machine's; their ratios say more than their values.

# %%
def seconds_per_image(classify, X):
    _, seconds = timed(classify, X, repeat=3)
    return seconds / len(X)


predictions = {}


def record(name, parameters, train_seconds, classify, X_test_view):
    """Classify the test set, time it, and keep the model's numbers for the table."""
    predictions[name] = classify(X_test_view)
    RESULTS.setdefault("models", {})[name] = dict(
        parameters=int(parameters), train_seconds=train_seconds,
        test_accuracy=accuracy_score(y_test, predictions[name]),
        inference_seconds_per_image=seconds_per_image(classify, X_test_view))
    numbers = RESULTS["models"][name]
    print(f"{name}: test accuracy {numbers['test_accuracy']:.4f}, {parameters:,} parameters, "
          f"trained in {train_seconds:.1f} s, "
          f"{numbers['inference_seconds_per_image'] * 1e6:.1f} µs per image")


# %% [markdown]
# ## 2. The small models
#
# Both small models give each class k a weight per input value and a bias, and score an
# image x by wₖ·x + bₖ. They differ in the loss that fits the weights: logistic
# regression reads softmax(scores) as probabilities and maximizes the likelihood of the
# true classes; the SVM solves one problem per class (that class against the rest) and
# asks the score to be at least +1 on the class's images and at most −1 on the others
# (the hinge loss), ignoring the images that already are.
#
# **Newton's method has a price that grows fast.** Logistic regression is fitted exactly
# by Newton's method (tutorial 04): every step builds the Hessian, a square matrix with one
# row and one column per parameter, and solves a linear system with it, which costs in
# proportion to the cube of the number of parameters. On the 784 pixels that is more than
# one CPU thread should be asked to do (the numbers are printed below), so the small
# models get coarser images: the mean of each 2×2 block of pixels, 14×14 values (the
# CNN's pooling layers coarsen their maps the same way, keeping the largest value of each
# block rather than the mean). A pass of the linear SVM's solver costs time in proportion
# to the number of inputs only, so it is fitted on the full 28×28 images too: that shows
# what the coarser images cost in accuracy.
#
# The settings were fixed before looking at the test set: C = 1 for logistic regression
# (the penalty on the weights is ‖W‖²/(2C)), and for the SVM C = 0.01 on 28×28 pixels. The
# mean of four pixels makes an image vector about half as long, and the penalty then
# weighs four times as much against the hinge loss, so C = 0.04 on 14×14 asks for the
# same balance. The SVM's dual solver stops when no optimality condition is violated by
# more than 0.01.

# %%
def pool_2x2(X):
    """28×28 images as rows -> the mean of each 2×2 block, as rows of 14×14 = 196 values."""
    return X.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(X), 196)


P_train, P_test = pool_2x2(X_train), pool_2x2(X_test)
for side, inputs in ((28, 784), (14, 196)):
    parameters = 10 * (inputs + 1)
    print(f"logistic regression on {side}×{side} images: {parameters:,} parameters, a Hessian "
          f"of {parameters ** 2 / 1e6:,.1f} million numbers ({8 * parameters ** 2 / 1e9:.2f} GB "
          f"in float64), and about {2 * parameters ** 3 / 3e9:,.0f} billion floating-point "
          "operations to solve each Newton system (LU: 2n³/3)")

logistic, seconds = timed(LogisticRegression(C=1.0).fit, P_train, y_train)
record("logistic, 14×14", logistic.parameter_count(), seconds, logistic.predict, P_test)
print(f"Newton steps: {logistic.n_iter_}")
RESULTS["logistic_newton_steps"] = logistic.n_iter_

svm_small, seconds = timed(LinearSVM(C=0.04, tol=1e-2, max_iter=2000).fit, P_train, y_train)
record("linear SVM, 14×14", svm_small.parameter_count(), seconds, svm_small.predict, P_test)

svm, seconds = timed(LinearSVM(C=0.01, tol=1e-2, max_iter=2000).fit, X_train, y_train)
record("linear SVM, 28×28", svm.parameter_count(), seconds, svm.predict, X_test)
RESULTS["svm_epochs"] = {"14×14": svm_small.n_iter_, "28×28": svm.n_iter_}
print(f"dual coordinate descent epochs (the most any class needed): {RESULTS['svm_epochs']}")

# %% [markdown]
# ## 3. A multilayer perceptron
#
# One hidden layer of 256 ReLU units between the 784 pixels and the 10 scores. Each unit
# takes its own weighted sum of all the pixels, so the network can form features that a
# linear score cannot ("dark here *and* light there"), and then scores the classes on
# those. Adam adjusts its weights on batches of 64 images; the learning rate starts at
# 0.002 and follows half a cosine down to zero over the epochs (`CosineAnnealingLR`):
# large steps early, small careful ones at the end.
#
# The networks get the pixels standardized: minus the mean pixel value of the training
# images, divided by their standard deviation (one number each, for all pixels). Inputs
# centred on zero with a spread of about one suit the default initial weights, and
# gradient descent then starts in a sensible place.

# %%
EPOCHS = pick(2, 10)
mean, std = X_train.mean(), X_train.std()
Z_train = ((X_train - mean) / std).astype(np.float32)
Z_test = ((X_test - mean) / std).astype(np.float32)
print(f"pixel mean {mean:.3f}, standard deviation {std:.3f} (training images, scaled to [0, 1])")


def train_network(model, X, epochs, lr):
    """Adam on batches of 64 with a cosine learning rate; returns (History, seconds)."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    return timed(mdl.fit, model, nn.CrossEntropyLoss(), optimizer, X, y_train,
                 epochs=epochs, batch_size=64, callbacks=[LearningRateScheduler(schedule)],
                 verbose=False, seed=0)


def network_classifier(model, shape):
    """X rows -> predicted classes, through the model in eval mode, 1,000 images at a time."""
    return lambda X: mdl.predict(model, X.reshape(shape), batch_size=1000).argmax(axis=1)


mdl.manual_seed(0)
mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
nn.summary(mlp, (1, 784))
history_mlp, seconds = train_network(mlp, Z_train, EPOCHS, lr=2e-3)
record("MLP", mlp.num_parameters(), seconds, network_classifier(mlp, (-1, 784)), Z_test)

# %% [markdown]
# ## 4. A convolutional network
#
# The MLP sees 784 unrelated numbers: move a sleeve by one pixel and it sees a different
# input. A convolution slides small filters (3×3 pixels) over the image and computes the
# same weighted sum everywhere, so a collar or a heel is found wherever it is, with 9
# weights per filter. The network:
#
# - 16 filters of 3×3 over the 28×28 image (padding 1 keeps the size), 2×2 max pooling
#   (the largest value of each block: 28×28 → 14×14), ReLU;
# - 64 filters of 3×3 over those 16 maps, pooling (14×14 → 7×7), ReLU;
# - the 64 × 7 × 7 = 3,136 numbers, flattened, into one Linear layer to the 10 scores.
#
# (Pooling before the ReLU gives the same result as after it, because the ReLU never
# changes which value of a block is the largest, and the ReLU then runs on a quarter of
# the numbers.) The images go in as
# (N, 1, 28, 28): N images, one grey channel, 28 rows, 28 columns.

# %%
CNN_EPOCHS = pick(2, 7)
as_images = (-1, 1, 28, 28)

mdl.manual_seed(0)
cnn = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
    nn.Conv2d(16, 64, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
nn.summary(cnn, (1, 1, 28, 28))
history_cnn, seconds = train_network(cnn, Z_train.reshape(as_images), CNN_EPOCHS, lr=2e-3)
record("CNN", cnn.num_parameters(), seconds, network_classifier(cnn, as_images), Z_test)
RESULTS["mlp_loss_per_epoch"] = history_mlp["loss"]
RESULTS["cnn_loss_per_epoch"] = history_cnn["loss"]

# %% [markdown]
# ## 5. Side by side, and beside the published numbers
#
# The authors of Fashion-MNIST published two kinds of reference numbers:
#
# - a benchmark of scikit-learn classifiers (table 3 of their paper, each the mean test
#   accuracy of 5 runs on all 60,000 training images, on the full 28×28 pixels), and
# - in the README of their repository, test accuracies that others submitted for neural
#   networks; two of them are simple CNNs like ours.
#
# They are quoted below as they were published, not measured here.

# %%
# Published test accuracies, quoted, not measured here.
# From: H. Xiao, K. Rasul, R. Vollgraf, "Fashion-MNIST: a Novel Image Dataset for
# Benchmarking Machine Learning Algorithms", arXiv:1708.07747, Table 3 (scikit-learn
# benchmark, mean of 5 runs), and the "Benchmark" table of the README of
# github.com/zalandoresearch/fashion-mnist (submitted results, not verified by the authors).
PUBLISHED = {
    "logistic regression, C=1, L1, one-vs-rest (paper)": 0.842,
    "SVC, linear kernel, C=1 (paper)": 0.839,
    "MLPClassifier, ReLU, hidden layers 100 and 10 (paper)": 0.870,
    "SVC, RBF kernel, C=10 (paper: its best)": 0.897,
    "CNN, 2 conv + pooling, TensorFlow's tutorial (README)": 0.916,
    "CNN, 2 conv, under 100K parameters (README)": 0.925,
}
RESULTS["published"] = PUBLISHED

models = RESULTS["models"]
mode = "FAST MODE: a small part of the data, few epochs" if FAST else "full run"
print(f"measured here ({mode}):")
print(f"{'model':<20}{'parameters':>11}{'train s':>9}{'µs / image':>12}{'test accuracy':>15}")
for name, numbers in models.items():
    print(f"{name:<20}{numbers['parameters']:>11,}{numbers['train_seconds']:>9.1f}"
          f"{numbers['inference_seconds_per_image'] * 1e6:>12.1f}"
          f"{numbers['test_accuracy']:>15.4f}")
print("\npublished by the dataset's authors:")
for name, published_accuracy in PUBLISHED.items():
    print(f"{name:<60}{published_accuracy:>7.3f}")

# %% [markdown]
# What the table says, in numbers taken from this run (the sentences are formatted from
# the results, so they hold for whatever your run measured):

# %%
SMALL = ("logistic, 14×14", "linear SVM, 14×14", "linear SVM, 28×28")
best_small = max(SMALL, key=lambda name: models[name]["test_accuracy"])
RESULTS["best_small_model"] = best_small
accuracy = {name: numbers["test_accuracy"] for name, numbers in models.items()}
errors = {name: round((1 - a) * len(y_test)) for name, a in accuracy.items()}
train_s = {name: numbers["train_seconds"] for name, numbers in models.items()}
per_image_s = {name: numbers["inference_seconds_per_image"] for name, numbers in models.items()}
print(f"- The best small model, {best_small}, classifies {accuracy[best_small]:.1%} of the "
      "test images correctly; the published linear models, on 28×28 pixels: "
      f"{PUBLISHED['logistic regression, C=1, L1, one-vs-rest (paper)']:.1%} (logistic "
      f"regression) and {PUBLISHED['SVC, linear kernel, C=1 (paper)']:.1%} (linear SVC).")
print("- The 2×2 means changed the linear SVM's accuracy by "
      f"{100 * (accuracy['linear SVM, 14×14'] - accuracy['linear SVM, 28×28']):+.1f} "
      "percentage points (14×14 against 28×28).")
print(f"- The MLP reaches {accuracy['MLP']:.1%}, the CNN {accuracy['CNN']:.1%}: the CNN makes "
      f"{errors['CNN']:,} errors on the {len(y_test):,} test images, the best small model "
      f"{errors[best_small]:,}, {errors[best_small] / errors['CNN']:.1f} times as many.")
print(f"- The CNN has {models['CNN']['parameters']:,} parameters, "
      f"{models['CNN']['parameters'] / models['MLP']['parameters']:.2f} times the MLP's, "
      f"and took {train_s['CNN']:.1f} s to train, against {train_s['logistic, 14×14']:.1f} s "
      f"for logistic regression and {train_s['MLP']:.1f} s for the MLP.")
print(f"- It classifies an image in {per_image_s['CNN'] * 1e6:.0f} µs, "
      f"{per_image_s['CNN'] / per_image_s['linear SVM, 28×28']:.0f} times as long as the "
      "linear SVM on 28×28 pixels: each weight of a convolution is used at every position "
      "of the image.")

# %% [markdown]
# ## 6. Where the models go wrong
#
# The confusion matrices count, for each true class (row), what the model said (column);
# the diagonal holds the right answers. The errors are not spread evenly: they gather in
# two blocks of classes that look alike at 28×28, the tops and dresses (T-shirt,
# pullover, dress, coat, shirt) and the footwear (sandal, sneaker, ankle boot). The
# printout counts how many of each model's errors stay inside one block, and which class
# each model gets wrong most often.

# %%
fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
for ax, name in zip(axes, (best_small, "CNN")):
    cm = confusion_matrix(y_test, predictions[name])
    viz.plot_confusion_matrix(cm, class_names=CLASSES, title=name, ax=ax)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    RESULTS.setdefault("confusion_matrices", {})[name] = cm
fig.tight_layout()
save(fig, "11_confusion_matrices.png")

BLOCKS = {"tops and dresses": (0, 2, 3, 4, 6), "footwear": (5, 7, 9)}
block_of = {k: block for block, members in BLOCKS.items() for k in members}
within_block, per_class = {}, {}
for name, predicted in predictions.items():
    wrong = predicted != y_test
    same_block = [block_of.get(t, t) == block_of.get(p, p) and t != p
                  for t, p in zip(y_test[wrong], predicted[wrong])]
    within_block[name] = float(np.mean(same_block)) if wrong.any() else 1.0
    per_class[name] = [float(np.mean(predicted[y_test == k] == k)) for k in range(10)]
RESULTS["errors_within_a_block"] = within_block
RESULTS["per_class_accuracy"] = per_class
RESULTS["hardest_class"] = {name: CLASSES[int(np.argmin(v))] for name, v in per_class.items()}

print(f"{'test accuracy of':<17}" + "".join(f"{name:>19}" for name in per_class))
for k, class_name in enumerate(CLASSES):
    print(f"{class_name:<17}" + "".join(f"{values[k]:>19.3f}" for values in per_class.values()))
print(f"{'errors in a block':<17}" + "".join(f"{within_block[name]:>19.1%}" for name in per_class))
print("the class each model gets wrong most often:", RESULTS["hardest_class"])

# %% [markdown]
# ## 7. What the CNN's first layer learned
#
# Each first-layer filter is a 3×3 pattern of weights (red positive, blue negative). Slid
# over the image, it responds where the image looks like it; many respond to an edge or a
# line in some orientation. Then the linear SVM's weights on the 28×28 pixels, drawn
# as images: one template per class, red where ink raises the class's score and blue
# where it lowers it, spread over the whole image and tied to fixed positions.

# %%
fig = viz.show_filters(cnn[0].weight, ncols=8,
                       title="CNN: the 16 first-layer 3×3 filters (red +, blue −)")
save(fig, "11_cnn_filters.png")
fig, axes = plt.subplots(2, 5, figsize=(11, 5))
scale = np.abs(svm.coef_).max()
for ax, weights, class_name in zip(axes.ravel(), svm.coef_, CLASSES):
    ax.imshow(weights.reshape(28, 28), cmap="RdBu_r", vmin=-scale, vmax=scale)
    ax.set_title(class_name)
    ax.set_axis_off()
fig.suptitle("The linear SVM's weights on the 28×28 pixels, one template per class "
             "(red +, blue −)")
save(fig, "11_svm_templates.png")

# %% [markdown]
# ## What to remember
#
# (About the full run; fast mode trains on a small part of the data for an epoch or two.)
#
# - On Fashion-MNIST the small models fall clearly behind the CNN, as the printout of
#   section 5 counts. This harder data set is where the structure a convolution builds
#   in (the same detail means the same thing anywhere in the image) pays.
# - The small models are still the baseline to start from: no learning rate, no epochs
#   and no seed to choose, an answer in a fraction of the CNN's time per image, and their
#   accuracy tells how much of the task is linear. Here, most of it.
# - Newton's method is exact but its cost grows with the cube of the number of
#   parameters, while coordinate descent and gradient descent grow linearly. That, not
#   accuracy, is why logistic regression saw 14×14 images here.
# - Most of the remaining errors are between classes that look alike at this resolution:
#   more accuracy needs more detail, more data or augmentation, not only a bigger model.

# %%
report("11", RESULTS)
