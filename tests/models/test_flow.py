"""Continuous normalizing flows against closed forms: linear flows, grid integrals, round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from odedsl.data import sample
from odedsl.models.flow import ContinuousFlow, standard_normal_log_prob
from odedsl.models.settings import SolverSettings
from odedsl.nn.trace import AugmentedDynamics
from odedsl.plots.flow import _transformation, density_grid

TIGHT = SolverSettings("dopri5", rtol=1e-9, atol=1e-9, gradient="direct")


class Linear(nn.Module):
    """dz/dt = A z: the flow is z(t) = exp(tA) z(0) and log p changes by exactly −t·tr(A)."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return z @ self.a.T


class Gated(nn.Module):
    """The paper's gated units with their trace written by hand (the symbolic form)."""

    def __init__(self, dim: int = 2, units: int = 16, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(units, dim, generator=g, dtype=torch.float64))
        self.u = nn.Parameter(0.3 * torch.randn(units, dim, generator=g, dtype=torch.float64))
        self.b = nn.Parameter(torch.randn(units, generator=g, dtype=torch.float64))

    def forward(self, t: torch.Tensor, z: torch.Tensor):
        gate = torch.sigmoid(t * torch.linspace(-1, 1, self.b.shape[0], dtype=z.dtype))
        a = torch.tanh(z @ self.w.T + self.b)
        dz = (gate * a) @ self.u
        return dz, ((gate * (1 - a * a)) * (self.u * self.w).sum(-1)).sum(-1)


def flow_of(
    dynamics: nn.Module, trace: str, *, train: SolverSettings = TIGHT, kinetic: float = 0.0, **kw
) -> ContinuousFlow:
    return ContinuousFlow(
        AugmentedDynamics(dynamics, trace, kinetic=bool(kinetic)),
        event_shape=(2,),
        t0=0.0,
        t1=1.0,
        train_solver=train,
        eval_solver=TIGHT,
        kinetic=kinetic,
        **kw,
    )


@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
def test_linear_flow_log_density_change_is_t_trace_a(trace: str) -> None:
    # For dz/dt = A z, x = exp(A) z0 and log p(x) = log N(z0) − tr(A) exactly. Hutchinson's
    # estimate εᵀAε with Rademacher ε is also exact in expectation only, but tr(A) for a
    # diagonal A is εᵀAε for every ε (ε_i² = 1), so both strategies must match to solver
    # tolerance (1e-9 relative, far below the 1e-7 asserted).
    a = torch.tensor([[-0.3, 0.0], [0.0, 0.7]], dtype=torch.float64)
    flow = flow_of(Linear(a), trace)
    x = torch.randn(64, 2, dtype=torch.float64)
    z0 = x @ torch.linalg.matrix_exp(-a).T
    expected = standard_normal_log_prob(z0) - torch.trace(a)
    torch.testing.assert_close(flow.log_prob(x), expected, rtol=1e-7, atol=1e-7)


def test_density_integrates_to_one_on_a_grid() -> None:
    # A trained-looking gated flow keeps its mass within [-6, 6]²; a 120² midpoint grid
    # integrates the smooth density to well under the 2 % the issue allows.
    flow = flow_of(Gated(), "symbolic")
    xs, ys, density = density_grid(flow, (-6.0, 6.0, -6.0, 6.0), resolution=120)
    mass = density.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert mass == pytest.approx(1.0, abs=0.02)


def test_sample_then_log_prob_round_trip() -> None:
    # Pushing base samples forward carries log q = log N(z0) − ∫ tr dt; integrating the
    # samples back with log_prob must give the same number (to solver tolerance).
    flow = flow_of(Gated(), "symbolic")
    x, logq = flow.sample(256, generator=torch.Generator().manual_seed(1), with_log_prob=True)
    torch.testing.assert_close(flow.log_prob(x), logq, rtol=1e-6, atol=1e-6)


def test_symbolic_trace_equals_exact_trace_flow() -> None:
    gated = Gated()
    symbolic = flow_of(gated, "symbolic")
    exact = flow_of(lambda t, z: gated(t, z)[0], "exact")
    x = torch.randn(32, 2, dtype=torch.float64)
    torch.testing.assert_close(symbolic.log_prob(x), exact.log_prob(x), rtol=1e-8, atol=1e-8)


def test_short_maximum_likelihood_training_lowers_nll() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    train = SolverSettings("rk4", gradient="direct", options={"step_size": 0.25})
    flow = flow_of(Gated(units=32).float(), "symbolic", kinetic=0.01, train=train)
    test = torch.as_tensor(sample("Moons", 1000, rng), dtype=torch.float32)
    with torch.no_grad():
        before = -flow.log_prob(test).mean().item()
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    for _ in range(60):
        batch = torch.as_tensor(sample("Moons", 256, rng), dtype=torch.float32)
        loss = flow.loss(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = -flow.log_prob(test).mean().item()
    # Starting near N(0, I) pushed slightly, NLL falls by well over 0.2 nats in 60 steps.
    assert after < before - 0.2, (before, after)


def test_density_matching_lowers_kl_on_u1() -> None:
    torch.manual_seed(0)

    def u1(z: torch.Tensor) -> torch.Tensor:
        norm = z.norm(dim=1)
        return -0.5 * ((norm - 2) / 0.4) ** 2 + torch.logsumexp(
            torch.stack([-0.5 * ((z[:, 0] - 2) / 0.6) ** 2, -0.5 * ((z[:, 0] + 2) / 0.6) ** 2]),
            0,
        )

    train = SolverSettings("rk4", gradient="direct", options={"step_size": 0.25})
    flow = flow_of(Gated(units=32).float(), "symbolic", train=train, objective="kl", target=u1)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = flow.loss(256).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # KL(q‖p) + log Z falls from the base's mismatch with the ring by more than 0.5 nats.
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.5, losses[::10]
    assert math.isfinite(losses[-1])


def test_transformation_starts_from_the_flows_own_base() -> None:
    """The picture's panels run from base samples N(0.5, 2² I) at t = 0 to exp(A) z0 at
    t = 1 (a linear flow, closed form), so the last panel is the flow's own samples."""
    a = torch.tensor([[0.3, -1.0], [1.0, 0.3]], dtype=torch.float64)
    flow = flow_of(Linear(a), "exact", base_mean=0.5, base_std=2.0)
    panels = _transformation(flow, 500, torch.Generator().manual_seed(3))
    noise = torch.randn(500, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z0 = 0.5 + 2.0 * noise
    assert [title for title, _ in panels][::4] == ["t = 0.00", "t = 1.00"]
    np.testing.assert_allclose(panels[0][1], z0.numpy(), rtol=0, atol=1e-12)
    # dopri5 at 1e-9 against the matrix exponential
    expected = z0 @ torch.linalg.matrix_exp(a).T
    np.testing.assert_allclose(panels[-1][1], expected.numpy(), rtol=0, atol=1e-7)
