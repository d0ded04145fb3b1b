"""The public entry points: ``solve``, and torchdiffeq's ``odeint`` / ``odeint_adjoint``.

This layer validates arguments (``ValueError`` naming the argument), flattens tuple states,
and dispatches on the gradient method: ``"direct"`` backpropagates through ``integrate``,
``"adjoint"`` and ``"checkpoint"`` call ``adjoint.adjoint_solve`` / ``checkpoint.
checkpoint_solve``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .compat import (
    callbacks_option,
    func_callbacks,
    screen_options,
    torchdiffeq_adjoint_norm,
    torchdiffeq_options,
)
from .integrate import integrate, solver_class
from .options import suggestion
from .solution import Solution, SolverStats
from .tuples import RowTupleLayout, TupleFunc, TupleLayout

GRADIENT_METHODS = ("direct", "adjoint", "checkpoint")
ADJOINT_NORMS = ("seminorm", "full")
DEFAULT_METHOD = "dopri5"
EVENT_MODES = ("first", "per_row")

State = Tensor | tuple[Tensor, ...]


def solve(
    func: Callable,
    y0: State,
    t: Tensor,
    *,
    method: str | None = DEFAULT_METHOD,
    rtol: float | Tensor | tuple = 1e-6,
    atol: float | Tensor | tuple = 1e-8,
    options: Mapping[str, Any] | None = None,
    gradient: str = "direct",
    adjoint_params: Iterable[Tensor] | None = None,
    adjoint_method: str | None = None,
    adjoint_rtol: float | Tensor | None = None,
    adjoint_atol: float | Tensor | None = None,
    adjoint_options: Mapping[str, Any] | None = None,
    adjoint_norm: str | Callable[[tuple[Tensor, ...]], Tensor] = "seminorm",
    checkpoints: int | None = None,
    event_fn: Callable | None = None,
    events: str = "first",
    per_sample: bool = False,
) -> Solution:
    """Solve ``dy/dt = func(t, y)``, ``y(t[0]) = y0`` at the times ``t``.

    ``y0`` is a tensor or a tuple of tensors (``func`` then takes and returns tuples); ``t``
    a strictly increasing or decreasing 1-D tensor. ``method`` is one of ``methods.SOLVERS``
    and ``options`` its options (torchdiffeq's names). ``gradient`` picks how gradients
    flow: ``"direct"`` (backpropagate through the solver), ``"adjoint"`` (solve the adjoint
    equation backwards; ``adjoint_*`` arguments default to the forward ones, and
    ``adjoint_params`` to ``func``'s parameters when it is an ``nn.Module``) or
    ``"checkpoint"``. ``adjoint_norm`` is ``"seminorm"``, ``"full"`` or a callable on
    torchdiffeq's adjoint state ``(a_t, *y, *a_y, *a_params)`` (a callable
    ``adjoint_options["norm"]`` is the same). Options a method does not use are dropped with a
    warning; unknown names are refused. ``func.callback_step`` (and ``callback_accept_step``,
    ``callback_reject_step``, their ``_adjoint`` forms) are called as torchdiffeq calls them.
    Returns a ``Solution`` with ``ys`` (shaped like ``odeint``'s result) and ``stats``.

    ``per_sample=True`` treats ``y0``'s first axis as a batch of independent problems and
    gives each row its own step size (accepted or rejected on its own; rows that are done stop
    moving): ``func`` then receives ``t`` of shape ``(B, 1, ..., 1)``, one time per row, and
    ``t`` may be ``(B, T)`` (each row its own output times; direct gradients). Adaptive
    Runge–Kutta methods only; per-row counts in ``stats.info["per_row"]``. With
    ``gradient="adjoint"`` the backward pass stays one joint solve of the whole batch.

    With ``event_fn(t, y)`` (see ``events``), ``t = [t0, t1]`` gives the start and the
    direction: the solve runs until ``event_fn`` crosses zero, ``ys`` is ``[y0, y(event)]``
    and ``event_t`` the event time. ``events="first"`` stops the whole state at the first
    event (torchdiffeq's); ``events="per_row"`` stops each row of ``y0`` (its first axis) at
    its own: ``event_fn`` returns one value per row and ``event_t`` has one time per row.
    """
    if not callable(func):
        raise ValueError(f"func must be callable as func(t, y), got {type(func).__name__}")
    method = DEFAULT_METHOD if method is None else method
    solver_class(method)
    layout, flat_y0 = _flatten_state(y0, per_row=per_sample is True)
    t = _check_per_row_times(t, flat_y0) if per_sample else _check_times(t)
    rtol = _check_tolerance("rtol", rtol if layout is None else layout.tolerance("rtol", rtol))
    atol = _check_tolerance("atol", atol if layout is None else layout.tolerance("atol", atol))
    for name, tol in (("rtol", rtol), ("atol", atol)):
        _check_broadcastable(name, tol, flat_y0)
    if _is_zero(rtol) and _is_zero(atol):
        raise ValueError("rtol and atol must not both be zero")
    options = screen_options(method, _check_options("options", options))
    gradient = _check_choice("gradient", gradient, GRADIENT_METHODS)
    if per_sample:
        _check_per_sample(per_sample, gradient, t)
    events = _check_choice("events", events, EVENT_MODES)
    if events != "first" and event_fn is None:
        raise ValueError(f"events={events!r} needs an event_fn to say where each row stops")
    if per_sample and event_fn is not None:
        raise ValueError(
            "per_sample: event_fn is not supported with per-row step sizes; "
            "events='per_row' stops each row at its own event with shared steps"
        )
    flat_func = func if layout is None else TupleFunc(func, layout)
    if layout is not None:
        norm = options.get("norm")
        options["norm"] = layout.mixed_norm if norm is None else layout.wrap_norm(norm)
    stats = SolverStats(info={"method": method})
    state_view = layout.unflatten if layout is not None else lambda flat: flat.view(y0.shape)
    callbacks = callbacks_option(method, func_callbacks(func), state_view, per_sample=per_sample)
    adjoint: dict[str, Any] = {}
    if gradient != "direct":
        adjoint = _adjoint_arguments(
            func,
            method,
            rtol,
            atol,
            options,
            adjoint_params,
            adjoint_method,
            adjoint_rtol,
            adjoint_atol,
            adjoint_options,
            adjoint_norm,
        )
        if callable(adjoint["adjoint_norm"]) and layout is not None:
            adjoint["adjoint_norm"] = layout.wrap_adjoint_norm(adjoint["adjoint_norm"])
    options.update(callbacks)
    common = dict(method=method, rtol=rtol, atol=atol, options=options, stats=stats)

    def solve_at(times: Tensor, forward_ys: Tensor | None = None) -> Tensor:
        if gradient == "direct":
            return integrate(flat_func, flat_y0, times, **common, per_sample=per_sample)
        if gradient == "adjoint":
            from .adjoint import adjoint_solve

            return adjoint_solve(
                flat_func,
                flat_y0,
                times,
                **common,
                **adjoint,
                adjoint_callbacks=func_callbacks(func, "_adjoint"),
                per_sample=per_sample,
                forward_ys=forward_ys,
            )
        from .checkpoint import checkpoint_solve

        return checkpoint_solve(
            flat_func, flat_y0, times, **common, **adjoint, checkpoints=checkpoints
        )

    event_t = None
    if event_fn is None:
        ys = solve_at(t)
    else:
        from .events import solve_until_event

        event_t, ys = solve_until_event(
            flat_func,
            flat_y0,
            t,
            event_fn=event_fn,
            events=events,
            to_state=(lambda y: y) if layout is None else layout.unflatten,
            gradient_solve=None if gradient == "direct" else solve_at,
            **common,
        )
    if layout is not None:
        ys = layout.unflatten(ys, (ys.shape[0],))
    return Solution(ys=ys, stats=stats, event_t=event_t)


def odeint(
    func: Callable,
    y0: State,
    t: Tensor,
    *,
    rtol: float | Tensor | tuple = 1e-7,
    atol: float | Tensor | tuple = 1e-9,
    method: str | None = None,
    options: Mapping[str, Any] | None = None,
    event_fn: Callable | None = None,
) -> State | tuple[Tensor, State]:
    """torchdiffeq's ``odeint``: the same call, returning the same tensor (or tuple).

    torchdiffeq's defaults apply (linear interpolation on fixed grids, no step limit), and
    options the method does not use are dropped with a warning, as torchdiffeq does. With
    ``event_fn``, returns ``(event_t, solution)`` as torchdiffeq does (see ``solve``); unlike
    torchdiffeq's, ``event_t`` and ``solution[-1]`` carry their full gradients (implicit
    function theorem) without ``odeint_event``.
    """
    method = DEFAULT_METHOD if method is None else method
    options = torchdiffeq_options(
        method, _check_options("options", options), unlimited_steps=event_fn is None
    )
    solution = solve(
        func, y0, t, rtol=rtol, atol=atol, method=method, options=options, event_fn=event_fn
    )
    return solution.ys if event_fn is None else (solution.event_t, solution.ys)


def odeint_adjoint(
    func: Callable,
    y0: State,
    t: Tensor,
    *,
    rtol: float | Tensor | tuple = 1e-7,
    atol: float | Tensor | tuple = 1e-9,
    method: str | None = None,
    options: Mapping[str, Any] | None = None,
    adjoint_rtol: float | Tensor | None = None,
    adjoint_atol: float | Tensor | None = None,
    adjoint_method: str | None = None,
    adjoint_options: Mapping[str, Any] | None = None,
    adjoint_params: Iterable[Tensor] | None = None,
    event_fn: Callable | None = None,
) -> State | tuple[Tensor, State]:
    """torchdiffeq's ``odeint_adjoint``, as ``solve(..., gradient="adjoint").ys``.

    torchdiffeq's defaults apply, as in ``odeint``. ``adjoint_options`` default to
    ``options`` without ``norm``. The adjoint's error norm is torchdiffeq's: the largest of
    the forward norm of the state and of its adjoint, the RMS of each parameter adjoint and
    the time adjoint's size; ``adjoint_options={"norm": "seminorm"}`` leaves the parameter
    adjoints out, and a callable norm receives ``(a_t, *y, *a_y, *a_params)``.
    """
    method = DEFAULT_METHOD if method is None else method
    adjoint_method = method if adjoint_method is None else adjoint_method
    user_options = _check_options("options", options)
    if adjoint_options is None:
        adjoint_options = {k: v for k, v in user_options.items() if k != "norm"}
    adjoint_options = _check_options("adjoint_options", adjoint_options)
    norm = adjoint_options.pop("norm", None)
    if norm is None or norm == "seminorm":
        parts = len(y0) if isinstance(y0, tuple) else 1
        state_norm = user_options.get("norm")
        norm = torchdiffeq_adjoint_norm(
            state_norm, parts, isinstance(y0, tuple), seminorm=norm == "seminorm"
        )
    solution = solve(
        func,
        y0,
        t,
        rtol=rtol,
        atol=atol,
        method=method,
        options=torchdiffeq_options(method, user_options, unlimited_steps=event_fn is None),
        gradient="adjoint",
        adjoint_params=adjoint_params,
        adjoint_method=adjoint_method,
        adjoint_rtol=adjoint_rtol,
        adjoint_atol=adjoint_atol,
        adjoint_options=torchdiffeq_options(adjoint_method, adjoint_options, "adjoint_options"),
        adjoint_norm=norm,
        event_fn=event_fn,
    )
    return solution.ys if event_fn is None else (solution.event_t, solution.ys)


def _flatten_state(y0: Any, per_row: bool = False) -> tuple[TupleLayout | None, Tensor]:
    """Check ``y0`` and flatten a tuple or complex state into one real tensor (row by row with
    ``per_row``: every part then holds the batch on its first axis)."""
    parts = y0 if isinstance(y0, tuple) else (y0,)
    if per_row and any(isinstance(part, Tensor) and part.is_complex() for part in parts):
        raise ValueError(
            "y0: per_sample takes real states; pass a complex state as its real and imaginary "
            "parts (torch.view_as_real), or solve it with per_sample=False"
        )
    if isinstance(y0, Tensor):
        _check_state_tensor("y0", y0)
        if not y0.is_complex():
            return None, y0
        layout = TupleLayout.of((y0,), single=True)
        return layout, layout.flatten((y0,))
    if not isinstance(y0, tuple) or not y0:
        raise ValueError(f"y0 must be a tensor or a non-empty tuple of tensors, got {y0!r}")
    for i, part in enumerate(y0):
        _check_state_tensor(f"y0[{i}]", part)
        if _real_dtype(part) != _real_dtype(y0[0]) or part.device != y0[0].device:
            raise ValueError(
                f"y0[{i}] is {part.dtype} on {part.device} but y0[0] is {y0[0].dtype} on "
                f"{y0[0].device}; every part of a tuple state must share precision and device"
            )
    if per_row:
        rows = {part.shape[0] if part.ndim else None for part in y0}
        if len(rows) != 1 or None in rows:
            raise ValueError(
                "y0: with per_sample every part of a tuple state must hold the batch on its "
                f"first axis, with one size; got shapes {[tuple(p.shape) for p in y0]}"
            )
        layout = RowTupleLayout(tuple(part.shape for part in y0))
    else:
        layout = TupleLayout.of(y0)
    return layout, layout.flatten(y0)


def _real_dtype(y: Tensor) -> torch.dtype:
    return y.real.dtype if y.is_complex() else y.dtype


def _check_state_tensor(name: str, y: Any) -> None:
    if not isinstance(y, Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(y).__name__}")
    if not (torch.is_floating_point(y) or y.is_complex()):
        raise ValueError(
            f"{name} must be a floating-point or complex tensor (e.g. float32, float64, "
            f"complex64), got {y.dtype}"
        )


def _check_times(t: Any) -> Tensor:
    """``t`` as a strictly monotone 1-D floating-point tensor with finite entries."""
    if not isinstance(t, Tensor):
        try:
            t = torch.as_tensor(t, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"t must be a 1-D tensor of times, got {type(t).__name__}") from None
    if not torch.is_floating_point(t):
        raise ValueError(f"t must be a floating-point tensor, got {t.dtype}")
    if t.ndim != 1 or len(t) == 0:
        raise ValueError(f"t must be a non-empty 1-D tensor, got shape {tuple(t.shape)}")
    times = t.detach().to("cpu", torch.float64).tolist()
    if not all(map(math.isfinite, times)):
        raise ValueError("t must hold finite times")
    if len(times) > 1:
        sign = 1.0 if times[1] > times[0] else -1.0
        if any(sign * (b - a) <= 0.0 for a, b in itertools.pairwise(times)):
            shown = times if len(times) <= 8 else "a non-monotone sequence"
            raise ValueError(
                "t must be strictly increasing or strictly decreasing (no repeated times); "
                f"got {shown}"
            )
    return t


def _check_per_row_times(t: Any, y0: Tensor) -> Tensor:
    """Shared times ``(T,)`` or one row of times per problem, ``(B, T)``."""
    if isinstance(t, Tensor) and t.ndim == 2:
        if y0.ndim == 0 or t.shape[0] != y0.shape[0]:
            raise ValueError(
                f"t of shape {tuple(t.shape)}: per-row times need one row per problem "
                f"(y0's first axis, {y0.shape[0] if y0.ndim else 'none'})"
            )
        for row in t:
            _check_times(row)
        return t
    return _check_times(t)


def _check_per_sample(per_sample: Any, gradient: str, t: Tensor) -> None:
    if per_sample is not True:
        raise ValueError(f"per_sample must be True or False, got {per_sample!r}")
    if gradient == "checkpoint":
        raise ValueError("per_sample: use gradient='direct' or 'adjoint' (not 'checkpoint')")
    if t.ndim == 2 and gradient != "direct":
        raise ValueError("t: per-row times (B, T) need gradient='direct'")
    if t.requires_grad and torch.is_grad_enabled():
        raise ValueError(
            "t: gradients with respect to the output times are not available with per_sample; "
            "pass t.detach(), or solve jointly (per_sample=False)"
        )


def _check_tolerance(name: str, tol: Any) -> float | Tensor:
    if isinstance(tol, Tensor):
        if tol.requires_grad:
            raise ValueError(f"{name} must not require grad")
        if not bool((tol.detach() >= 0).all()) or not bool(torch.isfinite(tol.detach()).all()):
            raise ValueError(f"{name} must be finite and non-negative")
        return tol if tol.numel() > 1 else float(tol)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)):
        raise ValueError(f"{name} must be a non-negative number or tensor, got {tol!r}")
    if not math.isfinite(tol) or tol < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {tol}")
    return float(tol)


def _check_broadcastable(name: str, tol: float | Tensor, y0: Tensor) -> None:
    if not isinstance(tol, Tensor):
        return
    try:
        fits = torch.broadcast_shapes(tol.shape, y0.shape) == y0.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} of shape {tuple(tol.shape)} does not broadcast to the state's shape "
            f"{tuple(y0.shape)}"
        )


def _is_zero(tol: float | Tensor) -> bool:
    return bool((tol == 0).all()) if isinstance(tol, Tensor) else tol == 0.0


def _check_options(name: str, options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"{name} must be a dict of option names to values, got {options!r}")
    return dict(options)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
            f"{suggestion(str(value), choices)}"
        )
    return value


def _adjoint_arguments(
    func: Callable,
    method: str,
    rtol: float | Tensor,
    atol: float | Tensor,
    options: dict[str, Any],
    params: Iterable[Tensor] | None,
    adjoint_method: str | None,
    adjoint_rtol: Any,
    adjoint_atol: Any,
    adjoint_options: Mapping[str, Any] | None,
    adjoint_norm: str | Callable,
) -> dict[str, Any]:
    """The validated ``adjoint_*`` keywords, with defaults taken from the forward solve.

    Per-element forward tolerances default the adjoint's to their largest entry (the
    adjoint state has another shape); forward options pass on without ``norm`` (those the
    adjoint method does not use are dropped with a warning). A ``norm`` in
    ``adjoint_options`` is the adjoint norm.
    """
    if params is None:
        if not isinstance(func, nn.Module):
            raise ValueError(
                "adjoint_params: func is not an nn.Module, so its parameters cannot be found; "
                "pass adjoint_params=(tensors...) explicitly (or () if there are none)"
            )
        params = tuple(func.parameters())
    else:
        if isinstance(params, Tensor):
            params = (params,)
        params = tuple(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise ValueError(f"adjoint_params[{i}] must be a tensor, got {type(p).__name__}")
    adjoint_method = method if adjoint_method is None else adjoint_method
    solver_class(adjoint_method)
    if adjoint_options is None:
        adjoint_options = {k: v for k, v in options.items() if k != "norm"}
    adjoint_options = _check_options("adjoint_options", adjoint_options)
    adjoint_norm = adjoint_options.pop("norm", adjoint_norm)
    if not callable(adjoint_norm):
        adjoint_norm = _check_choice("adjoint_norm", adjoint_norm, ADJOINT_NORMS)
    return dict(
        adjoint_params=params,
        adjoint_method=adjoint_method,
        adjoint_rtol=_scalar_default(rtol)
        if adjoint_rtol is None
        else _check_tolerance("adjoint_rtol", adjoint_rtol),
        adjoint_atol=_scalar_default(atol)
        if adjoint_atol is None
        else _check_tolerance("adjoint_atol", adjoint_atol),
        adjoint_options=screen_options(adjoint_method, adjoint_options, where="adjoint_options"),
        adjoint_norm=adjoint_norm,
    )


def _scalar_default(tol: float | Tensor) -> float:
    return float(tol.max()) if isinstance(tol, Tensor) else tol
