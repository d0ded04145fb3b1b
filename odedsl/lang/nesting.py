"""How deeply a spec's expressions may nest, one limit that the checker and the compiler share.

The parser refuses expressions nested more than :data:`MAX_NESTING` levels (E017, located at
the statement's expression, see :func:`too_deep`) before any pass recurses into them; every
later pass (constants, the checker, the compiler) walks the rest recursively under
:func:`deep_recursion`, and the generated code stores deep subexpressions in temporaries so
that Python's parser never sees the nesting.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields

from odedsl.lang import nodes

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


def too_deep(model: nodes.Model) -> Iterator[tuple[nodes.Expr, int]]:
    """Each outermost expression of ``model`` (a statement's side, a loop's range) nested
    more than :data:`MAX_NESTING` levels, with its depth (iteratively: no recursion limit)."""
    pending: list[tuple[nodes.Node, int, nodes.Expr | None]] = [(model, 0, None)]
    while pending:
        node, level, outer = pending.pop()
        if isinstance(node, nodes.Expr) and outer is None:
            outer, level = node, 1
        if outer is not None and level > MAX_NESTING:
            yield outer, _depth(outer)
            pending = [entry for entry in pending if entry[2] is not outer]
            continue
        pending.extend((child, level + 1, outer) for child in _children(node))


def _depth(expr: nodes.Expr) -> int:
    deepest, pending = 0, [(expr, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in _children(node))
    return deepest


def _children(node: nodes.Node) -> Iterator[nodes.Node]:
    for field in fields(node):
        value = getattr(node, field.name)
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, nodes.Node):
                yield child
