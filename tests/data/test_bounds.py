"""Data files are bounded before they are read: only regular files are opened, compressed data
are inflated no further than the declared shapes need, and what a file would take in memory is
compared with the memory available, each refusal naming the file and its figures."""

from __future__ import annotations

import gzip
import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from odedsl import machine
from odedsl.data.csv_file import csv_rows
from odedsl.data.errors import DataError
from odedsl.data.idx import read_idx
from odedsl.data.mnist import mnist
from odedsl.data.npz_file import npz_rows


def idx_header(*shape: int) -> bytes:
    """An IDX header of unsigned bytes (type 0x08) of ``shape``."""
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


@pytest.fixture
def memory(monkeypatch):
    """Set the memory the machine reports as available, in bytes."""

    def set_to(available: int) -> None:
        monkeypatch.setattr(machine, "available_memory", lambda: available)

    return set_to


def test_a_gzip_bomb_is_inflated_no_further_than_its_header_declares(tmp_path):
    # 10 images of 28 × 28 declared (7840 bytes), followed by 100 MB of zeros that compress
    # about 1000:1: the reader stops 1 byte past the declared size instead of inflating 100 MB.
    path = tmp_path / "train-images-idx3-ubyte.gz"
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip container
    zeros = bytes(1 << 20)
    with path.open("wb") as file:
        file.write(compressor.compress(idx_header(10, 28, 28)))
        for _ in range(100):
            file.write(compressor.compress(zeros))
        file.write(compressor.flush())
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"past the 7,840 bytes .* \(10, 28, 28\)"):
            read_idx(path, ndim=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # well under the 100 MB the stream would inflate to


def test_a_declared_shape_beyond_the_memory_is_refused_before_reading(tmp_path, memory):
    # The header claims 3,000,000 images: 2.35 GB of bytes plus 18.8 GB as float64; with 1 GB
    # available the file is refused from its header alone (its body is 10 bytes).
    memory(10**9)
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_header(3_000_000, 28, 28) + bytes(10)))
    with pytest.raises(DataError, match=r"takes 21\.2 GB, more than the 1\.0 GB of memory"):
        read_idx(path, ndim=3)


def test_a_sparse_csv_is_refused_by_size_before_reading(tmp_path, memory):
    # 2 GB of holes (no disk used): reading a CSV takes about 20 times its size, 40 GB, more
    # than the 8 GB reported available.
    memory(8 * 10**9)
    path = tmp_path / "sparse.csv"
    with path.open("wb") as file:
        file.truncate(2 * 10**9)
    with pytest.raises(DataError, match=r"sparse\.csv: reading this 2\.0 GB CSV file .* 40\.0 GB"):
        csv_rows(path)


def test_a_sparse_csv_that_fits_is_refused_at_its_first_nul(tmp_path, memory):
    memory(10**12)  # 1 TB available: the size passes, the first block of zeros does not
    path = tmp_path / "sparse.csv"
    with path.open("wb") as file:
        file.write(b"a,b\n1,2\n")
        file.truncate(2 * 10**9)
    with pytest.raises(DataError, match=r"sparse\.csv:3: a NUL byte \(offset 8\)"):
        csv_rows(path)


def test_an_npz_array_beyond_the_memory_is_refused_before_loading(tmp_path, memory):
    # x: 1000 × 100 float64 = 800 kB, and its float64 copy another 800 kB: 1.6 MB > 1 MB
    path = tmp_path / "big.npz"
    np.savez(path, x=np.zeros((1000, 100)))
    memory(10**6)
    with pytest.raises(DataError, match=r"array 'x' of shape \(1000, 100\) .* takes 1\.6 MB"):
        npz_rows(path)
    memory(10**9)
    assert npz_rows(path)["x"].shape == (1000, 100)


def special(tmp_path, kind: str):
    """A path of ``kind`` and the words a refusal uses for it."""
    if kind == "directory":
        path = tmp_path / "data.csv"
        path.mkdir()
        return path, "a directory"
    if kind == "fifo":
        path = tmp_path / "data.csv"
        os.mkfifo(path)  # opening it would block until a writer comes
        return path, r"a FIFO \(named pipe\)"
    return "/dev/zero", "a character device"


@pytest.mark.parametrize("kind", ["directory", "fifo", "zero"])
@pytest.mark.parametrize("reader", [csv_rows, npz_rows], ids=["CSV", "NPZ"])
def test_special_files_are_refused_by_type(tmp_path, kind, reader):
    # A directory was "not found" before; a FIFO blocked; /dev/zero was read until memory ran out.
    path, words = special(tmp_path, kind)
    with pytest.raises(DataError, match=rf"is {words}, not a file; `path` must name"):
        reader(path)


def test_an_idx_file_that_is_a_fifo_is_refused_by_type(tmp_path):
    os.mkfifo(tmp_path / "train-images-idx3-ubyte")  # "not found" before, as a FIFO is no file
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_header(0))
    with pytest.raises(DataError, match=r"is a FIFO \(named pipe\), not a file; `root`"):
        mnist(split="train", n=None, root=tmp_path)
