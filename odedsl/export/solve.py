"""A fixed-step Runge–Kutta solve written out step by step, for tracing and export.

The solvers of :mod:`odedsl.solvers` choose their grid in Python floats, check every step
(finite states, step counts) and keep stages in preallocated buffers; all of that is control
flow that ``torch.export`` and ``torch.jit.trace`` cannot follow. Here the number of steps is
fixed when the artefact is made, so the loop unrolls into one graph of tensor operations,
using the same Butcher tableaux (:mod:`odedsl.solvers.tableaux`). With the same grid it
computes what ``odedsl.solve(..., method=<m>, options={"step_size": h})`` computes:

- :meth:`FixedSteps.final`: the state after ``steps`` uniform steps from ``t0`` to ``t1``;
- :meth:`FixedSteps.at`: states at query times, from ``steps`` uniform steps between ``t0``
  and the last query time (the grid follows the queries' end, a tensor, so the artefact
  takes any times), read between grid points by cubic Hermite interpolation through
  ``(y, f(t, y))`` at both ends, the fixed-grid solvers' default dense output.

States are tuples of tensors (a model may have several states); ``func(t, states)`` returns
a tuple of their derivatives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from odedsl.solvers.fixed import FixedGridSolver
from odedsl.solvers.methods import SOLVERS
from odedsl.solvers.tableau import ButcherTableau

States = tuple[Tensor, ...]
Field = Callable[[Tensor, States], States]


def fixed_step_methods() -> tuple[str, ...]:
    """The methods an artefact can use: explicit Runge–Kutta methods on a fixed grid."""
    return tuple(
        name
        for name, solver in SOLVERS.items()
        if issubclass(solver, FixedGridSolver)
        and solver._start_stages is FixedGridSolver._start_stages  # the tableau alone steps
        and isinstance(solver.tableau, ButcherTableau)
    )


def _combine(y: States, h: Tensor, terms: list[tuple[float, States]]) -> States:
    """``y + h Σ a_j k_j`` for each state."""
    out = []
    for i, base in enumerate(y):
        total = None
        for a, k in terms:
            part = a * k[i]
            total = part if total is None else total + part
        out.append(base if total is None else base + h * total)
    return tuple(out)


@dataclass(frozen=True)
class FixedSteps:
    """``steps`` uniform steps of the explicit Runge–Kutta method ``method``."""

    method: str
    steps: int

    def __post_init__(self) -> None:
        methods = fixed_step_methods()
        if self.method not in methods:
            raise ValueError(
                f"method {self.method!r} cannot be exported: an artefact solves on a fixed grid "
                f"with one of {', '.join(methods)}"
            )
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be a positive number of steps, got {self.steps!r}")

    @property
    def tableau(self) -> ButcherTableau:
        return SOLVERS[self.method].tableau

    def step(self, func: Field, t: Tensor, h: Tensor, y: States, k0: States) -> States:
        """One step from ``(t, y)`` of size ``h``, ``k0 = func(t, y)`` given."""
        tableau = self.tableau
        stages = [k0]
        for i in range(1, tableau.n_stages):
            terms = [(a, stages[j]) for j, a in enumerate(tableau.a[i]) if a != 0.0]
            stages.append(func(t + tableau.c[i] * h, _combine(y, h, terms)))
        terms = [(b, stages[j]) for j, b in enumerate(tableau.b) if b != 0.0]
        return _combine(y, h, terms)

    def final(self, func: Field, y0: States, t0: float, t1: float) -> States:
        """The states at ``t1`` from ``y0`` at ``t0`` (either direction)."""
        like = y0[0]
        h = torch.tensor((t1 - t0) / self.steps, dtype=like.dtype, device=like.device)
        y = y0
        for i in range(self.steps):
            t = torch.tensor(t0 + i * (t1 - t0) / self.steps, dtype=like.dtype, device=like.device)
            y = self.step(func, t, h, y, func(t, y))
        return y

    def at(self, func: Field, y0: States, t0: float, times: Tensor) -> States:
        """The states at ``times`` (M,), each ≥ ``t0``: (B, M, ...) for states (B, ...)."""
        start = torch.as_tensor(t0, dtype=times.dtype, device=times.device)
        end = torch.maximum(times.max(), start)
        h = (end - start) / self.steps
        grid = [start + i * h for i in range(self.steps)] + [end]
        ys, fs = [y0], [func(grid[0], y0)]
        for i in range(self.steps):
            ys.append(self.step(func, grid[i], h, ys[i], fs[i]))
            fs.append(func(grid[i + 1], ys[i + 1]))
        knots = torch.stack(grid)
        # The step each time falls in: the inner knots at or before it (a comparison, not
        # searchsorted, which ONNX lacks); times past the end read the last step.
        index = (times[..., None] >= knots[1:-1]).to(torch.long).sum(-1)
        theta = (times - knots[index]) / h.clamp(min=torch.finfo(times.dtype).tiny)
        basis = _hermite(theta)
        out = []
        for part in range(len(y0)):
            y = torch.stack([s[part] for s in ys])  # (steps + 1, B, ...)
            f = torch.stack([s[part] for s in fs])
            pieces = (y[index], h * f[index], y[index + 1], h * f[index + 1])
            value = sum(_weight(w, p) * p for w, p in zip(basis, pieces, strict=True))
            out.append(value.movedim(0, 1))  # (B, M, ...)
        return tuple(out)


def _hermite(theta: Tensor) -> tuple[Tensor, ...]:
    """The cubic Hermite basis ``(h00, h10, h01, h11)`` at ``theta``
    (:func:`odedsl.solvers.interpolation.hermite_basis` on tensors)."""
    one_minus = 1.0 - theta
    return (
        (1.0 + 2.0 * theta) * one_minus * one_minus,
        theta * one_minus * one_minus,
        theta * theta * (3.0 - 2.0 * theta),
        theta * theta * (theta - 1.0),
    )


def _weight(weight: Tensor, like: Tensor) -> Tensor:
    """A per-time weight (M,) shaped to broadcast against ``like`` (M, B, ...)."""
    return weight.reshape(weight.shape[0], *([1] * (like.dim() - 1)))
