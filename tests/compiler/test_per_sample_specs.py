"""`batch = :independent` in a spec's `solver`: checked, lowered to per-row stepping, and
giving the joint solve's results (at tight tolerances both are near the exact solution)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import odedsl
from odedsl.errors import SpecError
from odedsl.lang import check_text
from odedsl.lang.builtins import METHODS, PER_ROW_METHODS
from odedsl.solvers.independent import independent_solver
from odedsl.solvers.methods import SOLVERS
from odedsl.workflow import build_data

SPECS = Path(__file__).resolve().parents[2] / "specs"

MODEL = """model M
    data
        (x, y) :: (Real[2], Int) ~ CSV(path = "{path}", label = "y")
    end
    networks
        f = MLP(2 => 8 => 2)
    end
    states
        h(t) :: Real[2]
        t ∈ (0.0, 1.0)
    end
    dynamics
        h(0) = x
        dh/dt = {rhs}
    end
    likelihood
        y ~ Bernoulli(logits = h(1.0)[1])
    end
    solver
        {solver}
    end
end
"""


def spec(rhs: str, solver: str) -> str:
    return MODEL.format(rhs=rhs, solver=solver, path=SPECS / "data" / "annulus.csv")


def errors(rhs: str, solver: str) -> list[tuple[str, int, str]]:
    with pytest.raises(SpecError) as caught:
        check_text(spec(rhs, solver))
    return [(d.code, d.span.line, d.message) for d in caught.value.diagnostics]


def test_the_catalogue_lists_the_methods_the_solver_steps_per_row():
    for method in METHODS:
        try:
            independent_solver(SOLVERS[method])
            steps_per_row = True
        except ValueError:
            steps_per_row = False
        assert steps_per_row == (method in PER_ROW_METHODS), method


@pytest.mark.parametrize(
    ("rhs", "solver", "line", "says"),
    [
        # line 14 is `dh/dt = ...`; line 20 the solver block's `batch` option.
        ("tanh(f(h)) * t", "batch = :independent", 20, "but line 14 does"),
        (
            "f(h)",
            "method = :rk4\n        step_size = 0.1\n        batch = :independent",
            22,
            "not `:rk4`",
        ),
        ("f(h)", "gradient = :checkpoint\n        batch = :independent", 21, "not `:checkpoint`"),
    ],
)
def test_refused_where_it_cannot_run(rhs, solver, line, says):
    found = errors(rhs, solver)
    assert [(code, at) for code, at, _ in found] == [("E081", line)]
    assert says in found[0][2]


def test_autonomous_dynamics_step_per_example():
    model = check_text(spec("f(h)", "batch = :independent"))
    assert model.solver.batch == model.eval_solver.batch == "independent"
    compiled = odedsl.compile(spec("f(h)", "batch = :independent"))
    assert compiled.train_solver.per_sample and compiled.eval_solver.per_sample


def test_overrides_route_a_symbol_to_the_solver_and_a_number_to_the_batch_size():
    spec = SPECS / "sysid_oscillator.ode"
    model = odedsl.compile(spec, batch=":independent", steps=10)
    assert model.train_solver.per_sample and model.spec.train.batch == 128
    model = odedsl.compile(spec, batch=16)
    assert not model.train_solver.per_sample and model.spec.train.batch == 16
    with pytest.raises(ValueError, match="needs dynamics that do not read the time"):
        odedsl.compile(SPECS / "cnf_density.ode", batch=":independent")
    with pytest.raises(ValueError, match=r"batch=':sideways' is not allowed"):
        odedsl.compile(spec, batch=":sideways")


@pytest.mark.parametrize("name", ["anode_annulus", "ude_lotka_volterra"])
def test_reference_specs_score_as_with_one_step_size(name):
    """The test split's loss with one step size per example equals the joint solve's: at
    rtol = atol = 1e-8 both are within ~1e-6 of the exact loss (float32 models)."""
    spec = SPECS / f"{name}.ode"
    settings = dict(method=":dopri5", rtol=1e-8, atol=1e-8, gradient=":direct")
    torch.manual_seed(0)
    per_row = odedsl.compile(spec, batch=":independent", **settings)
    joint = odedsl.compile(spec, **settings)
    joint.load_state_dict(per_row.state_dict())
    data = build_data(per_row.spec, "test", root=str(SPECS))
    with torch.no_grad():
        a, b = per_row.evaluate(data), joint.evaluate(data)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
