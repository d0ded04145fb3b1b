"""Adjoint gradients: Algorithm 1 of Chen et al. (2018), with the seminorm of Kidger et al.

The forward solve keeps no graph, only the outputs. The backward pass solves, for each pair of
consecutive output times (latest first), one augmented system backwards in time, packed into one
flat tensor ``[z, a, a_θ, a_t]``: the state ``z`` (reconstructed), its adjoint ``a = ∂L/∂z``,
the parameter adjoint and, when ``t`` needs a gradient, the time adjoint:

    dz/ds = f(s, z),   da/ds = -aᵀ ∂f/∂z,   da_θ/ds = -aᵀ ∂f/∂θ,   da_t/ds = -aᵀ ∂f/∂s.

One vector–Jacobian product per evaluation gives all of the right-hand side, ``f`` included.
At each output time ``t_i`` the state is reset to the forward solution, ``∂L/∂z(t_i)`` is added
to ``a``, and ``∂L/∂t_i = ∂L/∂z(t_i)ᵀ f(t_i, z(t_i))`` is taken from ``a_t`` (the paper's
appendix); what is left in ``a_t`` at ``t_0`` is ``∂L/∂t_0``.

By default the error norm sees only ``z`` and ``a`` (the seminorm): ``a_θ`` and ``a_t`` are
quadratures that never feed back into the dynamics, and leaving them out of step-size control
saves backward evaluations. ``adjoint_norm="full"`` uses the RMS of everything; a callable
``adjoint_norm`` receives the scaled error as torchdiffeq lays out its adjoint state,
``(a_t, z, a, *a_θ)`` (``a_t`` zero when ``t`` needs no gradient), and so do the adjoint's
step callbacks (``adjoint_callbacks``, see ``compat.StepCallbacks``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from odedsl.errors import SolverError

from ._gradient_support import (
    Dynamics,
    add_backward_counts,
    differentiable_params,
    flat_size,
    split_like,
    time_derivative,
)
from .compat import callbacks_option
from .integrate import integrate
from .solution import SolverStats


@dataclass(frozen=True)
class _Settings:
    """Everything the autograd function needs besides its tensor inputs."""

    func: Dynamics
    method: str
    rtol: float | Tensor
    atol: float | Tensor
    options: dict
    adjoint_method: str
    adjoint_rtol: float
    adjoint_atol: float
    adjoint_options: dict
    adjoint_norm: str | Callable[[tuple[Tensor, ...]], Tensor]
    adjoint_callbacks: Mapping[str, Callable]
    stats: SolverStats
    forward_ys: Tensor | None = None  # the forward solution when already known (events)
    per_sample: bool = False


class _AugmentedDynamics:
    """Right-hand side of the flat augmented state ``[z, a, a_θ, a_t]``."""

    def __init__(self, func: Dynamics, shape: torch.Size, params: tuple, with_time: bool):
        self.func = func
        self.shape = shape
        self.n = math.prod(shape)
        self.params = params
        self.with_time = with_time
        self._zeros: dict[int, Tensor] = {}

    def __call__(self, s: Tensor, state: Tensor) -> Tensor:
        n = self.n
        z = state[:n].reshape(self.shape)
        a = state[n : 2 * n].reshape(self.shape)
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            s = s.detach().requires_grad_(self.with_time)
            f = self.func(s, z)
            inputs = (z, *self.params, s) if self.with_time else (z, *self.params)
            if f.requires_grad:
                vjps = torch.autograd.grad(f, inputs, -a, allow_unused=True)
            else:
                vjps = (None,) * len(inputs)
        pieces = [f.detach().reshape(-1)]
        for vjp, x in zip(vjps, inputs, strict=True):
            pieces.append(self._zero(x) if vjp is None else vjp.reshape(-1))
        return torch.cat(pieces)

    def torchdiffeq_view(self, state: Tensor) -> tuple[Tensor, ...]:
        """``[z, a, a_θ, a_t]`` as torchdiffeq's adjoint state ``(a_t, z, a, *a_θ)``."""
        n = self.n
        a_t = state[-1] if self.with_time else state.new_zeros(())
        params = split_like(state[2 * n : 2 * n + flat_size(self.params)], self.params)
        return (a_t, state[:n].view(self.shape), state[n : 2 * n].view(self.shape), *params)

    def _zero(self, like: Tensor) -> Tensor:
        """A cached flat zero vector for an input ``f`` does not depend on."""
        zero = self._zeros.get(like.numel())
        if zero is None:
            zero = self._zeros[like.numel()] = like.new_zeros(like.numel())
        return zero


def _seminorm(n_checked: int):
    """RMS over the first ``n_checked`` entries (z and a) of the scaled error."""
    scale = 1.0 / math.sqrt(n_checked)

    def norm(scaled_error: Tensor) -> Tensor:
        return torch.linalg.vector_norm(scaled_error[:n_checked]) * scale

    return norm


class _AdjointSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, settings: _Settings, y0: Tensor, t: Tensor, *params: Tensor) -> Tensor:
        ys = settings.forward_ys
        if ys is None:
            with torch.no_grad():
                ys = integrate(
                    settings.func,
                    y0,
                    t,
                    method=settings.method,
                    rtol=settings.rtol,
                    atol=settings.atol,
                    options=settings.options,
                    stats=settings.stats,
                    per_sample=settings.per_sample,
                )
        ctx.settings = settings
        ctx.params = params
        # torchdiffeq keeps the adjoint norm here, where its own tests read and replace it
        ctx.adjoint_options = {"norm": settings.adjoint_norm}
        ctx.save_for_backward(ys, t)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_ys: Tensor):
        settings: _Settings = ctx.settings
        params: tuple = ctx.params
        ys, t = ctx.saved_tensors
        with_time = ctx.needs_input_grad[2]
        settings = dataclasses.replace(settings, adjoint_norm=ctx.adjoint_options["norm"])
        grad_y0, grad_t, grad_params = _backward_pass(settings, params, ys, t, grad_ys, with_time)
        return (None, grad_y0, grad_t, *grad_params)


def _backward_pass(
    settings: _Settings,
    params: tuple,
    ys: Tensor,
    t: Tensor,
    grad_ys: Tensor,
    with_time: bool,
) -> tuple[Tensor, Tensor | None, tuple[Tensor, ...]]:
    """Algorithm 1, one reverse solve per pair of consecutive output times."""
    func, stats = settings.func, settings.stats
    shape = ys.shape[1:]
    n = math.prod(shape)
    n_params = flat_size(params)
    dynamics = _AugmentedDynamics(func, shape, params, with_time)
    adjoint_norm, view = settings.adjoint_norm, dynamics.torchdiffeq_view
    if callable(adjoint_norm):

        def norm(scaled_error: Tensor) -> Tensor:
            return adjoint_norm(view(scaled_error))

    else:
        norm = _seminorm(2 * n) if adjoint_norm == "seminorm" else None
    options = {
        **settings.adjoint_options,
        **callbacks_option(
            settings.adjoint_method, settings.adjoint_callbacks, view, suffix="_adjoint"
        ),
    }

    # Later outputs that the loss ignores contribute nothing: start at the last one it uses.
    used = grad_ys.reshape(len(t), -1).ne(0).any(dim=1).nonzero()
    last = int(used[-1]) if len(used) else 0

    state = ys.new_zeros(2 * n + n_params + int(with_time))
    state[:n] = ys[last].reshape(-1)
    state[n : 2 * n] = grad_ys[last].reshape(-1)
    grad_t = torch.zeros_like(t) if with_time else None
    if with_time and last > 0:
        grad_t[last] = time_derivative(func, t[last], ys[last], grad_ys[last])
        stats.nfe_backward += 1
        state[-1] = -grad_t[last]

    times = t.detach().to(torch.float64)
    for i in range(last, 0, -1):
        segment_stats = SolverStats()
        state = integrate(
            dynamics,
            state,
            times[i - 1 : i + 1].flip(0),
            method=settings.adjoint_method,
            rtol=settings.adjoint_rtol,
            atol=settings.adjoint_atol,
            options=options,
            norm=norm,
            stats=segment_stats,
        )[-1]
        add_backward_counts(stats, segment_stats)
        _check_finite(state[n:], float(times[i]), float(times[i - 1]))
        state[:n] = ys[i - 1].reshape(-1)
        state[n : 2 * n] += grad_ys[i - 1].reshape(-1)
        if with_time and i > 1:
            grad_t[i - 1] = time_derivative(func, t[i - 1], ys[i - 1], grad_ys[i - 1])
            stats.nfe_backward += 1
            state[-1] -= grad_t[i - 1]

    if with_time:
        grad_t[0] = state[-1]
    grad_y0 = state[n : 2 * n].reshape(shape)
    grad_params = split_like(state[2 * n : 2 * n + n_params], params)
    return grad_y0, grad_t, grad_params


def _check_finite(adjoint_state: Tensor, t_from: float, t_to: float) -> None:
    if not bool(torch.isfinite(adjoint_state).all()):
        raise SolverError(
            f"the adjoint state became non-finite while integrating backwards from t={t_from:g} "
            f"to t={t_to:g}: the dynamics' Jacobian overflows there. Hint: check func for "
            "overflow, shorten the time span, or use gradient='checkpoint'"
        )


def adjoint_solve(
    func: Dynamics,
    y0: Tensor,
    t: Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    options: dict,
    adjoint_params: Iterable[Tensor],
    adjoint_method: str,
    adjoint_rtol: float,
    adjoint_atol: float,
    adjoint_options: dict,
    adjoint_norm: str | Callable[[tuple[Tensor, ...]], Tensor] = "seminorm",
    adjoint_callbacks: Mapping[str, Callable] | None = None,
    stats: SolverStats,
    forward_ys: Tensor | None = None,
    per_sample: bool = False,
) -> Tensor:
    """Solve ``dy/dt = func(t, y)`` at the times ``t``, with gradients by the adjoint method.

    Returns ys of shape (len(t), *y0.shape), differentiable with respect to ``y0``, ``t`` and
    those of ``adjoint_params`` that require grad. The backward pass adds its evaluations
    to ``stats.nfe_backward``. ``per_sample`` steps each row on its own in the forward
    solve; the backward pass is one joint solve of the whole batch either way (a per-row
    parameter adjoint would hold one copy of every parameter per row). ``forward_ys``: the
    forward solution at ``t``, when the caller has it already (it is then not solved again).
    """
    params = differentiable_params(adjoint_params)
    settings = _Settings(
        func=func,
        method=method,
        rtol=rtol,
        atol=atol,
        options=options,
        adjoint_method=adjoint_method,
        adjoint_rtol=adjoint_rtol,
        adjoint_atol=adjoint_atol,
        adjoint_options=adjoint_options,
        adjoint_norm=adjoint_norm,
        adjoint_callbacks=adjoint_callbacks or {},
        stats=stats,
        forward_ys=forward_ys,
        per_sample=per_sample,
    )
    return _AdjointSolve.apply(settings, y0, t, *params)
