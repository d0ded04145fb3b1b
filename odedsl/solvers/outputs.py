"""Collecting the solution at the requested times, inside or outside the autograd graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .runge_kutta import RungeKuttaStages


class Outputs:
    """Rows of the solution, flat: a preallocated buffer, or graph pieces joined at the end."""

    def __init__(self, y0: Tensor, n_times: int, track_graph: bool) -> None:
        self.count = 1
        self._track_graph = track_graph
        if track_graph:
            self._pieces = [y0.unsqueeze(0)]
        else:
            self._buffer = y0.new_empty((n_times, y0.numel()))
            self._buffer[0].copy_(y0)

    def add(self, rows: Tensor) -> None:
        """Append ``rows`` of shape ``(m, n)``."""
        m = rows.shape[0]
        if self._track_graph:
            self._pieces.append(rows)
        else:
            self._buffer[self.count : self.count + m].copy_(rows)
        self.count += m

    def finite_since(self, count: int) -> bool:
        """Whether the rows added after the first ``count`` hold only finite values."""
        if self._track_graph:
            rows, pieces = self.count, []
            for piece in reversed(self._pieces):
                if rows <= count:
                    break
                pieces.append(piece)
                rows -= piece.shape[0]
            return all(bool(torch.isfinite(piece.detach()).all()) for piece in pieces)
        return bool(torch.isfinite(self._buffer[count : self.count]).all())

    def result(self, shape: torch.Size) -> Tensor:
        """The solution as ``(n_times, *shape)``."""
        ys = torch.cat(self._pieces) if self._track_graph else self._buffer
        return ys.view(ys.shape[0], *shape)


def fill_outputs(
    outputs: Outputs,
    stages: RungeKuttaStages,
    times: list[float],
    next_out: int,
    t0: float,
    h: float,
    t1: float,
    y0: Tensor,
    y1: Tensor,
) -> int:
    """Add every output time in ``(t0, t1]`` of a step of size ``h``; return the next index.

    Times strictly inside the step come from the continuous extension, ``t1`` from ``y1``.
    """
    inside = []
    j = next_out
    while j < len(times) and (times[j] - t1) * h < 0.0:
        inside.append((times[j] - t0) / h)
        j += 1
    if inside:
        outputs.add(stages.interpolate(t0, h, t1, y0, inside))
    if j < len(times) and times[j] == t1:
        outputs.add(y1.unsqueeze(0))
        j += 1
    return j
