"""Radau IIA collocation methods with 2 and 3 stages (orders 3 and 5, L-stable and stiffly
accurate), as torchdiffeq's ``radauIIA3`` and ``radauIIA5``. Hairer–Wanner II, Table IV.5.5-6.
"""

from __future__ import annotations

import math

from ..implicit_tableau import ImplicitTableau

_R6 = math.sqrt(6.0)

RADAU_IIA3 = ImplicitTableau(
    name="radauIIA3",
    order=3,
    c=(1 / 3, 1.0),
    a=((5 / 12, -1 / 12), (3 / 4, 1 / 4)),
    b=(3 / 4, 1 / 4),
)

_B5 = (4 / 9 - _R6 / 36, 4 / 9 + _R6 / 36, 1 / 9)
RADAU_IIA5 = ImplicitTableau(
    name="radauIIA5",
    order=5,
    c=(2 / 5 - _R6 / 10, 2 / 5 + _R6 / 10, 1.0),
    a=(
        (11 / 45 - 7 * _R6 / 360, 37 / 225 - 169 * _R6 / 1800, -2 / 225 + _R6 / 75),
        (37 / 225 + 169 * _R6 / 1800, 11 / 45 + 7 * _R6 / 360, -2 / 225 - _R6 / 75),
        _B5,
    ),
    b=_B5,
)
