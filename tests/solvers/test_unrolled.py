"""The unrolled fixed-grid solve (``odedsl.solvers.unrolled``): the same solution, gradients
and evaluation count as ``FixedGridSolver``, and no host synchronisation in a solve or its
backward pass (counted by patching every tensor-to-host read)."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from odedsl.solvers import solve
from odedsl.solvers.unrolled import make_plan, run_plan, supports


class Field(nn.Module):
    """A small nonlinear, time-dependent field with parameters: ``W2 tanh(W1 y + t) ``."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.w1 = nn.Parameter(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
        self.w2 = nn.Parameter(torch.randn(dim, dim, generator=generator, dtype=torch.float64))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y @ self.w1.T + t) @ self.w2.T


@pytest.fixture
def field() -> Field:
    return Field()


@pytest.fixture
def y0() -> torch.Tensor:
    return torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


# Output times on and between the grid points of step 0.25 (0.1 and 0.6 inside steps, 0.5 on
# one), increasing and decreasing, and the end point alone; cubic and linear dense output.
TIMES = [[0.0, 0.1, 0.5, 0.6, 1.0], [1.0, 0.6, 0.5, 0.1, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "rk4"])
@pytest.mark.parametrize("times", TIMES)
@pytest.mark.parametrize("interp", ["cubic", "linear"])
def test_the_unrolled_solve_is_the_fixed_grid_solve(field, y0, method, times, interp) -> None:
    t = torch.tensor(times, dtype=torch.float64)
    options = {"step_size": 0.25, "interp": interp}
    y0 = y0.clone().requires_grad_(True)
    eager = solve(field, y0, t, method=method, options=options)
    plan = make_plan(method, y0, t, options)
    ys = run_plan(field, y0, plan)
    # The same operations up to the order of additions: float64 rounding only.
    torch.testing.assert_close(ys, eager.ys, rtol=1e-13, atol=1e-13)
    assert plan.nfe == eager.stats.nfe_forward
    assert len(plan.steps) == eager.stats.steps_accepted
    inputs = (y0, *field.parameters())
    expected = torch.autograd.grad(eager.ys.square().sum(), inputs)
    got = torch.autograd.grad(ys.square().sum(), inputs)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)


def test_which_solves_can_be_unrolled() -> None:
    t = torch.tensor([0.0, 1.0])
    assert supports("rk4", {"step_size": 0.1}, t)
    assert not supports("dopri5", {}, t)  # adaptive: step control reads the error
    assert not supports("rk4", {"step_size": 0.1, "step_callback": print}, t)
    assert not supports("rk4", {"grid_constructor": lambda f, y, t: t}, t)
    assert not supports("rk4", {"step_size": 0.1}, t.clone().requires_grad_(True))


def test_more_steps_than_max_num_steps_are_left_to_the_eager_solver(y0) -> None:
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert make_plan("rk4", y0, t, {"step_size": 0.1, "max_num_steps": 5}) is None


# Every way a tensor's value reaches Python: each is a device synchronisation on a GPU.
HOST_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")


@contextlib.contextmanager
def counting_host_reads():
    """Count calls of ``HOST_READS`` on any tensor while active."""
    calls: list[str] = []
    originals = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def counted(name):
        original = originals[name]

        def read(self, *args, **kwargs):
            calls.append(name)
            return original(self, *args, **kwargs)

        return read

    for name in HOST_READS:
        setattr(torch.Tensor, name, counted(name))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def test_a_fixed_step_solve_and_its_backward_pass_read_nothing_back(field, y0) -> None:
    t = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    plan = make_plan("rk4", y0, t, {"step_size": 0.125})  # planned once, on the host
    y0 = y0.clone().requires_grad_(True)
    with counting_host_reads() as calls:
        ys = run_plan(field, y0, plan)
        ys.square().sum().backward()
    assert calls == []
    assert y0.grad is not None and field.w1.grad is not None


def test_the_counter_sees_host_reads(field, y0) -> None:
    """The hook can fail: the eager fixed-grid driver checks each output for NaN on the host."""
    t = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    with counting_host_reads() as calls:
        solve(field, y0, t, method="rk4", options={"step_size": 0.125})
    assert calls
