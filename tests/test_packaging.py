"""The wheel's package list: every package under ``odedsl/`` plus the grammar's data package.

``pyproject.toml`` lists the packages by hand because the grammar lives at the top of the
repository (``grammar/``) and is mapped into the wheel as ``odedsl.grammar``; a package added
under ``odedsl/`` without being listed would be missing from installed wheels.
"""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]


def _setuptools_table() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["setuptools"]


def test_every_package_under_odedsl_is_listed() -> None:
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "odedsl").rglob("__init__.py")
    }
    listed = set(_setuptools_table()["packages"])
    assert listed == found | {"odedsl.grammar"}


def test_the_grammar_is_mapped_into_the_wheel() -> None:
    table = _setuptools_table()
    folder = ROOT / table["package-dir"]["odedsl.grammar"]
    patterns = table["package-data"]["odedsl.grammar"]
    assert [path.name for pattern in patterns for path in folder.glob(pattern)] == ["odedsl.lark"]
