"""A validating reader for the IDX format of MNIST (plain or gzip-compressed).

Layout: two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a
big-endian uint32, then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import zlib
from contextlib import nullcontext
from pathlib import Path
from typing import BinaryIO

import numpy as np

from odedsl import machine
from odedsl.data.errors import DataError
from odedsl.data.paths import require_file, require_memory

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
AS_FLOAT64 = 8
"""Bytes a value takes once read: the images become float64 (``odedsl.data.mnist``)."""


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file into a native-endian array, checking the header against the size.

    ``ndim`` (if given) is the number of dimensions the file must have. Only a regular file is
    opened; the header is read first, and the data its shape declares are read no further (a
    gzip stream is decompressed up to that size: a bomb of zeros is refused, not inflated),
    after checking that they, as float64, fit in the memory available.
    """
    path = Path(path)
    size = require_file(path, "IDX", "root")
    try:
        with path.open("rb") as raw, _stream(raw) as stream:
            return _read(path, stream, size, ndim, compressed=stream is not raw)
    except EOFError as error:
        raise DataError(
            f"{path}: the gzip stream ends early; the file is truncated (re-download it)"
        ) from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: corrupt gzip data ({error}); re-download the file") from error


def _stream(raw: BinaryIO) -> BinaryIO:
    compressed = raw.read(2) == GZIP_MAGIC
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if compressed else nullcontext(raw)  # type: ignore[return-value]


def _read(
    path: Path, stream: BinaryIO, size: int, ndim: int | None, *, compressed: bool
) -> np.ndarray:
    data = stream.read(4)
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX header (4 bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise DataError(
            f"{path}: not an IDX file (magic number 0x{data[:4].hex()}; expected 0x0000TTNN "
            f"with type TT in {', '.join(f'{code:02x}' for code in IDX_TYPES)})"
        )
    dtype, dims = IDX_TYPES[data[2]], data[3]
    if ndim is not None and dims != ndim:
        raise DataError(f"{path}: IDX file has {dims} dimensions, expected {ndim}")
    header = 4 + 4 * dims
    sizes = stream.read(4 * dims)
    if len(sizes) < 4 * dims:
        raise DataError(f"{path}: truncated header ({4 + len(sizes)} of {header} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))
    count = int(np.prod(shape, dtype=np.int64))
    expected = count * dtype.itemsize
    if not compressed and size - header > expected:
        raise DataError(
            f"{path}: {size - header - expected} unexpected trailing bytes after the {shape} array"
        )
    if not compressed and size - header < expected:
        raise DataError(
            f"{path}: truncated: shape {shape} needs {expected} data bytes, found {size - header}"
        )
    require_memory(
        path,
        expected + count * AS_FLOAT64,
        f"the {shape} array its header declares (as {dtype} and as float64)",
        "check that this is the right file (MNIST's training images are (60000, 28, 28))",
    )
    body = stream.read(expected + 1)
    if len(body) < expected:
        raise DataError(
            f"{path}: truncated: shape {shape} needs {expected} data bytes, found {len(body)}"
        )
    if len(body) > expected:
        raise DataError(
            f"{path}: the data go on past the {expected:,} bytes that the header's shape "
            f"{shape} declares ({machine.size(size)} on disk); refusing to read further "
            "(a damaged or hostile file: re-download it)"
        )
    values = np.frombuffer(body, dtype=dtype).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
