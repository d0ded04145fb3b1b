"""Explicit midpoint rule: two stages, order 2."""

from __future__ import annotations

from ..tableau import ButcherTableau

MIDPOINT = ButcherTableau(
    name="midpoint",
    order=2,
    c=(0.0, 1 / 2),
    a=((), (1 / 2,)),
    b=(0.0, 1.0),
)
