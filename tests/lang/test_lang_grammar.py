"""The grammar: LALR(1) without conflicts, and the surface syntax it accepts."""

from __future__ import annotations

import lark
import pytest

from odedsl.lang import nodes
from odedsl.lang.diagnostics import Reporter
from odedsl.lang.parser import GRAMMAR_PATH, parse
from odedsl.lang.source import Source


def test_grammar_is_lalr_without_conflicts() -> None:
    # strict mode raises on any shift/reduce or reduce/reduce conflict and on terminals
    # that could match the same text (checked with interegular).
    lark.Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="basic", strict=True)


def parse_ok(text: str) -> nodes.Model:
    source = Source(text)
    reporter = Reporter(source)
    model = parse(source, reporter)
    assert not reporter.diagnostics, [str(d) for d in reporter.diagnostics]
    assert model is not None
    return model


def expression(text: str) -> nodes.Expr:
    """The right side of ``x = <text>`` in a section."""
    model = parse_ok(f"model M\n    constants\n        x = {text}\n    end\nend\n")
    statement = model.body[0].body[0]
    return statement.value


def show(expr: nodes.Expr) -> str:
    """A fully parenthesised rendering that makes precedence visible."""
    if isinstance(expr, nodes.Number):
        return str(expr.value)
    if isinstance(expr, nodes.Name):
        return expr.id
    if isinstance(expr, nodes.Symbol):
        return f":{expr.name}"
    if isinstance(expr, nodes.BinOp):
        return f"({show(expr.left)} {expr.op} {show(expr.right)})"
    if isinstance(expr, nodes.Unary):
        return f"({expr.op}{show(expr.operand)})"
    if isinstance(expr, nodes.Pair):
        return f"({show(expr.left)} => {show(expr.right)})"
    if isinstance(expr, nodes.Range):
        return f"({show(expr.start)}:{show(expr.stop)})"
    if isinstance(expr, nodes.Transpose):
        return f"{show(expr.operand)}'"
    if isinstance(expr, nodes.Index):
        return f"{show(expr.base)}[{', '.join(map(show, expr.indices))}]"
    if isinstance(expr, nodes.Call):
        args = [*map(show, expr.args), *(f"{k.name} = {show(k.value)}" for k in expr.keywords)]
        return f"{show(expr.func)}({', '.join(args)})"
    if isinstance(expr, nodes.Generator):
        return f"{show(expr.element)} for {expr.var} in {show(expr.iterable)}"
    if isinstance(expr, nodes.Tuple):
        return f"tuple({', '.join(map(show, expr.items))})"
    raise AssertionError(type(expr))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("-x^2", "(-(x ^ 2))"),  # ^ binds tighter than unary minus, as in Julia
        ("2^-1", "(2 ^ (-1))"),
        ("a^b^c", "(a ^ (b ^ c))"),  # ^ is right-associative
        ("a - b - c", "((a - b) - c)"),
        ("a + b * c / d", "(a + ((b * c) / d))"),
        ("1 => 32 => M", "(1 => (32 => M))"),  # => is right-associative
        ("1:M+1", "(1:(M + 1))"),  # a range is looser than +
        ("w[n]' * z", "(w[n]' * z)"),
        ("g(t)[n]", "g(t)[n]"),
        ("f(a, lr = 1e-3)", "f(a, lr = 0.001)"),
        ("sum(u[n] for n in 1:M)", "sum(u[n] for n in (1:M))"),
        ("sum(u[n] for n ∈ 1:M)", "sum(u[n] for n in (1:M))"),
        ("(a, b)", "tuple(a, b)"),
        ("(a)", "a"),
        ("10_000", "10000"),
    ],
)
def test_precedence_and_forms(text: str, tree: str) -> None:
    assert show(expression(text)) == tree


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("f(act = :tanh)", "f(act = :tanh)"),  # `:name` after `=` is a symbol
        ("[:train, :test]", None),
        ("x[2:n]", "x[(2:n)]"),  # glued to a value before it: a range
        ("x[1 : n]", "x[(1:n)]"),
    ],
)
def test_symbols_and_ranges(text: str, tree: str | None) -> None:
    parsed = expression(text)
    if tree is None:
        assert [item.name for item in parsed.items] == ["train", "test"]
    else:
        assert show(parsed) == tree


def test_unicode_and_ascii_spellings() -> None:
    model = parse_ok(
        "model M\n    states\n        z(t) :: Real[2]\n        t ∈ (0.0, π)\n        s in (0, pi)\n"
        "    end\n    encoder\n        (μ, logσ²) = chunk(λ, 2)\n    end\nend\n"
    )
    states, encoder = model.body
    assert [type(s).__name__ for s in states.body] == ["Declare", "Domain", "Domain"]
    assert [item.id for item in encoder.body[0].target.items] == ["μ", "logσ²"]


def test_newlines_inside_brackets_and_after_operators_continue_a_statement() -> None:
    model = parse_ok(
        "model M  # a comment\n\n    constants begin\n        x = f(1,\n              2)\n"
        "        y = 1 +\n            2\n\n        # a comment line\n    end\nend"
    )
    x, y = model.body[0].body
    assert show(x.value) == "f(1, 2)"
    assert show(y.value) == "(1 + 2)"
    assert (y.value.loc.line, y.value.loc.end_line) == (6, 7)


def test_every_node_has_its_location() -> None:
    model = parse_ok("model M\n    constants\n        x = exp(-a[1])\n    end\nend\n")
    value = model.body[0].body[0].value
    # `exp(-a[1])` spans columns 13-22 of line 3 (the end column is one past the last).
    assert (value.loc.line, value.loc.column, value.loc.end_column) == (3, 13, 23)
    index = value.args[0].operand
    assert (index.loc.column, index.loc.end_column) == (18, 22)


def test_log_density_left_side() -> None:
    model = parse_ok("model M\n    target\n        log p(x) = -norm(x)\n    end\nend\n")
    target = model.body[0].body[0].target
    assert isinstance(target, nodes.Juxtaposed)
    assert (target.head.id, target.call.func.id, target.call.args[0].id) == ("log", "p", "x")


def test_a_syntax_error_in_each_of_three_statements_reports_three_errors() -> None:
    text = (
        "model M\n    constants\n        a = 1 +* 2\n        b = 3\n        c = 4 4\n"
        "        d = )5\n    end\nend\n"
    )
    reporter = Reporter(Source(text))
    assert parse(Source(text), reporter) is None
    found = [(d.line, d.column, d.code) for d in reporter.sorted()]
    # the stray `)` is reported by the bracket matcher (E014), not again by the parser
    assert found == [(3, 16, "E012"), (5, 15, "E012"), (6, 13, "E014")]
