"""The adaptive Adams method (``method="adams"``): coefficients, accuracy against scipy, order
selection, dense output, options, failures, and gradients in all three modes.

Truths: exact integrals of polynomials (coefficients), closed forms and scipy's DOP853 at
1e-12 (``problems.py``), and central finite differences of scipy solves (gradients).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from torch import nn

from odedsl.errors import SolverError
from odedsl.solvers import solve
from odedsl.solvers._adams_coefficients import (
    ERROR_CONSTANTS,
    interpolation_coefficients,
    step_coefficients,
)

from .problems import ARENSTORF, KEPLER, LINEAR, PROBLEMS, REFERENCE_TOL


def adams(problem, times, tol, **kwargs):
    return solve(
        problem.torch_func(),
        problem.y0_tensor(times.dtype),
        times,
        method="adams",
        rtol=tol,
        atol=tol,
        **kwargs,
    )


def max_error(ys: torch.Tensor, reference: np.ndarray) -> float:
    return float(np.abs(ys.double().numpy() - reference).max())


# ---------------------------------------------------------------------- coefficients


def modified_differences(times: np.ndarray, values: np.ndarray, count: int) -> list[float]:
    """``phi_j = prod_{i<j} (t_0 - t_i) * f[t_0, ..., t_{j-1}]`` (newest time first), from
    the divided-difference table: Shampine–Gordon's phi_1..phi_count."""
    table = list(values[:count])
    phis = [table[0]]
    for j in range(1, count):
        table = [(table[i] - table[i + 1]) / (times[i] - times[i + j]) for i in range(count - j)]
        phis.append(float(np.prod(times[0] - times[1 : j + 1])) * table[0])
    return phis


def predictor_increment(coeffs, phi: list[float], h: float) -> float:
    """``h sum_j g_j beta_j phi_j``: the Adams–Bashforth step from ``phi_1..phi_k(n)``."""
    terms = zip(coeffs.g[: len(phi)], coeffs.beta, phi, strict=True)
    return h * sum(g * b * p for g, b, p in terms)


@pytest.mark.parametrize("order", [1, 2, 5, 12])
def test_step_coefficients_integrate_polynomials_exactly(order):
    # On a random uneven grid, the order-k predictor integrates polynomials of degree k - 1
    # exactly and the order-(k + 1) corrector those of degree k: the definition of the
    # variable-step Adams formulas, checked against numpy's exact polynomial integral.
    rng = np.random.default_rng(order)
    h = 0.3
    past = np.cumsum(rng.uniform(0.1, 0.5, order))  # t_n - t_{n-i}, i = 1..order
    t_n = 2.0
    grid = np.concatenate([[t_n], t_n - past])  # t_n, t_{n-1}, ... (newest first)
    poly = np.polynomial.Polynomial(rng.normal(size=order + 1))  # degree k
    antiderivative = poly.integ()
    exact = antiderivative(t_n + h) - antiderivative(t_n)
    coeffs = step_coefficients(h, tuple(past[: order - 1]), order)

    lower = np.polynomial.Polynomial(poly.coef[:order])  # degree k - 1
    phi = modified_differences(grid, lower(grid), order)
    predicted = predictor_increment(coeffs, phi, h)
    lower_exact = lower.integ()(t_n + h) - lower.integ()(t_n)
    assert predicted == pytest.approx(lower_exact, rel=1e-12, abs=1e-12)

    phi = modified_differences(grid, poly(grid), order)
    phi_star_sum = sum(b * p for b, p in zip(coeffs.beta, phi, strict=True))
    predicted = predictor_increment(coeffs, phi, h)
    corrected = predicted + h * coeffs.g[order] * (poly(t_n + h) - phi_star_sum)
    assert corrected == pytest.approx(exact, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("terms", [1, 3, 8, 13])
def test_interpolation_integrates_polynomials_exactly(terms):
    # y(t_{n+1} + s) - y_{n+1} = s * sum c_j phi_j(n+1) is exact for f of degree terms - 1.
    rng = np.random.default_rng(terms)
    grid = 1.0 - np.concatenate([[0.0], np.cumsum(rng.uniform(0.1, 0.4, terms - 1))])
    poly = np.polynomial.Polynomial(rng.normal(size=terms))
    phi = modified_differences(grid, poly(grid), terms)
    psi = tuple(grid[0] - grid[1:])
    antiderivative = poly.integ()
    for s in (-0.05, -0.2, -psi[0] if psi else -0.1):
        c = interpolation_coefficients(s, psi, terms)
        value = s * sum(cj * pj for cj, pj in zip(c, phi, strict=True))
        exact = antiderivative(grid[0] + s) - antiderivative(grid[0])
        assert value == pytest.approx(exact, rel=1e-12, abs=1e-12)


def test_error_constants_are_the_adams_moulton_ones():
    known = [Fraction(1, 2), Fraction(1, 12), Fraction(1, 24), Fraction(19, 720)]
    known += [Fraction(3, 160), Fraction(863, 60480), Fraction(275, 24192)]
    assert ERROR_CONSTANTS[: len(known)] == pytest.approx([float(x) for x in known], rel=1e-15)


# ---------------------------------------------------------------------- accuracy

# Global error over 21 output times, in multiples of rtol = atol. Adams' error/tol ratio
# wanders between 2 and ~180 over tolerances 1e-4..1e-11 on these problems (dopri5's reaches
# 500 on Kepler): 200 bounds the cases here (worst observed: 76, Lotka–Volterra at 1e-9).
# Arenstorf's orbit passes close to the moon and amplifies local errors 1e3-1e5-fold for
# every method (over 1e-5..1e-11: dopri5 3e3-4e4, dopri8 2e3-1e4, adams 2e4-2e5 x tol;
# observed here 2.5e4 and 1.9e5): bound 5e5. PEC mode keeps f at the predicted value, an
# error its estimate does not see: over 1e-4..1e-11 its ratio reaches 600 (Lotka–Volterra
# 310 and 600, Kepler 150 and 50 at 1e-6 and 1e-9; Arenstorf up to 1.5e5): bound 1000.
ERROR_MULTIPLE = {
    "PECE": {name: 200.0 for name in PROBLEMS} | {ARENSTORF.name: 5e5},
    "PEC": {name: 1000.0 for name in PROBLEMS} | {ARENSTORF.name: 5e5},
}


@pytest.mark.parametrize("mode", ["PECE", "PEC"])
@pytest.mark.parametrize("tol", [1e-6, 1e-9])
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_accuracy_against_reference(name, tol, mode):
    problem = PROBLEMS[name]
    times = problem.times(21)
    solution = adams(problem, times, tol, options={"mode": mode})
    error = max_error(solution.ys, problem.reference(times.numpy()))
    assert error <= ERROR_MULTIPLE[mode][name] * tol
    stats = solution.stats
    assert stats.steps_accepted == sum(stats.info["orders"].values())


def test_order_rises_with_accuracy():
    # A smooth problem at a tight tolerance spends most steps at high order (observed: mode
    # 12, max 12 at 1e-10); at 1e-3 low orders suffice (observed max 6).
    tight = adams(KEPLER, KEPLER.times(2), 1e-10).stats.info["orders"]
    loose = adams(KEPLER, KEPLER.times(2), 1e-3).stats.info["orders"]
    assert max(tight, key=tight.get) >= 10
    assert max(tight) == 12
    assert max(loose) <= 8
    assert min(tight) == min(loose) == 1  # every solve starts at order 1


def test_pec_trades_order_for_evaluations():
    # PEC's smaller stability region stops its order lower (observed on Kepler at 1e-10:
    # mode 6, max 8, against PECE's 12), but one evaluation per step instead of two costs
    # fewer evaluations (observed 277 against 346).
    pece = adams(KEPLER, KEPLER.times(2), 1e-10).stats
    pec = adams(KEPLER, KEPLER.times(2), 1e-10, options={"mode": "PEC"}).stats
    orders = pec.info["orders"]
    assert 5 <= max(orders, key=orders.get) <= 8 < max(pece.info["orders"])
    assert pec.nfe_forward < pece.nfe_forward


def test_max_order_caps_the_order():
    # At order <= 4 the solve needs ~2.5x the steps, and their local errors add up to more:
    # observed 220 x tol (dopri5, order 5: 300-500 x tol on Kepler), bounded by 1000 x tol.
    times = KEPLER.times(21)
    solution = adams(KEPLER, times, 1e-8, options={"max_order": 4})
    assert max(solution.stats.info["orders"]) == 4
    error = max_error(solution.ys, KEPLER.reference(times.numpy()))
    assert error <= 1000 * 1e-8
    full = adams(KEPLER, times, 1e-8)
    assert full.stats.nfe_forward < solution.stats.nfe_forward  # low order costs more


def test_output_times_never_change_the_steps():
    # Dense output: 201 output times give the same steps (so the same end value, bit for bit)
    # as 2, and the interpolated values meet the same error bound as the steps.
    dense_times = KEPLER.times(201)
    dense = adams(KEPLER, dense_times, 1e-9)
    sparse = adams(KEPLER, KEPLER.times(2), 1e-9)
    assert dense.stats.nfe_forward == sparse.stats.nfe_forward
    assert torch.equal(dense.ys[-1], sparse.ys[-1])
    assert max_error(dense.ys, KEPLER.reference(dense_times.numpy())) <= 200 * 1e-9


def test_decreasing_times():
    # Backwards from t1 on the linear system (closed form): the solve lands on t0 exactly.
    times = torch.linspace(LINEAR.t1, LINEAR.t0, 11, dtype=torch.float64)
    y1 = torch.tensor(LINEAR.exact(np.array([LINEAR.t1]))[0])
    solution = solve(LINEAR.torch_func(), y1, times, method="adams", rtol=1e-9, atol=1e-9)
    assert max_error(solution.ys, LINEAR.exact(times.numpy())) <= 200 * 1e-9


def test_float32_state():
    # float32 keeps its dtype; at 1e-5 the error (observed 4e-5) stays near the tolerance,
    # far above float32 round-off (1e-7).
    times = LINEAR.times(11, torch.float32)
    solution = adams(LINEAR, times, 1e-5)
    assert solution.ys.dtype == torch.float32
    assert max_error(solution.ys, LINEAR.exact(times.double().numpy())) <= 200 * 1e-5


def test_custom_norm_is_used():
    calls = []

    def max_norm(x):
        calls.append(x.shape)
        return x.abs().max()

    times = KEPLER.times(21)
    solution = adams(KEPLER, times, 1e-8, options={"norm": max_norm})
    assert calls and all(shape == (4,) for shape in calls)
    assert max_error(solution.ys, KEPLER.reference(times.numpy())) <= 200 * 1e-8
    # the max norm is >= the RMS one, so the solve is at least as careful
    assert solution.stats.nfe_forward >= adams(KEPLER, times, 1e-8).stats.nfe_forward


@pytest.mark.parametrize(("mode", "per_step"), [("PECE", 2), ("PEC", 1)])
def test_statistics_count_every_evaluation(mode, per_step):
    calls = 0
    func = KEPLER.torch_func()

    def counted(t, y):
        nonlocal calls
        calls += 1
        return func(t, y)

    options = {"mode": mode}
    solution = solve(counted, KEPLER.y0_tensor(), KEPLER.times(5), method="adams", options=options)
    assert solution.stats.nfe_forward == calls
    # PECE: two evaluations per accepted step (PEC: one), one per rejected attempt (no
    # correction), plus f(t0) and the initial-step probe
    stats = solution.stats
    assert calls == per_step * stats.steps_accepted + stats.steps_rejected + 2


def test_start_up_evaluations_are_counted():
    # The start-up phase (f(t0), the initial-step probe, then order 1, 2, ... with doubling
    # steps at two evaluations each, an even count without rejections) is a small share of
    # a Kepler solve (observed 14 of 157 at 1e-6); a jump restarts it, so a solve with one
    # jump counts more of them (observed 28).
    times = KEPLER.times(2)
    plain = adams(KEPLER, times, 1e-6).stats
    start = plain.info["start_evaluations"]
    assert start % 2 == 0 and 6 <= start < 0.15 * plain.nfe_forward
    jumped = adams(KEPLER, times, 1e-6, options={"jump_t": [3.0]}).stats
    assert jumped.info["start_evaluations"] > start


# ---------------------------------------------------------------------- options


def test_step_size_options():
    times = KEPLER.times(2)
    first = adams(KEPLER, times, 1e-6, options={"first_step": 1e-3})
    assert first.stats.info["initial_step"] == 1e-3
    capped = adams(KEPLER, times, 1e-6, options={"max_step": 0.01})
    assert capped.stats.steps_accepted >= (KEPLER.t1 - KEPLER.t0) / 0.01
    floored = adams(KEPLER, times, 1e-12, options={"min_step": 0.05})
    assert floored.stats.steps_accepted <= (KEPLER.t1 - KEPLER.t0) / 0.05 + 1


def test_jump_restarts_at_the_discontinuity():
    # y' = 1 before t = 1 and -1 after: y = t, then 2 - t. Landing on the jump (func seen
    # just before it) and restarting from func just after it keeps the result exact to
    # round-off; without it the step across t = 1 would mix the two slopes.
    def ramp(t, y):
        return torch.where(t < 1.0, 1.0, -1.0).to(y.dtype) * torch.ones_like(y)

    times = torch.tensor([0.0, 0.5, 1.5, 2.0], dtype=torch.float64)
    y0 = torch.zeros(1, dtype=torch.float64)
    solution = solve(
        ramp, y0, times, method="adams", rtol=1e-8, atol=1e-8, options={"jump_t": [1.0]}
    )
    expected = torch.tensor([[0.0], [0.5], [0.5], [0.0]], dtype=torch.float64)
    torch.testing.assert_close(solution.ys, expected, rtol=0.0, atol=1e-12)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"saftey": 0.9}, "unknown option 'saftey'.*did you mean 'safety'"),
        ({"max_order": 13}, "max_order"),
        ({"max_order": 0}, "max_order"),
        ({"mode": "PECECE"}, "options\\['mode'\\] must be one of"),
        ({"min_step": 1.0, "max_step": 0.5}, "min_step"),
    ],
)
def test_bad_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        adams(KEPLER, KEPLER.times(2), 1e-6, options=options)


def test_options_of_other_methods_are_ignored_with_a_warning():
    # safety is a Runge-Kutta option; like torchdiffeq, Adams warns and goes on without it
    with pytest.warns(UserWarning, match="'adams' does not use 'safety'"):
        with_safety = adams(KEPLER, KEPLER.times(2), 1e-6, options={"safety": 0.5})
    plain = adams(KEPLER, KEPLER.times(2), 1e-6)
    torch.testing.assert_close(with_safety.ys, plain.ys, rtol=0, atol=0)


# ---------------------------------------------------------------------- failures


def test_too_many_steps():
    with pytest.raises(SolverError, match="max_num_steps=20"):
        adams(KEPLER, KEPLER.times(2), 1e-10, options={"max_num_steps": 20})


def test_blow_up_fails_cleanly():
    # y' = y^2, y(0) = 1 blows up at t = 1.
    y0 = torch.ones(1, dtype=torch.float64)
    times = torch.tensor([0.0, 2.0], dtype=torch.float64)
    with pytest.raises(SolverError, match=r"step size underflow|not finite"):
        solve(lambda t, y: y * y, y0, times, method="adams")


def test_non_finite_derivative_fails_cleanly():
    def poisoned(t, y):
        return torch.where(t < 0.5, -y, torch.full_like(y, float("nan")))

    y0 = torch.ones(2, dtype=torch.float64)
    times = torch.tensor([0.0, 1.0], dtype=torch.float64)
    with pytest.raises(SolverError, match="non-finite"):
        solve(poisoned, y0, times, method="adams")
    with pytest.raises(SolverError, match="non-finite"):  # min_step cannot force it through
        solve(poisoned, y0, times, method="adams", options={"min_step": 0.01})
    with pytest.raises(SolverError, match="initial state"):
        solve(lambda t, y: -y, y0 * float("nan"), torch.tensor([0.0, 1.0]), method="adams")


# ---------------------------------------------------------------------- gradients


class TanhField(nn.Module):
    """``f(t, y) = W2 tanh(W1 y + b1 + c t)`` with fixed-seed weights, in float64."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.w1 = nn.Parameter(torch.randn(8, 2, generator=g, dtype=torch.float64) * 0.7)
        self.b1 = nn.Parameter(torch.randn(8, generator=g, dtype=torch.float64) * 0.3)
        self.c = nn.Parameter(torch.randn(8, generator=g, dtype=torch.float64) * 0.3)
        self.w2 = nn.Parameter(torch.randn(2, 8, generator=g, dtype=torch.float64) * 0.4)

    def forward(self, t, y):
        return torch.tanh(y @ self.w1.T + self.b1 + self.c * t) @ self.w2.T

    def numpy_rhs(self, flat_params: np.ndarray, batch: int):
        shapes = [p.shape for p in self.parameters()]
        sizes = [int(np.prod(s)) for s in shapes]
        w1, b1, c, w2 = (
            part.reshape(s)
            for part, s in zip(np.split(flat_params, np.cumsum(sizes)[:-1]), shapes, strict=True)
        )

        def rhs(t, y):
            y = y.reshape(batch, 2)
            return (np.tanh(y @ w1.T + b1 + c * t) @ w2.T).reshape(-1)

        return rhs


@pytest.mark.parametrize("mode", ["PECE", "PEC"])
@pytest.mark.parametrize("gradient", ["direct", "adjoint", "checkpoint"])
def test_gradients_match_finite_differences(gradient, mode):
    # d/de L(y0 + e v_y, theta + e v_theta) at e = 0, with L = sum(w * y(t)) over 4 output
    # times: the adams gradient at rtol = atol = 1e-10 against central differences (step
    # 1e-4, truncation ~1e-9) of scipy DOP853 solves at 1e-12. Agreement to 1e-6 relative.
    field = TanhField()
    g = torch.Generator().manual_seed(4)
    y0 = torch.randn(3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    times = torch.tensor([0.0, 0.4, 1.1, 2.0], dtype=torch.float64)
    weights = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    v_y = torch.randn(3, 2, generator=g, dtype=torch.float64)
    v_theta = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in field.parameters()]

    extra = {"checkpoints": 3} if gradient == "checkpoint" else {}
    solution = solve(
        field,
        y0,
        times,
        method="adams",
        rtol=1e-10,
        atol=1e-10,
        options={"mode": mode},
        gradient=gradient,
        **extra,
    )
    (solution.ys * weights).sum().backward()
    directional = float((y0.grad * v_y).sum())
    directional += sum(
        float((p.grad * v).sum()) for p, v in zip(field.parameters(), v_theta, strict=True)
    )

    theta = np.concatenate([p.detach().numpy().ravel() for p in field.parameters()])
    v_theta_flat = np.concatenate([v.numpy().ravel() for v in v_theta])

    def loss(e: float) -> float:
        rhs = field.numpy_rhs(theta + e * v_theta_flat, 3)
        start = (y0.detach() + e * v_y).numpy().ravel()
        ys = solve_ivp(
            rhs,
            (0.0, 2.0),
            start,
            method="DOP853",
            t_eval=times.numpy(),
            rtol=REFERENCE_TOL,
            atol=REFERENCE_TOL,
        ).y.T
        return float((ys.reshape(4, 3, 2) * weights.numpy()).sum())

    step = 1e-4
    finite_difference = (loss(step) - loss(-step)) / (2 * step)
    assert directional == pytest.approx(finite_difference, rel=1e-6)
