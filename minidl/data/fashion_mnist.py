"""Fashion-MNIST: 70,000 28x28 grey images of clothes in 10 classes, found on disk or fetched once.

    (X_train, y_train), (X_test, y_test) = load_fashion_mnist()   # (60000, 784), (10000, 784)

The data is too big to ship inside minidl (30 MB), so the four gzipped IDX files the
authors publish are looked for, in this order, in

1. the folder `path`, when it is given (and only there);
2. $MINIDL_DATA/fashion-mnist, when the environment variable MINIDL_DATA is set;
3. the user cache folder: $XDG_CACHE_HOME/minidl/fashion-mnist, by default
   ~/.cache/minidl/fashion-mnist;
4. /usr/share/datasets/fashion-mnist, where the Debian/Ubuntu package
   dataset-fashion-mnist installs them (`apt-get install dataset-fashion-mnist`).

The first folder that holds all four files is used; each may be gzipped or plain. With
`download=True` and no folder holding them, the missing files are fetched from the
authors' published location into `path` (or the cache folder), and each one is checked
against the SHA-256 of the published file before it is written (atomically), so a
failed or altered download never leaves a file behind.
"""

import hashlib
import http.client
import os
import urllib.request
from pathlib import Path

import numpy as np

from .datasets import DatasetInfo
from .idx import read_idx

# The authors' files (README of github.com/zalandoresearch/fashion-mnist): the S3 location
# the README links, then the copy in the repository's data/fashion folder.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

# SHA-256 of the published files. The README lists their MD5 sums; torchvision (prototype
# datasets, mnist.py) and other loaders check the same files against these SHA-256 sums.
# The Debian package's copies are the same compressed data: its build only rewrote each
# gzip header (no stored file name, the build date as time stamp). Putting the original
# header back (the file name and a time stamp of 31 August 2017) gives these sums exactly,
# which tests/test_fashion_mnist.py checks when the package is installed.
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
FILES = tuple(SHA256)
SUBFOLDER = "fashion-mnist"
DEBIAN_FOLDER = Path("/usr/share/datasets") / SUBFOLDER
IMAGE_SHAPE = (28, 28)

FASHION_MNIST_INFO = DatasetInfo(
    name="fashion_mnist",
    description="Zalando article images: 60,000 training and 10,000 test images of 28x28 "
                "grey pixels, 6,000 and 1,000 of each of 10 classes. Values 0..255 with "
                "0 the background: the photos were negated, so the article is light on "
                "black. Row-major: feature 28*r + c is the pixel in row r, column c.",
    source="Xiao, Rasul & Vollgraf, 'Fashion-MNIST: a Novel Image Dataset for "
           "Benchmarking Machine Learning Algorithms' (2017), arXiv:1708.07747; "
           "github.com/zalandoresearch/fashion-mnist",
    license="MIT (Copyright 2017 Zalando SE)",
    feature_names=tuple(f"pixel_{r}_{c}" for r in range(28) for c in range(28)),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    target_name="article",
)


# ------------------------------------------------------------------ where the files are
def cache_folder():
    """minidl's user cache folder: $XDG_CACHE_HOME/minidl, by default ~/.cache/minidl."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):   # unset, empty or relative: the XDG spec says ignore it
        base = Path.home() / ".cache"
    return Path(base) / "minidl"


def search_folders(path=None):
    """The folders looked in, in order: `path` alone if given, else env, cache, Debian."""
    if path is not None:
        return [Path(path)]
    folders = []
    if os.environ.get("MINIDL_DATA"):
        folders.append(Path(os.environ["MINIDL_DATA"]) / SUBFOLDER)
    folders.append(cache_folder() / SUBFOLDER)
    folders.append(DEBIAN_FOLDER)
    return folders


def _file_in(folder, name):
    """folder/name, or its decompressed twin folder/name-without-.gz; None if neither."""
    for candidate in (folder / name, folder / name[:-len(".gz")]):
        if candidate.is_file():
            return candidate
    return None


def find_fashion_mnist(path=None):
    """The first folder of `search_folders(path)` that holds all four files, or None."""
    for folder in search_folders(path):
        if all(_file_in(folder, name) for name in FILES):
            return folder
    return None


def _not_found_message(path):
    places = "\n".join(f"  {folder}" for folder in search_folders(path))
    target = Path(path) if path is not None else cache_folder() / SUBFOLDER
    return (f"load_fashion_mnist: the four Fashion-MNIST files ({', '.join(FILES)}) are not "
            f"in any of:\n{places}\nTo get them: install the Debian/Ubuntu package "
            "(apt-get install dataset-fashion-mnist), or call "
            f"load_fashion_mnist(download=True) to fetch them into {target}, or copy them "
            "there yourself.")


# ------------------------------------------------------------------ downloading
def fetch(url, timeout=60):
    """The bytes at `url`, by one HTTP GET (the tests put a fake in its place)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _download_one(name):
    """The bytes of one published file, from the first mirror that gives the right ones."""
    failures = []
    for mirror in MIRRORS:
        url = mirror + name
        try:
            data = fetch(url)
        except (OSError, http.client.HTTPException) as error:   # offline, refused, cut off
            failures.append(f"  {url}: {getattr(error, 'reason', error)}")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest == SHA256[name]:
            return data
        failures.append(f"  {url}: SHA-256 {digest}, expected {SHA256[name]} "
                        f"({len(data)} bytes received)")
    listing = "\n".join(failures)
    if any("SHA-256" in line for line in failures):
        raise ValueError(f"load_fashion_mnist: no mirror gave the published {name} (its "
                         f"checksum differs), so nothing was written:\n{listing}")
    raise ConnectionError(f"load_fashion_mnist: could not download {name} (no network?):\n"
                          f"{listing}\nInstall the Debian/Ubuntu package "
                          "dataset-fashion-mnist instead, or copy the files by hand.")


def _write_atomically(path, data):
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def download_fashion_mnist(folder):
    """Fetch the files missing from `folder`, checked against SHA256; returns the folder.

    Every file is fetched and checked before any is written, so a failure leaves the
    folder as it was.
    """
    folder = Path(folder)
    missing = [name for name in FILES if _file_in(folder, name) is None]
    fetched = {name: _download_one(name) for name in missing}
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in fetched.items():
        _write_atomically(folder / name, data)
    return folder


# ------------------------------------------------------------------ loading
def _read_images(path):
    images = read_idx(path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"load_fashion_mnist: {path} should hold uint8 images of shape "
                         f"(N, 28, 28), it holds {images.dtype} {images.shape}")
    return images


def _read_labels(path, n_images, images_path):
    labels = read_idx(path)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"load_fashion_mnist: {path} should hold uint8 labels of shape "
                         f"(N,), it holds {labels.dtype} {labels.shape}")
    if len(labels) != n_images:
        raise ValueError(f"load_fashion_mnist: {path} has {len(labels)} labels but "
                         f"{images_path} has {n_images} images")
    if labels.size and labels.max() >= len(FASHION_MNIST_INFO.class_names):
        raise ValueError(f"load_fashion_mnist: {path} has the label {labels.max()}; "
                         "Fashion-MNIST's classes are 0..9")
    return labels


def _read_split(folder, kind, dtype):
    images_path = _file_in(folder, f"{kind}-images-idx3-ubyte.gz")
    labels_path = _file_in(folder, f"{kind}-labels-idx1-ubyte.gz")
    images = _read_images(images_path)
    labels = _read_labels(labels_path, len(images), images_path)
    return images.reshape(len(images), -1).astype(dtype), labels.astype(np.int64)


def load_fashion_mnist(path=None, download=False, return_info=False, dtype=np.float32):
    """Fashion-MNIST as ((X_train, y_train), (X_test, y_test)), as Keras' load_data.

    X holds one image per row, like `load_digits`: (60000, 784) and (10000, 784) of pixel
    values 0..255 (not scaled; `dtype=np.uint8` keeps the bytes as they are). Reshape to
    (-1, 1, 28, 28) for a convolutional network. y holds the classes 0..9 as int64; their
    names are in the DatasetInfo that `return_info=True` appends to the result.

    `path`: a folder holding the four IDX files, the only place looked in when given.
    Otherwise $MINIDL_DATA/fashion-mnist, ~/.cache/minidl/fashion-mnist and the Debian
    package's folder are searched (see the module docstring). `download=True` fetches the
    files when none of these has them, into `path` or the cache folder, checking the
    SHA-256 of each. Malformed files raise a ValueError naming the file.
    """
    folder = find_fashion_mnist(path)
    if folder is None:
        if not download:
            raise FileNotFoundError(_not_found_message(path))
        folder = download_fashion_mnist(path if path is not None else
                                        cache_folder() / SUBFOLDER)
    result = (_read_split(folder, "train", dtype), _read_split(folder, "t10k", dtype))
    return result + (FASHION_MNIST_INFO,) if return_info else result
