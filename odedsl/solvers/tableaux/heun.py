"""Heun's method (explicit trapezoidal rule): two stages, order 2; torchdiffeq's ``heun2``
(registered as ``heun2`` and, odedsl's earlier name, ``heun``)."""

from __future__ import annotations

from ..tableau import ButcherTableau

HEUN = ButcherTableau(
    name="heun",
    order=2,
    c=(0.0, 1.0),
    a=((), (1.0,)),
    b=(1 / 2, 1 / 2),
)
