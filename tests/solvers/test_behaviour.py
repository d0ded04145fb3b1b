"""Behaviour of the solvers: dense output, direction, dtypes, tuple states, batching, the
time span, discontinuities, options, and agreement with torchdiffeq's calls."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchdiffeq

import odedsl
from odedsl import odeint, solve

from .problems import LINEAR, PROBLEMS

ADAPTIVE = ("bosh3", "dopri5", "tsit5", "dopri8")
FIXED = ("euler", "midpoint", "heun", "rk4")
VAN_DER_POL = PROBLEMS["van_der_pol"]


def decay(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -y


class Recorder:
    """``func`` wrapper recording the times it is called at (as floats)."""

    def __init__(self, func):
        self.func = func
        self.times: list[float] = []

    def __call__(self, t, y):
        self.times.append(float(t))
        return self.func(t, y)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_many_output_times_match_solving_to_each_time_alone(method: str) -> None:
    tol = 1e-8
    t = torch.linspace(0.0, 5.0, 21, dtype=torch.float64)
    func, y0 = VAN_DER_POL.torch_func(), VAN_DER_POL.y0_tensor()
    many = solve(func, y0, t, method=method, rtol=tol, atol=tol).ys
    t_index = range(1, len(t))
    alone = [solve(func, y0, t[[0, i]], method=method, rtol=tol, atol=tol).ys[-1] for i in t_index]
    # Both are within their global error (≤ 30 tol on Van der Pol) of the truth; measured
    # differences are ≤ 9 tol.
    assert (many[1:] - torch.stack(alone)).abs().max() <= 30 * tol


@pytest.mark.parametrize("method", ADAPTIVE)
def test_output_times_do_not_change_the_steps(method: str) -> None:
    func, y0 = VAN_DER_POL.torch_func(), VAN_DER_POL.y0_tensor()
    few = solve(func, y0, VAN_DER_POL.times(2), method=method)
    many = solve(func, y0, VAN_DER_POL.times(200), method=method)
    assert many.stats.steps_accepted == few.stats.steps_accepted
    assert torch.equal(many.ys[-1], few.ys[-1])


@pytest.mark.parametrize("method", (*ADAPTIVE, "rk4"))
def test_backwards_in_time_matches_the_closed_form(method: str) -> None:
    t = torch.linspace(LINEAR.t1, LINEAR.t0, 11, dtype=torch.float64)
    exact = torch.from_numpy(LINEAR.reference(t.numpy()))
    options = {"step_size": 0.01} if method == "rk4" else None
    ys = odeint(LINEAR.torch_func(), exact[0], t, method=method, options=options)
    # odeint's default tolerances are 1e-7 / 1e-9; the linear problem's error multiple ≤ 24.
    assert (ys - exact).abs().max() < 1e-5


@pytest.mark.parametrize("method", ADAPTIVE + FIXED)
def test_float32_state_keeps_float64_time(method: str) -> None:
    # Near t = 1e5 float32 resolves only 0.008 in time: steps of 1e-3 would stall if the
    # solver kept time in float32. func still receives float32 times.
    t0 = 1e5
    t = torch.tensor([t0, t0 + 0.05, t0 + 0.1], dtype=torch.float64)
    seen = []

    def func(t, y):
        seen.append(t.dtype)
        return -20.0 * y

    options = {"step_size": 1e-3} if method in FIXED else None
    ys = odeint(func, torch.ones(3), t, method=method, rtol=1e-5, atol=1e-6, options=options)
    assert ys.dtype == torch.float32 and set(seen) == {torch.float32}
    exact = torch.exp(-20.0 * (t - t0)).float()
    tolerance = {"euler": 0.02, "midpoint": 1e-3, "heun": 1e-3}.get(method, 1e-4)
    assert (ys[:, 0] - exact).abs().max() < tolerance


def test_tuple_state_matches_the_flat_state_and_torchdiffeq() -> None:
    def oscillator(t, state):
        x, v = state
        return v.reshape(2), -x.reshape(1, 2)

    x0, v0 = torch.tensor([1.0, 0.5], dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
    t = torch.linspace(0, 3, 7, dtype=torch.float64)
    xs, vs = odeint(oscillator, (x0, v0), t)
    assert xs.shape == (7, 2) and vs.shape == (7, 1, 2)
    np.testing.assert_allclose(xs.numpy(), (torch.cos(t)[:, None] * x0).numpy(), atol=1e-7)
    ref_xs, ref_vs = torchdiffeq.odeint(oscillator, (x0, v0), t)
    np.testing.assert_allclose(vs.numpy(), ref_vs.numpy(), atol=1e-7)
    np.testing.assert_allclose(xs.numpy(), ref_xs.numpy(), atol=1e-7)


@pytest.mark.parametrize("method", FIXED)
def test_fixed_step_results_do_not_depend_on_batch_mates(method: str) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    net = net.double()
    batch = torch.randn(8, 3, dtype=torch.float64)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    with torch.no_grad():
        together = odeint(lambda t, y: net(y), batch, t, method=method, options={"step_size": 0.1})
        for i in range(8):
            alone = odeint(
                lambda t, y: net(y), batch[i : i + 1], t, method=method, options={"step_size": 0.1}
            )
            # Same arithmetic per row; only BLAS blocking may differ in the last bits.
            assert (together[:, i : i + 1] - alone).abs().max() < 1e-13


@pytest.mark.parametrize("method", ADAPTIVE + FIXED)
@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_no_evaluation_outside_the_time_span(method: str, direction: float) -> None:
    t = direction * torch.tensor([0.3, 0.35, 0.9, 1.7], dtype=torch.float64)
    func = Recorder(VAN_DER_POL.torch_func())
    options = {"step_size": 0.07} if method in FIXED else {"step_t": [direction * 1.0]}
    odeint(func, VAN_DER_POL.y0_tensor(), t, method=method, rtol=1e-4, atol=1e-4, options=options)
    low, high = sorted((float(t[0]), float(t[-1])))
    assert low <= min(func.times) and max(func.times) <= high


def test_jump_t_lands_on_the_discontinuity_and_reevaluates_after_it() -> None:
    # dy/dt = -y before t = 1, +y after: y = e^{-t}, then e^{-1} e^{t - 1}.
    def switch(t, y):
        return torch.where(t < 1.0, -y, y)

    y0 = torch.ones(1, dtype=torch.float64)
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    exact = math.exp(-1.0) * math.exp(1.0)
    func = Recorder(switch)
    with_jump = solve(func, y0, t, rtol=1e-8, atol=1e-8, options={"jump_t": [1.0]})
    without = solve(switch, y0, t, rtol=1e-8, atol=1e-8)
    assert abs(with_jump.ys[-1].item() - exact) < 1e-7
    assert with_jump.stats.nfe_forward < without.stats.nfe_forward
    # Stages at the end of the step into the jump are evaluated just before it, and the
    # derivative after it just after it (no FSAL reuse across the jump).
    assert math.nextafter(1.0, 0.0) in func.times and math.nextafter(1.0, 2.0) in func.times


def test_step_t_lands_on_the_given_time() -> None:
    func = Recorder(decay)
    solve(
        func,
        torch.ones(1, dtype=torch.float64),
        torch.tensor([0.0, 2.0]).double(),
        options={"step_t": torch.tensor([0.7351], dtype=torch.float64)},
    )
    assert 0.7351 in func.times


def test_fixed_grid_interpolation_matches_torchdiffeq() -> None:
    # Same 3/8-rule rk4 and the same grid: linear and cubic interpolation agree with
    # torchdiffeq's to round-off.
    func, y0 = VAN_DER_POL.torch_func(), VAN_DER_POL.y0_tensor()
    t = torch.tensor([0.0, 0.33, 0.5, 1.25, 2.0], dtype=torch.float64)
    for interp in ("linear", "cubic"):
        options = {"step_size": 0.1, "interp": interp}
        ours = odeint(func, y0, t, method="rk4", options=options)
        theirs = torchdiffeq.odeint(func, y0, t, method="rk4", options=options)
        assert (ours - theirs).abs().max() < 1e-12


def test_grid_constructor_defines_the_steps() -> None:
    func = Recorder(decay)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def grid(f, y0, t):
        return torch.tensor([0.0, 0.1, 0.5, 1.0], dtype=torch.float64)

    ys = odeint(
        func,
        torch.ones(1, dtype=torch.float64),
        t,
        method="euler",
        options={"grid_constructor": grid},
    )
    assert func.times == [0.0, 0.1, 0.5]
    assert ys[-1].item() == pytest.approx(1.0 * 0.9 * 0.6 * 0.5)


def test_max_step_and_first_step_are_honoured() -> None:
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    y0 = torch.ones(1, dtype=torch.float64)
    capped = solve(decay, y0, t, rtol=1e-3, atol=1e-3, options={"max_step": 0.05})
    assert capped.stats.steps_accepted >= 20
    first = solve(decay, y0, t, options={"first_step": 0.123})
    assert first.stats.info["initial_step"] == 0.123


def test_min_step_accepts_steps_whatever_their_error() -> None:
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    y0 = torch.ones(1, dtype=torch.float64)
    forced = solve(decay, y0, t, rtol=1e-12, atol=1e-12, options={"min_step": 0.25})
    assert forced.stats.steps_accepted == 4 and forced.stats.steps_rejected == 0


@pytest.mark.parametrize("method", ADAPTIVE + FIXED)
def test_stats_count_every_evaluation(method: str) -> None:
    func = Recorder(VAN_DER_POL.torch_func())
    t = torch.linspace(0.0, 2.0, 9, dtype=torch.float64)
    options = {"step_size": 0.1} if method in FIXED else None
    stats = solve(func, VAN_DER_POL.y0_tensor(), t, method=method, options=options).stats
    assert stats.nfe_forward == len(func.times) and stats.nfe_backward == 0
    assert stats.steps_accepted > 0 and stats.info["method"] == method


def test_single_time_returns_the_initial_state() -> None:
    y0 = torch.randn(2, 3)
    ys = odeint(decay, y0, torch.tensor([0.5]))
    assert ys.shape == (1, 2, 3) and torch.equal(ys[0], y0)


def test_any_state_shape_and_batch_dimensions() -> None:
    y0 = torch.randn(4, 2, 3, dtype=torch.float64)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    ys = odeint(decay, y0, t, rtol=1e-9, atol=1e-9)
    assert ys.shape == (3, 4, 2, 3)
    assert (ys - torch.exp(-t)[:, None, None, None] * y0).abs().max() < 1e-8


def test_solve_is_odeint_with_stats() -> None:
    func, y0, t = VAN_DER_POL.torch_func(), VAN_DER_POL.y0_tensor(), VAN_DER_POL.times(5)
    solution = solve(func, y0, t, rtol=1e-7, atol=1e-9)
    assert torch.equal(solution.ys, odeint(func, y0, t))
    assert isinstance(solution.stats, odedsl.SolverStats)


@pytest.mark.parametrize("method", ADAPTIVE + FIXED)
def test_graph_mode_computes_the_same_solution(method: str) -> None:
    """With gradients tracked the stages are combined differently (chained adds, stacked
    dense output); the values must agree with the no-grad path to round-off."""
    t = torch.linspace(0.0, 2.0, 13, dtype=torch.float64)
    y0 = VAN_DER_POL.y0_tensor()
    options = {"step_size": 0.1} if method in FIXED else None
    with torch.no_grad():
        plain = odeint(VAN_DER_POL.torch_func(), y0, t, method=method, options=options)
    tracked = odeint(
        VAN_DER_POL.torch_func(), y0.requires_grad_(), t, method=method, options=options
    )
    assert tracked.requires_grad
    assert (tracked.detach() - plain).abs().max() < 1e-12


def test_per_element_tolerances() -> None:
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    y0 = torch.ones(2, dtype=torch.float64)
    mixed = solve(decay, y0, t, rtol=torch.tensor([1e-10, 1e-3]), atol=1e-12)
    tight = solve(decay, y0, t, rtol=1e-10, atol=1e-12)
    loose = solve(decay, y0, t, rtol=1e-3, atol=1e-12)
    assert loose.stats.nfe_forward < mixed.stats.nfe_forward <= tight.stats.nfe_forward
    # The tightly controlled component keeps (a small multiple of) its tolerance.
    assert abs(mixed.ys[-1, 0].item() - math.exp(-1.0)) < 1e-9


def test_direct_gradient_smoke() -> None:
    """Backprop through the solver: d y(T)/d y0 is the matrix exponential, d y(T)/dT is f."""
    y0 = torch.tensor(LINEAR.y0, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.5], dtype=torch.float64, requires_grad=True)
    y_end = odeint(LINEAR.torch_func(), y0, t, rtol=1e-10, atol=1e-10)[-1]
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    (y_end @ weights).backward()
    a = torch.as_tensor(np.array([[-0.1, 2.0, 0.0], [-2.0, -0.1, 0.5], [0.0, 0.0, -0.7]]))
    expected = torch.matrix_exp(1.5 * a).T @ weights
    assert (y0.grad - expected).abs().max() < 1e-8
    assert t.grad[1].item() == pytest.approx(float(a @ y_end.detach() @ weights), rel=1e-8)
    assert t.grad[0].item() == pytest.approx(-float(expected @ a @ y0.detach()), rel=1e-7)


def test_float32_graph_path_rounds_once_per_step() -> None:
    """With gradients on, a step forms y0 + h Σ b_j k_j from graph stages: the increment
    must be summed before it meets y0. 300 rk4 steps of y' = 0.2 in float32 from y = 3.2:
    one rounding per step (half of float32's spacing 2.4e-7 there) bounds the error by
    300 · 1.2e-7 = 3.6e-5; adding the four stages to y0 one by one erred by 1.0e-4."""
    y0 = torch.tensor([3.2], requires_grad=True)
    ys = odedsl.odeint(
        lambda t, y: torch.full_like(y, 0.2),
        y0,
        torch.tensor([0.0, 3.0]),
        method="rk4",
        options={"step_size": 0.01},
    )
    assert abs(ys[-1].item() - 3.8) < 3.6e-5
