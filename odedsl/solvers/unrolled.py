"""Fixed-step solves unrolled into one straight-line graph: no host syncs, ready to compile.

``FixedGridSolver`` (``fixed.py``) steps a Python loop over preallocated buffers and checks
each output for NaN, which reads tensors back to the host. Here the whole schedule of a
fixed-grid solve (steps, stage times, which outputs fall inside which step and their dense
output weights) is worked out on the host once, from the floats of the grid, as an
``UnrolledPlan``; ``run_plan`` then replays it with tensor operations only. It never calls
``.item()``, ``bool``, ``float`` or ``.tolist()`` on a tensor, so a solve and its backward pass
run without host synchronisation, and ``torch.compile(fullgraph=True)`` traces the whole solve
(the plan's floats become constants of the graph).

The results equal ``FixedGridSolver``'s: the same grid, the same stages, the same cubic
Hermite or linear dense output (whose end derivative is the next step's first stage), and the
same number of function evaluations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .fixed import FixedGridSolver
from .integrate import solver_class
from .interpolation import DenseOutput
from .options import check_option_names, times_as_floats
from .runge_kutta import Func
from .solution import SolverStats
from .tableau import ButcherTableau

UNSUPPORTED_OPTIONS = ("grid_constructor", "step_callback")
"""Options that call back into Python during a solve; such solves stay on ``fixed.py``."""


@dataclass(frozen=True)
class PlannedStep:
    """One step ``t0 → t1 = t0 + h``: its stage times, the dense output weights of the output
    times strictly inside it (one row per time, over the tableau's stages and the dense
    output's extra stages), whether ``t1`` is an output, and whether ``f(t1, y1)`` is needed
    (by the next step or by the dense output)."""

    t0: float
    h: float
    t1: float
    stage_times: tuple[float, ...]
    inside: tuple[tuple[float, ...], ...]
    end_is_output: bool
    needs_end_stage: bool


@dataclass(frozen=True)
class UnrolledPlan:
    """The whole schedule of a fixed-grid solve (see the module docstring)."""

    tableau: ButcherTableau
    dense: DenseOutput
    steps: tuple[PlannedStep, ...]
    n_outputs: int

    def call_times(self, like: Tensor) -> Tensor:
        """The time of each call of ``func`` in order, in ``like``'s dtype and device."""
        times = [self.steps[0].t0]
        for step in self.steps:
            times += step.stage_times[1:]
            if step.needs_end_stage:
                times.append(step.t1)
        return torch.tensor(times, dtype=like.dtype, device=like.device)

    @property
    def nfe(self) -> int:
        """Function evaluations of the solve, as ``FixedGridSolver`` counts them."""
        per_step = self.tableau.n_stages - 1
        return 1 + sum(per_step + step.needs_end_stage for step in self.steps)


def supports(method: str, options: dict[str, Any], t: Tensor) -> bool:
    """Whether a solve with ``method`` and ``options`` can run unrolled: a fixed-grid method
    (none is FSAL), no Python callbacks, and no gradient with respect to the times."""
    cls = solver_class(method)
    if not issubclass(cls, FixedGridSolver) or cls.tableau.fsal:
        return False
    if any(options.get(name) is not None for name in UNSUPPORTED_OPTIONS):
        return False
    return not (torch.is_grad_enabled() and t.requires_grad)


def make_plan(method: str, y0: Tensor, t: Tensor, options: dict[str, Any]) -> UnrolledPlan | None:
    """The plan of ``method`` (a fixed-grid method) with ``options`` over the times ``t``;
    options are validated as ``FixedGridSolver`` validates them. None when the grid has
    more than ``max_num_steps`` steps (the eager solver then raises its own error)."""
    cls = solver_class(method)
    options = {k: v for k, v in options.items() if k != "norm"}
    check_option_names(options, cls.option_names, method)
    solver = cls(None, y0, 0.0, 0.0, None, options, SolverStats())
    times = times_as_floats(t)
    n_grid, grid = solver._grid(t, times)
    if solver.max_num_steps is not None and n_grid - 1 > solver.max_num_steps:
        return None
    tableau, dense = solver.tableau, solver.dense
    points = list(grid)
    steps = []
    next_out = 1
    for index, (t0, t1) in enumerate(itertools.pairwise(points)):
        h = t1 - t0
        inside = []
        while next_out < len(times) and (times[next_out] - t1) * h < 0.0:
            inside.append((times[next_out] - t0) / h)
            next_out += 1
        end_is_output = next_out < len(times) and times[next_out] == t1
        next_out += end_is_output
        weights = dense.weights(np.asarray(inside, dtype=np.float64)) if inside else ()
        steps.append(
            PlannedStep(
                t0=t0,
                h=h,
                t1=t1,
                stage_times=tuple(t1 if c == 1.0 else t0 + c * h for c in tableau.c),
                inside=tuple(tuple(float(w) for w in row) for row in weights),
                end_is_output=end_is_output,
                needs_end_stage=bool(inside and dense.extra_c) or index < len(points) - 2,
            )
        )
    return UnrolledPlan(tableau, dense, tuple(steps), len(times))


def run_plan(func: Func, y0: Tensor, plan: UnrolledPlan, times: Tensor | None = None) -> Tensor:
    """Replay ``plan`` from ``y0``: the solution at the plan's output times,
    ``(n_outputs, *y0.shape)``. Tensor operations only (no host synchronisation).

    ``times`` (default ``plan.call_times(y0)``) holds the time of every call of ``func``:
    under ``torch.compile`` they enter the graph as one input rather than as constants, so
    the steps of a uniform grid compile to the same kernels, which are built once."""
    shape = y0.shape
    tableau = plan.tableau
    times = plan.call_times(y0) if times is None else times
    calls = iter(range(times.shape[0]))

    def f(y: Tensor) -> Tensor:
        return func(times[next(calls)], y.view(shape)).reshape(-1)

    y = y0.reshape(-1)
    rows = [y]
    k_first = f(y)
    for step in plan.steps:
        h = step.h
        stages = [k_first]
        for i in range(1, tableau.n_stages):
            y_i = _combine(y, h, tableau.a[i], stages)
            stages.append(f(y_i))
        y_next = _combine(y, h, tableau.b, stages)
        if step.needs_end_stage:
            k_first = f(y_next)
            # Hermite's extra stage is f(t1, y1); linear interpolation has none.
            stages.extend([k_first] * len(plan.dense.extra_c))
        if step.inside:
            weights = torch.tensor(step.inside, dtype=y0.dtype, device=y0.device)
            rows.extend(torch.addmm(y.unsqueeze(0), weights, torch.stack(stages), alpha=h))
        if step.end_is_output:
            rows.append(y_next)
        y = y_next
    return torch.stack(rows).view(plan.n_outputs, *shape)


def _combine(y: Tensor, h: float, row: tuple[float, ...], stages: list[Tensor]) -> Tensor:
    """``y + h Σ_j row_j k_j`` over the nonzero coefficients, as chained fused adds."""
    for coefficient, k in zip(row, stages, strict=False):
        if coefficient != 0.0:
            y = torch.add(y, k, alpha=h * coefficient)
    return y
