"""A spec is read as written: every line-end convention, very long lines, string escapes."""

from __future__ import annotations

from dataclasses import fields

import pytest

from odedsl.errors import SpecError
from odedsl.lang import check, nodes
from odedsl.lang.diagnostics import MAX_EXCERPT, Reporter, render
from odedsl.lang.parser import parse
from odedsl.lang.source import Source

# `q` is unknown on line 8, column 22: the one error of this spec
SPEC = """model A
    states
        z(t) :: Real[2]
        t ∈ (0.0, 1.0)
    end
    flow
        z(0) ~ Normal(0, I(2))
        dz/dt = -z + q
    end
    target
        log p(x) = -dot(x, x)
    end
end
"""


def diagnostics(text_or_path) -> list:
    with pytest.raises(SpecError) as caught:
        check(text_or_path)
    return caught.value.diagnostics


def places(text_or_path) -> list[tuple[int, int, str]]:
    return [(d.line, d.column, d.code) for d in diagnostics(text_or_path)]


@pytest.mark.parametrize("line_end", ["\r\n", "\r"], ids=["CRLF", "CR"])
def test_every_line_end_counts_as_one_line(line_end, tmp_path):
    # CR alone (classic Mac OS) made the whole file one line before: no statement could be
    # located past line 1.
    expected = places(SPEC)
    assert expected == [(8, 22, "E030")]
    text = SPEC.replace("\n", line_end)
    assert places(text) == expected
    path = tmp_path / "spec.ode"
    path.write_bytes(text.encode())
    assert places(path) == expected


def test_a_very_long_line_is_shown_around_its_culprit():
    # One 100,000-character line with the unknown name `q` in its middle: the excerpt used to
    # print the whole line.
    spaces = " " * 50_000
    text = SPEC.replace("-z + q", f"-z +{spaces}q{spaces}")
    (diagnostic,) = diagnostics(text)
    lines = render([diagnostic], Source(text)).splitlines()
    excerpt, carets = lines[2], lines[3]
    assert len(excerpt) <= MAX_EXCERPT + 8  # the gutter ` 8 | ` and two ellipses
    assert "…" in excerpt[:12] and excerpt.endswith("…")
    column = carets.index("^")
    assert excerpt[column] == "q" and carets.count("^") == 1


@pytest.mark.parametrize(
    "escape, column", [("\\q", 37), ("\\0", 37)], ids=["backslash-q", "backslash-0"]
)
def test_an_unknown_escape_is_refused_at_its_backslash(escape, column):
    # `\q` and `\0` silently became `q` and `0` before.
    text = f'model A\n    data\n        x :: Real[2] ~ CSV(path = "a{escape}.csv")\n    end\nend\n'
    (diagnostic,) = [d for d in diagnostics(text) if d.code == "E018"]
    assert (diagnostic.line, diagnostic.column, diagnostic.end_column) == (3, column, column + 2)
    assert f"`{escape}`" in diagnostic.message
    assert all(valid in diagnostic.help for valid in ("`\\n`", "`\\t`", '`\\"`', "`\\\\`"))


def test_the_known_escapes_are_read():
    line = 'x :: Real[2] ~ CSV(path = "a\\\\b\\"c\\td.csv")'  # "a\\b\"c\td.csv" in the spec
    source = Source(f"model A\n    data\n        {line}\n    end\nend\n")
    reporter = Reporter(source)
    model = parse(source, reporter)
    assert not reporter.diagnostics
    strings = [n for n in walk(model) if isinstance(n, nodes.String)]
    assert [s.value for s in strings] == ['a\\b"c\td.csv']


def walk(node):
    yield node
    for field in fields(node):
        value = getattr(node, field.name)
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, nodes.Node):
                yield from walk(child)
