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
import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from odedsl.errors import SolverError

from .adaptive import AdaptiveRungeKuttaSolver
from .control import CONTROLLERS, STEP_CONTROL_OPTIONS
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
    option_names: ClassVar[frozenset[str]] = STEP_CONTROL_OPTIONS

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
        self.log_safety = math.log(self.safety)
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
        outputs = _Outputs(t_out, direction)
        f0 = self._call(t_now.to(y.dtype), y)
        h = self._initial_step(t_now, y, f0, direction, (t_end - t_now).abs())
        n_stages = tableau.n_stages
        c = torch.tensor(tableau.c, dtype=torch.float64, device=y.device)
        counts = {name: torch.zeros(batch, dtype=torch.long, device=y.device) for name in _COUNTS}
        counts["nfe"] += 2
        history = _History(h)
        active = t_end != t_now
        calls = 2
        try:
            while self._go_on(active, counts["attempts"], h, t_now, t_end):
                counts["attempts"] += active
                landing = h >= (t_end - t_now).abs()
                t1 = torch.where(landing, t_end, t_now + direction * h)
                hs = torch.where(active, t1 - t_now, 0.0)
                stage_times = torch.addcmul(t_now[:, None], hs[:, None], c).to(y.dtype)
                hy = hs.to(y.dtype)[:, None]
                stages = [f0]
                for i in range(1, n_stages):
                    y_i = torch.addcmul(y, hy, _weighted_sum(tableau.a[i], stages))
                    stages.append(self._call(stage_times[:, i], y_i))
                calls += n_stages - 1
                y1 = torch.addcmul(y, hy, _weighted_sum(tableau.b, stages))
                err = hy * _weighted_sum(tableau.error, [k.detach() for k in stages])
                ratio = self._error_ratio(err, y.detach(), y1.detach())
                accept, h_next = self._control(ratio, hs.abs(), active, history)
                due = outputs.due(accept, t1)
                if bool(due.any()):
                    ys = self._fill(ys, outputs, due, t_now, t1, hs, hy, y, y1, stages)
                if tableau.fsal:
                    f1 = stages[-1]
                else:
                    f1 = self._call(t1.to(y.dtype), y1)
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
        """``func`` at one time per row (``t_rows``: ``(B,)`` of the state's dtype)."""
        t_shape = (self.batch,) + (1,) * (self.y0.ndim - 1)
        f = self.func(t_rows.reshape(t_shape), y.reshape(self.y0.shape))
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
        f1 = self._call(
            (t0 + direction * h0).to(y0.dtype), y0 + (direction * h0).to(y0.dtype)[:, None] * f0
        )
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
        self, ratio: Tensor, h: Tensor, active: Tensor, history: _History
    ) -> tuple[Tensor, Tensor]:
        """The PI controller of ``control.StepSizeController``, row by row (a non-finite
        ratio rejects with the smallest factor; a zero ratio grows by ``ifactor``); updates
        ``history``. Returns the accepted rows and the next step sizes."""
        ratio = torch.nan_to_num(ratio, nan=math.inf)
        accept = active & ((ratio <= 1.0) | ((h <= self.min_step) & (ratio < math.inf)))
        log_ratio = ratio.clamp(min=1e-300).log()
        basic = torch.exp(self.log_safety + self.reject_exponent * log_ratio)
        pi = torch.exp(self.log_safety - self.beta1 * log_ratio + self.beta2 * history.log_prev)
        grow = torch.where(history.has_prev, pi.clamp(min=self.dfactor), basic)
        grow = grow.clamp(max=self.ifactor)
        grow = torch.where(history.rejected_last, grow.clamp(max=1.0), grow)
        factor = torch.where(accept, grow, basic.clamp(min=self.dfactor))
        history.update(accept, active, log_ratio)
        return accept, (h * factor).clamp(self.min_step, self.max_step)

    def _fill(
        self,
        ys: Tensor,
        outputs: _Outputs,
        due: Tensor,
        t0: Tensor,
        t1: Tensor,
        hs: Tensor,
        hy: Tensor,
        y: Tensor,
        y1: Tensor,
        stages: list[Tensor],
    ) -> Tensor:
        """Write into ``ys`` (``(B, T, n)``) every output inside the rows' accepted steps,
        each row's next one per pass (usually a single pass)."""
        k = torch.stack(stages, dim=1)  # (B, S, n)
        step = torch.where(hs == 0.0, 1.0, hs)
        while True:
            times = outputs.next_time()
            theta = ((times - t0) / step).to(y.dtype)
            weights = (theta[:, None] ** self.powers) @ self.poly  # (B, S)
            value = torch.addcmul(y, hy, (weights[:, None, :] @ k)[:, 0])
            value = torch.where((times == t1)[:, None], y1, value)
            rows = due.nonzero()[:, 0]
            ys = ys.index_put((rows, outputs.index[rows]), value[rows])
            due = outputs.advance(due, t1)
            if not bool(due.any()):
                return ys

    def _go_on(self, active: Tensor, attempts: Tensor, h: Tensor, t: Tensor, t_end: Tensor) -> bool:
        """Whether any row still moves; ``SolverError`` for a row at ``max_num_steps`` or
        with a vanishing step (one host synchronisation a step)."""
        over = active & (attempts >= self.max_num_steps)
        tiny = active & (h < 8.0 * _EPS * t.abs()) & (h < (t_end - t).abs())
        moving, wrong = torch.stack(((active.any()), (over | tiny).any())).tolist()
        if not wrong:
            return moving
        if bool(over.any()):
            row = int(over.nonzero()[0])
            raise SolverError(
                f"row {row} reached max_num_steps={self.max_num_steps} at t={float(t[row]):.6g} "
                f"with step size {float(h[row]):.3g} ({int(active.sum())} of {self.batch} rows not "
                "yet at their final time). Hint: raise options['max_num_steps'], loosen "
                "rtol/atol, or check whether that problem is stiff or blows up."
            )
        row = int(tiny.nonzero()[0])
        raise SolverError(
            f"step size underflow in row {row} at t={float(t[row]):.6g}: h={float(h[row]):.3g}. "
            "Hint: that problem may be stiff, its solution may blow up, or rtol/atol are too "
            "small."
        )


class _Outputs:
    """Each row's output times and the index of its next one not yet written."""

    def __init__(self, t_out: Tensor, direction: float) -> None:
        self.t_out = t_out
        self.direction = direction
        self.last = t_out.shape[1] - 1
        self.index = torch.ones(t_out.shape[0], dtype=torch.long, device=t_out.device)
        self.index.clamp_(max=self.last)
        self.left = torch.full_like(self.index, self.last > 0, dtype=torch.bool)
        self._next = self.t_out[:, min(1, self.last)]

    def next_time(self) -> Tensor:
        return self._next

    def due(self, accept: Tensor, t1: Tensor) -> Tensor:
        """Rows whose accepted step reaches their next output time."""
        return accept & self.left & (self.direction * (self._next - t1) <= 0)

    def advance(self, written: Tensor, t1: Tensor) -> Tensor:
        """Move the ``written`` rows on to their next output; the rows whose step also
        reaches that one."""
        self.left = self.left & ~(written & (self.index == self.last))
        self.index = torch.where(written, (self.index + 1).clamp(max=self.last), self.index)
        self._next = self.t_out.gather(1, self.index[:, None])[:, 0]
        return written & self.left & (self.direction * (self._next - t1) <= 0)


class _History:
    """The step-size controller's memory, one entry per row: the log of the last accepted
    error ratio, whether there is one, and whether the last attempt was rejected."""

    def __init__(self, h: Tensor) -> None:
        self.log_prev = torch.zeros_like(h)
        self.has_prev = torch.zeros_like(h, dtype=torch.bool)
        self.rejected_last = torch.zeros_like(self.has_prev)

    def update(self, accept: Tensor, active: Tensor, log_ratio: Tensor) -> None:
        floor = math.log(1e-4)
        self.log_prev = torch.where(accept, log_ratio.clamp(min=floor), self.log_prev)
        self.has_prev = self.has_prev | accept
        self.rejected_last = torch.where(active, ~accept, self.rejected_last)


_EPS = torch.finfo(torch.float64).eps


def _weighted_sum(weights: tuple[float, ...], stages: list[Tensor]) -> Tensor:
    """``Σ_j w_j k_j`` over the nonzero weights, one fused operation per term."""
    terms = [(w, k) for w, k in zip(weights, stages, strict=False) if w != 0.0]
    (w0, total), rest = terms[0], terms[1:]
    total = total * w0
    for w, k in rest:
        total = torch.add(total, k, alpha=w)
    return total


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
    if not issubclass(solver, AdaptiveRungeKuttaSolver) or not isinstance(tableau, ButcherTableau):
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
