"""Turning SIGINT and SIGTERM into a request to stop at the next step boundary, and passing
them on from a launcher to its worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], Any]


@contextlib.contextmanager
def _handling(handler: Handler) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM inside the block (main thread only), then the old."""
    previous = {}
    for signum in SIGNALS:
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: signals cannot be caught here
            break
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def forwarding_signals(pids: Sequence[int]) -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM sent to this process go to the processes ``pids``
    instead (each gets every signal once), so workers can stop cleanly while this one waits."""

    def forward(signum: int, frame: FrameType | None) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    with _handling(forward):
        yield


class StopRequest:
    """A context manager: while active, SIGINT/SIGTERM set ``signal_name`` instead of killing.

    A second SIGINT raises ``KeyboardInterrupt`` (for a user who does not want to wait). The
    previous handlers come back on exit. Outside the main thread signals cannot be caught, so
    nothing is installed there.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._handlers = _handling(self._handle)

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def __enter__(self) -> StopRequest:
        self._handlers.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._handlers.__exit__(kind, error, traceback)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
