"""`check` and `compile` accept the same specs: deep and wide expressions, and names that are
Python keywords or names of the generated module.

Whatever `check` accepts, `compile` lowers and the model evaluates (its generated dynamics
against numpy, its log-density finite); whatever `check` refuses is a located diagnostic. The
shared limit is :data:`odedsl.lang.nesting.MAX_NESTING`.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odedsl.compiler import compile
from odedsl.errors import SpecError
from odedsl.lang import check
from odedsl.lang.nesting import MAX_NESTING
from odedsl.symbolic.names import mangle

from .specs import flow_spec

EULER = "method = :euler\nstep_size = 0.5"  # two steps: evaluating the model stays cheap
NAMES = ["lambda", "class", "None", "True", "def", "import", "torch", "F", "ops", "m", "e1"]
NAMES += ["s_z", "p_w", "self", "print", "dynamics", "symbolic", "exec", "w"]
# and names the language itself refuses (a built-in, the time variable): located errors
NAMES += ["sum", "t", "pi"]


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


# Each operation wraps the expression built so far (text, its value on z, whether the text is
# a single operand) once more; `c` is the scalar parameter, `z` the state.
OPERATIONS = {
    "neg": lambda s, v, z, c, atomic: (f"-{s}" if atomic else f"-({s})", -v, True),
    "tanh": lambda s, v, z, c, atomic: (f"tanh({s})", np.tanh(v), True),
    "sin": lambda s, v, z, c, atomic: (f"sin({s})", np.sin(v), True),
    "sigmoid": lambda s, v, z, c, atomic: (f"sigmoid({s})", sigmoid(v), True),
    "paren": lambda s, v, z, c, atomic: (f"({s})", v, True),
    "add": lambda s, v, z, c, atomic: (f"{s} + z", v + z, False),
    "sub": lambda s, v, z, c, atomic: (f"z - ({s})", z - v, False),
    "times": lambda s, v, z, c, atomic: (f"({s}) .* z", v * z, False),
    "scale": lambda s, v, z, c, atomic: (f"{{name}} * ({s})", c * v, False),
}


def build(operations: list[str], width: int, z: np.ndarray, c: float) -> tuple[str, np.ndarray]:
    """The text and numpy value of the expression: ``operations`` applied in turn to
    ``c * z`` (iteratively, however deep), then a sum of ``width`` more terms."""
    text, value, atomic = "{name} * z", c * z, False
    for operation in operations:
        text, value, atomic = OPERATIONS[operation](text, value, z, c, atomic)
    if width:
        text = " + ".join([text if atomic else f"({text})"] + ["z"] * width)
        value = value + width * z
    return text, value


def assert_located(error: SpecError) -> None:
    assert error.diagnostics
    for diagnostic in error.diagnostics:
        assert diagnostic.line >= 1 and diagnostic.column >= 1, str(diagnostic)


def evaluate(name: str, operations: list[str], width: int, state: str = "z") -> None:
    """Check the spec (parameter ``name``, state ``state``); if accepted, compile it and
    compare its dynamics with numpy."""
    z = np.random.default_rng(0).uniform(-1, 1, size=(4, 3))
    c = 0.75
    text, expected = build(operations, width, z, c)
    spec = flow_spec(re.sub(r"\bz\b", state, text), params=f"{name} :: Real", solver=EULER)
    spec = spec.replace("{name}", name).replace("z(", f"{state}(").replace("dz/", f"d{state}/")
    try:
        check(spec)
    except SpecError as error:
        assert_located(error)
        return
    model = compile(spec).double()
    f = model.generated["dynamics"]
    with torch.no_grad():
        getattr(f, mangle("p_", name)).fill_(c)
        got = f(torch.tensor(0.0, dtype=torch.float64), torch.as_tensor(z)).numpy()
        log_p = model.log_prob(torch.zeros(2, 3, dtype=torch.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert log_p.shape == (2,) and torch.isfinite(log_p).all()


@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    name=st.sampled_from(NAMES),
    state=st.sampled_from(["z", "lambda", "None", "torch", "s_z", "e2", "m", "t"]),
    operations=st.lists(st.sampled_from(sorted(OPERATIONS)), max_size=400),
    width=st.integers(0, 600),
)
def test_what_check_accepts_compiles_and_evaluates(name, state, operations, width):
    evaluate(name, operations, width, state)


@pytest.mark.parametrize(
    "operations, width",
    [
        (["tanh"] * 150, 0),  # a RecursionError in compile before
        ([], 500),  # a 500-term sum: a RecursionError before
        (["neg"] * 300, 0),  # `-----...z`: "too many nested parentheses" in the generated code
    ],
    ids=["tanh-150", "sum-500", "neg-300"],
)
def test_issue_cases_compile(operations, width):
    evaluate("w", operations, width)


@pytest.mark.parametrize("name", ["lambda", "class", "None", "def"])
def test_keywords_are_names_like_any_other(name):
    # An unlocated "name must be a plain identifier" ValueError from compile before.
    evaluate(name, ["scale", "tanh"], 0)


def test_the_nesting_limit_is_shared_and_located():
    """`-` nested on `w * z` (two levels): at MAX_NESTING levels compile works and the model
    evaluates; one level more is refused by `check` at the expression, naming the limit."""
    evaluate("w", ["neg"] * (MAX_NESTING - 2), 0)
    text, _ = build(["neg"] * (MAX_NESTING - 1), 0, np.zeros(3), 0.0)
    with pytest.raises(SpecError) as caught:
        check(flow_spec(text.replace("{name}", "w"), params="w :: Real"))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E017" and f"{MAX_NESTING} levels" in diagnostic.message
    assert (diagnostic.line, diagnostic.column) == (18, 17)  # the rhs of `dz/dt = ...`


def test_symbolic_trace_is_refused_beyond_its_depth_by_check():
    # `trace = :symbolic` is refused by `check` (E084, located) where sympy would have to
    # recurse through 200 levels; `:auto` falls back to the exact trace instead.
    deep = build(["tanh"] * 200, 0, np.zeros(3), 0.0)[0].replace("{name}", "2.0")
    with pytest.raises(SpecError) as caught:
        check(flow_spec(deep, trace="symbolic"))
    assert [d.code for d in caught.value.diagnostics] == ["E084"]
    assert caught.value.diagnostics[0].line == 18
    assert check(flow_spec(deep)).solver.trace == "exact"
