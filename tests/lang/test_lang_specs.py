"""The reference specs check clean, and their checked models say what the specs mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from odedsl import check
from odedsl.lang import model as ir

SPECS = Path(__file__).parents[2] / "specs"
NAMES = [
    "cnf_moons",
    "cnf_circles",
    "cnf_density",
    "planar_density",
    "odenet_digits",
    "odenet_mnist",
    "latent_spirals",
    "poisson_events",
    "sysid_oscillator",
    "ude_lotka_volterra",
    "pendulum_second_order",
    "anode_annulus",
    "node_annulus",
    "regression_friedman",
    "latent_oscillations",
    "odenet_npz",
]


@pytest.fixture(scope="module")
def models() -> dict[str, ir.CheckedModel]:
    return {name: check(SPECS / f"{name}.ode") for name in NAMES}


def test_every_spec_in_specs_is_a_reference_spec() -> None:
    assert sorted(p.stem for p in SPECS.glob("*.ode")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_reference_spec_checks_without_warnings(models, name: str) -> None:
    assert models[name].warnings == ()


@pytest.mark.parametrize(
    ("name", "kind", "objective", "states"),
    [
        ("cnf_moons", "flow_ml", "likelihood", {"z": (2,)}),
        ("cnf_circles", "flow_ml", "likelihood", {"z": (2,)}),
        ("cnf_density", "flow_density", "kl", {"z": (2,)}),
        ("planar_density", "flow_density", "kl", {}),
        ("odenet_digits", "supervised", "likelihood", {"h": (32, 8, 8)}),
        ("odenet_mnist", "supervised", "likelihood", {"h": (64, 6, 6)}),
        ("latent_spirals", "latent", "elbo", {"z": (6,)}),
        ("poisson_events", "latent", "elbo", {"z": (4,)}),
        ("sysid_oscillator", "trajectory", "likelihood", {"z": (2,)}),
        ("ude_lotka_volterra", "trajectory", "likelihood", {"z": (2,)}),
        ("pendulum_second_order", "trajectory", "likelihood", {"q": (1,), "p": (1,)}),
        ("anode_annulus", "supervised", "likelihood", {"h": (5,)}),
        ("node_annulus", "supervised", "likelihood", {"h": (2,)}),
        ("regression_friedman", "supervised", "likelihood", {"h": (8,)}),
        ("latent_oscillations", "latent", "elbo", {"z": (6,)}),
        ("odenet_npz", "supervised", "likelihood", {"h": (32, 8, 8)}),
    ],
)
def test_kind_objective_and_states(models, name, kind, objective, states) -> None:
    model = models[name]
    assert (model.kind, model.train.objective, model.train.objective_inferred) == (
        kind,
        objective,
        True,
    )
    assert {s.name: s.shape for s in model.states} == states


def test_planar_density_is_a_discrete_flow(models) -> None:
    model = models["planar_density"]
    flow = model.discrete
    assert (flow.base, flow.result, flow.network, flow.shape) == ("z", "x", "f", (2,))
    assert flow.distribution.family == "Normal" and flow.distribution.params["std"].value == 1.0
    (network,) = model.networks
    assert (network.layer.kind, dict(network.layer.args)) == ("PlanarFlow", {"dim": 2, "depth": 8})
    # (2·D + 1)·K: w and u in R^2 and b, for each of the 8 layers
    assert model.parameter_count == 5 * 8
    assert model.target.argument == "x" and model.states == ()


def test_cnf_moons(models) -> None:
    model = models["cnf_moons"]
    # w, u: 64 x 2 each, b: 64; gate MLP(1 => 32 => 64) = (1*32 + 32) + (32*64 + 64)
    assert model.parameter_count == 2 * 64 * 2 + 64 + (1 * 32 + 32) + (32 * 64 + 64)
    assert model.constants == {"D": 2, "M": 64, "T": 1.0}
    assert (model.data.dataset, dict(model.data.args)) == ("Moons", {"noise": 0.05, "seed": 0})
    assert model.train.batch == 512 and model.train.steps == 5000
    # trained with fixed RK4 steps, evaluated with dopri5 (the nested `eval` block)
    assert (model.solver.method, model.solver.step_size) == ("rk4", 0.125)
    assert (model.eval_solver.method, model.eval_solver.rtol) == ("dopri5", 1e-5)
    dynamics = model.dynamics
    assert (dynamics.time.var, dynamics.time.start, dynamics.time.end) == ("t", 0.0, 1.0)
    assert dynamics.binding == ir.DataBinding("z", 1.0, "x", dynamics.binding.loc)
    base = dynamics.base.distribution
    assert base.family == "Normal" and base.event_shape == (2,)
    assert base.params["std"].value == 1.0  # I(D): identity covariance
    rhs = dynamics.derivatives[0].rhs
    assert isinstance(rhs, ir.Sum) and (rhs.var, rhs.start, rhs.stop, rhs.shape) == (
        "n",
        1,
        64,
        (2,),
    )
    assert model.solver.trace == "symbolic"
    assert "closed-form" in model.solver.trace_reason


def test_cnf_density_target(models) -> None:
    target = models["cnf_density"].target
    assert (target.argument, target.shape, target.log_density.shape) == ("x", (2,), ())
    assert models["cnf_density"].data is None


def test_odenet_digits(models) -> None:
    model = models["odenet_digits"]
    assert (model.data.dataset, model.data.crop, model.train.batch) == ("Digits", 0, 32)
    assert (model.data.rotate, model.data.zoom, model.data.shift) == (15, 0.15, 1)
    networks = {n.name: n for n in model.networks}
    assert networks["f"].takes_time and not networks["down"].takes_time
    assert networks["down"].in_shape == (1, 8, 8) and networks["down"].out_shape == (32, 8, 8)
    assert networks["head"].out_shape == (10,)
    (observation,) = model.likelihood
    logits = observation.distribution.params["logits"]
    assert isinstance(logits, ir.NetworkCall) and logits.network == "head"
    (at_end,) = logits.args
    assert isinstance(at_end, ir.StateRef) and at_end.time.value == 1.0
    assert model.train.epochs == 50 and model.train.steps is None
    assert model.solver.trace is None  # not a flow


def test_odenet_mnist_schedule_and_strided_stem(models) -> None:
    model = models["odenet_mnist"]
    assert model.train.schedule == ir.Schedule("step", (60, 100, 140), 0.1)
    assert model.network("down").out_shape == (64, 6, 6)  # 28 -> 26 -> 13 -> 6


def test_latent_spirals(models) -> None:
    model = models["latent_spirals"]
    (latent,) = model.latents
    assert (latent.name, latent.shape) == ("z0", (6,))
    assert latent.prior.family == latent.posterior.family == "Normal"
    (assignment,) = model.encoder
    assert assignment.names == ("μ", "logσ²") and assignment.shapes == ((6,), (6,))
    assert model.dynamics.initial[0].value == ir.Var(
        model.dynamics.initial[0].value.loc, (6,), "z0", "latent"
    )
    (observation,) = model.likelihood
    assert (observation.time_var, observation.times) == ("t", "ts")
    assert isinstance(observation.value, ir.Index) and observation.value.shape == (2,)
    assert model.dynamics.time.end is None  # the times come from the data
    assert [v.role for v in model.data.variables] == ["times", "series"]


def test_poisson_events(models) -> None:
    model = models["poisson_events"]
    (signal,) = model.dynamics.signals
    assert (signal.name, signal.rhs.shape) == ("λ", (1,))
    events = model.likelihood[-1].distribution
    assert events.family == "PoissonProcess" and events.interval == (0.0, 5.0)
    assert events.params["intensity"] == ir.Var(events.params["intensity"].loc, (1,), "λ", "signal")


def test_ascii_spellings_check_to_the_same_model() -> None:
    text = (SPECS / "cnf_moons.ode").read_text(encoding="utf-8")
    ascii_text = text.replace("∈", "in")
    assert ascii_text != text
    unicode, ascii_model = check(text), check(ascii_text)
    assert unicode.parameter_count == ascii_model.parameter_count
    time, ascii_time = unicode.dynamics.time, ascii_model.dynamics.time
    assert (time.var, time.start, time.end) == (ascii_time.var, ascii_time.start, ascii_time.end)
