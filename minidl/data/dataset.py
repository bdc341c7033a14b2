"""Feed data to a model in mini-batches: Dataset, TensorDataset and DataLoader.

    train = TensorDataset(X_train, y_train)
    loader = DataLoader(train, batch_size=64, shuffle=True)
    for epoch in range(10):
        for xb, yb in loader:          # minidl Tensors: (64, features) float32, (64,) int64
            ...

A Dataset is anything with a length and an item per index. The DataLoader draws the
indices (in order, or shuffled anew every epoch), fetches the items, and collates them:
item fields are stacked along a new first axis into one Tensor per field.
"""

import numpy as np

from .. import backend
from ..backend import to_numpy
from ..tensor import Tensor


class Dataset:
    """A sized collection of samples: subclasses define __len__ and __getitem__(index).

    __getitem__ returns one sample: an array, a number, a str, or a tuple of those
    (features, label).
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Samples cut from arrays along their first axis: item i is (a[i], b[i], ...).

    Accepts numpy arrays, lists and minidl Tensors (kept as numpy arrays on the CPU; the
    DataLoader moves each batch to its device). Indexing with an integer array returns
    whole batches at once, which the DataLoader uses.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        self.arrays = tuple(_sample_array(a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) > 1:
            shapes = [a.shape for a in self.arrays]
            raise ValueError(f"TensorDataset: the arrays have different lengths {lengths} "
                             f"(shapes {shapes})")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


def _sample_array(array):
    array = to_numpy(array)
    if array.ndim == 0:
        raise ValueError("TensorDataset: expected arrays with a first (sample) axis, got a scalar")
    return array


# ---------------------------------------------------------------- collating

def _as_field_array(values):
    """Stack one field of the samples of a batch into a numpy array.

    Numpy arrays keep their dtype (float32 features stay float32, int64 labels int64);
    Python ints become int64 and Python floats minidl's default float dtype.
    """
    first = values[0]
    if isinstance(first, Tensor):
        return np.stack([np.asarray(v.numpy()) for v in values])
    if isinstance(first, (np.ndarray, np.generic)):
        return np.stack(values)
    if isinstance(first, bool):
        return np.array(values, dtype=bool)
    if isinstance(first, int):
        return np.array(values, dtype=np.int64)
    if isinstance(first, float):
        return np.array(values, dtype=backend.default_dtype())
    return np.array(values)


def collate(samples, device=None):
    """A list of samples -> one batch: a Tensor, or a tuple of Tensors for tuple samples.

    A field of str (texts) stays a list of str.
    """
    first = samples[0]
    if isinstance(first, tuple):
        return tuple(collate([s[k] for s in samples], device) for k in range(len(first)))
    if isinstance(first, str):
        return list(samples)
    return _to_tensor(_as_field_array(samples), device)


def _to_tensor(array, device):
    if array.dtype.kind not in "biuf":
        raise TypeError(f"DataLoader: cannot make a Tensor from a field of dtype {array.dtype}")
    return Tensor(backend.to_device(array, device or "cpu"))


# ---------------------------------------------------------------- DataLoader

class DataLoader:
    """Iterate over a Dataset in batches of Tensors.

    batch_size  samples per batch; the last batch is smaller unless drop_last=True
    shuffle     a new random order every epoch (every `for` over the loader)
    seed        the order's own seed; without it the order comes from minidl's global
                generator, which minidl.manual_seed resets
    device      "cpu" (default) or "cuda": where the batch Tensors are made
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 device=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if device is not None:
            backend.check_device(device)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = device
        self._generator = None if seed is None else np.random.default_rng(seed)

    def __len__(self):
        """The number of batches in one epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        generator = self._generator if self._generator is not None else backend.rng()
        return generator.permutation(n)

    def __iter__(self):
        order = self._order()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._batch(order[start:start + self.batch_size])

    def _batch(self, indices):
        if isinstance(self.dataset, TensorDataset):
            # Fast path: one fancy-indexing per array fetches the whole batch, instead of
            # a Python call per sample followed by a stack. Same result as the general path.
            return tuple(_to_tensor(a, self.device) for a in self.dataset[indices])
        return collate([self.dataset[int(i)] for i in indices], self.device)
