"""An exclusive lock on a run folder, so that two processes never write one run.

The lock is ``fcntl.flock`` on ``<run>/.odedsl.lock``, which records the holder's pid. The
kernel releases it when its holder exits, however it exits, so a lock file left by a dead
process is simply taken over. Where ``flock`` is not supported (some network file systems) the
recorded pid decides: a live process other than this one holds the run, a dead one does not.
Within one process the lock is re-entrant (``odedsl train`` holds it around the training
command, which takes it again).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from odedsl.training.errors import RunError

LOCK = ".odedsl.lock"
FRESH = "fresh run"

_held: dict[Path, tuple[int, int]] = {}
"""The run folders this process holds: the lock file's descriptor and the nesting depth."""


class RunLocked(RunError):
    """Another process holds the run folder; ``holder`` is its pid (None when unknown)."""

    def __init__(self, folder: Path, holder: int | None) -> None:
        who = f"process {holder}" if holder is not None and holder > 0 else "another process"
        super().__init__(
            f"{folder}: in use by {who} (lock file {folder / LOCK}); wait for it to end, or "
            "stop it, before writing this run"
        )
        self.holder = holder


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").split("\n", 1)[0].strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _note(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").partition("\n")[2].strip()
    except (OSError, UnicodeDecodeError):
        return ""


def held_for_fresh_run(folder: str | Path) -> bool:
    """Whether the lock of ``folder`` is held (by this process or its launcher) for a fresh
    run: the files in the folder are then that run's own."""
    held = holds(folder) or holder(folder) is not None
    return held and _note(Path(folder) / LOCK) == FRESH


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _acquire(path: Path, note: str) -> int:
    """The descriptor of ``path``, locked, with this process's pid and ``note`` written in it."""
    import fcntl

    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise RunLocked(path.parent, _holder(path)) from None
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            os.close(descriptor)
            raise
        holder = _holder(path)  # no flock here: trust a live recorded pid
        if holder is not None and holder != os.getpid() and _alive(holder):
            os.close(descriptor)
            raise RunLocked(path.parent, holder) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n{note}".encode("ascii"), 0)
    return descriptor


def holds(folder: str | Path) -> bool:
    """Whether this process holds the lock of ``folder``."""
    return Path(folder).resolve() in _held


def holder(folder: str | Path) -> int | None:
    """The pid of another process holding the lock of ``folder`` (-1 when it recorded none),
    or None when no other process holds it; creates nothing."""
    import fcntl

    path = Path(folder) / LOCK
    if holds(folder) or not path.is_file():
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(path)
        return -1 if pid is None else pid
    except OSError:  # no flock here: the recorded pid decides
        pid = _holder(path)
        return pid if pid is not None and pid != os.getpid() and _alive(pid) else None
    finally:
        os.close(descriptor)
    return None


@contextlib.contextmanager
def run_lock(folder: str | Path, *, fresh: bool = False) -> Iterator[None]:
    """Hold the exclusive lock of the run ``folder`` (created if missing) inside the block;
    ``RunLocked``, naming the holder's pid, when another process holds it. ``fresh``: the
    holder starts a fresh run there (see :func:`held_for_fresh_run`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    if key in _held:
        descriptor, depth = _held[key]
        _held[key] = (descriptor, depth + 1)
    else:
        _held[key] = (_acquire(folder / LOCK, FRESH if fresh else ""), 1)
    try:
        yield
    finally:
        descriptor, depth = _held.pop(key)
        if depth > 1:
            _held[key] = (descriptor, depth - 1)
        else:
            os.ftruncate(descriptor, 0)  # no pid: nobody holds it
            os.close(descriptor)  # closing releases the flock
