"""Newton's method for a block of implicit Runge–Kutta stages, and its gradient.

A block of ``m`` stages over a flat state of size ``n`` solves ``G(K) = K - F(base + C K) = 0``
for the stage derivatives ``K`` (``m × n``): row ``i`` of ``F`` is ``f(t_i, ·)`` at stage
``i``'s input, ``base`` holds ``y0`` plus the contributions of earlier stages and ``C = h A``
restricted to the block. The Newton matrix ``∂G/∂K`` has blocks ``δ_ij I - C_ij J_i``, with
``J_i`` the Jacobian of ``f`` at stage ``i``:

- ``"dense"``: the Jacobians come from autograd (one batched vector–Jacobian product per
  state entry), or from finite differences when ``func`` is not differentiable (as inside
  the adjoint's backward solve); the ``mn × mn`` system is solved directly.
- ``"krylov"``: matrix-free GMRES, with Jacobian–vector products by finite differences
  (one evaluation per stage and product), for large states.

The iterations run outside the autograd graph. ``attach_gradient`` then takes one Newton
step from the detached converged stages ``K*`` with the exact, detached Newton matrix ``M``:
``K = K* - M⁻¹ G(K*)``, where ``G`` carries the graph of ``y0``, parameters and earlier
stages. Its value is ``K*`` (one more Newton step) and its derivative ``-M⁻¹ ∂G/∂θ`` is the
implicit function theorem's, so nothing is backpropagated through the iterations.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from odedsl.errors import SolverError

from .krylov import MatVec, gmres

StageFunc = Callable[[int, Tensor], Tensor]
"""``fn(i, y)``: ``f`` at stage ``i``'s time on a flat state (counted by the caller)."""

LINEAR_SOLVERS = ("auto", "dense", "krylov")
DENSE_MAX_SIZE = 64
"""``linear_solver="auto"`` solves blocks of at most this many unknowns (stages × state
size) directly, larger ones by GMRES."""
_GMRES_MAX_ITER = 50
_REFRESH_RATE = 0.25
"""The dense path keeps its Newton matrix while each iteration shrinks the update at least
this much (simplified Newton), and recomputes the Jacobians at the iterate otherwise."""


def use_krylov(linear_solver: str, unknowns: int) -> bool:
    """Whether a block of ``unknowns`` unknowns is solved matrix-free."""
    if linear_solver == "auto":
        return unknowns > DENSE_MAX_SIZE
    return linear_solver == "krylov"


def solve_stages(
    fn: StageFunc,
    base: Tensor,
    coeff: Tensor,
    guess: Tensor,
    *,
    max_iters: int,
    krylov: bool,
    where: str,
) -> Tensor:
    """The stages ``K`` (detached) with ``K = F(base + coeff @ K)``, by Newton's method.

    The dense path factors its Newton matrix once and refreshes it only when convergence
    slows (``_REFRESH_RATE``). Stops when the estimated distance to the solution is a few
    ulps of ``1 + |K|``; raises ``SolverError`` naming ``where`` (the step) when
    ``max_iters`` iterations do not get there or the iterates stop being finite.
    """
    base = base.detach()
    k = guess.detach().clone()
    eps = torch.finfo(k.dtype).eps
    previous = math.nan
    residual = math.inf
    factors = None
    for _ in range(max_iters):
        y = base + coeff @ k
        if krylov:
            with torch.no_grad():
                f = _stack(fn, y)
            g = (k - f).reshape(-1)
            rtol = max(1e-10, 10.0 * eps)
            delta, _ = gmres(
                _fd_matvec(fn, coeff, y, f), -g, rtol=rtol, max_iter=min(g.numel(), _GMRES_MAX_ITER)
            )
        else:
            if factors is None:
                f, jacobians = _jacobians(fn, y)
                factors = torch.linalg.lu_factor(_newton_matrix(coeff, jacobians))
            else:
                with torch.no_grad():
                    f = _stack(fn, y)
            g = (k - f).reshape(-1)
            delta = torch.linalg.lu_solve(*factors, -g[:, None])[:, 0]
        residual = float(g.abs().max())
        if not (math.isfinite(residual) and bool(torch.isfinite(delta).all())):
            raise SolverError(
                f"Newton's method for the implicit stages of the step {where} met non-finite "
                "values. Hint: use a smaller step_size, or check func for overflow."
            )
        k = k + delta.view_as(k)
        size = float(delta.abs().max())
        scale = 1.0 + float(k.abs().max())
        rate = size / previous  # the contraction of the last iteration (nan at first)
        if (
            size <= 16.0 * eps * scale
            or (rate < 1.0 and rate / (1.0 - rate) * size <= 16.0 * eps * scale)
            or (rate >= 0.5 and size <= math.sqrt(eps) * scale)  # stalled at round-off
        ):
            return k
        if rate > _REFRESH_RATE:
            factors = None
        previous = size
    raise SolverError(
        f"Newton's method for the implicit stages of the step {where} did not converge in "
        f"max_iters={max_iters} iterations (stage residual {residual:.3g}). Hint: use a "
        "smaller step_size or raise options['max_iters']."
    )


def attach_gradient(
    fn: StageFunc, base: Tensor, coeff: Tensor, k: Tensor, *, krylov: bool
) -> Tensor:
    """``k - M⁻¹ G(k)`` with ``G`` in the autograd graph of ``base`` and ``fn``'s parameters
    and ``M`` the exact Newton matrix at ``k``, detached: the converged stages with their
    gradient by the implicit function theorem."""
    with torch.enable_grad():
        leaf = (base.detach() + coeff @ k).requires_grad_(True)
        f = _stack(fn, leaf + (base - base.detach()))
        g = (k - f).reshape(-1)
        if not g.requires_grad:
            return k
        if krylov:
            delta = _LinearSolve.apply(
                g,
                _fd_matvec(fn, coeff, leaf.detach(), f.detach()),
                _vjp_rmatvec(f, leaf, coeff),
                max(1e-12, 10.0 * torch.finfo(k.dtype).eps),
            )
        else:
            jacobians = _autograd_jacobians(f, leaf)
            delta = torch.linalg.solve(_newton_matrix(coeff, jacobians), g)
    return k - delta.view_as(k)


def _stack(fn: StageFunc, y: Tensor) -> Tensor:
    return torch.stack([fn(i, y[i]) for i in range(y.shape[0])])


def _newton_matrix(coeff: Tensor, jacobians: Tensor) -> Tensor:
    """``I - [C_ij J_i]`` as an ``mn × mn`` matrix (``jacobians`` is ``m × n × n``)."""
    m, n, _ = jacobians.shape
    blocks = coeff[:, :, None, None] * jacobians[:, None]
    return torch.eye(m * n, dtype=coeff.dtype, device=coeff.device) - blocks.permute(
        0, 2, 1, 3
    ).reshape(m * n, m * n)


def _jacobians(fn: StageFunc, y: Tensor) -> tuple[Tensor, Tensor]:
    """``F(y)`` and the stage Jacobians ``J_i`` (``m × n × n``), both detached: by autograd
    when ``fn`` is differentiable, else by forward differences."""
    with torch.enable_grad():
        leaf = y.detach().requires_grad_(True)
        f = _stack(fn, leaf)
        if f.requires_grad:
            return f.detach(), _autograd_jacobians(f, leaf)
    f = f.detach()
    return f, _fd_jacobians(fn, y.detach(), f)


def _autograd_jacobians(f: Tensor, leaf: Tensor) -> Tensor:
    """``∂f_i/∂leaf_i`` for each stage ``i`` (``f_i`` depends on ``leaf_i`` alone)."""
    m, n = f.shape
    if not f.requires_grad:
        return f.new_zeros(m, n, n)
    seeds = torch.eye(n, dtype=f.dtype, device=f.device)[:, None, :].expand(n, m, n)
    try:
        (rows,) = torch.autograd.grad(
            f, leaf, seeds, retain_graph=True, allow_unused=True, is_grads_batched=True
        )
    except RuntimeError:  # func does something vmap cannot batch: one product per row
        parts = [
            torch.autograd.grad(f, leaf, seeds[p], retain_graph=True, allow_unused=True)[0]
            for p in range(n)
        ]
        rows = None if parts[0] is None else torch.stack(parts)
    if rows is None:
        return f.new_zeros(m, n, n)
    return rows.permute(1, 0, 2).detach()


@torch.no_grad()
def _fd_jacobians(fn: StageFunc, y: Tensor, f: Tensor) -> Tensor:
    n = y.shape[1]
    step = math.sqrt(torch.finfo(y.dtype).eps) * torch.clamp(y.abs(), min=1.0)
    columns = []
    for q in range(n):
        shifted = y.clone()
        shifted[:, q] += step[:, q]
        columns.append((_stack(fn, shifted) - f) / step[:, q : q + 1])
    return torch.stack(columns, dim=2)


def _fd_matvec(fn: StageFunc, coeff: Tensor, y: Tensor, f: Tensor) -> MatVec:
    """``v ↦ M v`` with each ``J_i w`` a forward difference of ``f`` at stage ``i``."""
    eps = math.sqrt(torch.finfo(y.dtype).eps)
    y_norms = torch.linalg.vector_norm(y, dim=1)

    @torch.no_grad()
    def matvec(v: Tensor) -> Tensor:
        v = v.view_as(y)
        w = coeff @ v
        products = []
        for i in range(y.shape[0]):
            w_norm = float(torch.linalg.vector_norm(w[i]))
            if w_norm == 0.0:
                products.append(torch.zeros_like(w[i]))
                continue
            step = eps * (1.0 + float(y_norms[i])) / w_norm
            products.append((fn(i, y[i] + step * w[i]) - f[i]) / step)
        return (v - torch.stack(products)).reshape(-1)

    return matvec


def _vjp_rmatvec(f: Tensor, leaf: Tensor, coeff: Tensor) -> MatVec:
    """``v ↦ Mᵀ v`` by vector–Jacobian products through ``f``'s graph."""

    def rmatvec(v: Tensor) -> Tensor:
        v = v.view_as(f)
        (u,) = torch.autograd.grad(f, leaf, v, retain_graph=True, allow_unused=True)
        if u is None:
            return v.reshape(-1)
        return (v - coeff.T @ u).reshape(-1)

    return rmatvec


class _LinearSolve(torch.autograd.Function):
    """``x = M⁻¹ b`` by GMRES, differentiable in ``b`` (``M`` is constant)."""

    @staticmethod
    def forward(ctx, b: Tensor, matvec: MatVec, rmatvec: MatVec, rtol: float) -> Tensor:
        ctx.rmatvec, ctx.rtol = rmatvec, rtol
        x, _ = gmres(matvec, b.detach(), rtol=rtol, max_iter=min(b.numel(), _GMRES_MAX_ITER))
        return x

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, relative = gmres(
            ctx.rmatvec, grad, rtol=ctx.rtol, max_iter=min(grad.numel(), _GMRES_MAX_ITER)
        )
        if relative > math.sqrt(ctx.rtol):
            raise SolverError(
                f"GMRES did not solve the transposed Newton system of an implicit step "
                f"(relative residual {relative:.3g}). Hint: use a smaller step_size or "
                "options['linear_solver'] = 'dense'."
            )
        return x, None, None, None
