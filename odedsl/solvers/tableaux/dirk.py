"""Diagonally implicit methods, each stage one Newton solve of the state's size, as
torchdiffeq's ``sdirk2`` and ``trbdf2``.

- SDIRK2: Alexander's two-stage L-stable method, γ = 1 - √2/2 (R. Alexander, SIAM J. Numer.
  Anal. 14 (1977)).
- TR-BDF2: a trapezoidal stage to 2γ then BDF2, γ = 1 - √2/2, in its Runge–Kutta form
  (Hosea & Shampine, Appl. Numer. Math. 20 (1996)).
"""

from __future__ import annotations

import math

from ..implicit_tableau import ImplicitTableau

_GAMMA = 1.0 - math.sqrt(2.0) / 2.0

SDIRK2 = ImplicitTableau(
    name="sdirk2",
    order=2,
    c=(_GAMMA, 1.0),
    a=((_GAMMA, 0.0), (1.0 - _GAMMA, _GAMMA)),
    b=(1.0 - _GAMMA, _GAMMA),
)

_W = math.sqrt(2.0) / 4.0
TRBDF2 = ImplicitTableau(
    name="trbdf2",
    order=2,
    c=(0.0, 2.0 * _GAMMA, 1.0),
    a=((0.0, 0.0, 0.0), (_GAMMA, _GAMMA, 0.0), (_W, _W, _GAMMA)),
    b=(_W, _W, _GAMMA),
)
