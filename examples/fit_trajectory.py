"""Fit a neural ODE to an observed trajectory with odedsl's solvers alone (no spec).

The data are a damped spiral, dz/dt = A z, observed at 40 times. A small MLP learns the
field; gradients come from the adjoint method (a reverse-time solve per pair of output times,
constant memory). Before training, the adjoint gradient is compared with backpropagation
through the solver's steps: they agree to the solver tolerance.

    python examples/fit_trajectory.py             # 200 iterations, about a minute
    python examples/fit_trajectory.py --iterations 20
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import odedsl

A = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]], dtype=torch.float64)


def spiral(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return z @ A.T


class Field(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2)).double()

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    torch.manual_seed(0)
    times = torch.linspace(0.0, 5.0, 40, dtype=torch.float64)
    z0 = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        observed = odedsl.odeint(spiral, z0, times, method="dopri5", rtol=1e-9, atol=1e-9)

    field = Field()
    tolerances = {"method": "dopri5", "rtol": 1e-6, "atol": 1e-8}

    def loss(gradient: str) -> torch.Tensor:
        solution = odedsl.solve(field, z0, times, gradient=gradient, **tolerances)
        return (solution.ys - observed).abs().mean()

    adjoint = torch.autograd.grad(loss("adjoint"), list(field.parameters()))
    direct = torch.autograd.grad(loss("direct"), list(field.parameters()))
    difference = max((a - d).abs().max().item() for a, d in zip(adjoint, direct, strict=True))
    scale = max(d.abs().max().item() for d in direct)
    print(
        f"adjoint vs direct gradient: largest difference {difference:.1e} "
        f"(largest entry {scale:.1e})"
    )

    optimizer = torch.optim.Adam(field.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.iterations)
    for iteration in range(1, args.iterations + 1):
        optimizer.zero_grad()
        value = loss("adjoint")
        value.backward()
        optimizer.step()
        schedule.step()
        if iteration % max(1, args.iterations // 5) == 0:
            print(f"iteration {iteration:4d}  mean absolute error {value.item():.4f}")
    solution = odedsl.solve(field, z0, times, **tolerances)
    print(f"fitted trajectory: mean absolute error {(solution.ys - observed).abs().mean():.4f}")
    print(f"last solve: {solution.stats}")


if __name__ == "__main__":
    main()
