"""Per-row adaptive stepping: a batch of independent problems, each with its own step size.

``y0`` has the batch on its first axis, and ``func`` must treat rows independently (row ``i``
of ``func(t, y)`` depends only on row ``i`` of ``y`` and ``t``). Every row keeps its own time,
step size, error ratio and step-size controller; a step is accepted or rejected per row, and
rows that reached their final time stop moving (masked) while the others go on. ``func`` is
called on the whole batch each time, with ``t`` of shape ``(B, 1, ..., 1)`` (one time per
row, broadcastable against ``y``), so dynamics with batch-shaped constants (a per-row
coefficient) work unchanged. A row's evaluation count is the number of stages evaluated
while it was moving; the work per iteration stays that of the whole batch.

When rows differ in stiffness, a shared step pays for the hardest row in every row; here each
row pays for its own (torchode's per-problem stepping). The dense output is the tableau's own
continuous extension, written once as polynomial coefficients in θ so that every row can be
interpolated at its own θ in one product.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from odedsl.errors import SolverError

from .control import CONTROLLERS
from .options import choice_option, float_option, step_bounds
from .runge_kutta import Func, check_derivative
from .solution import SolverStats
from .tableau import ButcherTableau

_MAX_DEGREE = 8


@functools.cache
def _weight_polynomials(tableau: ButcherTableau) -> np.ndarray:
    """Coefficients ``P`` with ``w(θ) = [1, θ, …, θ^d] @ P`` for the tableau's dense output.

    Raises ``ValueError`` when the extension needs extra stages or is not a polynomial of
    degree at most ``_MAX_DEGREE`` (checked at points other than the fitted ones).
    """
    dense = tableau.continuous_extension
    if dense.extra_c or tableau.error_aux is not None:
        raise ValueError(
            f"method: {tableau.name!r} is not available per row (its continuous extension "
            "needs extra stages, or its error estimate two); use per_sample with dopri5, "
            "tsit5, bosh3 or another method whose extension uses only its own stages"
        )
    nodes = np.cos(np.pi * (np.arange(_MAX_DEGREE + 1) + 0.5) / (_MAX_DEGREE + 1)) / 2 + 0.5
    vander = nodes[:, None] ** np.arange(_MAX_DEGREE + 1)
    coefficients = np.linalg.solve(vander, dense.weights(nodes))
    probe = np.linspace(0.0, 1.0, 7)
    fitted = (probe[:, None] ** np.arange(_MAX_DEGREE + 1)) @ coefficients
    if not np.allclose(fitted, dense.weights(probe), rtol=0.0, atol=1e-10):
        raise ValueError(f"method: {tableau.name!r}'s dense output is not a low-degree polynomial")
    return coefficients


class IndependentRungeKuttaSolver:
    """Embedded Runge–Kutta pair with one step size per row of the batch.

    Options: ``first_step``, ``min_step``, ``max_step``, ``max_num_steps`` (attempted steps
    per row, default 10 000), ``safety`` (0.9), ``ifactor`` (10), ``dfactor`` (0.2),
    ``controller`` ("pi" or "i"), with the meanings of the joint solver. ``norm`` maps the
    scaled error, shaped like ``y0``, to one value per row (default: RMS over each row).
    ``integrate(t)`` takes ``t`` of shape ``(T,)`` (shared output times) or ``(B, T)`` (each
    row its own, all in the same direction) and returns ``(T, *y0.shape)``. Per-row counts go
    to ``stats.info["per_row"]``: ``nfe``, ``steps_accepted``, ``steps_rejected`` (tensors of
    shape ``(B,)``); ``stats.nfe_forward`` counts the batched calls of ``func``.
    """

    tableau: ClassVar[ButcherTableau]
    option_names: ClassVar[frozenset[str]] = frozenset(
        {
            "first_step",
            "min_step",
            "max_step",
            "max_num_steps",
            "safety",
            "ifactor",
            "dfactor",
            "controller",
        }
    )

    def __init__(
        self,
        func: Func,
        y0: Tensor,
        rtol: float | Tensor,
        atol: float | Tensor,
        norm: Any,
        options: dict[str, Any],
        stats: SolverStats,
    ) -> None:
        if y0.ndim == 0:
            raise ValueError("y0: per_sample needs a batch of problems on y0's first axis")
        self.func = func
        self.y0 = y0
        self.batch = y0.shape[0]
        self.rtol = _per_row_tolerance("rtol", rtol, y0)
        self.atol = _per_row_tolerance("atol", atol, y0)
        self.norm = norm
        self.stats = stats
        self.first_step, self.min_step, self.max_step, self.max_num_steps = step_bounds(options)
        self.safety = float_option(options, "safety", 0.9, low=0.0, high=1.0, low_inclusive=False)
        self.ifactor = float_option(options, "ifactor", 10.0, low=1.0)
        self.dfactor = float_option(options, "dfactor", 0.2, low=0.0, high=1.0, low_inclusive=False)
        kind = choice_option(options, "controller", self.tableau.controller, CONTROLLERS)
        k = self.tableau.error_order + 1
        self.beta1, self.beta2 = (1.2 / k, 0.1 / k) if kind == "pi" else (1.0 / k, 0.0)
        self.reject_exponent = -1.0 / k
        self.poly = torch.as_tensor(_weight_polynomials(self.tableau), dtype=y0.dtype).to(y0.device)
        self.inv_sqrt_n = 1.0 / max(y0[0].numel(), 1) ** 0.5
        self.powers = torch.arange(self.poly.shape[0], device=y0.device)

    # -- the driver ---------------------------------------------------------------------------

    def integrate(self, t: Tensor) -> Tensor:
        """Solve at the output times ``t``; returns ``(T, *y0.shape)``."""
        tableau = self.tableau
        batch, shape = self.batch, self.y0.shape
        t_out = self._output_times(t)
        n_out = t_out.shape[1]
        direction = 1.0 if bool(t_out[0, -1] > t_out[0, 0]) else -1.0
        t_end = t_out[:, -1]
        t_now = t_out[:, 0].clone()
        y = self.y0.reshape(batch, -1)
        ys = y[:, None].expand(-1, n_out, -1)
        t_next = t_out[:, min(1, n_out - 1)]  # each row's next output time
        f0 = self._call(t_now, y)
        h = self._initial_step(t_now, y, f0, direction, (t_end - t_now).abs())
        n_stages = tableau.n_stages
        a_vecs = [y.new_tensor(row) for row in tableau.a]
        b_and_error = y.new_tensor((tableau.b, tableau.error)).t()  # (S, 2)
        c = tableau.c
        counts = {name: torch.zeros(batch, dtype=torch.long, device=y.device) for name in _COUNTS}
        counts["nfe"] += 2
        prev_ratio = torch.ones_like(h)
        has_prev = torch.zeros_like(h, dtype=torch.bool)
        rejected_last = torch.zeros_like(has_prev)
        active = t_end != t_now
        calls = 2
        try:
            while bool(active.any()):
                counts["attempts"] += active
                remaining = (t_end - t_now).abs()
                landing = h >= remaining
                t1 = torch.where(landing, t_end, t_now + direction * h)
                hs = torch.where(active, t1 - t_now, 0.0)
                self._check(counts["attempts"], active, landing, t_now, h)
                hy = hs.to(y.dtype)[:, None]
                stages = [f0]
                for i in range(1, n_stages):
                    y_i = torch.addcmul(y, hy, torch.stack(stages, dim=-1) @ a_vecs[i])
                    stages.append(self._call(t_now + c[i] * hs, y_i))
                calls += n_stages - 1
                combined = torch.stack(stages, dim=-1) @ b_and_error  # (B, n, 2)
                y1 = torch.addcmul(y, hy, combined[..., 0])
                err = hy * combined[..., 1].detach()
                ratio = self._error_ratio(err, y.detach(), y1.detach())
                accept, h_next = self._control(
                    ratio, hs.abs(), active, prev_ratio, has_prev, rejected_last
                )
                due = accept & (direction * (t_next - t1) <= 0)
                if bool(due.any()):
                    ys = self._fill(ys, t_out, accept, t_now, t1, hs, hy, y, y1, stages, direction)
                    passed = (direction * (t_out - t1[:, None]) <= 0).sum(dim=1)
                    later = t_out.gather(1, passed.clamp(max=n_out - 1)[:, None])[:, 0]
                    t_next = torch.where(accept, later, t_next)
                if tableau.fsal:
                    f1 = stages[-1]
                else:
                    f1 = self._call(t1, y1)
                    calls += 1
                    counts["nfe"] += accept
                keep = accept[:, None]
                y = torch.where(keep, y1, y)
                f0 = torch.where(keep, f1, f0)
                t_now = torch.where(accept, t1, t_now)
                counts["steps_accepted"] += accept
                counts["steps_rejected"] += active & ~accept
                active = active & ~(accept & landing)
                h = torch.where(active, h_next, h)
            return ys.transpose(0, 1).reshape(n_out, *shape)
        finally:
            counts["nfe"] += counts["attempts"] * (n_stages - 1)
            self.stats.nfe_forward += calls
            self.stats.steps_accepted += int(counts["steps_accepted"].max())
            self.stats.steps_rejected += int(counts["steps_rejected"].max())
            self.stats.info["per_row"] = {name: counts[name] for name in _COUNTS[1:]}

    # -- pieces -------------------------------------------------------------------------------

    def _output_times(self, t: Tensor) -> Tensor:
        times = t.detach().to(device=self.y0.device, dtype=torch.float64)
        if times.ndim == 1:
            return times.expand(self.batch, -1)
        if times.ndim != 2 or times.shape[0] != self.batch:
            raise ValueError(
                f"t: per_sample takes t of shape (T,) or (B, T) with B = {self.batch} (y0's "
                f"first axis), got shape {tuple(t.shape)}"
            )
        steps = times.diff(dim=1)
        if not (bool((steps > 0).all()) or bool((steps < 0).all())):
            raise ValueError(
                "t: every row's times must be strictly monotone, all rows in the same direction"
            )
        return times

    def _call(self, t_rows: Tensor, y: Tensor) -> Tensor:
        t_shape = (self.batch,) + (1,) * (self.y0.ndim - 1)
        t_arg = t_rows.to(self.y0.dtype).reshape(t_shape)
        f = self.func(t_arg, y.reshape(self.y0.shape))
        check_derivative(f, self.y0)
        return f.reshape(self.batch, -1)

    def _row_norm(self, scaled: Tensor) -> Tensor:
        if self.norm is None:
            return torch.linalg.vector_norm(scaled, dim=1) * self.inv_sqrt_n
        value = self.norm(scaled.reshape(self.y0.shape))
        if not isinstance(value, Tensor) or value.shape != (self.batch,):
            raise ValueError(
                f"norm: with per_sample the norm must return one value per row, shape "
                f"({self.batch},), got {getattr(value, 'shape', type(value).__name__)}"
            )
        return value.to(torch.float64)

    def _error_ratio(self, err: Tensor, y: Tensor, y1: Tensor) -> Tensor:
        scale = torch.addcmul(self.atol, self.rtol, torch.maximum(y.abs(), y1.abs()))
        return self._row_norm(err / scale).to(torch.float64)

    @torch.no_grad()
    def _initial_step(
        self, t0: Tensor, y0: Tensor, f0: Tensor, direction: float, distance: Tensor
    ) -> Tensor:
        """Hairer's starting step, row by row (as ``control.select_initial_step``)."""
        bound = distance.clamp(max=self.max_step)
        if self.first_step is not None:
            return bound.clamp(max=self.first_step).clamp(min=self.min_step)
        y0, f0 = y0.detach(), f0.detach()
        scale = self.atol + self.rtol * y0.abs()
        d0 = self._row_norm(y0 / scale)
        d1 = self._row_norm(f0 / scale)
        if not bool(torch.isfinite(d0).all() and torch.isfinite(d1).all()):
            raise SolverError(
                "the initial state y0 or func(t0, y0) is not finite (NaN/inf) in some row, "
                "before any step. Hint: check y0 and func for NaN/inf."
            )
        small = (d0 < 1e-5) | (d1 < 1e-5)
        h0 = torch.where(small, torch.full_like(d0, 1e-6), 0.01 * d0 / d1.clamp(min=1e-300))
        h0 = torch.minimum(h0, bound)
        f1 = self._call(t0 + direction * h0, y0 + (direction * h0).to(y0.dtype)[:, None] * f0)
        d2 = self._row_norm((f1.detach() - f0) / scale) / h0
        top = torch.maximum(d1, d2)
        order = self.tableau.error_order + 1
        h1 = torch.where(
            top <= 1e-15,
            (h0 * 1e-3).clamp(min=1e-6),
            top.clamp(min=1e-300).pow(-1.0 / order),
        )
        h = torch.minimum(torch.minimum(100.0 * h0, h1), bound)
        return h.clamp(min=self.min_step)

    @torch.no_grad()
    def _control(
        self,
        ratio: Tensor,
        h: Tensor,
        active: Tensor,
        prev_ratio: Tensor,
        has_prev: Tensor,
        rejected_last: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """The PI controller of ``control.StepSizeController``, row by row; updates the
        controller's history in place. Returns the accepted rows and the next step sizes."""
        finite = torch.isfinite(ratio)
        accept = active & ((ratio <= 1.0) | ((h <= self.min_step) & finite))
        safe = ratio.clamp(min=1e-300)
        first = (self.safety * safe.pow(self.reject_exponent)).clamp(max=self.ifactor)
        pi = self.safety * safe.pow(-self.beta1) * prev_ratio.pow(self.beta2)
        grow = torch.where(has_prev, pi.clamp(self.dfactor, self.ifactor), first)
        grow = torch.where(ratio == 0.0, torch.full_like(grow, self.ifactor), grow)
        grow = torch.where(rejected_last, grow.clamp(max=1.0), grow)
        shrink = (self.safety * safe.pow(self.reject_exponent)).clamp(min=self.dfactor)
        shrink = torch.where(finite, shrink, torch.full_like(shrink, self.dfactor))
        factor = torch.where(accept, grow, shrink)
        prev_ratio.copy_(torch.where(accept, ratio.clamp(min=1e-4), prev_ratio))
        has_prev |= accept
        rejected_last.copy_(torch.where(active, ~accept, rejected_last))
        return accept, (h * factor).clamp(self.min_step, self.max_step)

    def _fill(
        self,
        ys: Tensor,
        t_out: Tensor,
        accept: Tensor,
        t0: Tensor,
        t1: Tensor,
        hs: Tensor,
        hy: Tensor,
        y: Tensor,
        y1: Tensor,
        stages: list[Tensor],
        direction: float,
    ) -> Tensor:
        """Write the outputs (``ys``: ``(B, T, n)``) inside each row's accepted step."""
        inside = (
            accept[:, None]
            & (direction * (t_out - t0[:, None]) > 0)
            & (direction * (t_out - t1[:, None]) <= 0)
        )
        columns = inside.any(dim=0).nonzero().flatten()
        if len(columns) == 0:
            return ys
        inside = inside[:, columns, None]
        times = t_out[:, columns]
        theta = (times - t0[:, None]) / torch.where(accept, hs, 1.0)[:, None]
        basis = theta.to(y.dtype)[..., None] ** self.powers  # (B, m, d + 1)
        k = torch.stack(stages, dim=1)  # (B, S, n)
        values = y[:, None] + hy[:, None] * ((basis @ self.poly) @ k)  # (B, m, n)
        values = torch.where((times == t1[:, None])[..., None], y1[:, None], values)
        return ys.index_copy(1, columns, torch.where(inside, values, ys[:, columns]))

    def _check(
        self, attempts: Tensor, active: Tensor, landing: Tensor, t: Tensor, h: Tensor
    ) -> None:
        """``SolverError`` for a row past ``max_num_steps`` or with a vanishing step (one
        host synchronisation when nothing is wrong)."""
        over = active & (attempts > self.max_num_steps)
        tiny = active & ~landing & (h < 8.0 * torch.finfo(torch.float64).eps * t.abs())
        if not bool((over | tiny).any()):
            return
        if bool(over.any()):
            row = int(over.nonzero()[0])
            raise SolverError(
                f"row {row} reached max_num_steps={self.max_num_steps} at t={float(t[row]):.6g} "
                f"with step size {float(h[row]):.3g} ({int(active.sum())} of {self.batch} rows not "
                "yet at their final time). "
                "Hint: raise options['max_num_steps'], loosen rtol/atol, or check whether "
                "that problem is stiff or blows up."
            )
        row = int(tiny.nonzero()[0])
        raise SolverError(
            f"step size underflow in row {row} at t={float(t[row]):.6g}: h={float(h[row]):.3g}. "
            "Hint: that problem may be stiff, its solution may blow up, or rtol/atol are too "
            "small."
        )


_COUNTS = ("attempts", "nfe", "steps_accepted", "steps_rejected")


def _per_row_tolerance(name: str, tol: float | Tensor, y0: Tensor) -> Tensor:
    """A tolerance as a ``(1, 1)`` or ``(B, n)`` tensor of the state's dtype and device."""
    tol = torch.as_tensor(tol).detach().to(device=y0.device, dtype=y0.dtype)
    if tol.numel() == 1:
        return tol.reshape(1, 1)
    try:
        return tol.expand(y0.shape).reshape(y0.shape[0], -1)
    except RuntimeError:
        raise ValueError(
            f"{name}: shape {tuple(tol.shape)} does not broadcast to y0's {tuple(y0.shape)}"
        ) from None


def independent_solver(solver: type) -> type:
    """The per-row version of an adaptive Runge–Kutta solver class; ``ValueError`` otherwise."""
    tableau = getattr(solver, "tableau", None)
    if tableau is None or not tableau.adaptive:
        raise ValueError(
            "per_sample: per-row step sizes need an adaptive Runge–Kutta method (dopri5, "
            "tsit5, bosh3, ...); a fixed-step method already takes the same steps in every "
            "row, and adams keeps one history for the whole batch"
        )
    _weight_polynomials(tableau)
    return _independent_class(tableau)


@functools.cache
def _independent_class(tableau: ButcherTableau) -> type:
    name = f"{tableau.name.capitalize()}{IndependentRungeKuttaSolver.__name__}"
    return type(name, (IndependentRungeKuttaSolver,), {"tableau": tableau})
