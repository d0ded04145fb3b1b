"""The accepted-step hook: how a solver shows each accepted step, with its dense output.

A driver that must look inside steps (event location, in ``events.py``) sets a solver's
``step_hook`` attribute before calling ``integrate``; the solver calls it once per accepted
step, after that step's outputs are filled and before the next step starts. The hook may
raise to end the solve early (the solver's statistics are still recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

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


class StepEngine(Protocol):
    """What a one-step engine (``RungeKuttaStages``, or an implicit or fixed-Adams engine
    with its interface) offers for dense output: the states at ``t0 + θh`` as rows."""

    def interpolate(
        self, t0: float, h: float, t1: float, y0: Tensor, theta: Sequence[float]
    ) -> Tensor: ...


def engine_step(
    engine: StepEngine, t0: float, h: float, t1: float, y0: Tensor, y1: Tensor
) -> AcceptedStep:
    """The step ``t0 -> t1`` just taken by ``engine`` as the step hook sees it."""

    def interpolate(times: Sequence[float]) -> Tensor:
        return engine.interpolate(t0, h, t1, y0, [(s - t0) / h for s in times])

    return AcceptedStep(t0, t1, y1, interpolate)
