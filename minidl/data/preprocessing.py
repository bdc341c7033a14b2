"""Prepare arrays for training: split off a test set, standardize features, one-hot labels.

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    X_fit, X_val, y_fit, y_val = split_last(X_train, y_train, validation_split=0.1)
    X_train, X_test = standardize(X_train, X_test)     # statistics of X_train only
    Y = one_hot(y_train, num_classes=10)

The statistics of a standardization come from the training set alone: computing them on
all the data would let the test set leak into training and flatter the model.
"""

import math

import numpy as np

from ..backend import rng as global_rng
from ..backend import to_numpy


def _generator(random_state):
    """A numpy Generator: from an int seed, as given, or minidl's global one (manual_seed)."""
    if random_state is None:
        return global_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


# ---------------------------------------------------------------- train_test_split

def _split_sizes(n_samples, test_size, train_size):
    """(n_train, n_test) as scikit-learn computes them.

    A float is a fraction of n_samples (test rounded up, train rounded down), an int a
    count; if only one is given the other is the rest; if neither, test_size is 0.25.
    """
    def checked(size, name):
        if size is None:
            return None
        if isinstance(size, (float, np.floating)):
            if not 0 < size < 1:
                raise ValueError(f"train_test_split: {name}={size} must be in (0, 1) as a fraction")
            return float(size)
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            if not 0 < size < n_samples:
                raise ValueError(f"train_test_split: {name}={size} must be between 1 and "
                                 f"{n_samples - 1} for {n_samples} samples")
            return int(size)
        raise TypeError(f"train_test_split: {name} must be a float, an int or None, got {size!r}")

    test_size, train_size = checked(test_size, "test_size"), checked(train_size, "train_size")
    if test_size is None and train_size is None:
        test_size = 0.25
    n_test = None if test_size is None else (
        math.ceil(test_size * n_samples) if isinstance(test_size, float) else test_size)
    n_train = None if train_size is None else (
        math.floor(train_size * n_samples) if isinstance(train_size, float) else train_size)
    if n_test is None:
        n_test = n_samples - n_train
    if n_train is None:
        n_train = n_samples - n_test
    if n_train + n_test > n_samples:
        raise ValueError(f"train_test_split: {n_train} train + {n_test} test samples is more "
                         f"than the {n_samples} there are")
    if n_train == 0 or n_test == 0:
        raise ValueError(f"train_test_split: with {n_samples} samples, test_size={test_size} "
                         f"and train_size={train_size} leave an empty set")
    return n_train, n_test


def _proportional_counts(class_counts, total, gen):
    """Split `total` over the classes in proportion to class_counts, in whole numbers.

    Each class gets the floor of its exact share; the few left over go to the classes
    with the largest fractional parts (ties broken at random), so the counts add up to
    `total` and none is more than one away from its exact share.
    """
    shares = class_counts * total  # exact share of class c: shares[c] / n, kept in integers
    n = class_counts.sum()
    counts = shares // n
    left_over = total - counts.sum()
    remainders = shares % n
    order = np.lexsort((gen.random(len(counts)), -remainders))  # largest remainder first
    counts[order[:left_over]] += 1
    return counts


def _stratified_indices(labels, n_train, n_test, gen):
    classes, class_of = np.unique(labels, return_inverse=True)
    class_counts = np.bincount(class_of)
    if class_counts.min() < 2:
        raise ValueError(f"train_test_split: class {classes[class_counts.argmin()]!r} has only "
                         f"one member; stratify needs at least 2 of each class")
    if n_test < len(classes) or n_train < len(classes):
        raise ValueError(f"train_test_split: {n_train} train / {n_test} test samples cannot "
                         f"hold one of each of the {len(classes)} classes")
    train_counts = _proportional_counts(class_counts, n_train, gen)
    test_counts = _proportional_counts(class_counts - train_counts, n_test, gen)
    train, test = [], []
    for c in range(len(classes)):
        members = gen.permutation(np.flatnonzero(class_of == c))
        test.append(members[:test_counts[c]])
        train.append(members[test_counts[c]:test_counts[c] + train_counts[c]])
    return gen.permutation(np.concatenate(train)), gen.permutation(np.concatenate(test))


def _take(array, indices):
    """array[indices] for arrays and Tensors; a list stays a list (e.g. a list of texts)."""
    if isinstance(array, (list, tuple)):
        return [array[i] for i in indices.tolist()]
    return array[indices]


def train_test_split(*arrays, test_size=None, train_size=None, random_state=None, shuffle=True,
                     stratify=None):
    """Split arrays (same length) into train and test parts, like scikit-learn's.

    Returns [a_train, a_test, b_train, b_test, ...]. test_size/train_size: a fraction or
    a count (default: 25% test). stratify: labels whose class proportions both parts
    keep. random_state: an int seed or a numpy Generator; None uses minidl's global
    generator, so minidl.manual_seed makes the split reproducible. shuffle=False takes
    the first samples for training and the next ones for testing.
    """
    if not arrays:
        raise ValueError("train_test_split: give at least one array")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"train_test_split: the arrays have different lengths {lengths}")
    n_samples = lengths[0]
    n_train, n_test = _split_sizes(n_samples, test_size, train_size)

    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    elif stratify is not None:
        labels = to_numpy(stratify)
        if len(labels) != n_samples:
            raise ValueError(f"train_test_split: stratify has {len(labels)} labels for "
                             f"{n_samples} samples")
        train, test = _stratified_indices(labels, n_train, n_test, _generator(random_state))
    else:
        order = _generator(random_state).permutation(n_samples)
        train, test = order[n_test:n_test + n_train], order[:n_test]

    return [part for a in arrays for part in (_take(a, train), _take(a, test))]


def split_last(*arrays, validation_split):
    """Hold out the last `validation_split` fraction of the samples, in order, as Keras's
    fit(validation_split=...) does: returns [a_first, a_last, b_first, b_last, ...].

    The first int(n * (1 - validation_split)) samples (rounded down, as Keras does) form
    the first part and the rest the held-out part: train_test_split with shuffle=False
    and that many training samples.
    """
    if not arrays:
        raise ValueError("split_last: give at least one array")
    if not 0 < validation_split < 1:
        raise ValueError(f"split_last: validation_split must be in (0, 1), "
                         f"got {validation_split}")
    n_samples = len(arrays[0])
    n_first = int(n_samples * (1.0 - validation_split))
    if not 0 < n_first < n_samples:
        raise ValueError(f"split_last: validation_split={validation_split} of {n_samples} "
                         "samples leaves an empty training or validation set")
    return train_test_split(*arrays, train_size=n_first, shuffle=False)


# ---------------------------------------------------------------- standardization

def _float_dtype(X):
    """A standardized X keeps its float dtype (float32 stays float32); integers give float64."""
    return X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64


class Standardizer:
    """Rescale each feature to mean 0 and standard deviation 1, with the mean and standard
    deviation learned by fit (scikit-learn's StandardScaler).

    A constant feature (standard deviation 0) is only centred, not divided by zero.
    """

    def __init__(self):
        self.mean_ = None
        self.scale_ = None

    def fit(self, X):
        X = to_numpy(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"Standardizer.fit: expected a non-empty (samples, features) array, "
                             f"got shape {X.shape}")
        # Statistics in float64 even for float32 data: sums over many rows lose digits.
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        self.scale_ = np.where(std == 0, 1.0, std)
        return self

    def _check(self, X, where):
        if self.mean_ is None:
            raise RuntimeError(f"Standardizer.{where}: call fit first")
        X = to_numpy(X)
        if X.ndim != 2 or X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"Standardizer.{where}: expected (samples, {self.mean_.shape[0]}) "
                             f"like the data it was fitted on, got shape {X.shape}")
        return X

    def transform(self, X):
        X = self._check(X, "transform")
        return ((X - self.mean_) / self.scale_).astype(_float_dtype(X), copy=False)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        X = self._check(X, "inverse_transform")
        return (X * self.scale_ + self.mean_).astype(_float_dtype(X), copy=False)


def standardize(X_train, *others):
    """Standardize X_train and each of `others` with the statistics of X_train alone.

    Returns the transformed arrays in the order given (a single array if only one).
    """
    scaler = Standardizer().fit(X_train)
    results = [scaler.transform(X) for X in (X_train,) + others]
    return results[0] if not others else results


# ---------------------------------------------------------------- one-hot

def one_hot(y, num_classes=None, dtype=np.float32):
    """Integer class labels (n,) -> (n, num_classes) rows with a single 1.

    num_classes defaults to max(y) + 1.
    """
    y = to_numpy(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot: expected a 1-D array of class indices, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"one_hot: labels must be whole numbers, got dtype {y.dtype}")
        y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"one_hot: labels must be in 0..{num_classes - 1}, "
                         f"got values from {y.min()} to {y.max()}")
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out
