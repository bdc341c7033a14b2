"""Plain helpers shared by test files (fixtures live in conftest.py)."""
import os

import pytest

import minidl as mdl
import minidl.functional as F
from minidl import optim
from minidl.data.fashion_mnist import find_fashion_mnist


def fit_batch(model, tokens, labels, lr, max_steps):
    """Train on one batch with Adam until every label is right (or max_steps); return the
    training accuracy."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    x, y = mdl.tensor(tokens), mdl.tensor(labels)
    for _ in range(max_steps):
        logits = model(x)
        if (logits.numpy().argmax(axis=1) == labels).all():
            break
        optimizer.zero_grad()
        F.cross_entropy(logits, y).backward()
        optimizer.step()
    return (logits.numpy().argmax(axis=1) == labels).mean()


def assert_raises_naming(exception, call, words):
    """call() raises `exception` whose message contains every one of `words`."""
    with pytest.raises(exception) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


def need_fashion_mnist(path=None):
    """The folder holding the real Fashion-MNIST files; without it the test is skipped, or
    fails where the environment variable CI is set: CI installs the Debian package
    dataset-fashion-mnist (.ci/run), so missing data there is a broken setup, not a reason
    to test less."""
    folder = find_fashion_mnist(path)
    if folder is None:
        message = ("the Fashion-MNIST files are not installed (apt-get install "
                   "dataset-fashion-mnist, or load_fashion_mnist(download=True))")
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {message}")
        pytest.skip(message)
    return folder
