"""The implicit fixed-grid methods (torchdiffeq's names): order on a stiff problem, accuracy
against scipy, gradients (gradcheck, directly and through the adjoint), the dense and the
matrix-free Newton paths, failures, and torchdiffeq HEAD's numbers where it is importable.

Independent truth: the matrix exponential, scipy's DOP853 at 1e-12, central differences
(gradcheck), and torchdiffeq itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from odedsl import solve
from odedsl.errors import SolverError
from odedsl.solvers import newton
from odedsl.solvers.api import odeint
from odedsl.solvers.implicit import ImplicitFixedGridSolver
from odedsl.solvers.methods import SOLVERS

from .problems import VAN_DER_POL

IMPLICIT = (
    "implicit_euler",
    "implicit_midpoint",
    "trapezoid",
    "radauIIA3",
    "radauIIA5",
    "gl4",
    "gl6",
    "sdirk2",
    "trbdf2",
)
SYMMETRIC = ("implicit_midpoint", "gl4", "gl6")  # the Gauss methods (symplectic)


def test_every_implicit_method_is_tested() -> None:
    implicit = {n for n, cls in SOLVERS.items() if issubclass(cls, ImplicitFixedGridSolver)}
    assert implicit == set(IMPLICIT)


# -------------------------------------------------------------------------- stiff order


def _stiff_system() -> tuple[np.ndarray, np.ndarray]:
    """``y' = A y`` with eigenvalues ±5i, -10, -100, -1000 mixed by a fixed rotation."""
    d = np.zeros((5, 5))
    d[0, 1], d[1, 0] = 5.0, -5.0
    d[2, 2], d[3, 3], d[4, 4] = -10.0, -100.0, -1000.0
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))
    return q @ d @ q.T, np.ones(5)


# Step sizes in each method's asymptotic range on [0, 1], with errors 1e-1 .. 1e-12 (above
# round-off). The A-stable but not L-stable methods (Gauss, trapezoid) damp the -1000 mode
# by |R(-1000 h)| per step only, so their steps stay where R^(1/h) is negligible
# (trapezoid at h = 0.01: 0.67^100); the L-stable ones take any step.
STIFF_STEPS = {
    "implicit_euler": (0.01, 0.005, 0.0025),
    "implicit_midpoint": (0.01, 0.005, 0.0025),
    "trapezoid": (0.01, 0.005, 0.0025),
    "radauIIA3": (0.04, 0.02, 0.01),
    "radauIIA5": (0.05, 0.025, 0.0125),
    "gl4": (0.02, 0.01, 0.005),
    "gl6": (0.025, 1 / 60, 0.0125),
    "sdirk2": (0.02, 0.01, 0.005),
    "trbdf2": (0.02, 0.01, 0.005),
}


def stiff_order(method: str) -> tuple[float, list[float]]:
    """The empirical order (log-log slope of the error at t = 1 against the step size over
    ``STIFF_STEPS``) of ``method`` on the stiff system, and the errors."""
    a, y0 = _stiff_system()
    matrix = torch.tensor(a)
    exact = expm(a) @ y0
    steps = STIFF_STEPS[method]
    errors = []
    for h in steps:
        ys = odeint(
            lambda t, y: matrix @ y,
            torch.tensor(y0),
            torch.tensor([0.0, 1.0], dtype=torch.float64),
            method=method,
            options={"step_size": h},
        )
        errors.append(float(np.abs(ys[-1].numpy() - exact).max()))
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0]), errors


@pytest.mark.parametrize("method", IMPLICIT)
def test_order_on_a_stiff_linear_problem(method: str) -> None:
    slope, errors = stiff_order(method)
    assert abs(slope - SOLVERS[method].tableau.order) <= 0.2, (method, slope, errors)


# -------------------------------------------------------------------------- accuracy


# Largest error against scipy on Van der Pol (μ = 1, t ∈ [0, 2], h = 0.01): 3x each method's
# measured error (1.3e-2 for order 1 down to 2.3e-10 for gl4), and 5e-11 for radauIIA5 and
# gl6, whose errors (~1e-12) sit at the reference's own (DOP853 at 1e-12).
VDP_ERROR = {
    "implicit_euler": 4e-2,
    "implicit_midpoint": 5e-5,
    "trapezoid": 1.6e-4,
    "radauIIA3": 3e-7,
    "radauIIA5": 5e-11,
    "gl4": 7e-10,
    "gl6": 5e-11,
    "sdirk2": 5e-5,
    "trbdf2": 8e-5,
}


@pytest.mark.parametrize("method", IMPLICIT)
def test_matches_scipy_on_a_smooth_problem(method: str) -> None:
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    ys = odeint(
        VAN_DER_POL.torch_func(),
        VAN_DER_POL.y0_tensor(),
        t,
        method=method,
        options={"step_size": 0.01},
    )
    error = np.abs(ys.numpy() - VAN_DER_POL.reference(t.numpy())).max()
    assert error <= VDP_ERROR[method], (method, error)


@pytest.mark.parametrize("interp", ["linear", "cubic"])
def test_output_times_between_grid_points_use_the_fixed_grid_interpolation(interp) -> None:
    # y' = -y from 1 on a grid of 0.1: the midpoint 0.05 from the two grid values, linearly
    # (error ~ h²/8 = 1e-3) or by cubic Hermite (error ~ h⁴/384 = 3e-7)
    t = torch.tensor([0.0, 0.05, 0.1], dtype=torch.float64)
    ys = odeint(
        lambda t, y: -y,
        torch.ones(1, dtype=torch.float64),
        t,
        method="radauIIA5",
        options={"step_size": 0.1, "interp": interp},
    )
    y_grid = ys[-1]  # radauIIA5 at one step of 0.1: exact to 1e-10
    if interp == "linear":
        expected = 0.5 * (1.0 + y_grid)
        torch.testing.assert_close(ys[1], expected, rtol=0, atol=1e-14)
    else:
        assert abs(float(ys[1]) - np.exp(-0.05)) < 1e-6


# -------------------------------------------------------------------------- gradients

W0 = torch.tensor([[0.5, -1.0], [0.8, 0.2]], dtype=torch.float64)
Y0 = torch.tensor([0.4, -0.3], dtype=torch.float64)
TIMES = torch.tensor([0.0, 0.2, 0.4], dtype=torch.float64)


def _solve(method: str, gradient: str, linear_solver: str = "dense"):
    def run(y0: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        def func(t, z):
            return torch.tanh(z @ w) - 2.0 * z + 0.3 * torch.sin(t)

        options = {"step_size": 0.05, "linear_solver": linear_solver}
        return solve(
            func, y0, TIMES, method=method, options=options, gradient=gradient, adjoint_params=(w,)
        ).ys

    return run


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return Y0.clone().requires_grad_(True), W0.clone().requires_grad_(True)


@pytest.mark.parametrize("method", IMPLICIT)
def test_gradcheck_direct(method: str) -> None:
    # The stages converge to a few ulps, so central differences (eps 1e-6) of the forward
    # map are exact to ~1e-9, and the implicit-function-theorem gradient is exact.
    assert torch.autograd.gradcheck(_solve(method, "direct"), _inputs(), atol=1e-7, rtol=1e-5)


# The adjoint differentiates the ODE, not the discrete map: its gradient differs from the
# discrete one by the method's error, O(h^p) at h = 0.05. Measured largest difference per
# method (about 1/3 of these), except the Gauss methods, whose discrete and continuous
# adjoints coincide (they are symplectic): there gradcheck's own tolerance holds.
ADJOINT_ATOL = {
    "implicit_euler": 3e-2,
    "trapezoid": 5e-4,
    "radauIIA3": 1.5e-5,
    "radauIIA5": 1e-7,
    "sdirk2": 1.5e-4,
    "trbdf2": 2.5e-4,
}


@pytest.mark.parametrize("method", IMPLICIT)
def test_gradcheck_adjoint(method: str) -> None:
    atol = ADJOINT_ATOL.get(method, 1e-7)
    assert torch.autograd.gradcheck(_solve(method, "adjoint"), _inputs(), atol=atol, rtol=1e-5)


@pytest.mark.parametrize("method", SYMMETRIC)
def test_symplectic_methods_adjoint_equals_the_discrete_gradient(method: str) -> None:
    y0, w = _inputs()
    direct = torch.autograd.grad(_solve(method, "direct")(y0, w).sum(), (y0, w))
    adjoint = torch.autograd.grad(_solve(method, "adjoint")(y0, w).sum(), (y0, w))
    for a, b in zip(direct, adjoint, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


# -------------------------------------------------------------------------- Newton paths


@pytest.mark.parametrize("gradient", ["direct", "adjoint"])
@pytest.mark.parametrize("method", IMPLICIT)
def test_dense_and_krylov_newton_agree(method: str, gradient: str) -> None:
    # through the adjoint, both paths solve the backward stages with finite-difference
    # Jacobians (the augmented dynamics are not differentiable)
    results = []
    for linear_solver in ("dense", "krylov"):
        y0, w = _inputs()
        ys = _solve(method, gradient, linear_solver)(y0, w)
        results.append((ys.detach(), *torch.autograd.grad(ys.sum(), (y0, w))))
    for dense, krylov in zip(*results, strict=True):
        torch.testing.assert_close(dense, krylov, rtol=1e-9, atol=1e-10)


def test_krylov_gradcheck() -> None:
    # gradcheck runs the backward twice and demands equal results: GMRES's small
    # least-squares solves differ in the last bits (1e-17), hence nondet_tol.
    run = _solve("radauIIA5", "direct", "krylov")
    assert torch.autograd.gradcheck(run, _inputs(), atol=1e-7, rtol=1e-5, nondet_tol=1e-12)


def test_large_states_go_matrix_free_and_agree_with_the_dense_solve() -> None:
    # 40 coupled states, radauIIA5's 3 stages: 120 unknowns, above DENSE_MAX_SIZE
    assert not newton.use_krylov("auto", newton.DENSE_MAX_SIZE)
    assert newton.use_krylov("auto", 3 * 40)
    generator = torch.Generator().manual_seed(0)
    a = -torch.eye(40, dtype=torch.float64) * torch.logspace(0, 3, 40, dtype=torch.float64)
    a = a + 0.1 * torch.randn(40, 40, generator=generator, dtype=torch.float64)
    y0 = torch.randn(40, generator=generator, dtype=torch.float64)
    t = torch.tensor([0.0, 0.2], dtype=torch.float64)
    results = {
        ls: odeint(
            lambda t, y: a @ y + torch.sin(y),
            y0,
            t,
            method="radauIIA5",
            options={"step_size": 0.05, "linear_solver": ls},
        )
        for ls in ("auto", "dense")
    }
    torch.testing.assert_close(results["auto"], results["dense"], rtol=1e-9, atol=1e-10)


def test_newton_failure_names_the_step_and_the_fix() -> None:
    # y' = -y³ from 10 with one Newton iteration allowed: the first step cannot converge
    with pytest.raises(SolverError) as info:
        odeint(
            lambda t, y: -(y**3),
            torch.tensor([10.0], dtype=torch.float64),
            torch.tensor([0.0, 1.0], dtype=torch.float64),
            method="radauIIA5",
            options={"step_size": 0.5, "max_iters": 1},
        )
    message = str(info.value)
    for part in ("t=0", "t=0.5", "max_iters=1", "residual", "smaller step_size"):
        assert part in message, message


def test_bad_linear_solver_is_refused() -> None:
    with pytest.raises(ValueError, match="linear_solver"):
        odeint(
            lambda t, y: -y,
            torch.ones(1),
            torch.tensor([0.0, 1.0]),
            method="gl4",
            options={"step_size": 0.1, "linear_solver": "lu"},
        )


def test_float32_state_stays_float32() -> None:
    ys = odeint(
        lambda t, y: -y,
        torch.ones(2),
        torch.tensor([0.0, 1.0]),
        method="radauIIA3",
        options={"step_size": 0.1},
    )
    assert ys.dtype == torch.float32
    assert abs(float(ys[-1, 0]) - np.exp(-1.0)) < 1e-5  # order 3 at h = 0.1: ~5e-6


# -------------------------------------------------------------------------- torchdiffeq HEAD


def _torchdiffeq_with(method: str):
    torchdiffeq = pytest.importorskip("torchdiffeq")
    from torchdiffeq._impl.odeint import SOLVERS as THEIRS

    if method not in THEIRS:
        pytest.skip(f"this torchdiffeq ({torchdiffeq.__version__}) has no {method!r}")
    return torchdiffeq


@pytest.mark.parametrize("method", IMPLICIT)
def test_same_call_same_numbers_as_torchdiffeq(method: str) -> None:
    torchdiffeq = _torchdiffeq_with(method)

    def func(t, y):  # autonomous: torchdiffeq's gl4 evaluates its second stage at c_1
        return torch.stack([y[1], -y[0] - 0.5 * y[1] ** 3])

    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 6, dtype=torch.float64)
    options = {"step_size": 0.05}
    ours = odeint(func, y0, t, method=method, options=options)
    theirs = torchdiffeq.odeint(func, y0, t, method=method, options=options)
    # torchdiffeq's Broyden iteration stops at a residual of 1e-8; ours at round-off
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-8)


if __name__ == "__main__":  # python -m tests.solvers.test_implicit: the slopes in the docs
    for name in IMPLICIT:
        slope, errors = stiff_order(name)
        shown = ", ".join(f"{e:.2e}" for e in errors)
        print(f"{name}: slope {slope:.3f} (order {SOLVERS[name].tableau.order}), errors {shown}")
