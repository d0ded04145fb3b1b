"""``solver compile = true``: read and checked like the other solver options, and compiled
solves equal eager ones (fixed-step: the whole solve and its backward pass in one graph;
adaptive: compiled dynamics), with an eager fallback and one warning when compiling fails.

torch.compile takes tens of seconds per graph on a small CPU: the compiled models are built
once per module (fixtures) and the tests that compile are marked slow.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import odedsl
from odedsl.cli_runs import _settings
from odedsl.errors import SpecError
from odedsl.lang import check_text
from odedsl.solvers import compiling, solve, unrolled
from odedsl.solvers.compiling import CompileFallbackWarning, compiled_solve

SPEC = (Path(__file__).parents[2] / "specs" / "cnf_moons.ode").read_text()
# cnf_moons with 8 units and 2 RK4 steps: the same program, smaller graphs to compile.
SMALL = SPEC.replace("M = 64", "M = 8").replace("step_size = 0.125", "step_size = 0.5")


def with_solver_line(line: str) -> str:
    return SMALL.replace("        gradient = :direct\n", f"        gradient = :direct\n{line}\n")


# -- the option ------------------------------------------------------------------------------


def test_compile_is_read_from_the_solver_block_and_defaults_to_false() -> None:
    assert check_text(SMALL).solver.compile is False
    spec = check_text(with_solver_line("        compile = true"))
    assert spec.solver.compile and spec.eval_solver.compile  # evaluation inherits it


def test_a_bad_compile_value_is_a_located_error() -> None:
    text = with_solver_line("        compile = 1")
    with pytest.raises(SpecError) as caught:
        check_text(text, "m.ode")
    (diagnostic,) = caught.value.diagnostics
    line = text.splitlines().index("        compile = 1") + 1
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E081", line, 19)
    assert "m.ode:" in caught.value.rendered


def test_the_compile_override_is_checked_and_reaches_the_solvers() -> None:
    model = odedsl.compile(SMALL, compile=True)
    assert model.train_solver.compile and model.eval_solver.compile
    with pytest.raises(ValueError, match="compile must be true or false, got 'yes'"):
        odedsl.compile(SMALL, compile="yes")
    assert _settings(["compile=true"]) == {"compile": True}  # --set compile=true


# -- compiled equals eager -------------------------------------------------------------------


@pytest.fixture(scope="module")
def moons() -> torch.Tensor:
    return torch.randn(64, 2, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def models():
    """The small spec eagerly and compiled: the same parameters (drawn from the spec's seed)."""
    torch.set_num_threads(1)
    return odedsl.compile(SMALL), odedsl.compile(SMALL, compile=True)


def _loss_and_gradients(model, x):
    model.zero_grad()
    loss = model.loss(x).loss
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.slow
def test_a_compiled_fixed_step_training_loss_and_its_gradients_equal_eager(
    models, moons, monkeypatch
):
    eager, compiled = models
    # Compile a grid once it has been solved for 16 evaluations (2 solves of 2 RK4 steps),
    # and the dynamics alone only after 16 evaluations: the first two solves run eagerly.
    monkeypatch.setattr(compiling, "HOT_CALLS", 16)
    monkeypatch.setattr(compiling, "_DYNAMICS", compiling.weakref.WeakKeyDictionary())
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileFallbackWarning)  # no fallback, no graph break
        for _ in range(2):
            _loss_and_gradients(compiled, moons)
            assert compiled.stats.info["compiled"] == "no"
        loss, grads = _loss_and_gradients(compiled, moons)
    assert compiled.stats.info["compiled"] == "solve"  # the grid came back: one graph
    expected_loss, expected_grads = _loss_and_gradients(eager, moons)
    assert compiled.stats.nfe_forward == eager.stats.nfe_forward == 8  # 2 RK4 steps
    # float32: the compiled kernels fuse and reorder sums, rounding differs by a few ulps
    torch.testing.assert_close(loss, expected_loss, rtol=1e-6, atol=1e-6)
    for got, expected in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_the_unrolled_solve_of_generated_dynamics_has_no_graph_break(models, moons):
    _, compiled = models
    augmented = compiled.augmented
    state0 = augmented.initial_state(moons, None)
    t = torch.tensor([1.0, 0.0])
    plan = unrolled.make_plan("rk4", state0, t, {"step_size": 0.5})
    explanation = torch._dynamo.explain(unrolled.run_plan)(augmented, state0, plan)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


@pytest.mark.slow
def test_a_compiled_adaptive_evaluation_equals_eager(models, moons, monkeypatch):
    monkeypatch.setattr(compiling, "HOT_CALLS", 0)  # compile the dynamics at once
    monkeypatch.setattr(compiling, "_DYNAMICS", compiling.weakref.WeakKeyDictionary())
    eager, compiled = models
    expected = eager.log_prob(moons)  # dopri5, rtol = atol = 1e-5 (the spec's eval block)
    got = compiled.log_prob(moons)
    assert compiled.stats.info["compiled"] == "dynamics"
    assert compiled.stats.nfe_forward == eager.stats.nfe_forward  # the same accepted steps
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-5)


class Field(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(3, 3, generator=generator, dtype=torch.float64))

    def forward(self, t, y):
        return torch.tanh(y @ self.w.T) * torch.cos(t)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "options", "what"),
    [("rk4", {"step_size": 0.5}, "solve"), ("dopri5", {}, "dynamics")],
)
def test_compiled_solves_equal_eager_in_float64(method, options, what, one_thread, monkeypatch):
    field = Field()
    y0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    t = torch.tensor([0.0, 0.35, 1.0], dtype=torch.float64)  # 0.35: dense output inside a step
    arguments = dict(method=method, rtol=1e-9, atol=1e-9, options=options, gradient="direct")
    if what == "solve":
        compiled_solve(field, y0, t, **arguments)  # a first solve on a grid runs eagerly
    monkeypatch.setattr(compiling, "HOT_CALLS", 0)  # compile from now on
    got = compiled_solve(field, y0, t, **arguments)
    expected = solve(field, y0, t, **arguments)
    assert got.stats.info["compiled"] == what
    # float64: only the summation order differs
    torch.testing.assert_close(got.ys, expected.ys, rtol=1e-12, atol=1e-12)
    (g,) = torch.autograd.grad(got.ys.sum(), field.w)
    (e,) = torch.autograd.grad(expected.ys.sum(), field.w)
    torch.testing.assert_close(g, e, rtol=1e-11, atol=1e-12)


# -- the fallback --------------------------------------------------------------------------------


class _NoCompiler:
    """Stands for torch.compile on a machine without a C++ compiler: inductor fails."""

    def __init__(self, fn, **_):
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        error = RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        raise torch._dynamo.exc.BackendCompilerFailed(lambda: None, error, None)


def test_without_a_backend_the_solve_runs_eagerly_after_one_warning(monkeypatch, moons):
    monkeypatch.setattr(compiling.torch, "compile", _NoCompiler)
    monkeypatch.setattr(compiling._Fallback, "unavailable", None)
    monkeypatch.setattr(compiling._Fallback, "warned", set())
    monkeypatch.setattr(compiling, "_RUNNERS", compiling.weakref.WeakKeyDictionary())
    monkeypatch.setattr(compiling, "_DYNAMICS", compiling.weakref.WeakKeyDictionary())
    monkeypatch.setattr(compiling, "HOT_CALLS", 0)
    eager, compiled = odedsl.compile(SMALL), odedsl.compile(SMALL, compile=True)
    with pytest.warns(CompileFallbackWarning, match="No working C\\+\\+ compiler") as caught:
        loss = compiled.loss(moons).loss
        again = compiled.loss(moons).loss
        nll = compiled.log_prob(moons)  # the adaptive path falls back too, silently
    assert len(caught) == 1
    assert not compiling.compile_available()
    torch.testing.assert_close(loss, eager.loss(moons).loss, rtol=0, atol=0)
    torch.testing.assert_close(again, loss, rtol=0, atol=0)
    torch.testing.assert_close(nll, eager.log_prob(moons), rtol=0, atol=0)
