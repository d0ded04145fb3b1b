"""Fixed-grid Adams methods, as torchdiffeq's ``explicit_adams`` and ``implicit_adams``
(``fixed_adams`` is the latter's older name): the fixed-grid driver of ``fixed.py`` with a
multistep step engine.

Each step evaluates ``f(t0, y0)`` into the history of the last ``max_order - 1`` values of
``f`` on the grid. With fewer than three values the step is Runge–Kutta's 3/8 rule (``rk4``);
then it is the Adams–Bashforth formula over the whole history (order up to
``max_order - 1``) and, for ``implicit_adams``, the Adams–Moulton corrector one order
higher, iterated (PECE...) at most ``max_iters`` times until successive increments agree
within ``rtol``/``atol`` in the max norm. When they do not, a ``RuntimeWarning`` says so and
the oldest value leaves the history, lowering the order. The formulas assume equal steps,
as torchdiffeq's do. Coefficients: ``_adams_coefficients.constant_step_coefficients``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, ClassVar

import torch
from torch import Tensor

from ._adams_coefficients import MAX_ORDER, constant_step_coefficients
from .control import Norm
from .endpoint_stages import EndpointStages
from .fixed import FixedGridSolver
from .options import int_option
from .runge_kutta import Func
from .solution import SolverStats
from .tableaux import RK4

MIN_ORDER = 4
"""Below ``max_order = MIN_ORDER`` the method never leaves its ``rk4`` start."""
DEFAULT_MAX_ITERS = 4


@functools.cache
def _coefficients(order: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return constant_step_coefficients(order)


class FixedAdamsStages(EndpointStages):
    """The history of ``f`` and one Adams step at a time."""

    def __init__(
        self,
        func: Func,
        y0: Tensor,
        t0: float,
        interp: str,
        *,
        implicit: bool,
        max_order: int,
        max_iters: int,
        rtol: Tensor,
        atol: Tensor,
        at: Tensor | None = None,
    ) -> None:
        super().__init__(func, y0, t0, interp, at)
        self.implicit = implicit
        self.max_order = max_order
        self.max_iters = max_iters
        self.rtol = rtol
        self.atol = atol
        self.history = [self.f0]  # newest first
        self.warned = False

    def next_first_stage(self, t1: float, y1: Tensor, at: Tensor | None = None) -> None:
        super().next_first_stage(t1, y1, at)
        self.history = [self.f0, *self.history][: self.max_order - 1]

    def step(self, t0: float, h: float, t1: float, y0: Tensor, left_of_jump: bool) -> Tensor:
        order = min(len(self.history), self.max_order - 1)
        if order < MIN_ORDER - 1:
            y1 = self._rk4(t0, h, t1, y0, left_of_jump)
        else:
            bashforth, moulton = _coefficients(order)
            dy = h * _dot(bashforth, self.history)
            if self.implicit:
                end = self.stage_time(t0, h, t1, 1.0, left_of_jump)
                dy = self._correct(t0, h, t1, end, y0, dy, moulton)
            y1 = y0 + dy
        self.y1, self.f1 = y1, None
        return y1

    def _correct(
        self, t0: float, h: float, t1: float, end: Tensor, y0: Tensor, dy: Tensor, moulton: tuple
    ) -> Tensor:
        known = h * _dot(moulton[1:], self.history)
        for _ in range(self.max_iters):
            previous = dy
            dy = h * moulton[0] * self.evaluate(end, y0 + dy) + known
            scale = self.atol + self.rtol * torch.maximum(previous.abs(), dy.abs())
            if bool(((dy - previous).detach().abs() / scale.detach()).max() < 1.0):
                return dy
        if not self.warned:
            warnings.warn(
                f"implicit_adams: the corrector's functional iteration did not converge in "
                f"max_iters={self.max_iters} iterations on the step from t={t0:.6g} to "
                f"t={t1:.6g} (later such steps in this solve are not reported), so the "
                "solution may be inaccurate; the order drops by one. Hint: use a smaller "
                "step_size or raise options['max_iters'].",
                RuntimeWarning,
                stacklevel=2,
            )
            self.warned = True
        self.history.pop()
        return dy

    def _rk4(self, t0: float, h: float, t1: float, y0: Tensor, left_of_end: bool) -> Tensor:
        stages = [self.f0]
        for c, row in zip(RK4.c[1:], RK4.a[1:], strict=True):
            y = y0 + h * _dot(row, stages)
            stages.append(self.evaluate(self.stage_time(t0, h, t1, c, left_of_end), y))
        return y0 + h * _dot(RK4.b, stages)


def _dot(weights: tuple[float, ...], values: list[Tensor]) -> Tensor:
    total = values[0] * weights[0]
    for w, v in zip(weights[1:], values[1:], strict=False):
        total = torch.add(total, v, alpha=w)
    return total


class FixedAdamsSolver(FixedGridSolver):
    """Fixed-grid Adams–Bashforth(–Moulton); see ``methods`` for the interface and the
    module docstring for the options (``max_order``, default 12; ``implicit_adams`` also
    ``max_iters``, default 4)."""

    tableau = RK4  # the start-up steps'
    implicit: ClassVar[bool]

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
        self.max_order = int_option(options, "max_order", MAX_ORDER)
        if self.max_order > MAX_ORDER:
            raise ValueError(
                f"options['max_order'] must lie in [1, {MAX_ORDER}], got {self.max_order}"
            )
        if self.max_order < MIN_ORDER:
            warnings.warn(
                f"options['max_order'] = {self.max_order} is below {MIN_ORDER}, so the "
                "method reduces to rk4",
                stacklevel=2,
            )
        self.max_iters = int_option(options, "max_iters", DEFAULT_MAX_ITERS)
        self.rtol = torch.as_tensor(rtol, dtype=y0.dtype, device=y0.device).reshape(-1)
        self.atol = torch.as_tensor(atol, dtype=y0.dtype, device=y0.device).reshape(-1)

    def _start_stages(self, t0: float, at: Tensor | None = None) -> FixedAdamsStages:  # type: ignore[override]
        return FixedAdamsStages(
            self.func,
            self.y0,
            t0,
            self.interp,
            implicit=self.implicit,
            max_order=self.max_order,
            max_iters=self.max_iters,
            rtol=self.rtol,
            atol=self.atol,
            at=at,
        )


class ExplicitAdamsSolver(FixedAdamsSolver):
    __doc__ = FixedAdamsSolver.__doc__
    implicit = False
    option_names: ClassVar[frozenset[str]] = FixedGridSolver.option_names | {"max_order"}


class ImplicitAdamsSolver(FixedAdamsSolver):
    __doc__ = FixedAdamsSolver.__doc__
    implicit = True
    option_names: ClassVar[frozenset[str]] = FixedGridSolver.option_names | {
        "max_order",
        "max_iters",
    }
