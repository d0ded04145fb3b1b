"""Adaptive-step driver for embedded Runge–Kutta pairs.

Steps are chosen by the error estimate alone: output times never shorten a step (they are
filled from the continuous extension), while the final time, ``step_t`` and ``jump_t`` are
landed on exactly. After a ``jump_t`` the derivative is re-evaluated just past the jump
instead of reusing the last stage (no FSAL across a discontinuity).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from odedsl.errors import SolverError

from .control import (
    CONTROLLERS,
    STEP_CONTROL_OPTIONS,
    Norm,
    StepSizeController,
    check_tolerance_scale,
    select_initial_step,
)
from .options import (
    callable_option,
    choice_option,
    float_option,
    step_bounds,
    times_as_floats,
    times_option,
)
from .outputs import Outputs, fill_outputs
from .runge_kutta import Func, RungeKuttaStages
from .solution import SolverStats
from .stepping import StepHook, engine_step
from .tableau import ButcherTableau


class AdaptiveRungeKuttaSolver:
    """Embedded Runge–Kutta pair with PI step-size control; see ``methods`` for the interface.

    Options: ``first_step``, ``min_step``, ``max_step``, ``max_num_steps`` (attempted steps,
    default 10 000), ``safety`` (0.9), ``ifactor`` (10), ``dfactor`` (0.2), ``controller``
    ("pi" or "i"; the tableau's default), ``step_t`` and ``jump_t`` (times to land on; at a
    jump ``func`` is re-evaluated). A step of at most ``min_step`` is accepted whatever its
    error.
    ``step_callback(t1, y1)`` is called after every accepted step (``y1`` must not be
    modified; the checkpointed gradient keeps it). ``callbacks`` (``compat.StepCallbacks``):
    ``step`` before each attempt, then ``accept_step`` or ``reject_step``.
    """

    tableau: ClassVar[ButcherTableau]
    step_hook: StepHook | None = None  # see ``stepping``
    option_names: ClassVar[frozenset[str]] = STEP_CONTROL_OPTIONS | frozenset(
        {
            "step_t",
            "jump_t",
            "step_callback",
            "callbacks",
        }
    )
    valid_callbacks: ClassVar[frozenset[str]] = frozenset({"step", "accept_step", "reject_step"})

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
        self.rtol = _tolerance(rtol, y0)
        self.atol = _tolerance(atol, y0)
        self.norm = norm
        self.stats = stats
        self.first_step, self.min_step, self.max_step, self.max_num_steps = step_bounds(options)
        self.controller = StepSizeController(
            error_order=self.tableau.error_order,
            safety=float_option(options, "safety", 0.9, low=0.0, high=1.0, low_inclusive=False),
            ifactor=float_option(options, "ifactor", 10.0, low=1.0),
            dfactor=float_option(options, "dfactor", 0.2, low=0.0, high=1.0, low_inclusive=False),
            kind=choice_option(options, "controller", self.tableau.controller, CONTROLLERS),
            min_step=self.min_step,
            max_step=self.max_step,
        )
        self.step_t = times_option(options, "step_t")
        self.jump_t = times_option(options, "jump_t")
        self.step_callback = callable_option(options, "step_callback")
        self.callbacks = options.get("callbacks")

    def integrate(self, t: Tensor) -> Tensor:
        """Solve at the times ``t`` (strictly monotone); returns ``(len(t), *y0.shape)``."""
        times = times_as_floats(t)
        y0 = self.y0.reshape(-1)
        t0, t_end = times[0], times[-1]
        direction = 1.0 if t_end >= t0 else -1.0
        stops = _stops(t0, t_end, direction, self.step_t, self.jump_t)
        stages = None
        n_accepted = n_rejected = 0
        h_abs = 0.0
        last_ratio = 0.0
        try:
            stages = RungeKuttaStages.start(
                self.tableau, self.tableau.continuous_extension, self.func, self.y0, t0
            )
            outputs = Outputs(y0, len(times), stages.track_graph)
            f0 = stages.rows[0]
            if len(times) == 1:
                return outputs.result(self.y0.shape)
            h_abs = self._initial_step(stages, t0, y0, f0, direction, abs(stops[0][0] - t0))
            self.stats.info["initial_step"] = h_abs
            abs0 = y0.detach().abs()
            y = y0
            stop_index, (stop, stop_is_jump) = 0, stops[0]
            next_out = 1
            rtol, atol, norm = self.rtol, self.atol, self.norm
            update = self.controller.update
            max_num_steps = self.max_num_steps
            callbacks, step_hook = self.callbacks, self.step_hook
            while True:
                if n_accepted + n_rejected >= max_num_steps:
                    raise SolverError(
                        f"reached max_num_steps={max_num_steps} at t={t0:.6g} with step size "
                        f"{h_abs:.3g} ({n_accepted} accepted, {n_rejected} rejected steps). "
                        "Hint: raise options['max_num_steps'], loosen rtol/atol, or check "
                        "whether the problem is stiff or blows up."
                    )
                t1 = t0 + direction * h_abs
                landing = direction * (t1 - stop) >= 0.0
                if landing:
                    t1 = stop
                elif h_abs < 10.0 * math.ulp(t0):
                    raise _underflow(t0, h_abs, n_accepted, n_rejected, last_ratio)
                h = t1 - t0
                if callbacks is not None:
                    callbacks.step(t0, y, h)
                y1 = stages.step(t0, h, t1, y, landing and stop_is_jump)
                ratio, abs1 = stages.error_ratio(h, y1, abs0, rtol, atol, norm)
                accept, h_next = update(abs(h), ratio)
                last_ratio = ratio
                if callbacks is not None:
                    (callbacks.accept_step if accept else callbacks.reject_step)(t0, y, h)
                if not accept:
                    n_rejected += 1
                    h_abs = h_next
                    continue
                n_accepted += 1
                if self.step_callback is not None:
                    self.step_callback(t1, y1.view(self.y0.shape))
                if direction * (times[next_out] - t1) <= 0.0:
                    next_out = fill_outputs(outputs, stages, times, next_out, t0, h, t1, y, y1)
                if step_hook is not None:
                    step_hook(engine_step(stages, t0, h, t1, y, y1))
                if not landing:
                    stages.next_first_stage(t1, y1)
                elif stop_index == len(stops) - 1:
                    break
                else:
                    if stop_is_jump:
                        after = torch.nextafter(_time(t1, y0), _time(t1 + direction, y0))
                        stages.next_first_stage(t1, y1, at=after)
                        _check_finite(stages.rows[0], t1, "the derivative just after the jump")
                    else:
                        stages.next_first_stage(t1, y1)
                    stop_index += 1
                    stop, stop_is_jump = stops[stop_index]
                t0, y, abs0, h_abs = t1, y1, abs1, h_next
            self.stats.info["last_step"] = abs(h)
            return outputs.result(self.y0.shape)
        finally:
            self.stats.steps_accepted += n_accepted
            self.stats.steps_rejected += n_rejected
            self.stats.nfe_forward += 1 if stages is None else stages.nfe

    def _initial_step(
        self,
        stages: RungeKuttaStages,
        t0: float,
        y0: Tensor,
        f0: Tensor,
        direction: float,
        distance: float,
    ) -> float:
        bound = min(distance, self.max_step)
        if self.first_step is not None:
            _check_finite(y0, t0, "the initial state y0")
            _check_finite(f0, t0, "the initial derivative func(t0, y0)")
            check_tolerance_scale(y0.detach(), self.rtol, self.atol)
            return max(self.min_step, min(self.first_step, bound))

        def probe(t: float, y: Tensor) -> Tensor:
            stages.nfe += 1
            return self.func(stages.time(t), y.view(stages.shape)).reshape(-1)

        h = select_initial_step(
            probe,
            t0,
            y0.detach(),
            f0.detach().reshape(-1),
            direction=direction,
            error_order=self.tableau.error_order,
            rtol=self.rtol,
            atol=self.atol,
            norm=self._flat_norm(stages),
            max_step=bound,
        )
        return max(self.min_step, h)

    def _flat_norm(self, stages: RungeKuttaStages) -> Callable[[Tensor], float]:
        """The error norm applied to flat tensors, as a float."""
        norm = self.norm
        if norm is None:
            return lambda x: float(torch.linalg.vector_norm(x)) / math.sqrt(max(x.numel(), 1))
        return lambda x: float(norm(x.view(stages.shape)))


def _time(t: float, like: Tensor) -> Tensor:
    return torch.scalar_tensor(t, dtype=like.dtype, device=like.device)


def _tolerance(tol: float | Tensor, y0: Tensor) -> Tensor:
    """A tolerance as a tensor of the state's dtype and device: flat per-element, or 0-dim
    (a Python float operand would cost a conversion in every in-place tensor op)."""
    tol = torch.as_tensor(tol).detach().to(device=y0.device, dtype=y0.dtype)
    return tol.expand(y0.shape).reshape(-1) if tol.numel() > 1 else tol.reshape(())


def _stops(
    t0: float, t_end: float, direction: float, step_t: list[float], jump_t: list[float]
) -> list[tuple[float, bool]]:
    """The times steps must land on, in the direction of integration, ending with ``t_end``."""
    jumps = {x for x in jump_t if direction * (x - t0) > 0 and direction * (t_end - x) > 0}
    steps = {x for x in step_t if direction * (x - t0) > 0 and direction * (t_end - x) > 0}
    stops = [(x, True) for x in jumps] + [(x, False) for x in steps - jumps]
    stops.sort(key=lambda stop: direction * stop[0])
    return [*stops, (t_end, False)]


def _check_finite(x: Tensor, t: float, what: str) -> None:
    if not bool(torch.isfinite(x.detach()).all()):
        raise SolverError(
            f"{what} is not finite (NaN/inf) at t={t:.6g}. "
            "Hint: check func and y0 for NaN/inf, divisions by zero or overflow."
        )


def _underflow(t: float, h: float, n_accepted: int, n_rejected: int, ratio: float) -> SolverError:
    if not math.isfinite(ratio):
        hint = (
            "the state or its derivative became non-finite (NaN/inf) in every attempt; "
            "check func for overflow or divisions by zero, or whether the solution blows up"
        )
    else:
        hint = "the problem may be stiff, the solution may blow up, or rtol/atol are too small"
    return SolverError(
        f"step size underflow at t={t:.6g}: h={h:.3g} after {n_accepted} accepted and "
        f"{n_rejected} rejected steps. Hint: {hint}."
    )
