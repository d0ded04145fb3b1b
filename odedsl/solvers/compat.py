"""torchdiffeq's conventions: option screening, its defaults, step callbacks, adjoint norms.

``odeint`` / ``odeint_adjoint`` promise torchdiffeq's behaviour, so that the same call returns
the same numbers; ``solve`` keeps odedsl's own defaults. What differs is gathered here:

- ``screen_options``: an option the method does not use is dropped with a warning, as
  torchdiffeq does (a shared options dict works, say ``step_size`` beside an adaptive method).
  A name no method knows is a typo: ``solve`` refuses it with a did-you-mean, ``odeint``
  warns like torchdiffeq. ``dtype`` (torchdiffeq's time dtype) is accepted: odedsl keeps
  times in float64, torchdiffeq's default.
- ``torchdiffeq_defaults``: linear interpolation on fixed grids and no step limit.
- ``StepCallbacks`` / ``func_callbacks``: ``func.callback_step``, ``callback_accept_step``
  and ``callback_reject_step`` (and their ``_adjoint`` forms), called with ``(t0, y0, dt)``
  like torchdiffeq: ``t0`` the step's start, ``y0`` the state there in the user's form,
  ``dt`` the step's length (positive whichever the direction of time).
- ``torchdiffeq_adjoint_norm``: torchdiffeq's adjoint error norms.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .integrate import solver_class
from .methods import SOLVERS
from .options import suggestion

CALLBACKS = ("step", "accept_step", "reject_step")
"""The step callbacks, ``func.callback_<name>`` (and ``func.callback_<name>_adjoint``)."""

UNLIMITED_STEPS = sys.maxsize
"""``max_num_steps`` meaning no limit (torchdiffeq's default)."""

_API_OPTIONS = frozenset({"norm", "dtype"})
"""Options every method accepts: the API reads them before the solver sees the rest."""

_INTERNAL_OPTIONS = frozenset({"callbacks"})
"""Options the API sets for the solvers (never listed to users)."""


def _known_everywhere() -> frozenset[str]:
    names = set(_API_OPTIONS)
    for cls in SOLVERS.values():
        names |= getattr(cls, "option_names", frozenset())
    return frozenset(names)


def screen_options(
    method: str, options: Mapping[str, Any], *, where: str = "options", strict: bool = True
) -> dict[str, Any]:
    """``options`` without those ``method`` does not use (each dropped with a warning).

    A name that no method knows raises ``ValueError`` when ``strict`` (with a did-you-mean),
    else is dropped with a warning as well. ``dtype`` is checked and removed.
    """
    accepted = getattr(solver_class(method), "option_names", None)
    options = dict(options)
    _check_dtype(options.pop("dtype", None), where)
    if accepted is None:
        return options
    known = _known_everywhere() - _INTERNAL_OPTIONS
    listed = ", ".join(sorted((accepted | _API_OPTIONS) - _INTERNAL_OPTIONS))
    unused = [name for name in options if name not in accepted and name not in _API_OPTIONS]
    for name in unused:
        if name not in known and strict:
            raise ValueError(
                f"{where}: unknown option {name!r}{suggestion(str(name), known)}; options of "
                f"method {method!r}: {listed}"
            )
    if unused:
        warnings.warn(
            f"{where}: method {method!r} does not use {', '.join(map(repr, unused))}; ignored "
            f"(its options: {listed})",
            stacklevel=4,
        )
    return {k: v for k, v in options.items() if k not in unused}


def _check_dtype(dtype: Any, where: str) -> None:
    if dtype is None:
        return
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"{where}['dtype'] must be a floating-point torch.dtype, got {dtype!r}")
    if dtype != torch.float64:
        warnings.warn(
            f"{where}['dtype']={dtype}: odedsl keeps times in float64 (torchdiffeq's default), "
            "which is at least as accurate",
            stacklevel=4,
        )


def torchdiffeq_defaults(
    method: str, options: Mapping[str, Any] | None, *, unlimited_steps: bool = True
) -> dict[str, Any]:
    """``options`` with torchdiffeq's defaults where ``method`` takes the option: linear
    interpolation between fixed grid points, and no step limit (unless ``unlimited_steps``
    is false: a search for an event keeps its own cap, as torchdiffeq's does)."""
    accepted = getattr(solver_class(method), "option_names", frozenset())
    options = dict(options or {})
    if "interp" in accepted:
        options.setdefault("interp", "linear")
    if "max_num_steps" in accepted and unlimited_steps:
        options.setdefault("max_num_steps", UNLIMITED_STEPS)
    return options


def torchdiffeq_options(
    method: str,
    options: Mapping[str, Any] | None,
    where: str = "options",
    *,
    unlimited_steps: bool = True,
) -> dict[str, Any]:
    """``options`` as ``odeint`` passes them on: torchdiffeq's defaults added, and options the
    method does not use (even unknown names) dropped with a warning."""
    with_defaults = torchdiffeq_defaults(method, options, unlimited_steps=unlimited_steps)
    return screen_options(method, with_defaults, where=where, strict=False)


# ---------------------------------------------------------------- callbacks
StateView = Callable[[Tensor], Any]


@dataclass(frozen=True)
class StepCallbacks:
    """The step callbacks a solver calls (each ``None`` or ``f(t0, y0, dt)``), with the view
    that turns the solver's flat state into the state the callbacks receive.

    Solvers call ``step(t0, y0, h)`` before each step attempt and ``accept_step`` /
    ``reject_step`` after it, with times and step as floats and ``y0`` flat; here they become
    torchdiffeq's ``(tensor t0, state, tensor |h|)``.
    """

    functions: Mapping[str, Callable]
    view: StateView

    def _call(self, name: str, t0: float, y0: Tensor, h: float) -> None:
        callback = self.functions.get(name)
        if callback is not None:
            dtype = torch.float64
            callback(
                torch.tensor(t0, dtype=dtype, device=y0.device),
                self.view(y0),
                torch.tensor(abs(h), dtype=dtype, device=y0.device),
            )

    def step(self, t0: float, y0: Tensor, h: float) -> None:
        self._call("step", t0, y0, h)

    def accept_step(self, t0: float, y0: Tensor, h: float) -> None:
        self._call("accept_step", t0, y0, h)

    def reject_step(self, t0: float, y0: Tensor, h: float) -> None:
        self._call("reject_step", t0, y0, h)


def func_callbacks(func: Any, suffix: str = "") -> dict[str, Callable]:
    """The callbacks ``func`` carries: ``{name: func.callback_<name><suffix>}``."""
    found = {}
    for name in CALLBACKS:
        callback = getattr(func, f"callback_{name}{suffix}", None)
        if callback is not None:
            if not callable(callback):
                raise ValueError(f"func.callback_{name}{suffix} must be callable (t0, y0, dt)")
            found[name] = callback
    return found


def callbacks_option(
    method: str,
    functions: Mapping[str, Callable],
    view: StateView,
    suffix: str = "",
    per_sample: bool = False,
) -> dict[str, Any]:
    """``{"callbacks": StepCallbacks}`` for a method's options, or ``{}`` if there are none;
    callbacks the method cannot call (any, in per-row solves) are left out with a warning,
    as torchdiffeq does."""
    if not functions:
        return {}
    valid = frozenset() if per_sample else getattr(solver_class(method), "valid_callbacks", ())
    invalid = [name for name in functions if name not in valid]
    if invalid:
        names = ", ".join(f"callback_{name}{suffix}" for name in invalid)
        who = "per-row (per_sample) solves do" if per_sample else f"method {method!r} does"
        warnings.warn(f"{who} not call {names}; ignored", stacklevel=4)
    usable = {name: f for name, f in functions.items() if name in valid}
    return {"callbacks": StepCallbacks(usable, view)} if usable else {}


# ---------------------------------------------------------------- adjoint norms
def rms_norm(x: Tensor) -> Tensor:
    """``sqrt(mean |x|²)`` (complex entries count once)."""
    return x.abs().pow(2).mean().sqrt()


def mixed_norm(parts: tuple[Tensor, ...]) -> Tensor | float:
    """The largest RMS norm over ``parts`` (0 for none)."""
    return max((rms_norm(p) for p in parts), default=0.0)


def torchdiffeq_adjoint_norm(
    state_norm: Callable | None, n_state_parts: int, is_tuple: bool, *, seminorm: bool
) -> Callable[[tuple[Tensor, ...]], Tensor]:
    """torchdiffeq's adjoint error norm on ``(a_t, *y, *a_y, *a_params)``.

    ``max(|a_t|, ‖y‖, ‖a_y‖, mixed(a_params))`` with ``‖·‖`` the forward solve's norm
    (``state_norm``, default RMS for a tensor, the mixed norm for a tuple state); the seminorm
    leaves the parameter adjoints out.
    """
    if state_norm is None:
        state_norm = mixed_norm if is_tuple else rms_norm
    k = n_state_parts

    def norm(parts: tuple[Tensor, ...]) -> Tensor:
        y, a_y = parts[1 : 1 + k], parts[1 + k : 1 + 2 * k]
        if not is_tuple:
            y, a_y = y[0], a_y[0]
        values = [parts[0].abs(), state_norm(y), state_norm(a_y)]
        if not seminorm:
            values.append(mixed_norm(parts[1 + 2 * k :]))
        return torch.stack(
            [torch.as_tensor(v, dtype=parts[0].dtype).reshape(()) for v in values]
        ).max()

    return norm
