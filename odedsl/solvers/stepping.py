"""The accepted-step hook: how a solver shows each accepted step, with its dense output.

A driver that must look inside steps (event location, in ``events.py``) sets a solver's
``step_hook`` attribute before calling ``integrate``; the solver calls it once per accepted
step, after that step's outputs are filled and before the next step starts. The hook may
raise to end the solve early (the solver's statistics are still recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class AcceptedStep:
    """One accepted step from ``t0`` to ``t1`` (Python floats, in the direction of the solve).

    ``y1`` is the flat state at ``t1``; ``interpolate(times)`` the solver's dense output at
    times inside ``[t0, t1]``, as rows of an ``(m, n)`` tensor of flat states (in the
    autograd graph when the solve keeps one). Valid only during the hook's call.
    """

    t0: float
    t1: float
    y1: Tensor
    interpolate: Callable[[Sequence[float]], Tensor]


StepHook = Callable[[AcceptedStep], None]
