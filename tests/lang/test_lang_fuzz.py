"""Robustness: a spec mangled at any point gives a checked model or located errors, never a
traceback or a hang.

Mutations of each reference spec: every truncation at a line end (exhaustively), and, drawn
by hypothesis, truncation at any character and the deletion, duplication or substitution of
one token. Examples are bounded (derandomized, 300 per mutation kind) to keep the test under
about 20 s on one core.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odedsl.errors import SpecError
from odedsl.lang import check_text
from odedsl.lang.lexer import lex

SPECS = sorted((Path(__file__).parents[2] / "specs").glob("*.ode"))
TEXTS = [path.read_text(encoding="utf-8") for path in SPECS]
REPLACEMENTS = [
    "(", ")", "[", "]", "=", "~", "::", ",", ":", "=>", "'", "+", "*", "^", ".", "\n",
    "end", "model", "for", "in", "∈", "begin", "x", "z", "t", "ts", "n", "M", "0", "1.0", "-1",
    ":tanh", '"s"', "sum", "Normal", "I", "flow", "solver", "λ", "__import__",
]  # fmt: skip
BOUNDED = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def tokens(index: int) -> list[tuple[int, int]]:
    return [(t.start_pos, t.end_pos) for t in lex(TEXTS[index])]


def assert_checks_or_locates(text: str) -> None:
    try:
        check_text(text, "mutant.ode")
    except SpecError as error:
        assert error.diagnostics and error.rendered
        lines = text.split("\n")
        for d in error.diagnostics:
            assert 1 <= d.line <= len(lines), d
            assert 1 <= d.column <= len(lines[d.line - 1]) + 1, d
            assert (d.end_line, d.end_column) >= (d.line, d.column), d
            assert f"{d.line}:{d.column}: " in error.rendered


def test_every_line_truncation() -> None:
    for text in TEXTS:
        ends = [i for i, char in enumerate(text) if char == "\n"]
        for end in ends:
            assert_checks_or_locates(text[:end])


@st.composite
def token_mutant(draw: st.DrawFn, kind: str) -> str:
    index = draw(st.integers(0, len(TEXTS) - 1))
    text = TEXTS[index]
    start, end = draw(st.sampled_from(tokens(index)))
    if kind == "delete":
        return text[:start] + text[end:]
    if kind == "duplicate":
        return text[:end] + " " + text[start:end] + text[end:]
    return text[:start] + draw(st.sampled_from(REPLACEMENTS)) + text[end:]


@BOUNDED
@given(st.data())
def test_truncation_at_any_character(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(TEXTS))
    assert_checks_or_locates(text[: data.draw(st.integers(0, len(text)))])


@BOUNDED
@given(token_mutant("delete"))
def test_single_token_deletion(text: str) -> None:
    assert_checks_or_locates(text)


@BOUNDED
@given(token_mutant("duplicate"))
def test_single_token_duplication(text: str) -> None:
    assert_checks_or_locates(text)


@BOUNDED
@given(token_mutant("substitute"))
def test_single_token_substitution(text: str) -> None:
    assert_checks_or_locates(text)
