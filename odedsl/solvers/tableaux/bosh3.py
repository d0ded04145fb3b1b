"""Bogacki–Shampine 3(2): four stages with FSAL, cubic Hermite dense output.

P. Bogacki, L. F. Shampine, "A 3(2) pair of Runge-Kutta formulas", Appl. Math. Lett. 2 (1989).
"""

from __future__ import annotations

from ..tableau import ButcherTableau

_B = (2 / 9, 1 / 3, 4 / 9, 0.0)
_B_HAT = (7 / 24, 1 / 4, 1 / 3, 1 / 8)

BOSH3 = ButcherTableau(
    name="bosh3",
    order=3,
    c=(0.0, 1 / 2, 3 / 4, 1.0),
    a=((), (1 / 2,), (0.0, 3 / 4), _B[:3]),
    b=_B,
    error=tuple(b - b_hat for b, b_hat in zip(_B, _B_HAT, strict=True)),
    error_order=2,
)
