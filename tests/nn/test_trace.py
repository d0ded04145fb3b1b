"""Trace strategies against autograd's Jacobian and closed forms; noise held fixed per solve."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from odedsl.nn.trace import (
    AugmentedDynamics,
    HutchinsonNoise,
    exact_trace,
    hutchinson_trace,
    load_symbolic,
)
from odedsl.solvers import odeint, odeint_adjoint
from odedsl.symbolic import DynamicsBuilder, apply, sum_over, symbolic_dynamics

D = 4


class Net(nn.Module):
    """A small time-dependent network dynamics, f(t, z) = W2 tanh(W1 z + t c) (float64)."""

    def __init__(self, dim: int = D, hidden: int = 16) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.inner = nn.Linear(dim, hidden).double()
        self.outer = nn.Linear(hidden, dim).double()
        self.c = nn.Parameter(torch.randn(hidden, dtype=torch.float64))

    def forward(self, t, z):
        return self.outer(torch.tanh(self.inner(z) + t * self.c))


def jacobians(f, t, z) -> torch.Tensor:
    """Per-sample Jacobians (batch, D, D) from autograd (samples are independent)."""
    full = torch.autograd.functional.jacobian(lambda state: f(t, state).sum(0), z)
    return full.permute(1, 0, 2)  # [i, b, j] → [b, i, j]


@pytest.fixture
def problem():
    torch.manual_seed(1)
    return Net(), torch.tensor(0.3, dtype=torch.float64), torch.randn(6, D, dtype=torch.float64)


def test_exact_trace_and_frobenius_match_the_jacobian(problem):
    f, t, z = problem
    result = exact_trace(f, t, z, frobenius=True)
    jac = jacobians(f, t, z)
    torch.testing.assert_close(result.dz, f(t, z))
    torch.testing.assert_close(result.trace, torch.diagonal(jac, dim1=1, dim2=2).sum(-1))
    torch.testing.assert_close(result.frobenius, jac.pow(2).sum((1, 2)))


def test_exact_trace_is_differentiable_when_gradients_are_on(problem):
    """∂/∂c of Σ tr J equals the same derivative of the trace built from autograd's Jacobian
    with create_graph (an independent route through the same math)."""
    f, t, z = problem
    (ours,) = torch.autograd.grad(exact_trace(f, t, z).trace.sum(), f.c)
    full = torch.autograd.functional.jacobian(
        lambda state: f(t, state).sum(0), z, create_graph=True
    )
    (reference,) = torch.autograd.grad(torch.diagonal(full, dim1=0, dim2=2).sum(), f.c)
    torch.testing.assert_close(ours, reference)


def test_exact_trace_without_gradients_returns_detached_tensors(problem):
    f, t, z = problem
    with torch.no_grad():
        result = exact_trace(f, t, z)
    assert not result.dz.requires_grad and not result.trace.requires_grad


def test_exact_trace_of_state_independent_dynamics_is_zero():
    z = torch.randn(3, 2)
    assert torch.equal(exact_trace(lambda t, state: torch.ones(3, 2), 0.0, z).trace, torch.zeros(3))


@pytest.mark.parametrize("kind", HutchinsonNoise.KINDS)
def test_hutchinson_is_unbiased_for_trace_and_frobenius(problem, kind):
    """Averaged over K noise draws (one batched vjp on K copies of each sample), both
    estimates land within 4 standard errors of the exact values; the standard error shrinks
    as 1/√K (checked between K = 64 and K = 4096: a factor 8, with slack for sampling)."""
    f, t, z = problem
    jac = jacobians(f, t, z)
    exact = torch.diagonal(jac, dim1=1, dim2=2).sum(-1)
    frobenius = jac.pow(2).sum((1, 2))
    errors = {}
    for draws in (64, 4096):
        copies = z.repeat(draws, 1).requires_grad_(True)  # row r is sample r % batch
        noise = HutchinsonNoise(kind, torch.Generator().manual_seed(draws))
        eps = noise.reset(copies)
        trace, vjp = hutchinson_trace(f(t, copies), copies, eps, create_graph=False)
        for name, estimates, truth in (
            ("trace", trace, exact),
            ("frobenius", vjp.pow(2).sum(1), frobenius),
        ):
            samples = estimates.reshape(draws, -1)
            standard_error = samples.std(0) / math.sqrt(draws)
            assert ((samples.mean(0) - truth).abs() < 4 * standard_error).all(), (name, draws)
            errors[name, draws] = standard_error
    for name in ("trace", "frobenius"):
        ratio = errors[name, 64] / errors[name, 4096]
        assert ((ratio > 5) & (ratio < 12)).all()


def test_rademacher_noise_is_plus_or_minus_one():
    eps = HutchinsonNoise("rademacher", torch.Generator().manual_seed(0)).reset(torch.empty(500))
    assert set(eps.tolist()) == {-1.0, 1.0}


def test_noise_must_be_drawn_before_use():
    noise = HutchinsonNoise()
    with pytest.raises(RuntimeError, match="reset"):
        noise(torch.zeros(2, 3))
    noise.reset(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="shape"):
        noise(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="kind must be one of"):
        HutchinsonNoise("uniform")


class RecordingNoise(HutchinsonNoise):
    """Noise that remembers every tensor it hands out."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handed_out: list[torch.Tensor] = []

    def __call__(self, like: torch.Tensor) -> torch.Tensor:
        self.handed_out.append(super().__call__(like))
        return self.handed_out[-1]


def test_hutchinson_noise_is_drawn_once_per_solve(problem):
    """Three adaptive solves of the augmented dynamics: three draws in all, and every
    evaluation of a solve sees the very same noise tensor."""
    f, _, z0 = problem
    noise = RecordingNoise(generator=torch.Generator().manual_seed(0))
    augmented = AugmentedDynamics(f, "hutchinson", noise=noise)
    times = torch.tensor([0.0, 1.0], dtype=torch.float64)
    for solve in range(3):
        noise.handed_out.clear()
        odeint(augmented, augmented.initial_state(z0), times, method="dopri5", rtol=1e-6)
        assert noise.draws == solve + 1
        first = noise.handed_out[0]
        assert len(noise.handed_out) > 6 and all(eps is first for eps in noise.handed_out)


def test_augmented_linear_flow_matches_the_closed_form():
    """dz/dt = A z: z(T) = exp(AT) z0, log p changes by −tr(A)·T."""
    torch.manual_seed(2)
    A = torch.randn(D, D, dtype=torch.float64) * 0.5
    z0 = torch.randn(5, D, dtype=torch.float64)
    augmented = AugmentedDynamics(lambda t, z: z @ A.T, "exact")
    times = torch.tensor([0.0, 1.5], dtype=torch.float64)
    state = odeint(augmented, augmented.initial_state(z0), times, rtol=1e-10, atol=1e-10)[-1]
    z, logp = augmented.split(state)
    # dopri5 at 1e-10 tolerances: global error ~1e-9 on these O(1) quantities.
    torch.testing.assert_close(z, z0 @ torch.linalg.matrix_exp(1.5 * A).T, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(logp, torch.full((5,), -1.5 * A.trace().item()).double())


@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
def test_augmented_regularizers_match_the_closed_form(trace):
    """dz/dt = −a z: ∫‖f‖² = a‖z0‖²(1 − e^{−2aT})/2 and ∫‖J‖²_F = a²DT. Rademacher noise
    makes Hutchinson's Frobenius estimate exact here (εᵀ(−aI) has norm² a²D)."""
    a, T = 0.7, 1.2
    z0 = torch.randn(3, D, dtype=torch.float64)
    augmented = AugmentedDynamics(lambda t, z: -a * z, trace, kinetic=True, jacobian=True)
    times = torch.tensor([0.0, T], dtype=torch.float64)
    state = odeint(augmented, augmented.initial_state(z0), times, rtol=1e-10, atol=1e-10)[-1]
    _, logp, kinetic, jacobian = augmented.split(state)
    expected_kinetic = a * z0.pow(2).sum(1) * (1 - math.exp(-2 * a * T)) / 2
    torch.testing.assert_close(kinetic, expected_kinetic, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(jacobian, torch.full_like(jacobian, a * a * D * T))
    torch.testing.assert_close(logp, torch.full_like(logp, a * D * T))


def gated_symbolic(dim: int, units: int, gate: torch.Tensor, params: dict[str, torch.Tensor]):
    b = DynamicsBuilder("z", dim)
    w, u, bias = b.param("w", (units, dim)), b.param("u", (units, dim)), b.param("b", (units,))
    g = b.network("gate", (units,), b.time)
    n = b.index("n", units)
    f = sum_over(n, g[n] * u[n] * apply("tanh", w[n].T * b.state + bias[n]))
    functions = load_symbolic(symbolic_dynamics(b, f))
    return lambda t, z: functions.dynamics_and_trace(
        t, z, params["w"], params["u"], params["b"], gate
    )


def test_symbolic_augmented_dynamics_equal_the_exact_ones():
    torch.manual_seed(3)
    units = 5
    params = {k: torch.randn(units, D, dtype=torch.float64) for k in ("w", "u")}
    params["b"] = torch.randn(units, dtype=torch.float64)
    gate = torch.rand(units, dtype=torch.float64)

    def plain(t, z):
        return (gate * torch.tanh(z @ params["w"].T + params["b"])) @ params["u"]

    symbolic = gated_symbolic(D, units, gate, params)
    t, z = torch.tensor(0.2, dtype=torch.float64), torch.randn(7, D, dtype=torch.float64)
    noise = HutchinsonNoise(generator=torch.Generator().manual_seed(0))
    options = {"kinetic": True, "jacobian": True}
    by_symbol = AugmentedDynamics(symbolic, "symbolic", noise=noise, **options)
    by_autograd = AugmentedDynamics(plain, "hutchinson", noise=noise, **options)
    exactly = AugmentedDynamics(plain, "exact", **options)
    for augmented in (exactly, by_autograd, by_symbol):
        state = augmented.initial_state(z)  # the shared noise ends as by_symbol's draw
    ours = by_symbol(t, state)
    # z, log p (symbolic trace vs autograd's exact one) and kinetic columns agree to rounding;
    # the Frobenius column is Hutchinson's estimate, with the same noise in both.
    torch.testing.assert_close(ours[:, :-1], exactly(t, state)[:, :-1])
    torch.testing.assert_close(ours[:, -1], by_autograd(t, state)[:, -1])


@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
def test_adjoint_gradients_through_the_augmented_dynamics_match_direct_ones(problem, trace):
    """The trace's own graph (create_graph under the adjoint's backward pass) is right: the
    adjoint and backpropagation through the solver give the same parameter gradients of
    log p and the regularizers, to the solves' accuracy (tolerances 1e-9: agreement ~1e-8)."""
    f, _, z0 = problem
    noise = HutchinsonNoise(generator=torch.Generator())
    augmented = AugmentedDynamics(f, trace, kinetic=True, jacobian=True, noise=noise)
    times = torch.tensor([0.0, 1.0], dtype=torch.float64)
    gradients = []
    for solver in (odeint, odeint_adjoint):
        noise.generator.manual_seed(1)  # the same noise for both solves
        state = solver(augmented, augmented.initial_state(z0), times, rtol=1e-9, atol=1e-9)
        loss = state[-1, :, D:].sum()
        gradients.append(torch.autograd.grad(loss, list(f.parameters())))
    for direct, adjoint in zip(*gradients, strict=True):
        torch.testing.assert_close(adjoint, direct, rtol=1e-6, atol=1e-7)


def test_split_restores_image_shaped_states():
    conv = nn.Conv2d(1, 1, 3, padding=1).double()
    augmented = AugmentedDynamics(lambda t, h: conv(h), "exact", kinetic=True)
    h0 = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    state = augmented.initial_state(h0, logp0=torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert state.shape == (2, 9 + 2)
    h, logp, kinetic = augmented.split(state)
    assert torch.equal(h, h0) and logp.tolist() == [1.0, 2.0] and kinetic.tolist() == [0, 0]
    derivative = augmented(torch.tensor(0.0), state)
    # tr of a 3×3 same-padded convolution on a 3×3 image: the centre tap on every pixel.
    expected_trace = 9 * conv.weight[0, 0, 1, 1]
    torch.testing.assert_close(derivative[:, 9], -expected_trace.expand(2))


def test_unknown_strategy_is_reported():
    with pytest.raises(ValueError, match="trace must be one of"):
        AugmentedDynamics(lambda t, z: z, "auto")
