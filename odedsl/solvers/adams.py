"""Adaptive Adams predictor-corrector: variable step, orders 1-12 (Shampine–Gordon's DE/STEP).

Each step predicts with Adams–Bashforth of order k, evaluates, corrects with Adams–Moulton of
order k + 1 (local extrapolation) and, in the default PECE mode, evaluates again: two
evaluations per step. PEC mode skips the final evaluation and keeps ``f`` at the predicted
value in the history: one evaluation per step, a smaller stability region (its order
selection settles at about 4-8 where PECE climbs to 12) and a larger error per tolerance;
its step also grows by ratios in [1.2, 2] once k + 1 steps had one size. The history
is kept as modified divided differences ``phi`` stacked in one flat (k + 2, n) tensor; the
coefficients are Python floats (``_adams_coefficients``) gathered in one small matrix, so the
prediction, the error estimates and the difference update of a step come from one matrix
product, and dense output from another, whatever the order.

Order and step size follow Shampine & Gordon (1975), see ``_adams_control``: start at order 1
with a small step, raise the order and double the step every step until an estimate says
otherwise; then lower the order when the estimates at k - 1 (and k - 2) beat the one at k,
raise it when the estimate at k + 1 does (only after k + 1 steps of one size, when that
estimate is reliable), and keep the step size unless it can double or must shrink. A third
rejection in a row drops to order 1. Output times are filled from the corrector's
interpolating polynomial.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from odedsl.errors import SolverError

from ._adams_coefficients import (
    ERROR_CONSTANTS,
    MAX_ORDER,
    StepCoefficients,
    interpolation_coefficients,
    step_coefficients,
    step_matrix_rows,
)
from ._adams_control import estimates, next_order, rejection_factor, step_factor
from .adaptive import _check_finite, _stops, _tolerance, _underflow
from .control import Norm, error_scale, rms_norm, select_initial_step
from .options import choice_option, int_option, step_bounds, times_as_floats, times_option
from .outputs import Outputs
from .runge_kutta import Func, check_derivative
from .solution import SolverStats
from .stepping import AcceptedStep, StepHook

# The last step before a stop is stretched by up to this factor rather than leave a sliver.
STRETCH = 1.01
MODES = ("PECE", "PEC")


@dataclass
class _History:
    """What the method knows at ``t`` = t_n, after the last accepted step."""

    t: float
    y: Tensor  # flat state y_n
    phi: Tensor  # phi_1(n), ..., phi_m(n) as rows of an (m, n) tensor
    h: float  # signed size proposed for the next step
    past: list[float] = field(default_factory=list)  # t_{n-1}, t_{n-2}, ... newest first
    order: int = 1
    steps_at_h: int = 0  # accepted steps in a row of size h_prev, the last one included
    h_prev: float = 0.0
    starting: bool = True  # Shampine–Gordon's phase 1: raise the order and double h
    start_nfe: int = 0  # the evaluation count when this start began (f(t0) included)
    psi: tuple[float, ...] = ()  # t_n - t_{n-i} for i = 1..k of the last step (dense output)

    def psi_old(self, count: int) -> tuple[float, ...]:
        """``t_n - t_{n-i}`` for i = 1..count."""
        return tuple(self.t - s for s in self.past[:count])


@dataclass(frozen=True)
class _Plan:
    """A step's coefficients and matrix (rows as in ``step_matrix_rows``)."""

    key: tuple[float, int, bool]  # (h, k, with_next)
    uniform: bool  # built after k - 1 steps of size h: constant-step coefficients
    coeffs: StepCoefficients
    matrix: Tensor
    n_estimates: int


@dataclass
class _Counts:
    nfe: int = 0
    accepted: int = 0
    rejected: int = 0
    orders: Counter = field(default_factory=Counter)
    first_step: float = 0.0
    last_step: float = 0.0
    start_nfe: int = 0


class AdamsSolver:
    """Adaptive Adams–Bashforth–Moulton, orders 1-12; see ``methods`` for the interface.

    Options: ``first_step``, ``min_step``, ``max_step``, ``max_num_steps`` (attempted steps,
    default 10 000), ``max_order`` (1-12, default 12), ``mode`` (``"PECE"``, the default, or
    ``"PEC"``: one evaluation per step, see the module docstring), ``step_t`` and ``jump_t``
    (times to land on; after a jump the method restarts at order 1 from ``func`` just past
    it). A step of at most ``min_step`` is accepted whatever its error. The step-size rule is
    Shampine–Gordon's (keep h, double it, or shrink it by 0.5-0.9; PEC also grows it by
    1.2-2), so the Runge–Kutta controller's ``safety``, ``ifactor``, ``dfactor`` and
    ``controller`` do not apply. ``stats.info["orders"]`` counts accepted steps by
    Adams–Bashforth order k (the corrector has order k + 1); ``stats.info["start_evaluations"]``
    counts the evaluations of the start-up phases (from ``f(t0)`` until the order selection
    takes over).
    """

    step_hook: StepHook | None = None  # see ``stepping``
    option_names: ClassVar[frozenset[str]] = frozenset(
        {
            "first_step",
            "min_step",
            "max_step",
            "max_num_steps",
            "max_order",
            "mode",
            "step_t",
            "jump_t",
        }
    )

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
        self.func = func
        self.y0 = y0
        self.rtol = _tolerance(rtol, y0)
        self.atol = _tolerance(atol, y0)
        self.norm = norm
        self.stats = stats
        self.first_step, self.min_step, self.max_step, self.max_num_steps = step_bounds(options)
        self.max_order = int_option(options, "max_order", MAX_ORDER)
        if self.max_order > MAX_ORDER:
            raise ValueError(
                f"options['max_order'] must lie in [1, {MAX_ORDER}], got {self.max_order}"
            )
        self.pec = choice_option(options, "mode", "PECE", MODES) == "PEC"
        self.step_t = times_option(options, "step_t")
        self.jump_t = times_option(options, "jump_t")
        self._counts = _Counts()
        self._last_plan: _Plan | None = None

    # ------------------------------------------------------------------ the solve
    def integrate(self, t: Tensor) -> Tensor:
        """Solve at the times ``t`` (strictly monotone); returns ``(len(t), *y0.shape)``."""
        self._counts = _Counts()
        try:
            return self._solve(times_as_floats(t))
        finally:
            self._record()

    def _solve(self, times: list[float]) -> Tensor:
        y0 = self.y0.reshape(-1)
        t0, t_end = times[0], times[-1]
        f0 = self._eval(t0, y0)
        check_derivative(f0.view(self.y0.shape), self.y0)
        track = torch.is_grad_enabled() and (self.y0.requires_grad or f0.requires_grad)
        outputs = Outputs(y0, len(times), track)
        if len(times) == 1:
            return outputs.result(self.y0.shape)
        _check_finite(y0, t0, "the initial state y0")
        _check_finite(f0, t0, "the initial derivative func(t0, y0)")
        direction = 1.0 if t_end >= t0 else -1.0
        next_out = 1
        state: _History | None = None
        for stop, is_jump in _stops(t0, t_end, direction, self.step_t, self.jump_t):
            if state is None:
                state = self._start(t0, y0, f0, direction, stop)
            while state.t != stop:
                order = self._step(state, stop, is_jump, direction)
                next_out = self._fill(outputs, state, order, times, next_out)
                if self.step_hook is not None:
                    self.step_hook(self._accepted(state, order))
            if is_jump:
                self._end_start(state)
                t0, y0 = stop, state.y
                f0 = self._eval(_beside(stop, stop + direction, y0), y0)
                _check_finite(f0, stop, "the derivative just after the jump")
                state = None
        if state is not None:
            self._end_start(state)
        return outputs.result(self.y0.shape)

    def _start(self, t0: float, y0: Tensor, f0: Tensor, direction: float, stop: float) -> _History:
        """A fresh order-1 history at ``t0`` with the first step size."""
        start_nfe = self._counts.nfe - 1  # f0 is part of the start
        bound = min(abs(stop - t0), self.max_step)
        if self.first_step is not None:
            h = min(self.first_step, bound)
        else:
            h = select_initial_step(
                self._eval,
                t0,
                y0.detach(),
                f0.detach(),
                direction=direction,
                error_order=1,
                rtol=self.rtol,
                atol=self.atol,
                norm=self._flat_norm,
                max_step=bound,
            )
        h = max(self.min_step, h)
        if self._counts.first_step == 0.0:
            self._counts.first_step = h
        return _History(t=t0, y=y0, phi=f0.unsqueeze(0), h=direction * h, start_nfe=start_nfe)

    def _end_start(self, state: _History) -> None:
        """Leave the start-up phase; count the evaluations it took."""
        if state.starting:
            state.starting = False
            self._counts.start_nfe += self._counts.nfe - state.start_nfe

    def _record(self) -> None:
        counts, stats = self._counts, self.stats
        stats.nfe_forward += counts.nfe
        stats.steps_accepted += counts.accepted
        stats.steps_rejected += counts.rejected
        stats.info["initial_step"] = counts.first_step
        stats.info["last_step"] = counts.last_step
        stats.info["start_evaluations"] = stats.info.get("start_evaluations", 0) + counts.start_nfe
        orders = Counter(stats.info.get("orders", {}))
        orders.update(counts.orders)
        stats.info["orders"] = dict(sorted(orders.items()))

    # ------------------------------------------------------------------ one step
    def _step(self, state: _History, stop: float, is_jump: bool, direction: float) -> int:
        """Take one accepted step (retrying rejected attempts), updating ``state``; return the
        order k it used. A step landing on a jump evaluates ``func`` just before it."""
        counts = self._counts
        h, k = state.h, state.order
        failures = 0
        err = 0.0
        while True:
            if counts.accepted + counts.rejected >= self.max_num_steps:
                raise _too_many_steps(self.max_num_steps, state.t, h, counts)
            if abs(h) > self.max_step:
                h = direction * self.max_step
            landing = abs(stop - state.t) <= STRETCH * abs(h)
            if landing:
                h = stop - state.t
            elif abs(h) < 10.0 * math.ulp(state.t):
                raise _underflow(state.t, abs(h), counts.accepted, counts.rejected, err)
            t_new = stop if landing else state.t + h
            t_eval = _beside(stop, state.t, state.y) if landing and is_jump else t_new
            steps_at_h = state.steps_at_h + 1 if h == state.h_prev else 1
            plan = self._plan(state, h, k, steps_at_h)
            combined = plan.matrix @ state.phi[: plan.matrix.shape[1]]
            predicted = state.y + combined[0]
            differences = self._eval(t_eval, predicted) - combined[1 : 1 + plan.n_estimates]
            scale = error_scale(state.y.detach(), predicted.detach(), self.rtol, self.atol)
            est = estimates(self._norms(differences, scale), plan.coeffs, h, k)
            err = est.step
            if err <= 1.0 or (abs(h) <= self.min_step and math.isfinite(err)):
                break
            counts.rejected += 1
            if abs(h) <= self.min_step:  # a non-finite error at the smallest step allowed
                raise _underflow(state.t, abs(h), counts.accepted, counts.rejected, err)
            self._end_start(state)
            failures += 1
            k = 1 if failures >= 3 else k - 1 if k > 1 and est.lower else k
            h = direction * max(self.min_step, abs(h) * rejection_factor(failures, est))

        counts.accepted += 1
        counts.orders[k] += 1
        y_new = torch.add(predicted, differences[0], alpha=h * plan.coeffs.g[k])
        # phi(n+1) from f at the corrected value (PECE) or at the predicted one (PEC)
        correction = differences[0] if self.pec else self._eval(t_eval, y_new) - combined[1]
        phi_new = combined[1 + plan.n_estimates :] + correction
        lower = k > 1 and est.lower
        if state.starting and (lower or k == self.max_order):
            self._end_start(state)
        at_kp1 = math.nan
        if phi_new.shape[0] == k + 2 and not (state.starting or lower):
            at_kp1 = abs(h) * ERROR_CONSTANTS[k] * self._norms(phi_new[k + 1 :], scale)[0]
        state.order, error = next_order(k, self.max_order, state.starting, est, at_kp1)
        state.past = [state.t, *state.past[: MAX_ORDER + 1]]
        state.t, state.y, state.phi, state.psi = t_new, y_new, phi_new, plan.coeffs.psi
        state.steps_at_h, state.h_prev = steps_at_h, h
        grow = self.pec and steps_at_h > k
        factor = step_factor(error, state.order, state.starting, grow)
        state.h = direction * max(self.min_step, abs(h) * factor)
        counts.last_step = abs(h)
        return k

    def _plan(self, state: _History, h: float, k: int, steps_at_h: int) -> _Plan:
        """The step's coefficients and matrix; reused while the step stays constant.

        After ``steps_at_h - 1 >= k - 1`` earlier steps of size h, the spacings the
        coefficients depend on all equal h, so they are a function of (h, k) alone.
        ``phi_{k+2}`` is formed only when it is exact (k + 1 steps of size h, this one
        included) and ``phi_{k+1}(n)`` exists.
        """
        with_next = steps_at_h > k and state.phi.shape[0] > k
        key = (h, k, with_next)
        uniform = steps_at_h >= k
        last = self._last_plan
        if uniform and last is not None and last.uniform and last.key == key:
            return last
        coeffs = step_coefficients(h, state.psi_old(k - 1), k)
        rows, n_estimates = step_matrix_rows(coeffs, h, k, with_next)
        matrix = torch.tensor(rows, dtype=state.y.dtype, device=state.y.device)
        self._last_plan = _Plan(key, uniform, coeffs, matrix, n_estimates)
        return self._last_plan

    # ------------------------------------------------------------------ dense output
    def _fill(
        self, outputs: Outputs, state: _History, order: int, times: list[float], j: int
    ) -> int:
        """Add the output times from ``times[j]`` up to ``state.t`` (none before the step);
        return the index of the next one."""
        t1, sign = state.t, state.h_prev
        offsets = []
        while j < len(times) and (times[j] - t1) * sign < 0.0:
            offsets.append(times[j] - t1)
            j += 1
        if offsets:
            outputs.add(self._interpolate(state, order, offsets))
        if j < len(times) and times[j] == t1:
            outputs.add(state.y.unsqueeze(0))
            j += 1
        return j

    @staticmethod
    def _interpolate(state: _History, order: int, offsets: list[float]) -> Tensor:
        """The corrector's polynomial of the last step (order ``order``) at ``state.t`` plus
        each offset, as rows of an ``(m, n)`` tensor."""
        terms = order + 1
        weights = [
            [hi * c for c in interpolation_coefficients(hi, state.psi, terms)] for hi in offsets
        ]
        w = torch.tensor(weights, dtype=state.y.dtype, device=state.y.device)
        return torch.addmm(state.y.unsqueeze(0), w, state.phi[:terms])

    def _accepted(self, state: _History, order: int) -> AcceptedStep:
        """The step just taken as the step hook sees it."""
        t1 = state.t

        def interpolate(times: Sequence[float]) -> Tensor:
            return self._interpolate(state, order, [s - t1 for s in times])

        return AcceptedStep(state.past[0], t1, state.y, interpolate)

    # ------------------------------------------------------------------ small pieces
    def _norms(self, rows: Tensor, scale: Tensor) -> list[float]:
        """The error norm of each row of ``rows / scale``, outside the autograd graph."""
        scaled = rows.detach() / scale
        if self.norm is None:
            root_n = math.sqrt(rows.shape[1])
            return [x / root_n for x in torch.linalg.vector_norm(scaled, dim=1).tolist()]
        return [float(self.norm(row.view(self.y0.shape))) for row in scaled]

    def _flat_norm(self, x: Tensor) -> Tensor:
        return rms_norm(x) if self.norm is None else self.norm(x.view(self.y0.shape))

    def _eval(self, t: float | Tensor, y: Tensor) -> Tensor:
        """``func(t, y)`` on the flat state, counted."""
        self._counts.nfe += 1
        time = t if isinstance(t, Tensor) else _scalar(t, self.y0)
        return self.func(time, y.view(self.y0.shape)).reshape(-1)


def _beside(t: float, toward: float, like: Tensor) -> Tensor:
    """The time next to ``t`` in the direction of ``toward``, in ``like``'s dtype."""
    return torch.nextafter(_scalar(t, like), _scalar(toward, like))


def _scalar(t: float, like: Tensor) -> Tensor:
    return torch.scalar_tensor(t, dtype=like.dtype, device=like.device)


def _too_many_steps(limit: int, t: float, h: float, counts: _Counts) -> SolverError:
    return SolverError(
        f"reached max_num_steps={limit} at t={t:.6g} with step size {abs(h):.3g} "
        f"({counts.accepted} accepted, {counts.rejected} rejected steps). Hint: raise "
        "options['max_num_steps'], loosen rtol/atol, or check whether the problem is stiff "
        "or blows up."
    )
