"""Opening a user's data file: only a regular file, and only when reading it fits in memory."""

from __future__ import annotations

from pathlib import Path

from odedsl import machine
from odedsl.data.errors import DataError, DataFileNotFoundError


def require_file(path: Path, reader: str, argument: str) -> int:
    """The size in bytes of the data file ``path`` that ``reader`` (``CSV``, ``NPZ``, ``IDX``)
    reads, named by ``argument``; refuses a missing path and, before opening it, anything but a
    regular file (a directory, a FIFO, which blocks, a device such as /dev/zero, which never
    ends)."""
    kind = machine.special_kind(path)
    if kind is not None:
        raise DataError(
            f"{reader}: {str(path)!r} is {kind}, not a file; `{argument}` must name a "
            f"{reader} data file"
        )
    if not path.is_file():
        raise DataFileNotFoundError(f"{reader}: file {str(path)!r} not found (check `{argument}`)")
    return path.stat().st_size


def require_memory(path: Path, needed: int, what: str, fix: str) -> None:
    """Refuse (before allocating) when ``needed`` bytes, what reading ``path`` takes as
    ``what`` says, exceed the memory available now."""
    available = machine.available_memory()
    if available is not None and needed > available:
        raise DataError(
            f"{path}: {what} takes {machine.size(needed)}, more than the "
            f"{machine.size(available)} of memory available; {fix}"
        )
