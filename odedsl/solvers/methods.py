"""The registry of solver methods: ``SOLVERS`` maps a method name to a solver class.

Interface of a solver class (Runge–Kutta here, Adams in ``adams.py``)::

    class Solver:
        option_names: ClassVar[frozenset[str]]    # options it accepts (checked by integrate)
        step_hook: StepHook | None = None          # called with each accepted step

        def __init__(self, func, y0, rtol, atol, norm, options, stats): ...
        def integrate(self, t) -> Tensor: ...

- ``func(t, y)``: ``t`` a 0-dim tensor of ``y0``'s dtype and device, ``y`` shaped like ``y0``.
- ``y0``: a single tensor of any shape (tuple states are flattened by the API).
- ``rtol``, ``atol``: floats, or tensors broadcastable to ``y0``.
- ``norm``: ``None`` (RMS) or a callable from the scaled error (shaped like ``y0``) to a
  0-dim tensor.
- ``options``: a dict holding only names from ``option_names``; values are checked by the
  solver (``ValueError`` naming the option).
- ``stats``: a ``SolverStats`` the solver updates in place (every ``func`` call counts).
- ``integrate(t)``: ``t`` a strictly monotone 1-D tensor with at least one entry, increasing
  or decreasing; returns the solution at ``t`` with shape ``(len(t), *y0.shape)``, the first
  row ``y0``. Failures raise ``odedsl.errors.SolverError``. ``t[-1]`` may be ``±inf`` (a
  solve that a step hook ends, e.g. at an event).
- ``step_hook``: when set, called after every accepted step with a ``stepping.AcceptedStep``
  (the step's ends and dense output); events (``events.py``) use it.

Helpers for new solvers: ``control`` (``select_initial_step``, ``StepSizeController``,
``rms_norm``), ``interpolation`` (``hermite_interpolate``, ``DenseOutput``) and
``options`` (option readers with did-you-mean). A new Runge–Kutta method is one tableau
file under ``tableaux/`` plus one line below.
"""

from __future__ import annotations

from .adams import AdamsSolver
from .adaptive import AdaptiveRungeKuttaSolver
from .fixed import FixedGridSolver
from .fixed_adams import ExplicitAdamsSolver, ImplicitAdamsSolver
from .implicit import implicit_solver
from .scipy_solver import ScipySolver
from .tableau import ButcherTableau
from .tableaux import (
    ADAPTIVE_HEUN,
    BOSH3,
    DOPRI5,
    DOPRI8,
    EULER,
    FEHLBERG2,
    HEUN,
    HEUN3,
    MIDPOINT,
    RK4,
    TSIT5,
)
from .tableaux.dirk import SDIRK2, TRBDF2
from .tableaux.gauss_legendre import GL4, GL6
from .tableaux.implicit_low_order import IMPLICIT_EULER, IMPLICIT_MIDPOINT, TRAPEZOID
from .tableaux.radau import RADAU_IIA3, RADAU_IIA5


def runge_kutta_solver(tableau: ButcherTableau, *, fixed_grid: bool = False) -> type:
    """The solver class of a tableau: adaptive for embedded pairs unless ``fixed_grid``."""
    base = AdaptiveRungeKuttaSolver if tableau.adaptive and not fixed_grid else FixedGridSolver
    class_name = f"{tableau.name.capitalize()}{base.__name__}"
    return type(class_name, (base,), {"tableau": tableau, "__doc__": base.__doc__})


_HEUN = runge_kutta_solver(HEUN)

SOLVERS: dict[str, type] = {
    "euler": runge_kutta_solver(EULER),
    "midpoint": runge_kutta_solver(MIDPOINT),
    "heun2": _HEUN,
    "heun": _HEUN,  # odedsl's earlier name of heun2
    "heun3": runge_kutta_solver(HEUN3),
    "rk4": runge_kutta_solver(RK4),
    "adaptive_heun": runge_kutta_solver(ADAPTIVE_HEUN),
    "fehlberg2": runge_kutta_solver(FEHLBERG2),
    "bosh3": runge_kutta_solver(BOSH3),
    "dopri5": runge_kutta_solver(DOPRI5),
    "tsit5": runge_kutta_solver(TSIT5),
    "dopri8": runge_kutta_solver(DOPRI8),
    "adams": AdamsSolver,
    "explicit_adams": ExplicitAdamsSolver,
    "implicit_adams": ImplicitAdamsSolver,
    "fixed_adams": ImplicitAdamsSolver,  # torchdiffeq's older name of implicit_adams
    "scipy_solver": ScipySolver,
    "implicit_euler": implicit_solver(IMPLICIT_EULER),
    "implicit_midpoint": implicit_solver(IMPLICIT_MIDPOINT),
    "trapezoid": implicit_solver(TRAPEZOID),
    "radauIIA3": implicit_solver(RADAU_IIA3),
    "radauIIA5": implicit_solver(RADAU_IIA5),
    "gl4": implicit_solver(GL4),
    "gl6": implicit_solver(GL6),
    "sdirk2": implicit_solver(SDIRK2),
    "trbdf2": implicit_solver(TRBDF2),
}
