"""Heun–Euler 2(1): Heun's method with Euler's as the embedded solution (torchdiffeq's
``adaptive_heun``). The error is ``h (k1 - k2) / 2``; cubic Hermite dense output."""

from __future__ import annotations

from ..tableau import ButcherTableau

ADAPTIVE_HEUN = ButcherTableau(
    name="adaptive_heun",
    order=2,
    c=(0.0, 1.0),
    a=((), (1.0,)),
    b=(1 / 2, 1 / 2),
    error=(1 / 2 - 1.0, 1 / 2),  # b - b̂ with Euler's b̂ = (1, 0)
    error_order=1,
)
