"""What a solve returns: the solution and its statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor


@dataclass
class SolverStats:
    """Counters of one solve, updated in place by the solvers and gradient methods.

    ``nfe_forward`` counts every call of ``func`` in the forward solve, ``nfe_backward``
    those of the backward pass (0 until one runs), ``steps_accepted`` / ``steps_rejected``
    the forward steps; ``info`` holds method-specific extras (e.g. ``initial_step``).
    """

    nfe_forward: int = 0
    nfe_backward: int = 0
    steps_accepted: int = 0
    steps_rejected: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Solution:
    """``ys``: the solution at the requested times, shaped like ``odeint``'s return value
    (a tensor, or a tuple of tensors for a tuple state); ``stats``: the solve's counters;
    ``event_t``: with ``event_fn``, the event time (one per row with ``events="per_row"``)."""

    ys: Tensor | tuple[Tensor, ...]
    stats: SolverStats
    event_t: Tensor | None = None  # the event time(s) of a solve with event_fn
