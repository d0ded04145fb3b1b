"""Events: solve until ``event_fn(t, y)`` crosses zero (torchdiffeq's ``event_fn``), and more.

The search works with any method through the solvers' step hook (``stepping``). After each
accepted step the event function is evaluated at the step's end; a change of sign since
the step's start brackets a root, which is found on the step's dense output with the
Illinois method (regula falsi that halves the value of an end kept twice) to a few ulps of
time. So the event time is as accurate as the method's dense output. Two sign changes in
one step go unseen, as in torchdiffeq.

Gradients come from the implicit function theorem. With ``T`` the event time and
``y_T = y(T; θ)`` the state at that fixed time (differentiable w.r.t. y0, t0 and θ by
the gradient method chosen), ``g(T, y(T)) = 0`` gives
``dT = -(∂g/∂y dy_T + ∂g/∂φ dφ) / ġ`` with ``ġ = ∂g/∂t + ∂g/∂y · f(T, y_T)``, and
``dy(T) = dy_T + f dT``. Both are attached as terms of value zero:
``T_out = T - (g - ĝ) / ġ`` and ``y_out = y_T + f (T_out - T)`` (``ĝ``, ``ġ`` and ``f``
detached), so values are exactly the search's. Event-function parameters ``φ`` get
gradients too.

Multi-valued event functions are combined as torchdiffeq does: each value times its sign
at t0, then the minimum, so the first value to cross zero is the event. An event function
that is zero at t0 gives the event at t0. In per-row mode the first axis of ``y0`` holds
independent problems, ``event_fn`` returns one value per row (or ``(B, ...)``, combined per
row), and each row stops at its own event: the batch steps on until every row has met its
event, and each row's time and state are located in the step where its sign changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from odedsl.errors import SolverError

from .api import odeint
from .integrate import shift_start, solver_factory
from .solution import SolverStats
from .stepping import AcceptedStep

DEFAULT_MAX_EVENT_STEPS = 20_000
"""Accepted steps without an event before the search gives up (torchdiffeq's fixed-grid cap),
unless ``options["max_num_steps"]`` says otherwise (the method's own limit may come first)."""
_ROOT_ITERATIONS = 200
_ROOT_ULPS = 2.0  # the root's bracket closes at 4 ulps of time

Func = Callable[[Tensor, Tensor], Tensor]
GradientSolve = Callable[[Tensor, Tensor], Tensor]


class _Stop(Exception):
    """Raised by the step hook once every event is found, to end the solve."""


class EventFunction:
    """``event_fn`` on the solver's flat state: checked, sign-normalised, combined.

    ``self(t, y)`` is positive before the event and ``<= 0`` from it on: a 0-dim tensor, or
    one value per row (``per_row``).
    """

    def __init__(
        self,
        event_fn: Callable,
        to_state: Callable[[Tensor], Any],
        rows: int | None,
        t0: Tensor,
        y0: Tensor,
    ) -> None:
        if not callable(event_fn):
            raise ValueError(f"event_fn must be callable as event_fn(t, y), got {event_fn!r}")
        self.event_fn = event_fn
        self.to_state = to_state
        self.rows = rows
        with torch.no_grad():
            values = self._values(t0, y0)
        self.signs = torch.sign(values)
        # the combined values at t0, one per event: positive, or zero for an event at t0
        self.initial = (values * self.signs).amin(dim=-1).reshape(-1).tolist()

    def _values(self, t: Tensor, y: Tensor) -> Tensor:
        c = self.event_fn(t, self.to_state(y))
        if not isinstance(c, Tensor) or not torch.is_floating_point(c) or c.numel() == 0:
            got = f"{c.dtype} of shape {tuple(c.shape)}" if isinstance(c, Tensor) else repr(c)
            raise ValueError(
                f"event_fn must return a non-empty floating-point tensor, got {got}; it "
                "should be zero at the event, e.g. `lambda t, y: y[..., 0] - height`"
            )
        if self.rows is None:
            return c.reshape(-1)
        if c.ndim == 0 or c.shape[0] != self.rows:
            raise ValueError(
                f"event_fn returned shape {tuple(c.shape)}, but events='per_row' needs one "
                f"value per row of y0: shape ({self.rows},) (or ({self.rows}, ...))"
            )
        return c.reshape(self.rows, -1)

    def __call__(self, t: Tensor, y: Tensor) -> Tensor:
        return (self._values(t, y) * self.signs).amin(dim=-1)


class _Search:
    """The step hook that watches for sign changes and locates each event on the dense
    output; ``times[k]`` / ``states[k]`` hold event ``k``'s time and full flat state."""

    def __init__(
        self, event: EventFunction, t0: float, y0: Tensor, time: Callable, max_steps: int
    ) -> None:
        self.event = event
        self.t0 = t0
        self.time = time
        self.max_steps = max_steps
        self.steps = 0
        self.values = event.initial
        self.times: list[float | None] = [None] * len(self.values)
        self.states: list[Tensor | None] = [None] * len(self.values)
        for k, value in enumerate(self.values):
            if value <= 0.0:  # zero at t0: the event is at t0
                self.times[k], self.states[k] = t0, y0

    @property
    def done(self) -> bool:
        return all(t is not None for t in self.times)

    def __call__(self, step: AcceptedStep) -> None:
        self.steps += 1
        with torch.no_grad():
            ends = self.event(self.time(step.t1), step.y1.detach()).reshape(-1).tolist()
        if not all(map(math.isfinite, ends)):
            raise SolverError(
                f"event_fn returned a non-finite value (NaN/inf) at t={step.t1:.6g}. Hint: "
                "check event_fn, and func for overflow."
            )
        for k, (start, end) in enumerate(zip(self.values, ends, strict=True)):
            if self.times[k] is None and end <= 0.0:
                t_event = self._root(step, k, start, end)
                self.times[k] = t_event
                self.states[k] = step.interpolate([t_event])[0]
        self.values = ends
        if self.done:
            raise _Stop
        if self.steps >= self.max_steps or not math.isfinite(step.t1):
            missing = [k for k, t in enumerate(self.times) if t is None]
            which = "" if len(self.times) == 1 else f" for rows {_shorten(missing)}"
            raise SolverError(
                f"event_fn: no event found{which} in {self.steps} accepted steps from "
                f"t={self.t0:.6g} to t={step.t1:.6g} "
                "(event_fn kept its sign). Hint: check event_fn and the direction of t, or "
                "raise options['max_num_steps'] if the event lies further on."
            )

    def _root(self, step: AcceptedStep, k: int, f_a: float, f_b: float) -> float:
        """The event time of value ``k`` inside the step: ``f_a > 0 >= f_b`` at its ends,
        the first time the value reaches zero (as torchdiffeq's sign test: a value that
        drops to exactly 0 and stays there has its event where it first gets there)."""
        a, b = step.t0, step.t1

        def value(s: float) -> float:
            with torch.no_grad():
                y = step.interpolate([s])[0]
                return float(self.event(self.time(s), y).reshape(-1)[k])

        kept = 0  # which end was kept last: +1 for a, -1 for b
        for _ in range(_ROOT_ITERATIONS):
            ulp = math.ulp(max(abs(a), abs(b)))
            if abs(b - a) <= 2.0 * _ROOT_ULPS * ulp:
                break
            if f_b == 0.0:  # no slope to follow: halve the bracket
                s = 0.5 * (a + b)
            else:
                # Regula falsi, kept _ROOT_ULPS ulps inside the bracket: once one end sits on
                # the root (to rounding), the next point lands just past it and closes it.
                low, high = min(a, b) + _ROOT_ULPS * ulp, max(a, b) - _ROOT_ULPS * ulp
                s = min(max((a * f_b - b * f_a) / (f_b - f_a), low), high)
            f_s = value(s)
            if f_s > 0.0:
                a, f_a = s, f_s
                if kept == 1:
                    f_b *= 0.5
                kept = 1
            else:
                b, f_b = s, f_s
                if kept == -1:
                    f_a *= 0.5
                kept = -1
        return b


def solve_until_event(
    func: Func,
    y0: Tensor,
    t: Tensor,
    *,
    event_fn: Callable,
    events: str,
    to_state: Callable[[Tensor], Any],
    method: str,
    rtol: float | Tensor,
    atol: float | Tensor,
    options: Mapping[str, Any],
    stats: SolverStats,
    gradient_solve: GradientSolve | None,
) -> tuple[Tensor, Tensor]:
    """Solve from ``t[0]`` in the direction of ``t[1]`` until the event; return
    ``(event_t, ys)`` with ``ys = stack([y0, y(event_t)])``.

    ``to_state`` maps the flat state to what ``event_fn`` takes. ``events="first"`` stops at
    the first event (``event_t`` 0-dim); ``"per_row"`` gives each row of ``y0`` its own
    (``event_t`` of shape ``(B,)``, ``ys[1][i]`` row i at its event). ``gradient_solve(times,
    forward_ys)``: the adjoint or checkpointed solve at those times (``forward_ys``, the
    known forward solution there), or ``None`` to backpropagate through the search itself.
    """
    if len(t) != 2:
        raise ValueError(
            f"t: with event_fn, t must hold two times [t0, t1] (the solve starts at t0 and "
            f"runs toward t1, past it if need be, until the event), got {len(t)} times"
        )
    rows = None
    if events == "per_row":
        if not isinstance(to_state(y0), Tensor) or y0.ndim == 0:
            raise ValueError(
                "events='per_row' needs y0 to be a tensor whose first axis holds the rows "
                "(independent problems)"
            )
        rows = y0.shape[0]
    times = t.detach().to(torch.float64).tolist()
    t0, direction = times[0], math.copysign(1.0, times[1] - times[0])
    options = dict(options)
    max_steps = options.get("max_num_steps") or DEFAULT_MAX_EVENT_STEPS

    def time(s: float) -> Tensor:
        return torch.scalar_tensor(s, dtype=y0.dtype, device=y0.device)

    flat0 = y0.reshape(-1)
    event = EventFunction(event_fn, lambda y: to_state(y.view(y0.shape)), rows, time(t0), flat0)
    direct = gradient_solve is None
    start = y0
    if direct and torch.is_grad_enabled() and t.requires_grad:
        start = shift_start(func, y0, t, stats)
    build = solver_factory(func, method, rtol, atol, options, None, stats)
    with torch.set_grad_enabled(direct and torch.is_grad_enabled()):
        search = _Search(event, t0, start.reshape(-1), time, max_steps)
        if not search.done:
            solver = build(start)
            if not hasattr(solver, "step_hook"):
                raise ValueError(
                    f"method: {method!r} does not support event_fn (its solver shows no "
                    "accepted steps through a step hook); use another method"
                )
            solver.step_hook = search
            far = torch.tensor([t0, direction * math.inf], dtype=torch.float64)
            try:
                solver.integrate(far)
            except _Stop:
                pass
            except SolverError as error:
                raise SolverError(
                    f"event_fn: no event found before the solve failed: {error}"
                ) from error
    event_times: list[float] = search.times  # type: ignore[assignment]
    states: list[Tensor] = search.states  # type: ignore[assignment]
    if not direct:
        states = _states_by_gradient_method(gradient_solve, t, y0, event_times, states)
    event_t, state = _attach_gradients(func, event, t, y0, event_times, states, time, stats)
    return event_t, torch.stack([y0, state.view(y0.shape)])


def _states_by_gradient_method(
    gradient_solve: GradientSolve,
    t: Tensor,
    y0: Tensor,
    event_times: list[float],
    states: list[Tensor],
) -> list[Tensor]:
    """The event states again, now differentiable by the adjoint or checkpointed solve at
    the (distinct) event times."""
    t0, t1 = t.detach().tolist()
    direction = 1.0 if t1 > t0 else -1.0
    distinct = sorted({s for s in event_times if s != t0}, key=lambda s: direction * s)
    if not distinct:
        return [y0.reshape(-1)] * len(states)
    index = {s: i + 1 for i, s in enumerate(distinct)}
    index[t0] = 0
    known = {s: state for s, state in zip(event_times, states, strict=True)}
    forward_ys = torch.stack([y0.reshape(-1), *(known[s] for s in distinct)])
    solve_times = torch.cat([t[:1], torch.tensor(distinct, dtype=t.dtype, device=t.device)])
    ys = gradient_solve(solve_times, forward_ys.view(-1, *y0.shape)).reshape(len(solve_times), -1)
    return [ys[index[s]] for s in event_times]


def _attach_gradients(
    func: Func,
    event: EventFunction,
    t: Tensor,
    y0: Tensor,
    event_times: list[float],
    states: list[Tensor],
    time: Callable[[float], Tensor],
    stats: SolverStats,
) -> tuple[Tensor, Tensor]:
    """The event times and states with the implicit-function-theorem terms (value zero):
    one evaluation of ``func`` per event (per row in per-row mode) when gradients flow."""
    per_row = event.rows is not None
    width = y0.numel() // event.rows if per_row else y0.numel()
    times_out, pieces = [], []
    for k, (s, y_s) in enumerate(zip(event_times, states, strict=True)):
        rows = slice(k * width, (k + 1) * width) if per_row else slice(None)
        t_k = torch.tensor(s, dtype=t.dtype, device=t.device)
        y_k = y_s[rows]
        g = event(time(s), y_s).reshape(-1)[k] if torch.is_grad_enabled() else None
        if g is not None and (g.requires_grad or y_k.requires_grad):
            f, rate = _event_rate(func, event, time(s), y_s.detach().view(y0.shape), k)
            stats.nfe_forward += 1
            if rate == 0.0:  # no gradient exists: an error only if a gradient is asked for
                reason = (
                    f"event_fn touches zero without crossing at t={s:.6g} (its time derivative "
                    "is 0 there), so the event time and state are not differentiable"
                )
                times_out.append(_Undifferentiable.apply(t_k, y_k, reason))
                pieces.append(_Undifferentiable.apply(y_k, y_k, reason))
                continue
            shift = ((g.detach() - g) / rate).to(t.dtype)
            t_k = t_k + shift
            y_k = y_k + f.reshape(-1)[rows] * shift.to(y_k.dtype)
        times_out.append(t_k)
        pieces.append(y_k)
    event_t = torch.stack(times_out) if per_row else times_out[0]
    return event_t, torch.cat(pieces) if per_row else pieces[0]


class _Undifferentiable(torch.autograd.Function):
    """``value`` unchanged, joined to the graph of ``anchor``; backpropagating through it
    raises ``SolverError(reason)`` (torchdiffeq's examples end a solve with an event function
    that is constantly zero past the last time, and never differentiate that event)."""

    @staticmethod
    def forward(ctx, value: Tensor, anchor: Tensor, reason: str) -> Tensor:
        ctx.reason = reason
        return value.clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        raise SolverError(ctx.reason)


def _event_rate(
    func: Func, event: EventFunction, t: Tensor, y: Tensor, k: int
) -> tuple[Tensor, float]:
    """``f(t, y)`` and the total time derivative of event value ``k`` along the solution."""
    with torch.no_grad():
        f = func(t, y)
    with torch.enable_grad():
        t = t.detach().requires_grad_(True)
        y = y.detach().requires_grad_(True)
        g = event(t, y.reshape(-1)).reshape(-1)[k]
        if not g.requires_grad:
            return f, 0.0
        d_t, d_y = torch.autograd.grad(g, (t, y), allow_unused=True)
    rate = 0.0 if d_t is None else float(d_t)
    if d_y is not None:
        rate += float(torch.sum(d_y * f))
    return f, rate


def _shorten(items: list[int]) -> str:
    return str(items) if len(items) <= 8 else f"{str(items[:8])[:-1]}, ... ({len(items)} rows)]"


def odeint_event(
    func: Callable,
    y0: Tensor | tuple[Tensor, ...],
    t0: Tensor | float,
    *,
    event_fn: Callable,
    reverse_time: bool = False,
    odeint_interface: Callable = odeint,
    **kwargs: Any,
) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
    """torchdiffeq's ``odeint_event``: solve from ``t0`` (forward, or backward in time with
    ``reverse_time``) until ``event_fn(t, y)`` is zero; return ``(event_t, solution)``.

    ``odeint_interface`` is ``odedsl.odeint`` or ``odedsl.odeint_adjoint``; ``kwargs`` go
    to it. Both already make ``event_t`` and the event state differentiable (the implicit
    function theorem), so nothing is rerouted here.
    """
    t0 = torch.as_tensor(t0)
    if not torch.is_floating_point(t0):
        t0 = t0.to(torch.float64)
    t0 = t0.reshape(-1)
    if t0.numel() != 1:
        raise ValueError(f"t0 must be a single time, got shape {tuple(t0.shape)}")
    t = torch.cat([t0, t0.detach() + (-1.0 if reverse_time else 1.0)])
    return odeint_interface(func, y0, t, event_fn=event_fn, **kwargs)
