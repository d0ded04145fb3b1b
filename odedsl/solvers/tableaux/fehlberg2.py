"""Runge–Kutta–Fehlberg 1(2) (torchdiffeq's ``fehlberg2``), advancing with the second-order
solution (local extrapolation, as torchdiffeq does); cubic Hermite dense output.

E. Fehlberg, "Low-order classical Runge-Kutta formulas with stepsize control and their
application to some heat transfer problems", NASA TR R-315 (1969), Table XI.
"""

from __future__ import annotations

from ..tableau import ButcherTableau

_B = (1 / 512, 255 / 256, 1 / 512)
_B_HAT = (1 / 256, 255 / 256, 0.0)  # the first-order solution, where the third stage sits

FEHLBERG2 = ButcherTableau(
    name="fehlberg2",
    order=2,
    c=(0.0, 1 / 2, 1.0),
    a=((), (1 / 2,), _B_HAT[:2]),
    b=_B,
    error=tuple(b - b_hat for b, b_hat in zip(_B, _B_HAT, strict=True)),
    error_order=1,
)
