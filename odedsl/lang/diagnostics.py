"""Located diagnostics: the catalogue of codes, collecting them, suggestions, rendering.

A diagnostic renders as ``path:line:col: error[E030]: message``, then the source line with a
caret span under the culprit, then ``= help: ...`` when there is a suggestion, then any notes
(each with its own location and excerpt, e.g. the other side of a shape mismatch).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from odedsl.lang.source import Source, Span

Severity = Literal["error", "warning"]

CODES: dict[str, str] = {
    # reading the file
    "E001": "the spec file cannot be read",
    "E002": "the spec is a binary file",
    "E003": "the spec is not UTF-8 text",
    "E004": "the spec is too large",
    "E005": "the spec is empty",
    # tokens and syntax
    "E010": "unexpected character",
    "E011": "unterminated string",
    "E012": "syntax error",
    "E013": "unclosed bracket",
    "E014": "mismatched or unmatched closing bracket",
    "E015": "unclosed block (missing `end`)",
    "E016": "text after the end of the model",
    "E017": "expression nested too deeply",
    "E018": "unknown escape in a string",
    # sections
    "E020": "unknown section",
    "E021": "duplicate section",
    "E022": "statement or block in the wrong place",
    "E023": "statement not allowed in this section",
    "E024": "the kind of model cannot be determined or a section it needs is missing",
    "E025": "section not used by this kind of model",
    # names and constants
    "E030": "unknown name",
    "E031": "duplicate definition",
    "E032": "attribute access",
    "E033": "a name used as the wrong kind of thing",
    "E034": "constants defined in a cycle",
    "E035": "not a constant",
    "E036": "invalid size",
    # shapes and calls
    "E040": "shape mismatch",
    "E041": "index out of range",
    "E042": "too many indices",
    "E043": "network input does not fit",
    "E044": "wrong number of arguments",
    "E045": "unknown layer",
    "E046": "invalid network",
    "E047": "invalid declaration",
    # equations
    "E050": "invalid left-hand side",
    "E051": "derivative with respect to a variable other than time",
    "E052": "equation for something that is not a state",
    "E053": "duplicate equation or condition",
    "E054": "state without a derivative equation",
    "E055": "state without an initial condition",
    "E056": "time outside the time domain",
    "E057": "invalid or missing time domain",
    "E058": "invalid flow",
    "E059": "discrete flow without a target density",
    # distributions and arguments
    "E060": "unknown distribution",
    "E061": "unknown keyword argument",
    "E062": "invalid argument value",
    "E063": "invalid use of `~` or of a distribution",
    # data
    "E070": "unknown data set",
    "E071": "wrong number of data variables",
    "E072": "data shape conflict",
    "E073": "missing or repeated data source",
    # options
    "E080": "unknown option",
    "E081": "invalid option value",
    "E082": "conflicting options",
    "E083": "fixed-step method without `step_size`",
    "E084": "symbolic trace impossible",
    "E085": "objective does not fit the model",
    # expressions
    "E090": "value of the wrong kind",
    "E091": "invalid generator",
    # compiler
    "E100": "cannot be compiled",
    "E101": "the model does not fit in memory",
    # warnings
    "W001": "unused parameter",
    "W002": "network never called",
    "W003": "unused data variable",
    "W004": "option has no effect",
    "W005": "unused constant or local",
    "W006": "large model",
}

FILE_CODES = frozenset({"E001", "E002", "E003", "E004", "E005"})
"""Codes about the file as a whole: rendered on one line, without an excerpt."""


@dataclass(frozen=True)
class Note:
    """A secondary message, located (``span``) or not."""

    message: str
    span: Span | None = None


MAX_DIAGNOSTICS = 100
"""The most diagnostics one file reports."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec. ``line``/``column`` are 1-based; ``end_column`` is one past the
    culprit's last character; file-level problems (E001-E005) may have line 0."""

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    help: str | None = None
    severity: Severity = "error"
    path: str = "<string>"
    notes: tuple[Note, ...] = field(default=())

    @property
    def span(self) -> Span:
        return Span(self.line, self.column, self.end_line, self.end_column)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        return f"{where}: {self.severity}[{self.code}]: {self.message}"


class Reporter:
    """Collects the diagnostics of one spec."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[Diagnostic] = set()

    def error(
        self,
        code: str,
        message: str,
        span: Span,
        *,
        help: str | None = None,
        notes: Iterable[Note] = (),
    ) -> None:
        self._add(code, message, span, help, notes, "error")

    def warning(
        self,
        code: str,
        message: str,
        span: Span,
        *,
        help: str | None = None,
        notes: Iterable[Note] = (),
    ) -> None:
        self._add(code, message, span, help, notes, "warning")

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def errors_since(self, count: int) -> bool:
        """Whether an error was reported after the first ``count`` diagnostics."""
        return any(d.severity == "error" for d in self.diagnostics[count:])

    def errors_within(self, span: Span) -> bool:
        """Whether an error was reported on a line of ``span``."""
        return any(
            d.severity == "error" and span.line <= d.line <= span.end_line for d in self.diagnostics
        )

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.diagnostics, key=lambda d: (d.line, d.column, d.code))

    def _add(
        self,
        code: str,
        message: str,
        span: Span,
        help: str | None,
        notes: Iterable[Note],
        severity: Severity,
    ) -> None:
        if code not in CODES:
            raise ValueError(f"unregistered diagnostic code {code}")
        diagnostic = Diagnostic(
            code,
            message,
            span.line,
            span.column,
            span.end_line,
            span.end_column,
            help,
            severity,
            self.source.path,
            tuple(notes),
        )
        # Past MAX_DIAGNOSTICS a broken file (say 100k open brackets) has said all it can;
        # the cap keeps every check over the diagnostics linear in the file's size.
        if diagnostic not in self._seen and len(self.diagnostics) < MAX_DIAGNOSTICS:
            self._seen.add(diagnostic)
            self.diagnostics.append(diagnostic)


# -- suggestions -----------------------------------------------------------------------------

_GREEK = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "θ": "theta",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "ν": "nu",
    "π": "pi",
    "ρ": "rho",
    "σ": "sigma",
    "τ": "tau",
    "φ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
    "Λ": "Lambda",
    "Σ": "Sigma",
    "²": "2",
}


def _spelled(name: str) -> str:
    return "".join(_GREEK.get(char, char) for char in name).lower()


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` was most likely meant to be: same letters in another case or
    Greek/ASCII spelling (``mu`` for ``μ``), else the closest by edit similarity."""
    pool = sorted({c for c in candidates if c != name})
    spelled = _spelled(name)
    for candidate in pool:
        if _spelled(candidate) == spelled:
            return candidate
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not matches:
        by_spelling = {_spelled(c): c for c in pool}
        found = difflib.get_close_matches(spelled, list(by_spelling), n=1, cutoff=0.75)
        matches = [by_spelling[found[0]]] if found else []
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str], prefix: str = "") -> str | None:
    """A help text ``did you mean `x`?`` when a close candidate exists."""
    match = closest(name, candidates)
    return f"did you mean `{prefix}{match}`?" if match else None


def number(value: float) -> str:
    """A number as a spec would write it: ``2``, ``2.0``, ``1e-05``."""
    return repr(value) if isinstance(value, float) else str(value)


def one_of(values: Iterable[str], prefix: str = "") -> str:
    """``a``, ``b`` or ``c``, each in backticks."""
    items = [f"`{prefix}{v}`" for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


# -- rendering --------------------------------------------------------------------------------


def render(diagnostics: Iterable[Diagnostic], source: Source | None) -> str:
    """The diagnostics as text, each with its excerpt, caret span, help and notes."""
    return "\n".join(_render_one(d, source) for d in diagnostics)


def _render_one(diagnostic: Diagnostic, source: Source | None) -> str:
    lines = [str(diagnostic)]
    if source is not None and diagnostic.code not in FILE_CODES and diagnostic.line:
        lines += _excerpt(source, diagnostic.span)
    if diagnostic.help:
        lines.append(f"  = help: {diagnostic.help}")
    for note in diagnostic.notes:
        if note.span is None or source is None:
            lines.append(f"  = note: {note.message}")
        else:
            lines.append(f"{diagnostic.path}:{note.span}: note: {note.message}")
            lines += _excerpt(source, note.span)
    return "\n".join(lines)


MAX_EXCERPT = 100
"""The most characters of a source line an excerpt shows: a longer line is cut around the
culprit, with `…` where text is left out."""


def _excerpt(source: Source, span: Span) -> list[str]:
    text = source.line(span.line).replace("\t", " ")
    end = span.end_column if span.end_line == span.line else len(text) + 1
    start = span.column - 1  # 0-based
    width = max(1, end - span.column)
    if len(text) > MAX_EXCERPT:
        left = min(max(0, start - MAX_EXCERPT // 2), len(text) - MAX_EXCERPT)
        right = left + MAX_EXCERPT
        shown = ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")
        start = start - left + (1 if left else 0)
        width = max(1, min(width, MAX_EXCERPT - (start - (1 if left else 0))))
        text = shown
    number = str(span.line)
    gutter = " " * len(number)
    return [
        f" {gutter} |",
        f" {number} | {text}",
        f" {gutter} | {' ' * start}{'^' * width}",
    ]
