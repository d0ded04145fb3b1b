"""Crash-safe file writes: a reader sees the old complete file or the new one, never a torn one.

Each write goes to ``.<name>.<pid>.partial`` in the same folder (a name of the writing
process's own, so two writers never share one), is flushed and fsynced, renamed over the target
with ``os.replace`` (atomic on POSIX and Windows) and the folder is fsynced so the rename itself
survives a power cut. A writer killed midway leaves only its ``.partial`` file, which
:func:`partial_files` finds for removal.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def partial_path(path: Path) -> Path:
    """Where this process stages a write of ``path``."""
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def partial_files(path: Path) -> list[Path]:
    """The staging files of ``path`` that writers (of any process) left behind."""
    return sorted(path.parent.glob(f".{path.name}.*partial"))


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Calls ``write(file)`` on a staging file, then moves it over ``path`` atomically."""
    staging = partial_path(path)
    with open(staging, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(staging, path)
    _fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda file: file.write(text.encode("utf-8")))


def atomic_torch_save(path: Path, obj: Any) -> None:
    """``torch.save(obj)`` to ``path`` atomically."""
    atomic_write(path, lambda file: torch.save(obj, file))
