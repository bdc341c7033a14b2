"""Plain helpers shared by test files (fixtures live in conftest.py)."""
import pytest

import minidl as mdl
import minidl.functional as F
from minidl import optim


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
