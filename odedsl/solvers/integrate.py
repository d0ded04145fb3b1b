"""The solver core on a single tensor state: ``integrate``.

The public API (``api.py``) validates arguments, flattens tuple states and calls this; the
adjoint and checkpoint gradient methods call it for their forward and backward solves.
Backpropagating through it is the "direct" gradient method: the solvers keep the autograd
graph of every operation, and the dependence on ``t`` is attached exactly (see
``_attach_time_gradient``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from .control import Norm
from .independent import independent_solver
from .methods import SOLVERS
from .options import check_option_names, suggestion
from .solution import SolverStats


def solver_class(method: str) -> type:
    """The solver class registered as ``method``; ``ValueError`` with a did-you-mean if none."""
    try:
        return SOLVERS[method]
    except (KeyError, TypeError):
        raise ValueError(
            f"method: unknown method {method!r}{suggestion(str(method), SOLVERS)}; "
            f"available: {', '.join(SOLVERS)}"
        ) from None


def solver_factory(
    func: Callable[[Tensor, Tensor], Tensor],
    method: str,
    rtol: float | Tensor,
    atol: float | Tensor,
    options: Mapping[str, Any] | None,
    norm: Norm | None,
    stats: SolverStats,
    per_sample: bool = False,
) -> Callable[[Tensor], Any]:
    """Check ``options`` for ``method`` and return ``y0 -> solver`` (see ``methods``).

    ``norm`` wins over ``options["norm"]``; ``per_sample`` picks the method's per-row solver.
    """
    cls = solver_class(method)
    if per_sample:
        cls = independent_solver(cls)
    options = dict(options or {})
    option_norm = options.pop("norm", None)
    norm = norm if norm is not None else option_norm
    known = getattr(cls, "option_names", None)
    if known is not None:
        check_option_names(options, known, method)
    return lambda y0: cls(func, y0, rtol, atol, norm, options, stats)


def integrate(
    func: Callable[[Tensor, Tensor], Tensor],
    y0: Tensor,
    t: Tensor,
    *,
    method: str,
    rtol: float | Tensor,
    atol: float | Tensor,
    options: Mapping[str, Any] | None,
    norm: Norm | None = None,
    stats: SolverStats,
    per_sample: bool = False,
) -> Tensor:
    """Solve ``dy/dt = func(t, y)``, ``y(t[0]) = y0`` and return ``y`` at every time in ``t``.

    ``y0`` is one tensor of any shape; ``t`` a strictly monotone 1-D tensor (increasing or
    decreasing); ``func(t, y)`` receives ``t`` as a 0-dim tensor of ``y0``'s dtype and
    device. ``norm`` (or ``options["norm"]``) maps the scaled error, shaped like ``y0``, to a
    0-dim tensor (default RMS). Returns a tensor of shape ``(len(t), *y0.shape)``; ``stats``
    is updated in place. Differentiable with respect to ``y0``, parameters used by ``func``
    and ``t``. ``per_sample`` gives every row of the batch (``y0``'s first axis) its own step
    size (``independent.IndependentRungeKuttaSolver``; ``t`` may then be ``(B, T)``).
    """
    build = solver_factory(func, method, rtol, atol, options, norm, stats, per_sample)
    if t.shape[-1] == 1:
        return y0.unsqueeze(0).clone()
    time_gradient = torch.is_grad_enabled() and t.requires_grad
    start = shift_start(func, y0, t, stats) if time_gradient else y0
    ys = build(start).integrate(t)
    if time_gradient:
        ys = _attach_time_gradient(func, y0, t, ys, stats)
    return ys


def _time(t: Tensor, like: Tensor) -> Tensor:
    return t.detach().to(device=like.device, dtype=like.dtype)


def shift_start(func: Callable, y0: Tensor, t: Tensor, stats: SolverStats) -> Tensor:
    """``y0 - δ f(t0, y0)`` with ``δ = t0 - t0.detach()`` (zero): starting at ``t0 + δ``
    from ``y0`` is, to first order, starting at ``t0`` from ``y0 - δ f(t0, y0)``."""
    with torch.no_grad():
        f0 = func(_time(t[0], y0), y0)
    stats.nfe_forward += 1
    return y0 - (t[0] - t[0].detach()).to(y0.dtype) * f0


def _attach_time_gradient(
    func: Callable, y0: Tensor, t: Tensor, ys: Tensor, stats: SolverStats
) -> Tensor:
    """Add ``δ_i f(t_i, y_i)`` (``δ_i = t_i - t_i.detach()``, zero) to each output row, so that
    ``dy(t_i)/dt_i = f(t_i, y(t_i))``; the first row is ``y0`` itself."""
    rows = [y0]
    for i in range(1, len(t)):
        with torch.no_grad():
            f = func(_time(t[i], ys), ys[i])
        rows.append(ys[i] + (t[i] - t[i].detach()).to(ys.dtype) * f)
    stats.nfe_forward += len(t) - 1
    return torch.stack(rows)
