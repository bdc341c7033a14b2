"""read_idx and load_fashion_mnist: small IDX files of our own (good and each kind of bad),
where the loader looks and in which order, downloading through a fake fetch, and the real
files when the Debian package dataset-fashion-mnist is installed."""
import gzip
import hashlib
import struct
import urllib.error

import numpy as np
import pytest

import minidl as mdl
from minidl.data import fashion_mnist as fm
from minidl.data import load_fashion_mnist, read_idx
from helpers import need_fashion_mnist

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
         np.float64: 0x0E}


def idx_bytes(array, code=None):
    """The IDX encoding of `array`, written out by hand (not with the code under test)."""
    array = np.asarray(array)
    code = CODES[array.dtype.type] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data, compress=True):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# ------------------------------------------------------------------ read_idx: good files
@pytest.mark.parametrize("dtype", list(CODES), ids=[t.__name__ for t in CODES])
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_read_idx_reads_every_type_in_native_order(tmp_path, dtype, compress):
    array = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    path = write(tmp_path / "a.idx", idx_bytes(array), compress)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    assert result.flags.writeable and result.flags.owndata


@pytest.mark.parametrize("shape", [(0,), (5,), (1, 1), (3, 0, 2), ()])
def test_read_idx_edge_shapes(tmp_path, shape):
    array = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
    result = read_idx(write(tmp_path / "a.idx", idx_bytes(array)))
    assert result.shape == shape
    np.testing.assert_array_equal(result, array)


def test_read_idx_tells_gzip_from_the_content_not_the_name(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    plain_named_gz = write(tmp_path / "plain.gz", idx_bytes(array), compress=False)
    gzip_without_gz = write(tmp_path / "packed-idx1-ubyte", idx_bytes(array), compress=True)
    np.testing.assert_array_equal(read_idx(plain_named_gz), array)
    np.testing.assert_array_equal(read_idx(gzip_without_gz), array)


# ------------------------------------------------------------------ read_idx: bad files
GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))

MALFORMED = {
    "bad magic": (b"\x01\x00" + GOOD[2:], "bad magic number"),
    "unknown type code": (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown type code 0x0A"),
    "too short": (GOOD[:3], "too short"),
    "header cut": (GOOD[:4 + 4 * 2], "truncated in its header"),
    "data cut": (GOOD[:-1], "truncated"),
    "wider type cut": (idx_bytes(np.zeros(3, np.int32))[:-2],
                       "need 12 bytes of data, the file has 10"),
    "extra data": (GOOD + b"\x00", "do not match the size"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_read_idx_names_the_file_and_what_is_wrong(tmp_path, case, compress):
    data, message = MALFORMED[case]
    path = write(tmp_path / "broken-idx3-ubyte.gz", data, compress)
    with pytest.raises(ValueError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_read_idx_a_cut_gzip_stream_is_a_value_error_naming_the_file(tmp_path):
    packed = gzip.compress(GOOD)
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[:len(packed) // 2])
    with pytest.raises(ValueError, match="not a valid gzip file") as error:
        read_idx(path)
    assert str(path) in str(error.value)


# ------------------------------------------------------------------ a small fake data set
def fake_split(n, mark):
    """n 28x28 images whose pixels are all `mark` (so a test sees which folder was read)
    and labels cycling through 0..9."""
    images = np.full((n, 28, 28), mark, dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_fake_set(folder, mark=1, n_train=20, n_test=10, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    for kind, n in (("train", n_train), ("t10k", n_test)):
        images, labels = fake_split(n, mark)
        suffix = ".gz" if compress else ""
        write(folder / f"{kind}-images-idx3-ubyte{suffix}", idx_bytes(images), compress)
        write(folder / f"{kind}-labels-idx1-ubyte{suffix}", idx_bytes(labels), compress)
    return folder


def mark_of(result):
    (X_train, _), _ = result
    return int(X_train[0, 0])


@pytest.fixture
def places(tmp_path, monkeypatch):
    """The four places as empty temporary folders: $MINIDL_DATA, the cache, the Debian one."""
    folders = {"env": tmp_path / "env", "cache": tmp_path / "xdg" / "minidl",
               "debian": tmp_path / "debian" / "fashion-mnist", "path": tmp_path / "mine"}
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(fm, "DEBIAN_FOLDER", folders["debian"])
    folders["env"] = folders["env"] / "fashion-mnist"
    folders["cache"] = folders["cache"] / "fashion-mnist"
    return folders


def test_load_returns_flat_float_rows_like_load_digits(places):
    write_fake_set(places["path"], mark=7)
    (X_train, y_train), (X_test, y_test), info = load_fashion_mnist(places["path"],
                                                                    return_info=True)
    assert X_train.shape == (20, 784) and X_test.shape == (10, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(y_test, np.arange(10))
    assert np.all(X_train == 7.0)
    assert info.class_names[0] == "T-shirt/top" and len(info.class_names) == 10
    assert len(info.feature_names) == 784 and info.feature_names[28] == "pixel_1_0"
    digits_X, _ = mdl.data.load_digits()
    assert digits_X.ndim == X_train.ndim == 2   # one image per row, as load_digits


def test_load_dtype_and_plain_files(places):
    write_fake_set(places["path"], mark=200, compress=False)
    (X_train, _), _ = load_fashion_mnist(places["path"], dtype=np.uint8)
    assert X_train.dtype == np.uint8 and X_train.max() == 200


def test_search_order_path_then_env_then_cache_then_debian(places):
    for mark, name in enumerate(("debian", "cache", "env", "path"), start=1):
        write_fake_set(places[name], mark=mark)
        assert mark_of(load_fashion_mnist()) == min(mark, 3)   # path is never searched
    assert mark_of(load_fashion_mnist(places["path"])) == 4


def test_an_incomplete_folder_is_passed_over(places):
    write_fake_set(places["env"], mark=3)
    write_fake_set(places["cache"], mark=2)
    (places["env"] / "t10k-labels-idx1-ubyte.gz").unlink()
    assert mark_of(load_fashion_mnist()) == 2


def test_an_explicit_path_is_the_only_place_looked_in(places):
    write_fake_set(places["cache"], mark=2)
    with pytest.raises(FileNotFoundError, match="mine"):
        load_fashion_mnist(places["path"])


def test_cache_folder_follows_xdg_and_defaults_to_home(places, tmp_path, monkeypatch):
    assert fm.cache_folder() == tmp_path / "xdg" / "minidl"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")   # the XDG spec: ignore it
    assert fm.cache_folder() == tmp_path / "home" / ".cache" / "minidl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert fm.cache_folder() == tmp_path / "home" / ".cache" / "minidl"


def test_without_minidl_data_the_env_folder_is_skipped(places, monkeypatch):
    monkeypatch.delenv("MINIDL_DATA")
    assert fm.search_folders() == [places["cache"], places["debian"]]


def test_nothing_found_says_where_it_looked_and_how_to_get_the_data(places):
    with pytest.raises(FileNotFoundError) as error:
        load_fashion_mnist()
    message = str(error.value)
    for folder in (places["env"], places["cache"], places["debian"]):
        assert str(folder) in message
    assert "apt-get install dataset-fashion-mnist" in message and "download=True" in message


# ------------------------------------------------------------------ malformed data sets
def test_label_count_differs_from_image_count(places):
    folder = write_fake_set(places["path"])
    write(folder / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(19, np.uint8)))
    with pytest.raises(ValueError, match="19 labels but .*train-images.* has 20 images"):
        load_fashion_mnist(folder)


@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 27, 28), np.uint8), r"shape \(N, 28, 28\).*\(4, 27, 28\)"),
    (np.zeros((4, 784), np.uint8), r"\(4, 784\)"),
    (np.zeros((4, 28, 28), np.int32), "int32"),
])
def test_images_of_the_wrong_shape_or_type(places, images, message):
    folder = write_fake_set(places["path"])
    path = write(folder / "t10k-images-idx3-ubyte.gz", idx_bytes(images))
    with pytest.raises(ValueError, match=message) as error:
        load_fashion_mnist(folder)
    assert str(path) in str(error.value)


def test_labels_out_of_range_or_of_the_wrong_shape(places):
    folder = write_fake_set(places["path"])
    write(folder / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.full(10, 10, np.uint8)))
    with pytest.raises(ValueError, match="label 10"):
        load_fashion_mnist(folder)
    write(folder / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros((10, 1), np.uint8)))
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        load_fashion_mnist(folder)


def test_a_malformed_file_in_the_set_is_named(places):
    folder = write_fake_set(places["path"])
    path = folder / "train-images-idx3-ubyte.gz"
    write(path, idx_bytes(np.zeros((20, 28, 28), np.uint8))[:-5])
    with pytest.raises(ValueError, match="truncated") as error:
        load_fashion_mnist(folder)
    assert str(path) in str(error.value)


# ------------------------------------------------------------------ downloading
@pytest.fixture
def published(places, tmp_path, monkeypatch):
    """A fake set standing in for the published files: their bytes by file name, with
    SHA256 set to their sums. The fake fetch records every URL asked for."""
    source = write_fake_set(tmp_path / "published", mark=9)
    files = {name: (source / name).read_bytes() for name in fm.FILES}
    monkeypatch.setattr(fm, "SHA256", {name: hashlib.sha256(data).hexdigest()
                                       for name, data in files.items()})
    asked = []

    def serve(url, timeout=60):
        asked.append(url)
        return files[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(fm, "fetch", serve)
    return files, asked


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_fetches_into_the_cache_once(places, published):
    _, asked = published
    result = load_fashion_mnist(download=True)
    assert mark_of(result) == 9
    assert files_in(places["cache"]) == sorted(fm.FILES)
    assert asked == [fm.MIRRORS[0] + name for name in fm.FILES]
    assert mark_of(load_fashion_mnist()) == 9 and len(asked) == 4   # found: no new fetch


def test_download_with_a_path_fetches_into_the_path(places, published):
    load_fashion_mnist(places["path"], download=True)
    assert files_in(places["path"]) == sorted(fm.FILES)
    assert files_in(places["cache"]) == []


def test_download_is_skipped_when_the_data_is_found(places, published):
    _, asked = published
    write_fake_set(places["debian"], mark=4)
    assert mark_of(load_fashion_mnist(download=True)) == 4 and asked == []


def test_download_fetches_only_the_missing_files(places, published):
    _, asked = published
    write_fake_set(places["cache"], mark=9)
    (places["cache"] / "t10k-labels-idx1-ubyte.gz").unlink()
    load_fashion_mnist(download=True)
    assert asked == [fm.MIRRORS[0] + "t10k-labels-idx1-ubyte.gz"]


def test_download_falls_back_to_the_second_mirror(places, published, monkeypatch):
    files, _ = published

    def first_mirror_down(url, timeout=60):
        if url.startswith(fm.MIRRORS[0]):
            raise urllib.error.URLError("connection refused")
        return files[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(fm, "fetch", first_mirror_down)
    assert mark_of(load_fashion_mnist(download=True)) == 9


def test_offline_download_is_a_clear_connection_error(places, monkeypatch):
    def offline(url, timeout=60):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fm, "fetch", offline)
    with pytest.raises(ConnectionError, match="no network") as error:
        load_fashion_mnist(download=True)
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert "name resolution" in str(error.value)
    assert files_in(places["cache"]) == []


def test_a_checksum_mismatch_writes_nothing(places, published, monkeypatch):
    files, _ = published
    altered = dict(files, **{"t10k-images-idx3-ubyte.gz": b"not the published file"})
    monkeypatch.setattr(fm, "fetch", lambda url, timeout=60: altered[url.rsplit("/", 1)[1]])
    with pytest.raises(ValueError, match="SHA-256") as error:
        load_fashion_mnist(download=True)
    assert "t10k-images-idx3-ubyte.gz" in str(error.value)
    assert files_in(places["cache"]) == []   # not the bad file, nor the good ones before it


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def fail(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(fm.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        fm._write_atomically(tmp_path / "a.gz", b"data")
    assert files_in(tmp_path) == []


def test_the_published_checksums_and_locations():
    assert fm.FILES == ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    assert all(len(s) == 64 and int(s, 16) >= 0 for s in fm.SHA256.values())
    assert fm.MIRRORS[0] == "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    assert all(mirror.endswith("/") for mirror in fm.MIRRORS)


# ------------------------------------------------------------------ the real files
def test_the_real_files_load_with_the_published_sizes_and_balanced_classes():
    folder = need_fashion_mnist(fm.DEBIAN_FOLDER)
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(folder, dtype=np.uint8)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert X_train.min() == 0 and X_train.max() == 255
    # the background (the corners) is black and the article light: the images are negated
    corners = X_train.reshape(-1, 28, 28)[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.mean() < 5 < X_train.mean()


# The Debian package rewrote each file's gzip header (flags 0: no stored name; its build
# date as time stamp) and kept the compressed data. The published files' headers stored
# the file name and these time stamps (found by trying the seconds of 2017 until the
# SHA-256 matched): putting them back must give the published sums exactly.
ORIGINAL_GZIP_MTIME = {"train-images-idx3-ubyte.gz": 1504176606,
                       "train-labels-idx1-ubyte.gz": 1504176606,
                       "t10k-images-idx3-ubyte.gz": 1504176627,
                       "t10k-labels-idx1-ubyte.gz": 1504176627}


def test_the_debian_files_are_the_published_ones_with_a_rewritten_gzip_header():
    folder = need_fashion_mnist(fm.DEBIAN_FOLDER)
    for name in fm.FILES:
        data = (folder / name).read_bytes()
        assert data[:4] == b"\x1f\x8b\x08\x00", f"{name}: not a gzip header without a name"
        original_header = (b"\x1f\x8b\x08\x08" + struct.pack("<I", ORIGINAL_GZIP_MTIME[name])
                           + data[8:10] + name[:-len(".gz")].encode() + b"\x00")
        assert hashlib.sha256(original_header + data[10:]).hexdigest() == fm.SHA256[name], name


def test_missing_real_data_skips_locally_and_fails_under_ci(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        need_fashion_mnist(tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        need_fashion_mnist(tmp_path)
    write_fake_set(tmp_path, mark=1)
    assert need_fashion_mnist(tmp_path) == tmp_path
