"""A spec is data: Python's names are unknown names, attributes do not exist, and checking a
spec never executes, compiles or imports anything it says."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from odedsl.errors import SpecError
from odedsl.lang import check_text

SPECS = Path(__file__).parents[2] / "specs"

TEMPLATE = """model Evil
    states
        z(t) :: Real[2]
        t ∈ (0.0, 1.0)
    end
    flow
        dz/dt = {rhs}
        z(0) ~ Normal(0, I(2))
    end
    target
        log p(x) = -norm(x)
    end
end
"""
RHS_COLUMN = len("        dz/dt = ") + 1


@pytest.mark.parametrize(
    ("rhs", "code", "column", "name"),
    [
        ('__import__("os")', "E030", 0, "`__import__`"),
        ("os.system(z)", "E030", 0, "`os`"),
        ("eval(z)", "E030", 0, "`eval`"),
        ("exec(z)", "E030", 0, "`exec`"),
        ("open(z)", "E030", 0, "`open`"),
        ("globals()", "E030", 0, "`globals`"),
        ("__builtins__", "E030", 0, "`__builtins__`"),
        ("z.__class__", "E032", 0, "`.__class__`"),
        ("-z + z.__dict__", "E032", 5, "`.__dict__`"),
        ("f.__globals__", "E030", 0, "`f`"),
    ],
)
def test_python_names_are_unknown_names_with_a_location(rhs, code, column, name) -> None:
    with pytest.raises(SpecError) as caught:
        check_text(TEMPLATE.format(rhs=rhs), "evil.ode")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == code and name in diagnostic.message
    assert (diagnostic.line, diagnostic.column) == (7, RHS_COLUMN + column)


def test_checking_a_spec_executes_nothing_it_says(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    payloads = [
        f'__import__("os").system("touch {sentinel}")',
        f'eval("open(\\"{sentinel}\\", \\"w\\")")',
        f'exec("import os; os.system(\\"touch {sentinel}\\")")',
        "z.__class__.__base__.__subclasses__()",
    ]
    check_text((SPECS / "cnf_moons.ode").read_text(encoding="utf-8"))  # warm the parser up
    events: list[tuple[str, tuple]] = []
    watching = [True]

    def audit(event: str, args: tuple) -> None:
        if watching[0] and event in {
            "exec",
            "compile",
            "import",
            "os.system",
            "subprocess.Popen",
            "os.posix_spawn",
            "open",
        }:
            events.append((event, args))

    sys.addaudithook(audit)  # hooks cannot be removed: this one switches itself off below
    try:
        compile("1", "<control>", "eval")  # the hook sees what it must see...
        assert [event for event, _ in events] == ["compile"]
        events.clear()
        for payload in payloads:
            statement = f"dz/dt = {payload}"
            with pytest.raises(SpecError):
                check_text(TEMPLATE.format(rhs="-z").replace("dz/dt = -z", statement))
    finally:
        watching[0] = False
    assert events == []
    assert not sentinel.exists()
