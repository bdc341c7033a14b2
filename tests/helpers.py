"""Plain helpers shared by test files (fixtures live in conftest.py)."""
import importlib
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


def missing(message):
    """Skip the test (or the whole module) for want of something it needs, or fail where
    the environment variable CI is set: CI installs everything the tests compare with
    (`make test`, .ci/run), so a missing reference there is a broken setup, not a
    reason to test less."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require(module_name):
    """The module, imported: PyTorch, scikit-learn, jupytext, the references the tests
    compare with. Without it the test is skipped, except under CI (see `missing`)."""
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        missing(f"{module_name} cannot be imported ({exc}); `make test` installs it")


def need_fashion_mnist(path=None):
    """The folder holding the real Fashion-MNIST files; without it the test is skipped, or
    fails where CI is set: CI installs the Debian package dataset-fashion-mnist (.ci/run)."""
    folder = find_fashion_mnist(path)
    if folder is None:
        missing("the Fashion-MNIST files are not installed (apt-get install "
                "dataset-fashion-mnist, or load_fashion_mnist(download=True))")
    return folder
