"""Read IDX files, the format of MNIST and Fashion-MNIST, gzipped or plain.

    images = read_idx("train-images-idx3-ubyte.gz")   # uint8 array (60000, 28, 28)

An IDX file is a header and then the numbers, every value big-endian:

    bytes 0-1   zero
    byte  2     the type code of the values:  0x08 uint8   0x09 int8    0x0B int16
                                              0x0C int32   0x0D float32 0x0E float64
    byte  3     the number of dimensions d
    4 d bytes   the size of each dimension, an unsigned 32-bit integer each
    the rest    the values in row-major (C) order: exactly prod(sizes) of them

A file that breaks any of these rules raises a ValueError that names the file and says
which rule, so a truncated download or a wrong file is caught here and not as a strange
shape or garbage pixels later.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

# type code -> big-endian NumPy dtype of the values
IDX_DTYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_bytes(path):
    """The bytes of `path`, decompressed when the file starts with the gzip magic number.

    Whether a file is gzipped is read from its first two bytes, not from its name, so a
    decompressed file that kept its .gz name (or the other way round) is read all the same.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:   # cut short, or not a gzip stream
        raise ValueError(f"read_idx: {path} is not a valid gzip file ({error}); the file "
                         "is probably truncated or corrupt: fetch it again") from None


def parse_idx(data, name="<bytes>"):
    """The array in the IDX bytes `data`, in native byte order; `name` is used in errors."""
    if len(data) < 4:
        raise ValueError(f"read_idx: {name} is too short to be an IDX file: {len(data)} "
                         "bytes, and the header alone takes at least 4")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"read_idx: {name} has a bad magic number {data[:4].hex()}: an IDX "
                         "file starts with two zero bytes (is it an IDX file?)")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {name} has the unknown type code 0x{code:02X} in its "
                         f"magic number; known codes: {known}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {name} is truncated in its header: {ndim} dimensions "
                         f"need {header} header bytes, the file has {len(data)}")
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise ValueError(f"read_idx: {name} is truncated: dimensions {shape} of {dtype.name} "
                         f"need {expected} bytes of data, the file has {found}")
    if found > expected:
        raise ValueError(f"read_idx: {name} has {found - expected} bytes more than its "
                         f"dimensions {shape} of {dtype.name} account for ({expected} bytes): "
                         "the dimensions do not match the size of the data")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))   # a native-order copy that owns its memory


def read_idx(path):
    """The array stored in the IDX file at `path` (gzipped or plain), e.g. uint8 (N, 28, 28)."""
    return parse_idx(read_bytes(path), name=str(path))
