"""``scipy_solver``: scipy's solvers behind odeint, as torchdiffeq wraps them."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from odedsl import solve
from odedsl.errors import SolverError
from odedsl.solvers.api import odeint, odeint_adjoint

from .problems import VAN_DER_POL


@pytest.mark.parametrize("solver", ["LSODA", "RK45", "DOP853", "Radau", "BDF"])
def test_same_numbers_as_solve_ivp(solver: str) -> None:
    t = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)
    ys = odeint(
        VAN_DER_POL.torch_func(),
        VAN_DER_POL.y0_tensor(),
        t,
        method="scipy_solver",
        rtol=1e-6,
        atol=1e-8,
        options={"solver": solver},
    )
    reference = solve_ivp(
        lambda t, y: VAN_DER_POL.rhs(t, y, np),
        (0.0, 3.0),
        np.asarray(VAN_DER_POL.y0),
        method=solver,
        t_eval=t.numpy(),
        rtol=1e-6,
        atol=1e-8,
    )
    np.testing.assert_allclose(ys.numpy(), reference.y.T, rtol=0, atol=1e-14)


def test_decreasing_times_and_shapes() -> None:
    # y' = -y on a (2, 2) state backwards from t = 1: y(0) = e^1 y(1)
    t = torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64)
    y1 = torch.ones(2, 2, dtype=torch.float64)
    ys = odeint(lambda t, y: -y, y1, t, method="scipy_solver", rtol=1e-10, atol=1e-10)
    assert ys.shape == (3, 2, 2)
    torch.testing.assert_close(ys[-1], np.e * y1, rtol=1e-8, atol=0)


def test_adjoint_gradients_match_a_direct_solve() -> None:
    weight = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)

    def func(t, y):
        return torch.tanh(y @ weight)

    kwargs = {"rtol": 1e-10, "atol": 1e-10}
    ys = odeint_adjoint(
        func,
        y0,
        t,
        method="scipy_solver",
        options={"solver": "DOP853"},
        adjoint_params=(weight,),
        **kwargs,
    )
    ours = torch.autograd.grad(ys.sum(), (y0, weight))
    reference = solve(func, y0, t, method="dopri8", **kwargs).ys
    direct = torch.autograd.grad(reference.sum(), (y0, weight))
    for a, b in zip(ours, direct, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)


def test_a_direct_gradient_request_warns() -> None:
    y0 = torch.ones(1, dtype=torch.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="odeint_adjoint"):
        odeint(lambda t, y: -y, y0, torch.tensor([0.0, 1.0]), method="scipy_solver")


def test_max_num_steps_and_bad_solver() -> None:
    args = (VAN_DER_POL.torch_func(), VAN_DER_POL.y0_tensor(), VAN_DER_POL.times(3))
    with pytest.raises(SolverError, match="max_num_steps=3"):
        odeint(*args, method="scipy_solver", options={"max_num_steps": 3})
    with pytest.raises(ValueError, match="did you mean 'Radau'"):
        odeint(*args, method="scipy_solver", options={"solver": "radau"})


def test_missing_scipy_names_the_extra(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    monkeypatch.delitem(sys.modules, "scipy.integrate", raising=False)
    with pytest.raises(ImportError, match=r"odedsl\[scipy\]"):
        odeint(lambda t, y: -y, torch.ones(1), torch.tensor([0.0, 1.0]), method="scipy_solver")
