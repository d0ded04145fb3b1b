"""Trace strategies of compiled flows: the symbolic trace of closed-form dynamics written as
specs equals autograd's exact trace; Hutchinson's estimate converges to it with its noise drawn
once per solve; ``:symbolic`` on a network of the state is refused where the network is called.
"""

from __future__ import annotations

import pytest
import torch

from odedsl.compiler import compile
from odedsl.errors import SpecError
from odedsl.nn.trace import exact_trace

from .specs import flow_spec

VECTORS = """
w :: Real[D]
u :: Real[D]
b :: Real
"""
UNITS = """
w :: Real[M, D]
u :: Real[M, D]
b :: Real[M]
"""
HYPER = """
w(t) :: Real[M, D] = hw(t)
u(t) :: Real[M, D] = hu(t)
b :: Real[M]
"""
HYPER_NETWORKS = """
hw = MLP(1 => 8 => M * D)
hu = MLP(1 => 8 => M * D, act = :elu)
"""
MIXED = """
w :: Real[M, D]
u :: Real[M, D]
c :: Real[M]
v :: Real[2, D]
a :: Real[2, D]
A :: Real[D, D]
p :: Real[D]
q :: Real[D]
"""
ACTIVATIONS = ["tanh", "sigmoid", "softplus", "elu"]

CASES = {
    **{f"planar-{h}": (f"u * {h}(w' * z + b)", VECTORS, "") for h in ACTIVATIONS},
    **{
        f"gated-{h}": (f"sum(gate(t)[n] * u[n] * {h}(w[n]' * z + b[n]) for n in 1:M)", UNITS, "")
        for h in ACTIVATIONS
    },
    "hypernetwork": (
        "sum(u(t)[n] * tanh(w(t)[n]' * z + b[n]) for n in 1:M)",
        HYPER,
        HYPER_NETWORKS,
    ),
    "hypernetwork-gated": (
        "sum(gate(t)[n] * u[n] * softplus(w[n]' * z + b[n]) for n in 1:M)",
        HYPER,
        HYPER_NETWORKS,
    ),
    "mixed": (
        "sum(gate(t)[n] * u[n] * sigmoid(w[n]' * z + c[n]) for n in 1:M)"
        " + sum(a[k] * softplus(v[k]' * z) for k in 1:2) + A * z"
        " + sin(t) * elu(z) + p * tanh(dot(q, z)) - 0.1 * z",
        MIXED,
        "",
    ),
}


def scrambled(model) -> None:
    """Parameters drawn at unit scale (the initial output scales are tiny, which would hide
    errors in the terms they multiply)."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(
                torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            )


@pytest.mark.parametrize("case", list(CASES))
def test_symbolic_trace_equals_the_exact_trace(case):
    rhs, params, networks = CASES[case]
    model = compile(flow_spec(rhs, params=params, networks=networks, trace="symbolic")).double()
    scrambled(model)
    torch.manual_seed(0)
    z = torch.randn(32, 3, dtype=torch.float64)
    dynamics = model.generated["dynamics"]
    for t in (0.0, 0.45, 1.0):
        t = torch.tensor(t, dtype=torch.float64)
        dz, trace = model.generated["dynamics_and_trace"](t, z)
        exact = exact_trace(dynamics, t, z)
        # Both are float64 evaluations of the same closed form: they agree to rounding.
        torch.testing.assert_close(dz, exact.dz, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(trace, exact.trace, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", list(CASES))
def test_exact_trace_differentiates_the_closed_form_of_the_dynamics(case):
    """Under ``:exact`` the compiler differentiates f as the symbolic code writes it (matrix
    products, the fast form), which must equal the generic code of the spec's f."""
    rhs, params, networks = CASES[case]
    model = compile(flow_spec(rhs, params=params, networks=networks, trace="exact")).double()
    scrambled(model)
    closed_form = model.generated["dynamics_closed_form"]
    assert model.augmented.dynamics is closed_form
    z = torch.randn(32, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    for t in (0.0, 0.45, 1.0):
        t = torch.tensor(t, dtype=torch.float64)
        # Two float64 evaluations of one expression, summed in different orders.
        torch.testing.assert_close(
            closed_form(t, z), model.generated["dynamics"](t, z), rtol=1e-10, atol=1e-10
        )


def test_dynamics_without_a_closed_form_are_differentiated_as_generated():
    model = compile(flow_spec("f(z) + 0.5 * z", networks=NETWORK, trace="exact"))
    assert "dynamics_closed_form" not in model.generated
    assert model.augmented.dynamics is model.generated["dynamics"]


def test_auto_picks_the_symbolic_trace_for_closed_form_dynamics():
    rhs, params, networks = CASES["hypernetwork"]
    model = compile(flow_spec(rhs, params=params, networks=networks))
    assert model.augmented.trace == "symbolic"
    assert "closed-form" in model.spec.solver.trace_reason


NETWORK = "f = MLP(D => 16 => D)"


@pytest.fixture(scope="module")
def hutchinson_flow():
    text = flow_spec("f(z) + 0.5 * z", networks=NETWORK, trace="hutchinson", dim=3)
    model = compile(text, method="rk4", step_size=0.25).double()
    scrambled(model)
    return model


def test_hutchinson_estimate_converges_to_the_exact_trace(hutchinson_flow):
    augmented = hutchinson_flow.augmented
    torch.manual_seed(1)
    z = torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor(0.3, dtype=torch.float64)
    exact = exact_trace(hutchinson_flow.generated["dynamics"], t, z).trace
    draws = 4096
    estimates = []
    for _ in range(draws):
        state = augmented.initial_state(z)  # draws this "solve's" noise
        estimates.append(-augmented(t, state)[:, 3])
    estimates = torch.stack(estimates)
    errors = {k: (estimates[:k].mean(0) - exact).abs() for k in (16, 256, draws)}
    # The estimator is unbiased with finite variance: its mean over k draws is within a few
    # standard errors σ/√k of the exact trace, and the error shrinks as k grows.
    standard_error = estimates.std(0) / draws**0.5
    assert (errors[draws] <= 4 * standard_error).all(), (errors[draws], standard_error)
    assert errors[draws].mean() < errors[16].mean() / 4
    assert augmented.noise.draws == draws


def test_hutchinson_noise_is_drawn_once_per_solve(hutchinson_flow):
    hutchinson_flow.train()
    noise = hutchinson_flow.augmented.noise
    before = noise.draws
    x = torch.randn(8, 3, dtype=torch.float64)
    output = hutchinson_flow.loss(x)  # one training solve, adjoint gradients
    output.loss.backward()
    assert output.after_backward()["nfe_backward"] > 0
    assert noise.draws == before + 1
    hutchinson_flow.log_prob(x)
    hutchinson_flow.sample(4)
    assert noise.draws == before + 3


def test_symbolic_on_a_network_of_the_state_is_refused_where_it_is_called():
    text = flow_spec("0.5 * z + f(z)", networks=NETWORK, trace="symbolic")
    with pytest.raises(SpecError) as caught:
        compile(text)
    (diagnostic,) = [d for d in caught.value.diagnostics if d.severity == "error"]
    line = text.splitlines().index("        dz/dt = 0.5 * z + f(z)") + 1
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E084", line, 27)
    assert "`f` is applied to the state" in diagnostic.message


def test_symbolic_override_on_a_network_of_the_state_is_refused_too():
    text = flow_spec("0.5 * z + f(z)", networks=NETWORK)
    assert compile(text).augmented.trace == "exact"  # :auto, D = 3
    with pytest.raises(SpecError) as caught:
        compile(text, trace="symbolic")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E084" and diagnostic.column == 27
    assert "f(z)" in str(caught.value)  # the rendered excerpt shows the culprit


def test_symbolic_on_an_expression_without_a_symbolic_form_is_located():
    """`reverse` has no symbolic derivative: :symbolic is refused at the call, :auto falls
    back to the exact trace."""
    rhs = "reverse(z) * 0.3"
    with pytest.raises(SpecError) as caught:
        compile(flow_spec(rhs, trace="symbolic"))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E084" and diagnostic.column == 17
    model = compile(flow_spec(rhs))
    assert model.augmented.trace == "exact"
    assert "no symbolic trace" in model.spec.solver.trace_reason


def test_evaluation_may_use_another_trace_than_training():
    """Hutchinson's trace to train, the exact one to evaluate (FFJORD's protocol)."""
    text = flow_spec("f(z) + 0.5 * z", networks=NETWORK, trace="hutchinson")
    model = compile(text, eval_trace="exact")
    exact = compile(text, trace="exact")  # the same seed: the same weights
    assert (model.augmented.trace, model.eval_augmented.trace) == ("hutchinson", "exact")
    x = torch.randn(16, 3)
    with torch.no_grad():
        torch.testing.assert_close(model.log_prob(x), exact.log_prob(x))
    assert model.augmented.noise.draws == 0  # evaluation drew no noise
