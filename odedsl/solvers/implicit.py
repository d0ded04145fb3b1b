"""Implicit Runge–Kutta methods on a fixed grid (torchdiffeq's ``implicit_euler`` ...
``trbdf2``): the fixed-grid driver of ``fixed.py`` with a step engine that solves its stages
by Newton's method (``newton.py``).

Options, besides the fixed-grid ones: ``max_iters`` (Newton iterations per stage block,
default 100, torchdiffeq's default) and ``linear_solver`` (``"auto"``: direct solves with
autograd Jacobians up to ``newton.DENSE_MAX_SIZE`` unknowns a block, matrix-free GMRES above;
``"dense"``; ``"krylov"``). Gradients flow by the implicit function theorem at the converged
stages, never through the iterations; ``rtol``, ``atol`` and ``norm`` are ignored, as on any
fixed grid.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from .control import Norm
from .endpoint_stages import EndpointStages
from .fixed import FixedGridSolver
from .implicit_tableau import ImplicitTableau
from .newton import LINEAR_SOLVERS, attach_gradient, solve_stages, use_krylov
from .options import choice_option, int_option
from .runge_kutta import Func
from .solution import SolverStats

DEFAULT_MAX_ITERS = 100


class ImplicitStages(EndpointStages):
    """One implicit Runge–Kutta step at a time; stage blocks as in ``ImplicitTableau``."""

    def __init__(
        self,
        tableau: ImplicitTableau,
        func: Func,
        y0: Tensor,
        t0: float,
        interp: str,
        max_iters: int,
        linear_solver: str,
        at: Tensor | None = None,
    ) -> None:
        super().__init__(func, y0, t0, interp, at)
        self.tableau = tableau
        self.max_iters = max_iters
        self.linear_solver = linear_solver
        self._a = torch.tensor(tableau.a, dtype=self.dtype, device=self.device)
        self._stiffly_accurate = tableau.c[-1] == 1.0 and tableau.a[-1] == tableau.b
        self._first_is_f0 = tableau.c[0] == 0.0 and not any(tableau.a[0])
        self._blocks = [(b, torch.tensor(b, device=self.device)) for b in tableau.blocks]

    def step(self, t0: float, h: float, t1: float, y0: Tensor, left_of_jump: bool) -> Tensor:
        tableau = self.tableau
        times = [self.stage_time(t0, h, t1, c, left_of_jump) for c in tableau.c]
        stages: list[Tensor | None] = [None] * tableau.n_stages
        for block, index in self._blocks:
            first = block[0]
            if len(block) == 1 and tableau.explicit(first):
                if first == 0 and self._first_is_f0:
                    stages[0] = self.f0
                else:
                    stages[first] = self.evaluate(times[first], self._base(y0, h, first, stages))
                continue
            base = torch.stack([self._base(y0, h, i, stages) for i in block])
            coeff = h * self._a[index][:, index]

            def fn(j: int, y: Tensor, block: tuple[int, ...] = block) -> Tensor:
                self.nfe += 1
                return self.func(times[block[j]], y.view(self.shape)).reshape(-1)

            krylov = use_krylov(self.linear_solver, len(block) * y0.numel())
            guess = self.f0.detach().expand(len(block), -1)
            where = f"from t={t0:.6g} to t={t1:.6g} (step size {h:.3g})"
            k = solve_stages(
                fn, base, coeff, guess, max_iters=self.max_iters, krylov=krylov, where=where
            )
            if self.track_graph:
                k = attach_gradient(fn, base, coeff, k, krylov=krylov)
            for j, i in enumerate(block):
                stages[i] = k[j]
        y1 = _combine(y0, h, tableau.b, stages)
        self.y1 = y1
        # f(t1, y1) is the last stage of a stiffly accurate method (unless taken before t1)
        self.f1 = stages[-1] if self._stiffly_accurate and not left_of_jump else None
        return y1

    def _base(self, y0: Tensor, h: float, i: int, stages: list[Tensor | None]) -> Tensor:
        """``y0 + h Σ_j a_ij k_j`` over the stages already known."""
        known = [(a, k) for a, k in zip(self.tableau.a[i], stages, strict=True) if k is not None]
        return _combine(y0, h, tuple(a for a, _ in known), [k for _, k in known])


def _combine(y0: Tensor, h: float, weights: tuple[float, ...], stages: list) -> Tensor:
    y = y0
    for w, k in zip(weights, stages, strict=True):
        if w != 0.0:
            y = torch.add(y, k, alpha=h * w)
    return y


class ImplicitFixedGridSolver(FixedGridSolver):
    """Implicit Runge–Kutta on a fixed grid; see ``methods`` for the interface and the
    module docstring for the options."""

    tableau: ClassVar[ImplicitTableau]  # type: ignore[misc]
    option_names: ClassVar[frozenset[str]] = FixedGridSolver.option_names | {
        "max_iters",
        "linear_solver",
    }

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
        super().__init__(func, y0, rtol, atol, norm, options, stats)
        self.max_iters = int_option(options, "max_iters", DEFAULT_MAX_ITERS)
        self.linear_solver = choice_option(options, "linear_solver", "auto", LINEAR_SOLVERS)

    def _start_stages(self, t0: float, at: Tensor | None = None) -> ImplicitStages:  # type: ignore[override]
        return ImplicitStages(
            self.tableau,
            self.func,
            self.y0,
            t0,
            self.interp,
            self.max_iters,
            self.linear_solver,
            at,
        )


def implicit_solver(tableau: ImplicitTableau) -> type:
    """The fixed-grid solver class of an implicit tableau."""
    class_name = f"{tableau.name[0].upper()}{tableau.name[1:]}Solver"
    return type(
        class_name,
        (ImplicitFixedGridSolver,),
        {"tableau": tableau, "__doc__": ImplicitFixedGridSolver.__doc__},
    )
