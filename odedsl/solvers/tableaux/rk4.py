"""Kutta's 3/8 rule: four stages, order 4.

The 3/8 variant (not the classic 1/6, 1/3, 1/3, 1/6 one) has a slightly smaller error
constant and is the variant torchdiffeq's ``rk4`` uses, so results agree with it.
"""

from __future__ import annotations

from ..tableau import ButcherTableau

RK4 = ButcherTableau(
    name="rk4",
    order=4,
    c=(0.0, 1 / 3, 2 / 3, 1.0),
    a=((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
    b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
)
