"""Emitted torch code against plain torch references and autograd's exact Jacobian."""

from __future__ import annotations

import re

import pytest
import torch

from odedsl.nn.trace import load_symbolic
from odedsl.symbolic import DynamicsBuilder, symbolic_dynamics

from . import cases

BATCH = 5


def random_inputs(builder: DynamicsBuilder, seed: int = 0) -> dict[str, torch.Tensor]:
    """float64 tensors for every input; network outputs in (0, 1) like a sigmoid gate."""
    generator = torch.Generator().manual_seed(seed)
    values = {}
    for spec in builder.inputs:
        draw = torch.rand if spec.kind == "network" else torch.randn
        values[spec.name] = draw(spec.shape, generator=generator, dtype=torch.float64)
    return values


def reference_trace(case: cases.Case, t, z, inputs) -> torch.Tensor:
    """tr ∂f/∂z per sample from autograd's full Jacobian (samples are independent, so the
    Jacobian of the batch sum holds each sample's Jacobian)."""
    jacobian = torch.autograd.functional.jacobian(
        lambda state: case.reference(t, state, inputs).sum(0), z
    )  # (D, batch, D): [i, b, j] = ∂f_bi/∂z_bj
    return torch.diagonal(jacobian, dim1=0, dim2=2).sum(-1)


def check_against_autograd(case: cases.Case, seed: int = 0) -> str:
    emitted = symbolic_dynamics(case.builder, case.f)
    functions = load_symbolic(emitted)
    inputs = random_inputs(case.builder, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(BATCH, case.builder.dim, generator=generator, dtype=torch.float64)
    t = torch.tensor(0.37, dtype=torch.float64)
    args = [inputs[spec.name] for spec in emitted.inputs]
    dz_only = functions.dynamics(t, z, *args)
    dz, trace = functions.dynamics_and_trace(t, z, *args)
    expected = case.reference(t, z, inputs)
    # Exact formulas evaluated in float64 in a different order: agreement to ~1e-15 relative;
    # 1e-10 leaves room for the few dozen roundings on the way.
    assert dz.shape == (BATCH, case.builder.dim) and trace.shape == (BATCH,)
    torch.testing.assert_close(dz_only, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(dz, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(trace, reference_trace(case, t, z, inputs), rtol=1e-10, atol=1e-10)
    return emitted.source


@pytest.mark.parametrize("activation", sorted(cases.TORCH_ACTIVATIONS))
def test_gated_units_match_autograd(activation):
    check_against_autograd(cases.gated(activation))


@pytest.mark.parametrize("activation", sorted(cases.TORCH_ACTIVATIONS))
def test_planar_unit_matches_autograd(activation):
    check_against_autograd(cases.planar(activation))


@pytest.mark.parametrize(
    "build",
    [
        cases.hypernetwork,
        cases.mixed,
        cases.elementwise_functions,
        cases.matrix_mlp,
        cases.vector_literal,
        cases.squared_dot,
        cases.nested_generators,
        cases.quadratic_forms,
    ],
    ids=lambda build: build.__name__,
)
def test_closed_form_dynamics_match_autograd(build):
    check_against_autograd(build())


def test_dynamics_without_state_dependence_broadcast_to_the_batch():
    b = DynamicsBuilder("z", 2)
    case = cases.Case(b, b.param("u", (2,)) * b.time, lambda t, z, p: (p["u"] * t).expand_as(z))
    source = check_against_autograd(case)
    assert "z.new_full" in source  # the zero trace, shaped like the batch


def test_linear_dynamics_have_a_batch_free_trace():
    b = DynamicsBuilder("z", 3)
    A = b.param("A", (3, 3))
    check_against_autograd(cases.Case(b, A * b.state, lambda t, z, p: z @ p["A"].T))


def test_gated_code_is_vectorised_and_shares_the_activation():
    source = symbolic_dynamics(cases.gated().builder, cases.gated().f).source
    with_trace = source.split("def dynamics_and_trace")[1]
    assert with_trace.count("torch.tanh") == 1  # tanh(a) computed once, reused as 1 − tanh²
    assert "1 - x0 ** 2" in with_trace
    assert "@" in with_trace and "z[:" not in with_trace  # matrix products, no component slices


def test_emitted_code_does_not_grow_with_the_dimension():
    """The same code serves D = 3 and D = 40: nothing is unrolled over the state."""
    small = symbolic_dynamics(cases.gated(dim=3).builder, cases.gated(dim=3).f).source
    large = symbolic_dynamics(cases.gated(dim=40).builder, cases.gated(dim=40).f).source

    def without_numbers(source: str) -> str:
        return re.sub(r"\d+", "#", source)

    assert without_numbers(small) == without_numbers(large)
