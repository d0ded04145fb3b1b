"""What the machine offers, read without importing torch: its available memory, and what kind
of thing a path is (so that only regular files are ever opened as specs or data)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

_MEMINFO = Path("/proc/meminfo")
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: ``MemAvailable`` of /proc/meminfo (Linux),
    else the free physical pages from ``os.sysconf``; None where neither is known."""
    try:
        for line in _MEMINFO.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it exists but is not a regular file (after symbolic links): "a
    directory", "a FIFO (named pipe)", "a character device", ...; None for a regular file or
    a path that does not exist. Opening a FIFO blocks and /dev/zero never ends, so a reader
    asks this first."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def size(count: float) -> str:
    """A byte count for people: ``1.5 GB``, ``820 MB``, ``12 kB`` (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count:.0f} bytes"
