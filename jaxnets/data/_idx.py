"""IDX files (the MNIST family's format), read with every header field checked."""

import gzip
import os

import numpy as np

# The third header byte names the element type; data are big-endian.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzipped or plain, into a NumPy array of native byte order.

    The header is two zero bytes, a dtype code, the number of dimensions, then each
    dimension as a big-endian uint32. A wrong magic number, an unknown dtype code, or
    a byte count that does not equal the product of the dimensions is a ValueError
    naming the file: never a silently short or reshaped array.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ValueError(
                f"read_idx: {path} is a truncated or corrupted gzip file: {error}"
            ) from error
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise ValueError(
            f"read_idx: {path} is not an IDX file (magic {data[:4].hex() or 'empty'})."
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"read_idx: {path} has unknown IDX dtype code 0x{code:02x}.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header.")
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"read_idx: {path} holds {len(data) - header} data bytes, but its header "
            f"{shape} of {dtype.name} needs {expected}: the file is truncated or not what "
            "it claims."
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def write_idx(path, array) -> None:
    """Write ``array`` as an (uncompressed) IDX file; the inverse of ``read_idx``."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"write_idx: IDX has no code for dtype {array.dtype}.")
    header = bytes([0, 0, codes[native], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(header + array.astype(native.newbyteorder(">")).tobytes())
    os.replace(tmp, path)
