"""The builder's shape rules, its refusals, and the safety of names in generated code."""

from __future__ import annotations

import ast
import keyword
import subprocess
import sys

import pytest

from odedsl.symbolic import (
    DynamicsBuilder,
    SymbolicUnsupported,
    apply,
    derive,
    elementwise,
    sum_over,
    symbolic_dynamics,
)
from odedsl.symbolic.names import mangle

from . import cases


@pytest.fixture
def b() -> DynamicsBuilder:
    return DynamicsBuilder("z", 3)


def test_julia_products_have_the_expected_shapes(b):
    w, A, B = b.param("w", (4, 3)), b.param("A", (3, 3)), b.param("B", (3, 5))
    z = b.state
    assert (w[0].T * z).shape == ()  # w[1]' * z: a dot product
    assert (A * z).shape == (3,) and not (A * z).is_row
    assert (A * B).shape == (3, 5)
    assert (z * z.T).shape == (3, 3)  # an outer product
    assert (z.T * A).shape == (3,) and (z.T * A).is_row
    assert (2 * z).shape == (3,) and (w[0] / 2).shape == (3,)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda b: b.state * b.state, "inner sizes differ"),
        (lambda b: b.state / b.state, "divides by a scalar"),
        (lambda b: b.state**2, "takes scalars"),
        (lambda b: b.state + b.param("v", (4,)), "between a vector of shape"),
        (lambda b: b.param("w", (4, 3))[4], "outside an axis of 4"),
        (lambda b: b.state[0, 1], "2 subscripts"),
        (lambda b: elementwise("%", b.state, 2), "op must be one of"),
    ],
)
def test_shape_errors_name_the_problem(b, build, message):
    with pytest.raises(ValueError, match=message):
        build(b)


def test_dynamics_must_have_the_state_shape(b):
    with pytest.raises(ValueError, match="vector of length 3"):
        derive(b, b.state.T)
    with pytest.raises(ValueError, match="vector of length 3"):
        derive(b, b.time)


def test_generator_variable_outside_its_sum_is_rejected(b):
    n = b.index("n", 4)
    with pytest.raises(ValueError, match="outside its sum"):
        derive(b, b.param("u", (4, 3))[n])


def test_network_applied_to_the_state_is_unsupported(b):
    with pytest.raises(SymbolicUnsupported, match="applied to the state") as error:
        b.network("f", (3,), b.state)
    assert error.value.culprit == "f"


def test_states_that_are_not_vectors_are_unsupported():
    with pytest.raises(SymbolicUnsupported, match="vector states"):
        DynamicsBuilder("h", (32, 8, 8))
    assert DynamicsBuilder("z", (5,)).dim == 5


def test_unknown_function_is_unsupported(b):
    with pytest.raises(SymbolicUnsupported, match=r"'gelu'.*known: abs") as error:
        apply("gelu", b.state)
    assert error.value.culprit == "gelu"


def test_generator_over_part_of_an_axis_is_unsupported(b):
    n = b.index("n", 2)
    with pytest.raises(SymbolicUnsupported, match="whole axis"):
        sum_over(n, b.param("u", (4, 3))[n])


def test_network_calls_become_time_only_inputs_in_order(b):
    gate = b.network("gate", (4,), b.time)
    same = b.network("gate", (4,), b.time)
    doubled = b.network("gate", (4,), 2 * b.time)
    b.time_param("w", (4, 3))
    assert same is gate and doubled is not gate
    assert [(s.argument, s.kind) for s in b.inputs] == [
        ("net_gate", "network"),
        ("net_gate_1", "network"),
        ("tp_w", "time_param"),
    ]


HOSTILE = ["__import__('os')", "os.system", "eval(1)", "a b", "1x", "", "w;import os"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_rejected_everywhere(b, name):
    for register in (
        lambda: b.param(name, (3,)),
        lambda: b.time_param(name, (3,)),
        lambda: b.network(name, (3,), b.time),
        lambda: b.index(name, 3),
        lambda: DynamicsBuilder(name, 3),
    ):
        with pytest.raises(ValueError, match="plain identifier"):
            register()


@pytest.mark.parametrize("name", ["for", "lambda", "None", "class", "torch", "print"])
def test_python_keywords_and_builtins_are_names_like_any_other(name):
    # A spec may call a parameter `lambda`: behind its prefix it is an ordinary identifier.
    mangled = mangle("p_", name)
    assert mangled == f"p_{name}" and mangled.isidentifier() and not keyword.iskeyword(mangled)


def test_unicode_names_are_mangled_to_distinct_ascii():
    names = ["σ", "u3c3", "_u3c3_", "σ_", "w__", "w_"]
    mangled = [mangle("p_", name) for name in names]
    assert all(name.isascii() and name.isidentifier() for name in mangled)
    assert len(set(mangled)) == len(names)
    assert mangle("p_", "σ") == "p__u3c3_"


ALLOWED_ATTRIBUTES = {
    "T", "clamp", "device", "dtype", "einsum", "elu", "exp", "expand", "functional", "new_full",
    "nn", "permute", "shape", "sigmoid", "softplus", "sum", "tanh", "to", "relu", "sin", "cos",
    "log", "abs", "sign", "sqrt", "pow", "minimum", "maximum", "eye",
}  # fmt: skip


def test_generated_code_holds_only_builder_made_identifiers():
    """Whatever the spec's names, the code names only torch, t, z, its inputs, temporaries
    and torch's own functions: a name from the spec cannot reach Python unmangled."""
    b = DynamicsBuilder("λ", 3)
    sigma = b.param("σ", (4, 3))
    gate = b.network("os", (4,), b.time)
    n = b.index("system", 4)
    f = sum_over(n, gate[n] * sigma[n] * apply("softplus", sigma[n].T * b.state))
    emitted = symbolic_dynamics(b, f)
    tree = ast.parse(emitted.source)
    arguments = set(emitted.arguments)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in arguments | {"torch", "dz", "trace"} or node.id.startswith("x")
        elif isinstance(node, ast.Attribute):
            assert node.attr in ALLOWED_ATTRIBUTES, node.attr
        elif isinstance(node, ast.Import | ast.ImportFrom):
            assert [alias.name for alias in node.names] == ["torch"]
    assert emitted.arguments == ("t", "z", "p__u3c3_", "net_os")


def test_symbolic_package_does_not_import_torch():
    code = "import sys, odedsl.symbolic; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_supported_cases_list_their_inputs():
    case = cases.mixed()
    kinds = {spec.name: spec.kind for spec in case.builder.inputs}
    assert kinds == {
        "w": "param", "u": "param", "c": "param", "v": "param", "a": "param", "A": "param",
        "gate": "network",
    }  # fmt: skip
