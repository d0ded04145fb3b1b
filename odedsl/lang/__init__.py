"""The `.ode` language front end: parse a spec, check it, and return the checked model.

``check(path_or_text)`` returns a :class:`~odedsl.lang.model.CheckedModel` or raises
:class:`~odedsl.errors.SpecError` whose ``diagnostics`` are every problem found, each located.
Nothing here imports torch or numpy, and no spec text is ever evaluated: a spec is data.
"""

from __future__ import annotations

import os

from odedsl.errors import SpecError
from odedsl.lang.checker import check_source
from odedsl.lang.diagnostics import Diagnostic
from odedsl.lang.model import CheckedModel
from odedsl.lang.source import Source, SourceReadError, read_spec_file

__all__ = [
    "CheckedModel",
    "Diagnostic",
    "SpecError",
    "check",
    "check_source",
    "check_text",
    "load_source",
]


def check(path_or_text: str | os.PathLike[str]) -> CheckedModel:
    """Check a spec given as a path (a ``PathLike``, or a ``str`` without a line end) or as
    its text (a ``str`` holding a line end: LF, CR LF or CR)."""
    return check_source(load_source(path_or_text))


def check_text(text: str, path: str = "<string>") -> CheckedModel:
    """Check spec ``text``, reporting its diagnostics under ``path``."""
    return check_source(Source(text, path))


def load_source(path_or_text: str | os.PathLike[str]) -> Source:
    """The spec's source; a file that cannot be spec text raises :class:`SpecError`."""
    if isinstance(path_or_text, str) and ("\n" in path_or_text or "\r" in path_or_text):
        return Source(path_or_text)
    path = os.fspath(path_or_text)
    try:
        return read_spec_file(path)
    except SourceReadError as error:
        diagnostic = Diagnostic(
            error.code,
            error.message,
            error.line,
            error.column,
            error.line,
            error.column + 1 if error.line else 0,
            path=path,
        )
        raise SpecError([diagnostic], str(diagnostic)) from None
