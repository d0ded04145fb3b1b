"""Discrete flows from a spec: `specs/planar_density.ode` compiles to a planar flow whose
log-determinant is the Jacobian's (autograd), whose target is the spec's, and which the
workflow trains and evaluates like a CNF (`kl` in the evaluation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import odedsl
from odedsl.compiler import compile
from odedsl.data import potential
from odedsl.models.planar import PlanarFlow

SPEC = Path(__file__).parents[2] / "specs" / "planar_density.ode"


@pytest.fixture(scope="module")
def flow() -> PlanarFlow:
    return compile(SPEC)


def test_the_spec_builds_a_planar_flow_of_its_depth(flow):
    assert isinstance(flow, PlanarFlow)
    assert (flow.depth, flow.event_shape) == (8, (2,))
    # (2·D + 1)·K parameters, as `odedsl check` counts them
    assert sum(p.numel() for p in flow.parameters()) == flow.spec.parameter_count == 40


def test_log_det_equals_autograd_slogdet(flow):
    model = compile(SPEC).double()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():  # parameters of order one: far from the identity at initialisation
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    z = torch.randn(8, 2, generator=generator, dtype=torch.float64)
    x, log_det = model(z)
    for i in range(z.shape[0]):
        jacobian = torch.autograd.functional.jacobian(lambda v: model(v[None])[0][0], z[i])
        # Both are exact up to float64 round-off through 8 layers.
        expected = torch.linalg.slogdet(jacobian).logabsdet
        assert float(log_det[i].detach()) == pytest.approx(float(expected), abs=1e-10)
    assert torch.isfinite(x).all()


def test_the_target_is_the_specs_density(flow):
    x = np.random.default_rng(0).normal(size=(64, 2)) * 2
    got = flow.target(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    # The spec writes U1 in float32: agreement to float32 round-off of values up to ~30.
    np.testing.assert_allclose(got, potential("U1", x), rtol=1e-5, atol=1e-4)


def test_a_short_run_from_the_spec_lowers_kl(tmp_path):
    untrained = compile(SPEC).evaluate(4096)["kl"]
    run = odedsl.train(SPEC, out=tmp_path / "run", steps=300)
    results = odedsl.evaluate(run)
    # The near-identity flow is N(0, I) against U1's ring of radius 2, several nats above the
    # best (−log Z ≈ −1.88); 300 steps at lr 1e-2 win well over one nat (the estimate's
    # standard error at 4096 samples is ≈ 0.05 nats).
    assert results["kl"] < untrained - 1.0
    assert (run / "transformation.png").is_file() and (run / "density.png").is_file()


def test_solver_overrides_are_refused_for_a_flow_without_an_ode():
    with pytest.raises(ValueError, match="solves no ODE"):
        compile(SPEC, method="rk4", step_size=0.1)
    assert compile(SPEC, steps=10, lr=1e-3).spec.train.steps == 10  # training ones apply
