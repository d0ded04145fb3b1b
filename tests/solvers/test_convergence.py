"""Empirical order of convergence of every Runge–Kutta method on fixed grids.

The embedded pairs run on fixed grids too (their propagated solution ``b``). The problem is
``ROTATION``: nonlinear, smooth, with a closed form, so the error at the end time measures
the global error. Each method gets step sizes in its asymptotic range, above round-off: the
least-squares slope of log(error) against log(h) must be within 0.2 of the order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from odedsl.solvers.fixed_adams import FixedAdamsSolver
from odedsl.solvers.methods import SOLVERS, runge_kutta_solver
from odedsl.solvers.solution import SolverStats
from odedsl.solvers.tableau import ButcherTableau

from .problems import ROTATION

# method: (end time, numbers of steps). Orders 5 need a longer span so that the smallest
# steps still sit well above round-off (errors 1e-8 .. 1e-12).
CASES = {
    "euler": (2.0, (128, 256, 512)),
    "midpoint": (2.0, (64, 128, 256)),
    "heun": (2.0, (64, 128, 256)),
    "heun2": (2.0, (64, 128, 256)),
    "heun3": (2.0, (64, 128, 256)),
    "adaptive_heun": (2.0, (64, 128, 256)),
    "fehlberg2": (2.0, (64, 128, 256)),
    "rk4": (2.0, (64, 128, 256)),
    "bosh3": (2.0, (64, 128, 256)),
    "dopri5": (10.0, (500, 1000, 2000)),
    "tsit5": (10.0, (500, 1000, 2000)),
    "dopri8": (2.0, (8, 16, 32)),
}


def fixed_grid_error(method: str, t_end: float, n_steps: int) -> float:
    solver_cls = runge_kutta_solver(SOLVERS[method].tableau, fixed_grid=True)
    solver = solver_cls(
        ROTATION.torch_func(),
        ROTATION.y0_tensor(),
        0.0,
        0.0,
        None,
        {"step_size": t_end / n_steps},
        SolverStats(),
    )
    ys = solver.integrate(torch.tensor([0.0, t_end], dtype=torch.float64))
    exact = ROTATION.reference(np.array([0.0, t_end]))[-1]
    return float(np.abs(ys[-1].numpy() - exact).max())


@pytest.mark.parametrize("method", sorted(CASES))
def test_empirical_order(method: str) -> None:
    t_end, steps = CASES[method]
    errors = [fixed_grid_error(method, t_end, n) for n in steps]
    sizes = [t_end / n for n in steps]
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    order = SOLVERS[method].tableau.order
    assert abs(slope - order) <= 0.2, (method, slope, errors)


def test_every_runge_kutta_method_has_a_case() -> None:
    # the fixed Adams methods start with rk4's tableau; implicit tableaux are tested in
    # test_implicit.py
    runge_kutta = {
        name
        for name, cls in SOLVERS.items()
        if isinstance(getattr(cls, "tableau", None), ButcherTableau)
        and not issubclass(cls, FixedAdamsSolver)
    }
    assert runge_kutta == set(CASES)
