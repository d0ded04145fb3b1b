"""Forward Euler: one stage, order 1."""

from __future__ import annotations

from ..tableau import ButcherTableau

EULER = ButcherTableau(name="euler", order=1, c=(0.0,), a=((),), b=(1.0,))
