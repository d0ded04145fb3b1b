"""Shampine–Gordon's order and step-size policy for the Adams solver, on Python floats.

The error estimates are scaled so that a step passes when its estimate is at most 1; orders
and sizes are chosen so that the next estimate is at most ``TARGET`` (Shampine–Gordon's
``0.5 * eps``), which leaves room before a rejection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._adams_coefficients import ERROR_CONSTANTS, StepCoefficients

TARGET = 0.5
# The least growth worth ending a run of constant steps for (``step_factor(grow=True)``).
GROW_MIN = 1.2


@dataclass(frozen=True)
class Estimates:
    """Scaled local-error estimates of one attempted step; NaN for an order that does not exist.

    ``step`` is the error of the step as taken (Shampine–Gordon's ERR); ``at_k``, ``at_km1``
    and ``at_km2`` estimate the error had the step used order k, k - 1, k - 2 (ERK, ERKM1,
    ERKM2), for choosing the order.
    """

    step: float
    at_k: float
    at_km1: float
    at_km2: float

    @property
    def lower(self) -> bool:
        """Whether the estimates at lower orders beat the one at k (then k drops by one)."""
        if not math.isnan(self.at_km2):
            return max(self.at_km1, self.at_km2) <= self.at_k
        return self.at_km1 <= 0.5 * self.at_k


def estimates(norms: list[float], coeffs: StepCoefficients, h: float, k: int) -> Estimates:
    """Estimates from the norms of the predicted ``phi_{k+1}``, ``phi_k``, ``phi_{k-1}``
    (as many as exist) at t_{n+1}."""
    g, sig, c = coeffs.g, coeffs.sig, ERROR_CONSTANTS
    absh = abs(h)
    return Estimates(
        step=absh * (g[k - 1] - g[k]) * norms[0],
        at_k=absh * sig[k] * c[k - 1] * norms[0],
        at_km1=absh * sig[k - 1] * c[k - 2] * norms[1] if k >= 2 else math.nan,
        at_km2=absh * sig[k - 2] * c[k - 3] * norms[2] if k >= 3 else math.nan,
    )


def next_order(
    k: int, max_order: int, starting: bool, est: Estimates, at_kp1: float
) -> tuple[int, float]:
    """The order of the next step and the error estimate it expects (Shampine–Gordon's
    block 4). ``at_kp1`` estimates order k + 1 (ERKP1), NaN when unreliable."""
    if starting:
        return k + 1, est.at_k
    if k > 1 and est.lower:
        return k - 1, est.at_km1
    if math.isnan(at_kp1):
        return k, est.at_k
    if k == 1:
        raise_order = at_kp1 < 0.5 * est.at_k
    elif est.at_km1 <= min(est.at_k, at_kp1):
        return k - 1, est.at_km1
    else:
        raise_order = at_kp1 < est.at_k
    return (k + 1, at_kp1) if raise_order and k < max_order else (k, est.at_k)


def step_factor(error: float, order: int, starting: bool, grow: bool = False) -> float:
    """Double h while starting or when the error allows; else, with ``grow``, grow it by the
    ratio the error allows when that is at least ``GROW_MIN``; keep it if it can; else shrink
    it by a factor in [0.5, 0.9]."""
    if starting or error * 2.0 ** (order + 1) <= TARGET:
        return 2.0
    if error <= TARGET:
        ratio = (TARGET / error) ** (1.0 / (order + 1))
        return ratio if grow and ratio >= GROW_MIN else 1.0
    return max(0.5, min(0.9, (TARGET / error) ** (1.0 / (order + 1))))


def rejection_factor(failures: int, est: Estimates) -> float:
    """Halve h after a rejection; from the fourth in a row, shrink to the estimated size."""
    if failures > 3 and math.isfinite(est.at_k) and 0.25 * est.at_k > TARGET:
        return math.sqrt(TARGET / est.at_k)
    return 0.5
