"""Shapes of per-example tensors: ``()`` is a scalar, ``None`` a size unknown until run time."""

from __future__ import annotations

import math

from odedsl.lang.model import Shape


def show(shape: Shape | None) -> str:
    """``Real``, ``Real[2]``, ``Real[32, 8, 8]``, ``Real[?, 2]``."""
    if shape is None:
        return "a tuple"
    if not shape:
        return "Real"
    return "Real[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def agree(a: Shape, b: Shape) -> bool:
    """Equal, an unknown size matching any size."""
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """The shape of an elementwise operation: a scalar goes with anything, else the shapes
    must agree. None when they do not."""
    if not a:
        return b
    if not b:
        return a
    if not agree(a, b):
        return None
    return tuple(x if x is not None else y for x, y in zip(a, b, strict=True))


def numel(shape: Shape) -> int | None:
    return None if None in shape else math.prod(shape)  # type: ignore[arg-type]
