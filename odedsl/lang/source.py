"""Spec text with its path, source spans, and reading a spec file safely."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property

from odedsl.machine import special_kind

MAX_SPEC_BYTES = 1 << 18
"""Specs larger than this (256 KiB, some 9,000 lines) are refused before lexing: a spec
describes a model on a page or two, not data."""


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a spec: 1-based line and column; ``end_column`` is one past the last
    character (as in Lark's tokens). Columns count characters (code points), not bytes."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, item: object) -> Span:
        """The span of a Lark token or of a tree's ``meta``."""
        return cls(item.line, item.column, item.end_line, item.end_column)  # type: ignore[attr-defined]

    def to(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(self.line, self.column, other.end_line, other.end_column)

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


_LINE_END = re.compile(r"\r\n?")


def normalize_line_ends(text: str) -> str:
    """``text`` with every line end (CR LF as on Windows, a lone CR as on classic Mac OS, LF)
    written LF: the lexer and every position count lines by LF."""
    return _LINE_END.sub("\n", text) if "\r" in text else text


@dataclass(frozen=True)
class Source:
    """The text of one spec (its line ends made LF) and the path it is reported under."""

    text: str
    path: str = "<string>"

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", normalize_line_ends(self.text))

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    def line(self, number: int) -> str:
        """The text of 1-based line ``number`` (without its newline), or '' past the end."""
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""

    @property
    def end(self) -> Span:
        """A one-character span just after the last character of the text."""
        last = len(self.lines)
        column = len(self.lines[-1]) + 1
        return Span(last, column, last, column + 1)


class SourceReadError(Exception):
    """A spec file cannot be read as spec text: ``code``, ``message`` and, when the fault
    has a place (an invalid UTF-8 byte), its ``line`` and ``column``."""

    def __init__(self, code: str, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column


def read_spec_file(path: str | os.PathLike[str]) -> Source:
    """Read a spec file, refusing (with :class:`SourceReadError`) files that cannot be spec text:
    missing, unreadable or not a regular file (E001: a directory, a FIFO, a device such as
    /dev/zero, checked before opening), binary (E002), not UTF-8 (E003), too large (E004: at
    most :data:`MAX_SPEC_BYTES` are ever read)."""
    name = os.fspath(path)
    kind = special_kind(name)
    if kind is not None:
        raise SourceReadError(
            "E001",
            f"cannot read the spec: it is {kind}, not a file; give the path of a spec file "
            "(a text file such as `model.ode`)",
        )
    try:
        with open(name, "rb") as file:
            data = file.read(MAX_SPEC_BYTES + 1)
            if len(data) > MAX_SPEC_BYTES:
                raise SourceReadError("E004", too_large(os.fstat(file.fileno()).st_size))
    except FileNotFoundError:
        raise SourceReadError("E001", "cannot read the spec: no such file") from None
    except PermissionError:
        raise SourceReadError("E001", "cannot read the spec: permission denied") from None
    except OSError as error:
        raise SourceReadError("E001", f"cannot read the spec: {error.strerror}") from None
    return Source(decode_spec_bytes(data), name)


def too_large(size: int) -> str:
    """The message for a spec of ``size`` bytes, above :data:`MAX_SPEC_BYTES`."""
    return (
        f"the spec is too large ({size / 2**10:,.0f} KiB; the limit is "
        f"{MAX_SPEC_BYTES // 2**10} KiB): a spec describes a model, not data"
    )


def decode_spec_bytes(data: bytes) -> str:
    """Decode spec bytes as UTF-8 (an optional BOM is dropped), refusing binary data."""
    if b"\x00" in data or _control_fraction(data) > 0.1:
        raise SourceReadError("E002", "the spec is a binary file, not text")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        before = normalize_line_ends(data[: error.start].decode("utf-8", "replace"))
        line = before.count("\n") + 1
        column = len(before) - before.rfind("\n")
        raise SourceReadError(
            "E003",
            f"the spec is not UTF-8 text: byte 0x{data[error.start]:02x} at line {line}, "
            f"column {column} (save the file as UTF-8)",
            line,
            column,
        ) from None


def _control_fraction(data: bytes) -> float:
    """The share of ASCII control bytes other than tab, newline, carriage return, form feed."""
    if not data:
        return 0.0
    sample = data[:4096]
    controls = sum(1 for byte in sample if byte < 32 and byte not in b"\t\n\r\f")
    return controls / len(sample)
