"""Checkpointed gradients: store a few states forward, re-integrate each piece backward.

The forward pass runs without a graph and keeps the state at the start of every segment (the
checkpoints). The backward pass takes the segments last to first, repeats the forward solve
of each one from its checkpoint with the graph on, and backpropagates through it (direct
backpropagation over a short piece). Because the segment is solved by the same calls on the
same inputs, the reconstructed trajectory is the forward one, not the approximation a reverse
solve of the backsolve adjoint gives; memory holds the checkpoints plus one segment's graph.

- ``checkpoints=None``: a checkpoint at every accepted step of a single forward solve; each
  step is replayed alone, forced to the same step size (Runge–Kutta methods).
- ``checkpoints=K``: ``K`` segments of equal length; the forward solve is a chain of ``K``
  solves between them, replayed one by one.

Gradients with respect to the output times use ``∂L/∂t_i = ∂L/∂z(t_i)ᵀ f(t_i, z(t_i))`` and
``∂L/∂t_0 = -a(t_0)ᵀ f(t_0, z_0)``, with ``a(t_0)`` the state adjoint of the later outputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._gradient_support import (
    Dynamics,
    add_backward_counts,
    differentiable_params,
    time_derivative,
)
from .adaptive import AdaptiveRungeKuttaSolver
from .fixed import FixedGridSolver
from .integrate import integrate, solver_class
from .options import times_as_floats
from .solution import SolverStats


@dataclass
class _Segment:
    """One piece of the solve: its times and its own solver options.

    ``times[0]`` is where the segment starts (its checkpoint); ``outputs[j]`` is the index in
    ``t`` of ``times[j + 1]``, or ``None`` for a segment end that is no output time.
    """

    times: list[float]
    outputs: list[int | None]
    options: dict

    def add(self, time: float, output: int | None) -> None:
        self.times.append(time)
        self.outputs.append(output)

    def time_tensor(self, like: Tensor) -> Tensor:
        return torch.tensor(self.times, dtype=torch.float64, device=like.device)


@dataclass(frozen=True)
class _Settings:
    func: Dynamics
    method: str
    rtol: float | Tensor
    atol: float | Tensor
    options: dict
    checkpoints: int | None
    stats: SolverStats


def _direction(times: list[float]) -> float:
    return 1.0 if times[-1] >= times[0] else -1.0


def _equal_segments(times: list[float], count: int, options: dict) -> list[_Segment]:
    """``count`` segments of equal length; output times fall inside them or on their ends."""
    t0, t_end = times[0], times[-1]
    bounds = [t0 + (t_end - t0) * k / count for k in range(1, count)] + [t_end]
    direction = _direction(times)
    segments = []
    current = _Segment([t0], [], options)
    next_out = 1
    for bound in bounds:
        while direction * (times[next_out] - bound) < 0:
            current.add(times[next_out], next_out)
            next_out += 1
        if times[next_out] == bound:
            current.add(bound, next_out)
            next_out += 1
        elif direction * (bound - current.times[-1]) > 0:
            current.add(bound, None)
        else:  # the bound rounds onto an output time already in the segment
            continue
        segments.append(current)
        current = _Segment([bound], [], options)
    return segments


def _step_segments(
    steps: list[float], times: list[float], options: dict, fixed_grid: bool
) -> list[_Segment]:
    """One segment per accepted step ``[steps[k], steps[k + 1]]``, with the outputs inside."""
    direction = _direction(times)
    segments = []
    next_out = 1
    for start, end in itertools.pairwise(steps):
        one_step = _one_step_options(options, abs(end - start), fixed_grid)
        segment = _Segment([start], [], one_step)
        while direction * (times[next_out] - end) < 0:
            segment.add(times[next_out], next_out)
            next_out += 1
        if times[next_out] == end:
            segment.add(end, next_out)
            next_out += 1
        else:
            segment.add(end, None)
        segments.append(segment)
    return segments


def _one_step_options(options: dict, size: float, fixed_grid: bool) -> dict:
    """Options under which a solver covers a segment of length ``size`` in one step.

    Adaptive methods try ``first_step`` first (and accept it, as the forward solve did);
    fixed-grid methods take ``step_size``.
    """
    if fixed_grid:
        kept = {k: v for k, v in options.items() if k != "grid_constructor"}
        return {**kept, "step_size": size}
    return {**options, "first_step": size}


class _CheckpointSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, settings: _Settings, y0: Tensor, t: Tensor, *params: Tensor) -> Tensor:
        times = times_as_floats(t)
        with torch.no_grad():
            if settings.checkpoints is None:
                ys, segments, starts = _forward_by_steps(settings, y0, t, times)
            else:
                ys, segments, starts = _forward_by_segments(settings, y0, times)
        ctx.settings = settings
        ctx.params = params
        ctx.segments = segments
        ctx.save_for_backward(ys, t, *starts)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_ys: Tensor):
        settings: _Settings = ctx.settings
        ys, t, *starts = ctx.saved_tensors
        params: tuple = ctx.params
        carry, grad_params = _replay_backwards(settings, ctx.segments, starts, params, grad_ys)
        grad_y0 = carry + grad_ys[0]
        grad_t = (
            _time_gradients(settings, t, ys, grad_ys, carry) if ctx.needs_input_grad[2] else None
        )
        return (None, grad_y0, grad_t, *grad_params)


def _forward_by_segments(
    settings: _Settings, y0: Tensor, times: list[float]
) -> tuple[Tensor, list[_Segment], list[Tensor]]:
    """The solve as a chain of solves over equal segments; keeps each segment's start."""
    segments = _equal_segments(times, settings.checkpoints, settings.options)
    ys = y0.new_empty((len(times), *y0.shape))
    ys[0] = y0
    starts = []
    start = y0
    for segment in segments:
        starts.append(start)
        out = _solve_segment(settings, segment, start, settings.stats)
        for row, index in zip(out[1:], segment.outputs, strict=True):
            if index is not None:
                ys[index] = row
        start = out[-1]
    return ys, segments, starts


def _forward_by_steps(
    settings: _Settings, y0: Tensor, t: Tensor, times: list[float]
) -> tuple[Tensor, list[_Segment], list[Tensor]]:
    """One solve that records the state after every accepted step."""
    cls = solver_class(settings.method)
    if not issubclass(cls, (AdaptiveRungeKuttaSolver, FixedGridSolver)):
        raise ValueError(
            f"checkpoints=None replays single steps, which method {settings.method!r} cannot "
            f"(a multistep method's step depends on its history); pass checkpoints=<number of "
            f"segments> instead"
        )
    step_times, step_states = [times[0]], [y0]

    def record(t1: float, y1: Tensor) -> None:
        step_times.append(t1)
        step_states.append(y1)

    ys = integrate(
        settings.func,
        y0,
        t,
        method=settings.method,
        rtol=settings.rtol,
        atol=settings.atol,
        options={**settings.options, "step_callback": record},
        stats=settings.stats,
    )
    fixed_grid = issubclass(cls, FixedGridSolver)
    segments = _step_segments(step_times, times, settings.options, fixed_grid)
    return ys, segments, step_states[:-1]


def _solve_segment(
    settings: _Settings, segment: _Segment, start: Tensor, stats: SolverStats
) -> Tensor:
    return integrate(
        settings.func,
        start,
        segment.time_tensor(start),
        method=settings.method,
        rtol=settings.rtol,
        atol=settings.atol,
        options=segment.options,
        stats=stats,
    )


def _replay_backwards(
    settings: _Settings,
    segments: list[_Segment],
    starts: list[Tensor],
    params: tuple,
    grad_ys: Tensor,
) -> tuple[Tensor, list[Tensor]]:
    """Backpropagate through each segment's repeated solve, last to first.

    Returns the state adjoint at ``t_0`` from the outputs after it, and the parameter
    gradients. Segments after the last output the loss depends on are skipped.
    """
    carry = torch.zeros_like(grad_ys[0])
    grad_params = [torch.zeros_like(p) for p in params]
    for segment, start in zip(reversed(segments), reversed(starts), strict=True):
        weights = grad_ys.new_zeros((len(segment.times), *grad_ys.shape[1:]))
        for row, index in enumerate(segment.outputs, start=1):
            if index is not None:
                weights[row] = grad_ys[index]
        weights[-1] += carry
        if not weights.any():
            continue
        segment_stats = SolverStats()
        with torch.enable_grad():
            start = start.detach().requires_grad_(True)
            # a replay repeats forward steps: the user's step callbacks saw them already
            quiet = {k: v for k, v in segment.options.items() if k != "callbacks"}
            replay = replace(segment, options=quiet)
            out = _solve_segment(settings, replay, start, segment_stats)
            grads = torch.autograd.grad(out, (start, *params), weights, allow_unused=True)
        add_backward_counts(settings.stats, segment_stats)
        carry = grads[0]
        for total, grad in zip(grad_params, grads[1:], strict=True):
            if grad is not None:
                total += grad
    return carry, grad_params


def _time_gradients(
    settings: _Settings, t: Tensor, ys: Tensor, grad_ys: Tensor, carry: Tensor
) -> Tensor:
    """``∂L/∂t_i = g_iᵀ f(t_i, y_i)`` for i ≥ 1 and ``∂L/∂t_0 = -a(t_0)ᵀ f(t_0, y_0)``."""
    grad_t = torch.zeros_like(t)
    weights = [-carry, *grad_ys[1:]]
    for i, weight in enumerate(weights):
        if weight.any():
            grad_t[i] = time_derivative(settings.func, t[i], ys[i], weight)
            settings.stats.nfe_backward += 1
    return grad_t


def checkpoint_solve(
    func: Dynamics,
    y0: Tensor,
    t: Tensor,
    *,
    method: str,
    rtol: float | Tensor,
    atol: float | Tensor,
    options: dict,
    adjoint_params: Iterable[Tensor],
    checkpoints: int | None = None,
    stats: SolverStats,
    **adjoint_settings,
) -> Tensor:
    """Solve ``dy/dt = func(t, y)`` at the times ``t``, with checkpointed gradients.

    ``checkpoints``: ``None`` stores the state at every accepted step (Runge–Kutta methods),
    an integer ``K`` the states at the starts of ``K`` equal segments. Returns ys of shape
    (len(t), *y0.shape), differentiable with respect to ``y0``, ``t`` and those of
    ``adjoint_params`` that require grad. ``adjoint_settings`` (``adjoint_method``,
    ``adjoint_rtol``, ...) are accepted for a uniform call and unused: the backward pass must
    repeat the forward solve exactly.
    """
    del adjoint_settings
    if checkpoints is not None and (
        isinstance(checkpoints, bool) or not isinstance(checkpoints, int) or checkpoints < 1
    ):
        raise ValueError(
            f"checkpoints must be None (a checkpoint at every accepted step) or a positive "
            f"integer (the number of equal segments), got {checkpoints!r}"
        )
    settings = _Settings(
        func=func,
        method=method,
        rtol=rtol,
        atol=atol,
        options=dict(options),
        checkpoints=checkpoints,
        stats=stats,
    )
    return _CheckpointSolve.apply(settings, y0, t, *differentiable_params(adjoint_params))
