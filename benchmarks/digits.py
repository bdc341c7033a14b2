"""8x8 digits: how accurate are an MLP and a small CNN trained by fit(), and at what cost?

    python benchmarks/digits.py          # prints a markdown table, writes results/digits.json

The data are the 1,797 handwritten digits bundled in minidl.data, split once into 75%
training and 25% test images, stratified by digit. The split's seed is also the seed of the
weights' initialization, the dropout masks and the shuffling, so one seed fixes a whole
run. Three models learn from the same training images:

- logistic regression (minidl.classic, Newton's method) on standardized pixels: the
  baseline with one weight per pixel and class;
- an MLP, 64 standardized pixels -> 256 ReLU units (dropout) -> 10 scores;
- a small CNN on the 1x8x8 image (pixels / 16): two 3x3 convolutions, 2x2 max pooling,
  then 128 ReLU units (dropout) -> 10 scores.

Both networks train with Adam and a little weight decay through minidl.train.fit. The
table reports their parameters, training seconds and test accuracy for seed 0 (the split
tests/test_digits_accuracy.py checks), and the accuracy over all SEEDS, to show how much
one split's number moves from split to split. Importable: `run()` returns the results
without printing or writing anything, and the test trains the models from here.
"""
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import minidl as mdl  # noqa: E402
from benchmarks._report import machine_info, markdown_table, write_json  # noqa: E402
from minidl import nn, optim  # noqa: E402
from minidl.classic import LogisticRegression  # noqa: E402
from minidl.data import load_digits, standardize, train_test_split  # noqa: E402
from minidl.metrics import accuracy_score  # noqa: E402
from minidl.train import fit, predict  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SEEDS = (0, 1, 2, 3)  # the first is the fixed split the test checks


def digits_split(seed):
    """(x_train, x_test, y_train, y_test): 1,347 and 450 images, pixels 0..16, stratified."""
    x, y = load_digits()
    return train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)


# ----------------------------------------------------------------------------
# the networks and how each one is trained
# ----------------------------------------------------------------------------
def mlp():
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(256, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),    # 16 x 8 x 8
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),   # 32 x 8 x 8
        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.4),   # 32 x 4 x 4 = 512 features
        nn.Linear(512, 128), nn.ReLU(), nn.Dropout(0.4),
        nn.Linear(128, 10))


def standardized_pixels(x_train, x_test):
    """Each pixel to mean 0, standard deviation 1 over the training images."""
    return standardize(x_train, x_test)


def images(x_train, x_test):
    """Pixels scaled to 0..1 and shaped (N, 1, 8, 8), one channel, for the convolutions."""
    return [(x / 16).reshape(-1, 1, 8, 8) for x in (x_train, x_test)]


@dataclass(frozen=True)
class Network:
    """A network, the inputs it reads, and the settings it is trained with."""
    name: str
    build: Callable
    inputs: Callable   # (x_train, x_test) -> the same two, ready for the network
    epochs: int
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4


NETWORKS = {
    "MLP": Network("MLP", mlp, standardized_pixels, epochs=40),
    "CNN": Network("CNN", cnn, images, epochs=20),
}


def train_network(network, seed):
    """Train `network` on split `seed` with fit(); return {parameters, seconds, accuracy}."""
    x_train, x_test, y_train, y_test = digits_split(seed)
    x_train, x_test = network.inputs(x_train, x_test)
    mdl.manual_seed(seed)
    model = network.build()
    optimizer = optim.Adam(model.parameters(), lr=network.lr, weight_decay=network.weight_decay)
    start = time.perf_counter()
    fit(model, nn.CrossEntropyLoss(), optimizer, x_train, y_train, epochs=network.epochs,
        batch_size=network.batch_size, verbose=False, seed=seed)
    seconds = time.perf_counter() - start
    accuracy = accuracy_score(y_test, predict(model, x_test).argmax(axis=1))
    return {"parameters": model.num_parameters(), "seconds": seconds, "accuracy": accuracy}


def train_logistic_regression(seed):
    """The closed-form baseline on the same split, in float64 as the Newton solver likes."""
    x_train, x_test, y_train, y_test = digits_split(seed)
    x_train, x_test = standardized_pixels(x_train.astype(np.float64), x_test.astype(np.float64))
    model = LogisticRegression()
    start = time.perf_counter()
    model.fit(x_train, y_train)
    seconds = time.perf_counter() - start
    parameters = model.coef_.size + model.intercept_.size
    return {"parameters": parameters, "seconds": seconds,
            "accuracy": accuracy_score(y_test, model.predict(x_test))}


# ----------------------------------------------------------------------------
# all models on all seeds
# ----------------------------------------------------------------------------
def run(seeds=SEEDS):
    """{model name: {"runs": one result per seed, "seeds": seeds}} and the machine."""
    trainers = {"logistic regression (classic)": train_logistic_regression}
    trainers.update({name: partial(train_network, network) for name, network in NETWORKS.items()})
    models = {name: {"seeds": list(seeds), "runs": [train(seed) for seed in seeds]}
              for name, train in trainers.items()}
    return {"machine": machine_info(), "kernels": mdl.get_kernels(), "models": models}


def table(results):
    rows = []
    for name, result in results["models"].items():
        first = result["runs"][0]
        accuracies = [run["accuracy"] for run in result["runs"]]
        rows.append((name, f"{first['parameters']:,}", first["seconds"],
                     f"{first['accuracy']:.2%}",
                     f"{np.mean(accuracies):.2%} ({min(accuracies):.2%} - {max(accuracies):.2%})"))
    seeds = results["models"][next(iter(results["models"]))]["seeds"]
    headers = ["model", "parameters", f"train seconds (seed {seeds[0]})",
               f"test accuracy (seed {seeds[0]})",
               f"mean (min - max) over seeds {', '.join(map(str, seeds))}"]
    return markdown_table(headers, rows)


def main():
    results = run()
    print(f"8x8 digits, 1,347 training / 450 test images; kernels={results['kernels']}\n")
    print(table(results))
    write_json(os.path.join(RESULTS, "digits.json"), results)


if __name__ == "__main__":
    main()
