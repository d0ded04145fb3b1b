"""Heun's third-order method: three stages, order 3 (torchdiffeq's ``heun3``).

K. Heun, "Neue Methoden zur approximativen Integration der Differentialgleichungen einer
unabhängigen Veränderlichen", Z. Math. Phys. 45 (1900); Hairer–Nørsett–Wanner I, Sec. II.1.
"""

from __future__ import annotations

from ..tableau import ButcherTableau

HEUN3 = ButcherTableau(
    name="heun3",
    order=3,
    c=(0.0, 1 / 3, 2 / 3),
    a=((), (1 / 3,), (0.0, 2 / 3)),
    b=(1 / 4, 0.0, 3 / 4),
)
