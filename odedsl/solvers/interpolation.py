"""Continuous extensions of Runge–Kutta steps (dense output).

Every continuous extension here is linear in the step's stages: between ``t0`` and
``t0 + h`` the solution is ``y(t0 + θh) = y0 + h Σ_j w_j(θ) k_j`` with weights ``w_j(θ)``
over the stages ``k_j`` (plus any extra stages the extension needs). That lets one matrix
product produce every output time that falls inside a step.

``DenseOutput`` describes such an extension; ``hermite_dense_output`` and
``linear_dense_output`` build (once per ``b``) the generic ones from a tableau's weights;
``hermite_interpolate`` is the plain cubic Hermite interpolant on tensors, for solvers
(e.g. Adams) that keep ``(y, f)`` pairs rather than stages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

WeightsFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DenseOutput:
    """A continuous extension ``y(t0 + θh) = y0 + h Σ_j w_j(θ) k_j`` of one step.

    ``weights`` maps θ values of shape ``(m,)`` to weights of shape ``(m, n_stages)``, where
    ``n_stages`` counts the tableau's stages followed by ``extra_c`` stages. The extra stages
    (row ``extra_a[i]`` combines every stage before it) are evaluated only on steps with an
    output time strictly inside them.
    """

    weights: WeightsFn
    order: int
    extra_c: tuple[float, ...] = ()
    extra_a: tuple[tuple[float, ...], ...] = ()


def hermite_basis(theta: np.ndarray) -> np.ndarray:
    """The cubic Hermite basis ``(h00, h10, h01, h11)`` at each θ, shape ``(m, 4)``."""
    theta = np.asarray(theta, dtype=np.float64)
    one_minus = 1.0 - theta
    return np.stack(
        [
            (1.0 + 2.0 * theta) * one_minus * one_minus,
            theta * one_minus * one_minus,
            theta * theta * (3.0 - 2.0 * theta),
            theta * theta * (theta - 1.0),
        ],
        axis=-1,
    )


@functools.cache
def hermite_dense_output(b: tuple[float, ...], fsal: bool) -> DenseOutput:
    """Cubic Hermite interpolation through ``(y0, f0)`` and ``(y1, f1)`` as stage weights.

    With ``y1 = y0 + h Σ b_j k_j``, the interpolant ``h00 y0 + h01 y1 + h (h10 f0 + h11 f1)``
    equals ``y0 + h Σ_j (h01 b_j + h10 [j = 0] + h11 [j = end]) k_j``. For FSAL tableaux
    ``f1`` is the last stage; otherwise one extra stage evaluates ``f(t1, y1)``.
    """
    b_ext = np.asarray(tuple(b) + (() if fsal else (0.0,)), dtype=np.float64)
    end = len(b_ext) - 1

    def weights(theta: np.ndarray) -> np.ndarray:
        basis = hermite_basis(theta)
        w = basis[:, 2:3] * b_ext
        w[:, 0] += basis[:, 1]
        w[:, end] += basis[:, 3]
        return w

    if fsal:
        return DenseOutput(weights=weights, order=3)
    return DenseOutput(weights=weights, order=3, extra_c=(1.0,), extra_a=(tuple(b),))


@functools.cache
def linear_dense_output(b: tuple[float, ...]) -> DenseOutput:
    """Linear interpolation between ``y0`` and ``y1`` (torchdiffeq's fixed-grid default)."""
    b_arr = np.asarray(tuple(b), dtype=np.float64)

    def weights(theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta, dtype=np.float64)[:, None] * b_arr

    return DenseOutput(weights=weights, order=1)


def hermite_interpolate(
    t0: float,
    y0: torch.Tensor,
    f0: torch.Tensor,
    t1: float,
    y1: torch.Tensor,
    f1: torch.Tensor,
    t: float,
) -> torch.Tensor:
    """Cubic Hermite interpolant through ``(t0, y0, f0)`` and ``(t1, y1, f1)`` at time ``t``."""
    h = t1 - t0
    h00, h10, h01, h11 = hermite_basis(np.array([(t - t0) / h]))[0].tolist()
    return h00 * y0 + h01 * y1 + (h * h10) * f0 + (h * h11) * f1
