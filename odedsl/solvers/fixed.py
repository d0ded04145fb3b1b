"""Fixed-grid driver for any Runge–Kutta tableau.

The grid is the output times themselves, a uniform grid of ``step_size`` from ``t[0]`` (the
last step shortened to land on ``t[-1]``), or ``grid_constructor(func, y0, t)``. Output times
between grid points come from cubic Hermite interpolation (``interp="cubic"``, the default,
whose end derivative is the next step's first stage, so it costs nothing extra) or linear
interpolation (``interp="linear"``, torchdiffeq's default).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor

from odedsl.errors import SolverError

from .control import Norm
from .interpolation import hermite_dense_output, linear_dense_output
from .options import (
    DEFAULT_MAX_NUM_STEPS,
    callable_option,
    choice_option,
    float_option,
    int_option,
    times_as_floats,
)
from .outputs import Outputs, fill_outputs
from .runge_kutta import Func, RungeKuttaStages
from .solution import SolverStats
from .stepping import StepHook, engine_step
from .tableau import ButcherTableau

INTERPOLATIONS = ("cubic", "linear")
LONG_GRID_STEPS = 1_000_000
"""A fixed grid longer than this is warned about up front (the solve runs on)."""
_STEP_COUNT_SLACK = 1e-10


class FixedGridSolver:
    """Runge–Kutta on a fixed grid; see ``methods`` for the interface.

    Options: ``step_size`` or ``grid_constructor`` (not both), ``interp`` ("cubic" or
    "linear"), ``max_num_steps`` (default 10 000: a longer grid is refused before the first
    step; a grid of over a million steps is warned about whatever the limit),
    ``perturb`` (torchdiffeq's: evaluate each step's first stage just after its start time
    and a stage at its end time just before it, so that ``func`` sees which side of a grid
    point it is on), ``step_callback(t1, y1)`` (called after every step; ``y1`` must not be
    modified) and ``callbacks`` (``compat.StepCallbacks``; ``step`` before each step).
    ``rtol``, ``atol`` and ``norm`` are accepted and ignored.
    """

    tableau: ClassVar[ButcherTableau]
    step_hook: StepHook | None = None  # see ``stepping``
    option_names: ClassVar[frozenset[str]] = frozenset(
        {
            "step_size",
            "grid_constructor",
            "interp",
            "max_num_steps",
            "perturb",
            "step_callback",
            "callbacks",
        }
    )
    valid_callbacks: ClassVar[frozenset[str]] = frozenset({"step"})

    def __init__(
        self,
        func: Func,
        y0: Tensor,
        rtol: float | Tensor,
        atol: float | Tensor,
        norm: Norm | None,
        options: dict[str, Any],
        stats: SolverStats,
    ) -> None:
        self.func = func
        self.y0 = y0
        self.stats = stats
        self.step_size = (
            None
            if options.get("step_size") is None
            else float_option(options, "step_size", 0.0, low=0.0, low_inclusive=False)
        )
        self.grid_constructor = options.get("grid_constructor")
        if self.step_size is not None and self.grid_constructor is not None:
            raise ValueError("options: step_size and grid_constructor are mutually exclusive")
        if self.grid_constructor is not None and not callable(self.grid_constructor):
            raise ValueError("options['grid_constructor'] must be callable (func, y0, t) -> grid")
        self.interp = interp = choice_option(options, "interp", "cubic", INTERPOLATIONS)
        b = self.tableau.b
        self.dense = (
            linear_dense_output(b) if interp == "linear" else hermite_dense_output(b, False)
        )
        self.max_num_steps = int_option(options, "max_num_steps", DEFAULT_MAX_NUM_STEPS)
        self.perturb = bool(options.get("perturb", False))
        self.step_callback = callable_option(options, "step_callback")
        self.callbacks = options.get("callbacks")

    def integrate(self, t: Tensor) -> Tensor:
        """Solve at the times ``t`` (strictly monotone); returns ``(len(t), *y0.shape)``."""
        times = times_as_floats(t)
        n_grid, grid = self._grid(t, times)
        if n_grid is not None:
            _check_grid_length(n_grid - 1, self.max_num_steps, times)
        y0 = self.y0.reshape(-1)
        stages = None
        n_steps = 0
        try:
            t0 = next(grid)
            first_end = next(grid)
            perturb = self.perturb
            at = _just_after(t0, first_end, self.y0) if perturb else None
            stages = self._start_stages(t0, at)
            outputs = Outputs(y0, len(times), stages.track_graph)
            y = y0
            next_out = 1
            callbacks, step_hook = self.callbacks, self.step_hook
            for t1 in itertools.chain((first_end,), grid):
                if n_steps:
                    stages.next_first_stage(t0, y, _just_after(t0, t1, y0) if perturb else None)
                h = t1 - t0
                if callbacks is not None:
                    callbacks.step(t0, y, h)
                y1 = stages.step(t0, h, t1, y, perturb)
                n_steps += 1
                if self.step_callback is not None:
                    self.step_callback(t1, y1.view(self.y0.shape))
                if (times[next_out] - t1) * h <= 0.0:
                    count = outputs.count
                    next_out = fill_outputs(outputs, stages, times, next_out, t0, h, t1, y, y1)
                    if not outputs.finite_since(count):
                        raise SolverError(
                            f"the state is not finite (NaN/inf) at t={times[next_out - 1]:.6g}; "
                            f"it became so after t={times[count - 1]:.6g} (step size {h:.3g}, "
                            f"{n_steps} steps taken). Hint: use a smaller step size or an "
                            "adaptive method, or check func for overflow."
                        )
                if step_hook is not None:
                    step_hook(engine_step(stages, t0, h, t1, y, y1))
                t0, y = t1, y1
            return outputs.result(self.y0.shape)
        finally:
            self.stats.steps_accepted += n_steps
            self.stats.nfe_forward += 1 if stages is None else stages.nfe

    def _start_stages(self, t0: float, at: Tensor | None = None) -> RungeKuttaStages:
        """The step engine, holding ``f(t0, y0)``: the hook a non-Runge–Kutta fixed-grid
        method (implicit stages, fixed Adams) overrides with an object of the same interface
        (``step``, ``next_first_stage``, ``interpolate``, ``track_graph``, ``nfe``)."""
        return RungeKuttaStages.start(self.tableau, self.dense, self.func, self.y0, t0, at)

    def _grid(self, t: Tensor, times: list[float]) -> tuple[int | None, Iterator[float]]:
        """The number of grid points (``None``: an endless grid) and an iterator over them."""
        t0, t_end = times[0], times[-1]
        if math.isinf(t_end):  # an open-ended solve (until an event): the step size decides
            if self.step_size is None:
                raise ValueError(
                    "options['step_size'] is required to solve with a fixed-grid method until "
                    "an event (the grid cannot be built up to an unknown time)"
                )
            step = math.copysign(self.step_size, t_end - t0)
            return None, (t0 + i * step for i in itertools.count())
        if self.step_size is not None:
            span = t_end - t0
            # Times carry rounding of a few ulps: a span of n steps plus rounding is n steps.
            rounding = 4.0 * math.ulp(max(abs(t0), abs(t_end))) / self.step_size
            n = max(1, math.ceil(abs(span) / self.step_size - rounding - _STEP_COUNT_SLACK))
            step = math.copysign(self.step_size, span)
            return n + 1, _uniform(t0, step, n, t_end)
        if self.grid_constructor is None:
            return len(times), iter(times)
        grid = self.grid_constructor(self.func, self.y0, t)
        points = times_as_floats(torch.as_tensor(grid))
        _check_grid(points, t0, t_end)
        return len(points), iter(points)


def _just_after(t0: float, t1: float, like: Tensor) -> Tensor:
    """``t0`` nudged one representable value (of the state's dtype) towards ``t1``."""
    start = torch.scalar_tensor(t0, dtype=like.dtype, device=like.device)
    return torch.nextafter(start, torch.scalar_tensor(t1, dtype=like.dtype, device=like.device))


def _check_grid_length(n_steps: int, max_num_steps: int, times: list[float]) -> None:
    """Refuse a grid longer than ``max_num_steps``; warn about one of over a million steps."""
    step = abs(times[-1] - times[0]) / n_steps
    if n_steps > max_num_steps:
        raise SolverError(
            f"the grid has {n_steps} steps, more than max_num_steps={max_num_steps} "
            f"(t={times[0]:.6g} to {times[-1]:.6g}, step size {step:.3g}, 0 steps taken). "
            "Hint: use a larger step_size, or raise options['max_num_steps'] if you mean it."
        )
    if n_steps > LONG_GRID_STEPS:
        warnings.warn(
            f"the fixed grid has {n_steps} steps (t={times[0]:.6g} to {times[-1]:.6g}, step "
            f"size {step:.3g}); at that length the solve may run for hours. Set "
            "options['max_num_steps'] to refuse such grids, or use a larger step_size.",
            stacklevel=2,
        )


def _uniform(t0: float, step: float, n: int, t_end: float) -> Iterator[float]:
    """``t0, t0 + step, ...`` (``n`` points strictly before ``t_end``), then ``t_end``."""
    for i in range(n):
        point = t0 + i * step
        if (t_end - point) * step <= 0.0:
            break
        yield point
    yield t_end


def _check_grid(points: list[float], t0: float, t_end: float) -> None:
    if len(points) < 2 or points[0] != t0 or points[-1] != t_end:
        raise ValueError(
            "options['grid_constructor'] must return a grid that starts at t[0] and ends at "
            f"t[-1] (got {len(points)} points from {points[:1]} to {points[-1:]})"
        )
    direction = math.copysign(1.0, t_end - t0)
    if any(direction * (b - a) <= 0.0 for a, b in itertools.pairwise(points)):
        raise ValueError("options['grid_constructor'] must return a strictly monotone grid")
