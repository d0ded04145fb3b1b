"""How a model calls the solver: one frozen record per use (training, evaluation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from torch import Tensor

from odedsl.solvers import Solution, solve


@dataclass(frozen=True)
class SolverSettings:
    """The arguments of :func:`odedsl.solve` that a model fixes once.

    ``options`` holds the method's options (``step_size`` for fixed-step methods, ...);
    ``gradient`` is ``"direct"``, ``"adjoint"`` or ``"checkpoint"``; ``per_sample`` gives
    every row of the batch its own step size (``batch = :independent``).
    """

    method: str = "dopri5"
    rtol: float = 1e-5
    atol: float = 1e-5
    gradient: str = "adjoint"
    options: Mapping[str, Any] = field(default_factory=dict)
    per_sample: bool = False

    def with_(self, **changes: Any) -> SolverSettings:
        """A copy with ``changes`` applied (e.g. ``rtol=1e-7``)."""
        return replace(self, **changes)

    def solve(self, func: Callable, y0: Tensor, t: Tensor) -> Solution:
        """Solve ``dy/dt = func(t, y)`` from ``y0`` at the times ``t`` with these settings."""
        return solve(
            func,
            y0,
            t,
            method=self.method,
            rtol=self.rtol,
            atol=self.atol,
            options=dict(self.options),
            gradient=self.gradient,
            per_sample=self.per_sample,
        )
