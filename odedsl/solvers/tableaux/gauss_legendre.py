"""Gauss–Legendre collocation methods with 2 and 3 stages (orders 4 and 6, A-stable and
symplectic), as torchdiffeq's ``gl4`` and ``gl6``. Hairer–Wanner II, Table IV.5.1-2.

torchdiffeq's ``gl4`` evaluates its second stage at ``c_1`` instead of ``c_2 = 1/2 + √3/6``
(the same results on autonomous problems); this one uses the collocation nodes.
"""

from __future__ import annotations

import math

from ..implicit_tableau import ImplicitTableau

_R3 = math.sqrt(3.0)
_R15 = math.sqrt(15.0)

GL4 = ImplicitTableau(
    name="gl4",
    order=4,
    c=(1 / 2 - _R3 / 6, 1 / 2 + _R3 / 6),
    a=((1 / 4, 1 / 4 - _R3 / 6), (1 / 4 + _R3 / 6, 1 / 4)),
    b=(1 / 2, 1 / 2),
)

GL6 = ImplicitTableau(
    name="gl6",
    order=6,
    c=(1 / 2 - _R15 / 10, 1 / 2, 1 / 2 + _R15 / 10),
    a=(
        (5 / 36, 2 / 9 - _R15 / 15, 5 / 36 - _R15 / 30),
        (5 / 36 + _R15 / 24, 2 / 9, 5 / 36 - _R15 / 24),
        (5 / 36 + _R15 / 30, 2 / 9 + _R15 / 15, 5 / 36),
    ),
    b=(5 / 18, 4 / 9, 5 / 18),
)
