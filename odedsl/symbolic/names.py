"""Identifiers for generated code, made only from validated names.

User names reach generated code solely through :func:`mangle`, which accepts nothing but a
Unicode identifier and maps it to an ASCII one behind a role prefix (``p_``, ``net_``, ...),
so no spec text can ever become a Python keyword, builtin, attribute access or call: a spec
may name a parameter ``lambda``, ``None`` or ``torch`` (``p_lambda``, ``p_None``, ``p_torch``).
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[^\W\d]\w*", re.UNICODE)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


def validate_name(name: object, argument: str) -> str:
    """Return ``name`` if it is a plain (Unicode) identifier, else raise ``ValueError``.
    Python's keywords are identifiers here: they reach code only behind a prefix."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{argument} must be a plain identifier such as 'w' or 'σ', got {name!r}; "
            "names reach generated code only after validation"
        )
    return name


def mangle(prefix: str, name: str) -> str:
    """ASCII identifier ``prefix + name``: ``_`` is doubled and any other character outside
    ``[A-Za-z0-9]`` becomes ``_u<hex>_``, which keeps the mapping one-to-one (``σ`` → ``p__u3c3_``).
    """
    parts = []
    for char in validate_name(name, "name"):
        if char == "_":
            parts.append("__")
        elif _ASCII_WORD.fullmatch(char):
            parts.append(char)
        else:
            parts.append(f"_u{ord(char):x}_")
    return prefix + "".join(parts)
