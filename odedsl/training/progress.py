"""A dependency-free progress display: step/total, loss, solver evaluations, speed and ETA.

On a terminal one line is redrawn in place with ``\\r``; elsewhere (a log file, a pipe, CI)
plain lines are written every ``every_steps`` steps or ``every_seconds`` seconds, and at the end::

    step 50/200  loss 0.1234  nfe 26/38  4.1 steps/s  eta 0:36

``nfe`` is the mean of the model's ``nfe_forward``/``nfe_backward`` metrics for the last step;
the first line that shows it is preceded by its legend (:data:`NFE_LEGEND`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

BAR_WIDTH = 20
NFE_LEGEND = (
    "nfe fwd/bwd: evaluations of the dynamics in a step's forward solve / its backward "
    "(adjoint) solve; bwd is 0 when gradients flow back through the solver's steps"
)


def format_duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_status(step: int, total: int, values: Mapping[str, float], rate: float | None) -> str:
    """The progress fields after ``step`` of ``total`` at ``rate`` steps per second."""
    parts = [f"step {step}/{total}"]
    if "loss" in values:
        parts.append(f"loss {values['loss']:.4g}")
    nfe = [f"{values[k]:.0f}" for k in ("nfe_forward", "nfe_backward") if k in values]
    if nfe:
        parts.append("nfe " + "/".join(nfe))
    if rate:
        parts.append(f"{rate:.3g} steps/s")
        parts.append(f"eta {format_duration((total - step) / rate)}")
    return "  ".join(parts)


class ProgressBar:
    """Reports training progress to ``stream`` (stdout by default); see the module docstring.

    ``is_tty`` overrides the terminal detection; ``clock`` is the time source (seconds).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        every_steps: int = 100,
        every_seconds: float = 10.0,
        redraw_seconds: float = 0.1,
        is_tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.is_tty = self.stream.isatty() if is_tty is None else is_tty
        self.every_steps = every_steps
        self.every_seconds = redraw_seconds if self.is_tty else every_seconds
        self.clock = clock
        self.total = 0
        self._initial = 0
        self._started = 0.0
        self._last_step = 0
        self._last_time = 0.0
        self._width = 0
        self._legend_shown = False

    def start(self, total: int, initial: int) -> None:
        self.total, self._initial, self._last_step = total, initial, initial
        self._started = self._last_time = self.clock()

    def update(self, step: int, values: Mapping[str, float]) -> None:
        now = self.clock()
        due = (
            step >= self.total
            or now - self._last_time >= self.every_seconds
            or (not self.is_tty and step - self._last_step >= self.every_steps)
        )
        if not due:
            return
        elapsed = now - self._started
        rate = (step - self._initial) / elapsed if elapsed > 0 else None
        self._last_step, self._last_time = step, now
        status = format_status(step, self.total, values, rate)
        if not self._legend_shown and "nfe_forward" in values:
            self._legend_shown = True
            self.note(NFE_LEGEND)
        if self.is_tty:
            self._redraw(f"{self._bar(step)} {status}")
        else:
            self.stream.write(status + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.is_tty and self._width:
            self._redraw("")
            self.stream.write("\r")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.is_tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def _bar(self, step: int) -> str:
        filled = BAR_WIDTH * step // max(self.total, 1)
        return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"

    def _redraw(self, line: str) -> None:
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
