"""The data fit(), evaluate() and predict() are given, as lists of NumPy arrays in batches.

x and y may be one array, a list of arrays (a model with several inputs or outputs), or
a dict by input (output) name; Tensors are turned into arrays. Every array must hold the
same number of samples. validation_split holds out the LAST fraction of the samples,
before any shuffling, as Keras does.
"""
import numpy as np

from ... import backend
from ...data.preprocessing import split_last
from ...tensor import Tensor


def arrays(data, names, what):
    """A list of arrays in the order of `names` (the model's inputs or outputs)."""
    if data is None:
        return None
    if isinstance(data, dict):
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(f"Missing data for {what} {missing}: the dict given has keys "
                             f"{sorted(data)}, the model's {what}s are named {names}")
        data = [data[name] for name in names]
    elif not isinstance(data, (list, tuple)) or (len(names) == 1 and not _is_array_list(data)):
        data = [data]
    data = [_array(a) for a in data]
    if len(data) != len(names):
        raise ValueError(f"The model has {len(names)} {what}(s) ({names}), but the data "
                         f"given has {len(data)} array(s)")
    return data


def _is_array_list(data):
    """A list of arrays (several inputs), not one array written as a nested list."""
    return len(data) > 0 and all(isinstance(a, (np.ndarray, Tensor)) for a in data)


def _array(a):
    a = a.numpy() if isinstance(a, Tensor) else np.asarray(a)
    return a.astype(np.float32) if a.dtype == np.float64 else a


class Samples:
    """Inputs xs and targets ys (lists of arrays, ys may be None) of the same length."""

    def __init__(self, xs, ys=None):
        self.xs, self.ys = xs, ys
        sizes = [len(a) for a in xs + (ys or [])]
        if len(set(sizes)) > 1:
            x_sizes = ", ".join(str(len(a)) for a in xs)
            y_sizes = ", ".join(str(len(a)) for a in ys or [])
            raise ValueError(f"Data cardinality is ambiguous:\n  x sizes: {x_sizes}\n  "
                             f"y sizes: {y_sizes}\nMake sure all arrays contain the same "
                             "number of samples.")
        self.count = sizes[0]
        if self.count == 0:
            raise ValueError("Expected input data to be non-empty.")

    def __len__(self):
        return self.count

    def split(self, validation_split):
        """(the first part, the last `validation_split` of the samples)."""
        everything = self.xs + (self.ys or [])
        parts = split_last(*everything, validation_split=validation_split)
        first, last = parts[0::2], parts[1::2]
        nx = len(self.xs)
        return (Samples(first[:nx], first[nx:] or None), Samples(last[:nx], last[nx:] or None))

    def batches(self, batch_size, shuffle=False):
        """(xs, ys) per batch of batch_size samples (the last may be smaller), in a new
        random order (minidl's generator) when shuffle."""
        order = backend.rng().permutation(self.count) if shuffle else np.arange(self.count)
        for start in range(0, self.count, batch_size):
            rows = order[start:start + batch_size]
            ys = None if self.ys is None else [a[rows] for a in self.ys]
            yield [a[rows] for a in self.xs], ys

    def steps(self, batch_size):
        return -(-self.count // batch_size)
