"""Failures: ``SolverError`` for failed solves, ``ValueError`` naming the bad argument."""

from __future__ import annotations

import pytest
import torch

from odedsl import SolverError, odeint, solve

T = torch.tensor([0.0, 1.0], dtype=torch.float64)
Y0 = torch.ones(2, dtype=torch.float64)


def decay(t, y):
    return -y


def nan_after_half(t, y):
    return torch.where(t < 0.5, -y, y * float("nan"))


def assert_informative(error: SolverError) -> None:
    """The message names the time, the step size, the steps taken and a hint."""
    message = str(error)
    assert "t=" in message and "step size" in message and "Hint" in message, message
    assert "steps" in message, message


@pytest.mark.parametrize("method", ["dopri5", "dopri8", "bosh3"])
def test_non_finite_derivative_raises_solver_error(method: str) -> None:
    with pytest.raises(SolverError, match="non-finite") as info:
        solve(nan_after_half, Y0, T, method=method)
    assert "t=0.5" in str(info.value)
    assert_informative(info.value)


def test_non_finite_state_on_a_fixed_grid_raises_solver_error() -> None:
    with pytest.raises(SolverError, match="not finite") as info:
        solve(nan_after_half, Y0, T, method="rk4", options={"step_size": 0.1})
    assert_informative(info.value)


def test_non_finite_initial_state_raises_solver_error() -> None:
    with pytest.raises(SolverError, match="initial state"):
        solve(decay, torch.tensor([1.0, float("inf")]), T)


def test_blow_up_raises_step_size_underflow() -> None:
    # y' = y², y(0) = 1 blows up at t = 1.
    with pytest.raises(SolverError, match="underflow") as info:
        solve(lambda t, y: y * y, Y0, torch.tensor([0.0, 2.0]), options={"max_num_steps": 10**6})
    assert "t=1" in str(info.value)
    assert_informative(info.value)


def test_too_many_steps_raises_solver_error() -> None:
    with pytest.raises(SolverError, match="max_num_steps=5") as info:
        solve(decay, Y0, torch.tensor([0.0, 100.0]), options={"max_num_steps": 5})
    assert_informative(info.value)


def test_max_num_steps_is_finite_by_default() -> None:
    # A solve that can never finish at this tolerance stops instead of hanging.
    with pytest.raises(SolverError, match="max_num_steps"):
        solve(
            lambda t, y: torch.cos(100 * t) * y,
            Y0,
            torch.tensor([0.0, 1e4]),
            rtol=1e-10,
            atol=1e-10,
            method="bosh3",
        )


BAD_ARGUMENTS = [
    (dict(t=torch.tensor([0.0, 1.0, 0.5])), "strictly increasing or strictly decreasing"),
    (dict(t=torch.tensor([0.0, 1.0, 1.0])), "strictly increasing"),
    (dict(t=torch.tensor([[0.0, 1.0]])), "1-D"),
    (dict(t=torch.tensor([0, 1])), "t must be a floating-point"),
    (dict(t=torch.tensor([0.0, float("nan")])), "finite"),
    (dict(method="dopri"), "did you mean 'dopri5' or 'dopri8'"),
    (dict(method="rk45"), "unknown method 'rk45'"),
    (dict(rtol=-1e-3), "rtol must be finite and non-negative"),
    (dict(atol=torch.tensor([-1.0, 1.0])), "atol must be finite and non-negative"),
    (dict(rtol=0.0, atol=0.0), "must not both be zero"),
    (dict(atol=torch.tensor([1e-6, 1e-6, 1e-6])), "does not broadcast"),
    (dict(rtol="tight"), "rtol must be a non-negative number"),
    (dict(y0=torch.tensor([1, 2])), "y0 must be a floating-point or complex tensor"),
    (dict(y0=[1.0, 2.0]), "y0 must be a tensor"),
    (dict(y0=(Y0, Y0.float())), "share precision and device"),
    (dict(func=lambda t, y: y[:1]), "shape"),
    (dict(func=lambda t, y: y.float()), "dtype"),
    (dict(func=lambda t, y: 1.0), "must return a tensor"),
    (dict(func="decay"), "func must be callable"),
    (dict(options={"max_num_step": 10}), "did you mean 'max_num_steps'"),
    (dict(options={"step_sise": 0.1}), "unknown option 'step_sise'.*did you mean 'step_size'"),
    (dict(options={"safety": 2.0}), r"options\['safety'\]"),
    (dict(options={"controller": "pid"}), "did you mean 'pi'"),
    (dict(options={"max_num_steps": 0}), "positive integer"),
    (dict(options={"min_step": 0.5, "max_step": 0.1}), "min_step"),
    (dict(options=[("safety", 0.9)]), "options must be a dict"),
    (
        dict(method="rk4", options={"step_size": 0.1, "grid_constructor": lambda f, y, t: t}),
        "mutually exclusive",
    ),
    (dict(method="rk4", options={"grid_constructor": lambda f, y, t: t[:1]}), "grid"),
    (dict(method="rk4", options={"interp": "quadratic"}), "interp"),
    (dict(method="rk4", options={"step_size": -0.1}), "step_size"),
    (dict(gradient="adjiont"), "did you mean 'adjoint'"),
    (dict(gradient="adjoint", adjoint_params=(), adjoint_norm="semi"), "adjoint_norm"),
    (dict(gradient="adjoint", adjoint_params=[1.0]), r"adjoint_params\[0\] must be a tensor"),
    (dict(gradient="adjoint"), "adjoint_params: func is not an nn.Module"),
    (dict(gradient="adjoint", adjoint_params=(), adjoint_method="dopri"), "did you mean"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_ARGUMENTS)
def test_bad_arguments_raise_value_error_naming_them(overrides: dict, message: str) -> None:
    arguments = dict(func=decay, y0=Y0, t=T) | overrides
    func, y0, t = arguments.pop("func"), arguments.pop("y0"), arguments.pop("t")
    with pytest.raises(ValueError, match=message):
        solve(func, y0, t, **arguments)


def test_tuple_state_errors_name_the_part() -> None:
    state = (torch.ones(2), torch.ones(3))
    with pytest.raises(ValueError, match="part 1"):
        odeint(lambda t, s: (s[0], s[1][:2]), state, T)
    with pytest.raises(ValueError, match="tuple of 2 tensors"):
        odeint(lambda t, s: s[0], state, T)
    with pytest.raises(ValueError, match="one entry per part"):
        odeint(lambda t, s: s, state, T, rtol=(1e-3, 1e-3, 1e-3))
