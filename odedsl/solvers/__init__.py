"""ODE solvers: explicit Runge–Kutta from Butcher tableaux (and Adams), step-size control,
dense output, and the torchdiffeq-compatible ``odeint`` / ``odeint_adjoint``.

- ``solve(func, y0, t, ...) -> Solution`` with ``.ys`` and ``.stats`` (``SolverStats``).
- ``odeint`` / ``odeint_adjoint`` / ``odeint_event``: torchdiffeq's calls and return values
  (events: ``events.py``).
- ``integrate``: the core on a single tensor state, for the gradient methods.
"""

from __future__ import annotations

from .api import odeint, odeint_adjoint, solve
from .events import odeint_event
from .solution import Solution, SolverStats

__all__ = ["Solution", "SolverStats", "odeint", "odeint_adjoint", "odeint_event", "solve"]
