"""The packages of ``odedsl/`` depend on each other in one direction (docs/architecture.md).

The imports are read with ``ast`` from the source (every ``import``, at any depth, lazy ones in
functions included), so a forbidden import fails here even where no test runs it. A package
here is a subpackage of ``odedsl`` (``lang``, ``compiler``, ...) or a top-level module
(``errors``, ``workflow``, ``cli``, ...). Adding an edge means adding it to ``ALLOWED`` below,
and it must keep the graph free of cycles.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "odedsl"

ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "machine": set(),
    "lang": {"errors", "machine"},
    "symbolic": {"errors"},
    "solvers": {"errors"},
    "data": {"errors", "machine"},
    "training": {"errors", "machine"},
    "nn": {"errors", "solvers", "symbolic"},
    "models": {"errors", "solvers", "training", "nn"},
    "plots": {"errors", "models"},
    "compiler": {"errors", "machine", "lang", "symbolic", "solvers", "data", "training"}
    | {"nn", "models"},
    "export": {"errors", "solvers", "nn", "models"},
}
"""What each package may import; the entry points (``odedsl/__init__.py``, ``cli``,
``cli_runs``, ``cli_predict``, ``cli_export``, ``__main__``) may import anything."""
ALLOWED["workflow"] = set(ALLOWED)  # the glue of the run commands: every package above
ALLOWED["forecast"] = {"errors", "data", "models", "training", "workflow"}  # `odedsl predict`
ENTRY_POINTS = {"odedsl", "cli", "cli_runs", "cli_predict", "cli_export", "__main__"}

NEVER_THIRD_PARTY: dict[str, set[str]] = {
    "lang": {"torch", "numpy", "sympy"},
    "symbolic": {"torch"},
    "data": {"torch"},
}


def _packages() -> set[str]:
    units = {path.name for path in SOURCE.iterdir() if (path / "__init__.py").exists()}
    units |= {path.stem for path in SOURCE.glob("*.py") if path.stem != "__init__"}
    return units | {"odedsl"}


def _imported(path: Path) -> Iterator[str]:
    """The dotted names of the modules ``path`` imports (relative imports resolved)."""
    module = list(path.relative_to(ROOT).with_suffix("").parts)
    package = module[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            # `from odedsl import workflow` imports the module odedsl.workflow
            yield from (f"{name}.{alias.name}" for alias in node.names)


def _unit(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return "odedsl" if parts == ("__init__",) else parts[0]


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Package → the packages it imports, and package → the third-party modules it imports."""
    units = _packages()
    inner: dict[str, set[str]] = {unit: set() for unit in units}
    outer: dict[str, set[str]] = {unit: set() for unit in units}
    for path in SOURCE.rglob("*.py"):
        unit = _unit(path)
        for name in _imported(path):
            head, *rest = name.split(".")
            if head != "odedsl":
                outer[unit].add(head)
                continue
            target = rest[0] if rest and rest[0] in units else "odedsl"
            if target != unit:
                inner[unit].add(target)
    return inner, outer


def test_the_graph_reads_the_known_imports() -> None:
    inner, outer = _graph()
    assert {"nn", "solvers", "training"} <= inner["models"]
    assert "models" in inner["compiler"] and "lark" in outer["lang"]


def test_every_package_is_placed() -> None:
    assert _packages() - ENTRY_POINTS == set(ALLOWED)


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_a_package_imports_only_what_it_may(unit: str) -> None:
    inner, outer = _graph()
    assert inner[unit] <= ALLOWED[unit], f"odedsl/{unit} imports {inner[unit] - ALLOWED[unit]}"
    forbidden = outer[unit] & NEVER_THIRD_PARTY.get(unit, set())
    assert not forbidden, f"odedsl/{unit} imports {forbidden}"


def test_the_runtime_never_imports_the_language_or_the_compiler() -> None:
    inner, _ = _graph()
    for unit in ("models", "training", "data", "nn", "solvers"):
        assert not inner[unit] & {"lang", "compiler"}, unit
    assert not inner["nn"] & {"models"}
    assert not inner["solvers"] & {"lang", "symbolic", "nn", "models", "data", "training"}


def test_no_cycle_between_packages() -> None:
    inner, _ = _graph()
    state: dict[str, str] = {}

    def visit(unit: str, path: list[str]) -> None:
        state[unit] = "open"
        for target in sorted(inner[unit]):
            if state.get(target) == "open":
                cycle = [*path[path.index(target) :], unit, target]
                pytest.fail("package cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target, [*path, unit])
        state[unit] = "done"

    for unit in sorted(inner):
        if unit not in state:
            visit(unit, [])


def test_each_package_imports_first_on_its_own() -> None:
    """Each package imported into an interpreter holding no other odedsl module: an import
    order that only works one way round (the sign of a cycle) fails here."""
    names = sorted(f"odedsl.{unit}" for unit in _packages() - {"odedsl", "__main__"})
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'odedsl']:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "import odedsl, inspect\n"
        "assert inspect.isfunction(odedsl.compile), odedsl.compile\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
