"""How deeply a spec's expressions may nest, one limit that the checker and the compiler share.

The checker refuses expressions nested more than :data:`MAX_NESTING` levels (E017, located);
everything it accepts, the compiler lowers: both walk expressions recursively under
:func:`deep_recursion`, and the generated code stores deep subexpressions in temporaries so
that Python's parser never sees the nesting.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

MAX_NESTING = 4000
"""Expressions nested deeper are refused (E017): a sum of 4000 terms, `tanh(` 4000 deep."""
RECURSION_LIMIT = 20_000
"""The Python recursion limit while a spec is checked or lowered: room for a few frames per
level of :data:`MAX_NESTING`."""


@contextmanager
def deep_recursion(limit: int = RECURSION_LIMIT) -> Iterator[None]:
    """Raise Python's recursion limit to ``limit`` (never lower it) for the block."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)
