"""keras.utils: to_categorical, set_random_seed, and pad_sequences (also here in Keras 3)."""
import random

import numpy as np

from .. import backend as mdl_backend
from ..data.text import pad_sequences  # noqa: F401 (keras.utils.pad_sequences)


def to_categorical(y, num_classes=None, dtype="float32"):
    """Class indices -> one-hot rows, the class axis last: [0, 2] -> [[1, 0, 0], [0, 0, 1]].

    A trailing axis of size 1 is dropped first ((n, 1) labels give (n, num_classes)), and
    num_classes defaults to max(y) + 1, as in Keras.
    """
    y = np.asarray(y)
    if y.size and not np.array_equal(y, np.round(y)):
        raise ValueError("to_categorical: the labels must be whole numbers (class indices)")
    y = y.astype(np.int64)
    shape = y.shape[:-1] if y.ndim > 1 and y.shape[-1] == 1 else y.shape
    y = y.ravel()
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in 0..{num_classes - 1}, got values "
                         f"from {y.min()} to {y.max()}")
    categorical = np.zeros((y.size, num_classes), dtype=dtype)
    categorical[np.arange(y.size), y] = 1
    return categorical.reshape(shape + (num_classes,))


def set_random_seed(seed):
    """Seed Python's, NumPy's and minidl's random numbers (initial weights, dropout,
    shuffling), as keras.utils.set_random_seed does for Python, NumPy and the backend."""
    random.seed(seed)
    np.random.seed(seed)
    mdl_backend.manual_seed(seed)
