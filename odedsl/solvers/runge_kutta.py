"""The generic explicit Runge–Kutta step, driven by a Butcher tableau.

``RungeKuttaStages`` holds the stages of one step of a flat state in a preallocated
``(n_stages, n)`` buffer, so that each stage input ``y0 + h Σ a_ij k_j``, the error estimate
and every dense output inside a step cost one fused matrix–vector product whatever the
number of stages. When gradients must flow (direct backpropagation), the stages are also kept
as graph tensors and the combinations that feed the solution are built from them with
chained ``torch.add``; the error estimate always comes from the buffer, outside the graph.

Times are Python floats (float64); ``func`` receives them as 0-dim tensors of the state's
dtype and device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .control import Norm
from .interpolation import DenseOutput
from .tableau import ButcherTableau

Func = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class _Coefficients:
    """A tableau's coefficients on one dtype and device, built once and reused by solves."""

    tableau: ButcherTableau
    dense: DenseOutput
    c: tuple[float, ...]
    a_vecs: tuple[Tensor | None, ...]
    a_terms: tuple[tuple[tuple[int, float], ...], ...]
    b_vec: Tensor
    b_terms: tuple[tuple[int, float], ...]
    error_vec: Tensor | None
    error_aux_vec: Tensor | None
    endpoint: int


_COEFFICIENTS: dict[tuple, _Coefficients] = {}


def _coefficients(
    tableau: ButcherTableau, dense: DenseOutput, dtype: torch.dtype, device: torch.device
) -> _Coefficients:
    key = (id(tableau), id(dense), dtype, device)
    cached = _COEFFICIENTS.get(key)
    if cached is not None and cached.tableau is tableau and cached.dense is dense:
        return cached

    def vector(coefficients: Sequence[float] | None) -> Tensor | None:
        if coefficients is None:
            return None
        return torch.tensor(tuple(coefficients), dtype=dtype, device=device)

    rows = tableau.a + dense.extra_a
    coefficients = _Coefficients(
        tableau=tableau,
        dense=dense,
        c=tableau.c + dense.extra_c,
        a_vecs=(None, *(vector(row) for row in rows[1:])),
        a_terms=tuple(_nonzero_terms(row) for row in rows),
        b_vec=vector(tableau.b),
        b_terms=_nonzero_terms(tableau.b),
        error_vec=vector(tableau.error),
        error_aux_vec=vector(tableau.error_aux),
        endpoint=tableau.n_stages - 1 if tableau.fsal else _endpoint_stage(tableau, dense),
    )
    _COEFFICIENTS[key] = coefficients
    return coefficients


class RungeKuttaStages:
    """Stages, stage combinations, error estimate and dense output of one tableau."""

    def __init__(
        self,
        tableau: ButcherTableau,
        dense: DenseOutput,
        func: Func,
        y0: Tensor,
        track_graph: bool,
    ) -> None:
        self.func = func
        self.shape = y0.shape
        self._template = y0  # only its shape is used, by view_as
        self.dtype = y0.dtype
        self.device = y0.device
        self.n_main = tableau.n_stages
        self.fsal = tableau.fsal
        self.dense = dense
        self.track_graph = track_graph
        coefficients = _coefficients(tableau, dense, y0.dtype, y0.device)
        self._c = coefficients.c
        self._a_vecs = coefficients.a_vecs
        self._a_terms = coefficients.a_terms
        self._b_vec = coefficients.b_vec
        self._b_terms = coefficients.b_terms
        self._error_vec = coefficients.error_vec
        self._error_aux_vec = coefficients.error_aux_vec
        self._endpoint = coefficients.endpoint
        n_total = len(self._c)
        self.buffer = y0.new_empty((n_total, y0.numel()))
        self.rows = [self.buffer[i].view_as(self._template) for i in range(n_total)]
        self._mats = [self.buffer[:i].t() for i in range(n_total + 1)]
        self._abs = (y0.new_empty(y0.numel()), y0.new_empty(y0.numel()))
        self._scale = y0.new_empty(y0.numel())
        self._err = y0.new_empty(y0.numel())
        self.graph: list[Tensor | None] = [None] * n_total
        self.ready = 1
        self.nfe = 0

    @classmethod
    def start(
        cls,
        tableau: ButcherTableau,
        dense: DenseOutput,
        func: Func,
        y0: Tensor,
        t0: float,
        at: Tensor | None = None,
    ) -> RungeKuttaStages:
        """Evaluate ``f(t0, y0)`` (at the time ``at`` instead if given), check it, and hold it
        as the first stage.

        Stages join the autograd graph when grad mode is on and ``y0`` or ``f(t0, y0)``
        requires grad.
        """
        if at is None:
            at = torch.scalar_tensor(t0, dtype=y0.dtype, device=y0.device)
        f0 = func(at, y0)
        check_derivative(f0, y0)
        track_graph = torch.is_grad_enabled() and (y0.requires_grad or f0.requires_grad)
        stages = cls(tableau, dense, func, y0, track_graph)
        stages.nfe = 1
        stages.rows[0].copy_(f0.detach())
        stages.graph[0] = f0.reshape(-1) if track_graph else None
        return stages

    def time(self, t: float) -> Tensor:
        """``t`` as the 0-dim tensor func receives."""
        return torch.scalar_tensor(t, dtype=self.dtype, device=self.device)

    def evaluate(self, i: int, t: Tensor, y: Tensor) -> None:
        """Store ``func(t, y)`` (``y`` flat) as stage ``i``."""
        f = self.func(t, y.view_as(self._template))
        self.nfe += 1
        if self.track_graph:
            self.rows[i].copy_(f.detach())
            self.graph[i] = f.reshape(-1)
        else:
            self.rows[i].copy_(f)

    def combine(self, i: int, y0: Tensor, h: float) -> Tensor:
        """The input ``y0 + h Σ_j a_ij k_j`` of stage ``i`` (flat)."""
        if not self.track_graph:
            return torch.addmv(y0, self._mats[i], self._a_vecs[i], alpha=h)
        return _chain(y0, h, self._a_terms[i], self.graph)

    def step(self, t0: float, h: float, t1: float, y0: Tensor, left_of_jump: bool) -> Tensor:
        """Evaluate stages ``1..s-1`` of a step (stage 0 holds ``f(t0, y0)``); return ``y1``.

        Stages at ``c = 1`` are evaluated at ``t1`` exactly, or just before it (the next
        representable time of the state's dtype) when ``t1`` is a jump of ``func``. This is
        the solver's innermost loop, written out for speed.
        """
        func, template, rows, graph = self.func, self._template, self.rows, self.graph
        mats, a_vecs, a_terms, c = self._mats, self._a_vecs, self._a_terms, self._c
        dtype, device, track = self.dtype, self.device, self.track_graph
        y = y0
        for i in range(1, self.n_main):
            if track:
                y = _chain(y0, h, a_terms[i], graph)
            else:
                y = torch.addmv(y0, mats[i], a_vecs[i], alpha=h)
            ci = c[i]
            if ci == 1.0:
                t = torch.scalar_tensor(t1, dtype=dtype, device=device)
                if left_of_jump:
                    t = torch.nextafter(t, torch.scalar_tensor(t0, dtype=dtype, device=device))
            else:
                t = torch.scalar_tensor(t0 + ci * h, dtype=dtype, device=device)
            f = func(t, y.view_as(template))
            if track:
                rows[i].copy_(f.detach())
                graph[i] = f.reshape(-1)
            else:
                rows[i].copy_(f)
        self.nfe += self.n_main - 1
        self.ready = self.n_main
        if self.fsal:
            return y
        if not track:
            return torch.addmv(y0, mats[self.n_main], self._b_vec, alpha=h)
        return _chain(y0, h, self._b_terms, graph)

    def error_ratio(
        self,
        h: float,
        y1: Tensor,
        abs0: Tensor,
        rtol: float | Tensor,
        atol: float | Tensor,
        norm: Norm | None,
    ) -> tuple[float, Tensor]:
        """The step's scaled error norm, and ``|y1|`` for the next step's scale.

        ``abs0`` is ``|y0|``. With a custom ``norm`` the scaled error is passed in the state's
        shape. Works outside the autograd graph, in scratch buffers (``|y1|`` alternates
        between two, so that ``abs0`` survives a rejected step).
        """
        if self.track_graph:
            y1 = y1.detach()
        abs1 = self._abs[1] if abs0 is self._abs[0] else self._abs[0]
        scale, err = self._scale, self._err
        torch.abs(y1, out=abs1)
        torch.maximum(abs0, abs1, out=scale).mul_(rtol).add_(atol)
        mat = self._mats[self.n_main]
        torch.mv(mat, self._error_vec, out=err).div_(scale)
        ratio = self._norm(err, norm) * abs(h)
        if self._error_aux_vec is not None and ratio != 0.0:
            torch.mv(mat, self._error_aux_vec, out=err).div_(scale)
            aux = self._norm(err, norm) * abs(h)
            ratio = ratio * ratio / (ratio * ratio + 0.01 * aux * aux) ** 0.5
        return ratio, abs1

    def _norm(self, err: Tensor, norm: Norm | None) -> float:
        if norm is None:
            return float(torch.linalg.vector_norm(err)) / max(err.numel(), 1) ** 0.5
        return float(norm(err.view_as(self._template)))

    def interpolate(
        self, t0: float, h: float, t1: float, y0: Tensor, theta: Sequence[float]
    ) -> Tensor:
        """The states at ``t0 + θh`` for each θ in (0, 1), as rows of an ``(m, n)`` tensor.

        Evaluates the continuous extension's extra stages first if this step has not yet.
        """
        n_total = self.buffer.shape[0]
        for i in range(self.ready, n_total):
            y = self.combine(i, y0, h)
            ci = self._c[i]
            self.evaluate(i, self.time(t1 if ci == 1.0 else t0 + ci * h), y)
        self.ready = n_total
        weights = self.dense.weights(np.asarray(theta, dtype=np.float64))
        w = torch.tensor(weights, dtype=self.dtype, device=self.device)
        stages = torch.stack(self.graph) if self.track_graph else self.buffer
        return torch.addmm(y0.unsqueeze(0), w, stages, alpha=h)

    def next_first_stage(self, t1: float, y1: Tensor, at: Tensor | None = None) -> None:
        """Make stage 0 hold ``f(t1, y1)`` for the next step.

        Reuses the step's endpoint stage when it was evaluated (FSAL, or Hermite dense
        output); ``at`` forces a fresh evaluation at that time instead (just past a jump).
        """
        if at is None and self.ready > self._endpoint:
            self.rows[0].copy_(self.rows[self._endpoint])
            self.graph[0] = self.graph[self._endpoint]
        else:
            self.evaluate(0, self.time(t1) if at is None else at, y1)
        self.ready = 1


def check_derivative(f: Any, y: Tensor) -> None:
    """Raise ``ValueError`` unless ``f`` is a tensor of ``y``'s shape, dtype and device."""
    if not isinstance(f, Tensor):
        raise ValueError(f"func must return a tensor, got {type(f).__name__}")
    if f.shape != y.shape:
        raise ValueError(
            f"func returned shape {tuple(f.shape)} but the state y0 has shape {tuple(y.shape)}; "
            "func(t, y) must return dy/dt with the shape of y"
        )
    if f.dtype != y.dtype or f.device != y.device:
        raise ValueError(
            f"func returned {f.dtype} on {f.device} but y0 is {y.dtype} on {y.device}; "
            "func(t, y) must return dy/dt with the dtype and device of y"
        )


def _nonzero_terms(row: Sequence[float]) -> tuple[tuple[int, float], ...]:
    return tuple((j, float(a)) for j, a in enumerate(row) if a != 0.0)


def _chain(y0: Tensor, h: float, terms: tuple[tuple[int, float], ...], stages: list) -> Tensor:
    """``y0 + h Σ a_j k_j`` in the graph; the increment is summed first, so that ``y0`` takes
    one rounding per step, as in the fused ``addmv`` (in float32, adding each term to ``y0``
    in turn cost four times the rounding error over a long solve)."""
    if not terms:
        return y0
    (j, a), *rest = terms
    increment = stages[j] * (h * a)
    for j, a in rest:
        increment = torch.add(increment, stages[j], alpha=h * a)
    return y0 + increment


def _endpoint_stage(tableau: ButcherTableau, dense: DenseOutput) -> int:
    """Index of an extra stage that evaluates ``f(t1, y1)``, or past the end if none does."""
    for i, (c, row) in enumerate(zip(dense.extra_c, dense.extra_a, strict=True)):
        if c == 1.0 and tuple(row) == tuple(tableau.b):
            return tableau.n_stages + i
    return tableau.n_stages + len(dense.extra_c)
