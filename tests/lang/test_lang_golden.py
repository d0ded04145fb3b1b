"""Golden tests: each bad spec in ``golden/`` against the exact diagnostics it must produce.

A case is ``golden/<CODE>_<what>.ode`` with its expected output in ``<CODE>_<what>.err``:
the rendered diagnostics (location, message, excerpt, caret, help, notes) as `odedsl check`
prints them. The file name's code must be among the reported codes.

After a deliberate change of a message, rewrite the expected files with
``ODEDSL_UPDATE_GOLDEN=1 pytest tests/lang/test_lang_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from odedsl.errors import SpecError
from odedsl.lang import check_text
from odedsl.lang.diagnostics import CODES, FILE_CODES, render
from odedsl.lang.source import Source

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.ode"))
DOCS = Path(__file__).parents[2] / "docs" / "language.md"


def diagnose(path: Path) -> tuple[str, list[str]]:
    """The rendered diagnostics of a spec file and their codes."""
    text = path.read_text(encoding="utf-8")
    try:
        model = check_text(text, path.name)
    except SpecError as error:
        return error.rendered, [d.code for d in error.diagnostics]
    return render(model.warnings, Source(text, path.name)), [d.code for d in model.warnings]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    rendered, codes = diagnose(path)
    expected_file = path.with_suffix(".err")
    if os.environ.get("ODEDSL_UPDATE_GOLDEN"):
        expected_file.write_text(rendered + "\n", encoding="utf-8")
    assert path.stem.split("_")[0] in codes
    assert rendered + "\n" == expected_file.read_text(encoding="utf-8")


def test_there_are_at_least_forty_golden_cases() -> None:
    assert len(CASES) >= 40


def test_every_code_has_a_golden_case() -> None:
    # The file-level codes E001-E004 need files that cannot live in a repository (a 10 MB
    # file, binary data): test_lang_cli.py covers them; E017 is in test_lang_checks.py; E100
    # and E101 (raised by the compiler, not the checker) are in
    # tests/compiler/test_compile_api.py and tests/compiler/test_memory.py.
    covered = {path.stem.split("_")[0] for path in CASES}
    missing = set(CODES) - covered - FILE_CODES - {"E017", "E100", "E101"}
    assert not missing, sorted(missing)


def test_every_code_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert not [code for code in CODES if f"`{code}`" not in text]
