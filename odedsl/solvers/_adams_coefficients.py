"""Variable-step Adams coefficients in Python floats (Shampine & Gordon, 1975, chapters 4-5).

Notation follows Shampine–Gordon's STEP. For a step from ``t_n`` to ``t_{n+1} = t_n + h``:

- ``psi_i(n+1) = t_{n+1} - t_{n+1-i}``, ``alpha_i = h / psi_i(n+1)``;
- ``beta_i = prod_{j<i} psi_j(n+1) / psi_j(n)`` turns the modified divided differences
  ``phi_i(n)`` into ``phi*_i(n) = beta_i phi_i(n)``;
- ``g_j`` are the integration coefficients: the Adams–Bashforth predictor of order ``k`` is
  ``p = y_n + h sum_{j<=k} g_j phi*_j(n)``, the corrector adds ``h g_{k+1} phi_{k+1}(n+1)``;
- ``sig_i`` scales the constant-step error constants to the actual step pattern.

Everything here is a handful of scalar operations per step (at most ~80 for order 12); the
tensors only ever meet the results through one small matrix product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

MAX_ORDER = 12


def _moulton_error_constants(count: int) -> tuple[float, ...]:
    """``|gamma*_j|`` for j = 1..count: the error constants of the constant-step Adams–Moulton
    formulas, from ``sum_{i=0}^{m} gamma*_i / (m + 1 - i) = 0`` (m >= 1), ``gamma*_0 = 1``."""
    gammas = [Fraction(1)]
    for m in range(1, count + 1):
        gammas.append(-sum(gammas[i] / (m + 1 - i) for i in range(m)))
    return tuple(float(abs(gamma)) for gamma in gammas[1:])


# ERROR_CONSTANTS[j - 1] = |gamma*_j|: 1/2, 1/12, 1/24, 19/720, ... (Shampine–Gordon's GSTR).
ERROR_CONSTANTS = _moulton_error_constants(MAX_ORDER + 1)


@dataclass(frozen=True)
class StepCoefficients:
    """Coefficients of one Adams step of order ``k`` (tuples indexed from 0 for index 1)."""

    psi: tuple[float, ...]  # psi_1..psi_k at t_{n+1}
    beta: tuple[float, ...]  # beta_1..beta_k
    g: tuple[float, ...]  # g_1..g_{k+1}
    sig: tuple[float, ...]  # sig_1..sig_{k+1}


def step_coefficients(h: float, psi_old: tuple[float, ...], order: int) -> StepCoefficients:
    """Coefficients for a step of size ``h`` at order ``order`` after past steps ``psi_old``.

    ``psi_old[i - 1] = t_n - t_{n-i}``; at least ``order - 1`` entries are needed.
    """
    psi = [h]
    for i in range(1, order):
        psi.append(h + psi_old[i - 1])
    alpha = [h / p for p in psi]
    beta = [1.0]
    for i in range(1, order):
        beta.append(beta[-1] * psi[i - 1] / psi_old[i - 1])
    sig = [1.0]
    for i in range(1, order + 1):
        sig.append(i * alpha[i - 1] * sig[-1])
    # g_{1,q} = 1/q and g_{j,q} = g_{j-1,q} - alpha_{j-1} g_{j-1,q+1}; g_j = g_{j,1}.
    w = [1.0 / q for q in range(1, order + 2)]
    g = [w[0]]
    for j in range(2, order + 2):
        a = alpha[j - 2]
        for q in range(order + 2 - j):
            w[q] -= a * w[q + 1]
        g.append(w[0])
    return StepCoefficients(tuple(psi), tuple(beta), tuple(g), tuple(sig))


def interpolation_coefficients(hi: float, psi: tuple[float, ...], terms: int) -> list[float]:
    """Weights ``c_j`` with ``y(t_{n+1} + hi) = y_{n+1} + hi sum_{j<=terms} c_j phi_j(n+1)``.

    The integral of the polynomial interpolating f at t_{n+1}, ..., t_{n+1-terms+1}
    (Shampine–Gordon's INTRP); ``psi[j - 1] = t_{n+1} - t_{n+1-j}`` for j < terms.
    """
    w = [1.0 / i for i in range(1, terms + 1)]
    c = [1.0]
    offset = 0.0
    for j in range(2, terms + 1):
        psi_j = psi[j - 2]
        gamma = (hi + offset) / psi_j
        eta = hi / psi_j
        for i in range(terms + 1 - j):
            w[i] = gamma * w[i] - eta * w[i + 1]
        c.append(w[0])
        offset = psi_j
    return c


def step_matrix_rows(
    coeffs: StepCoefficients, h: float, order: int, with_next: bool
) -> tuple[list[list[float]], int]:
    """The rows of the one matrix a step applies to ``phi_1..phi_width(n)``, and how many
    estimate rows it has (``width = order + 1`` with ``with_next``, else ``order``).

    With ``s_i = phi*_{i+1} + ... + phi*_k`` (``phi*_j = beta_j phi_j``, ``k = order``):

    - row ``0``: ``h sum_j g_j phi*_j``, the Adams–Bashforth increment;
    - the estimate rows ``s_0``, ``s_0 - s_{k-1}``, ``s_0 - s_{k-2}`` (as far as they exist):
      ``f(p)`` minus them is the predicted ``phi_{k+1}``, ``phi_k``, ``phi_{k-1}`` at t_{n+1},
      whose norms give the error estimates at orders k, k - 1, k - 2;
    - the update rows ``s_0 .. s_{k-1}``, ``0`` and, ``with_next``, ``-phi_{k+1}(n)``: adding
      ``e = f(y_{n+1}) - s_0`` to each gives ``phi_1 .. phi_{k+1}`` (and ``phi_{k+2}``, exact
      when the last k + 1 steps had one size) at t_{n+1}.
    """
    width = order + 1 if with_next else order
    pad = [0.0] * (width - order)
    beta = list(coeffs.beta)
    sums = [[0.0] * i + beta[i:] + pad for i in range(order)]
    rows = [[h * g * b for g, b in zip(coeffs.g[:order], beta, strict=True)] + pad, sums[0]]
    rows += [
        [a - b for a, b in zip(sums[0], sums[i], strict=True)]
        for i in (order - 1, order - 2)
        if i > 0
    ]
    n_estimates = len(rows) - 1
    rows += [*sums, [0.0] * width]
    if with_next:
        rows.append([0.0] * order + [-1.0])
    return rows, n_estimates


def constant_step_coefficients(order: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The constant-step Adams–Bashforth formula of order ``order`` and the Adams–Moulton one
    of order ``order + 1``, as weights of the values of ``f`` (newest first).

    ``y_{n+1} = y_n + h Σ_i b_i f_{n-i}`` (i < order) and
    ``y_{n+1} = y_n + h (m_0 f_{n+1} + Σ_i m_{i+1} f_{n-i})``: the backward-difference forms
    ``Σ_j g_j ∇^{j-1} f_n`` and ``+ g_{order+1} ∇^order f_{n+1}`` expanded, with the ``g_j``
    of ``step_coefficients`` on equal spacings.
    """
    g = step_coefficients(1.0, tuple(float(i) for i in range(1, order)), order).g
    bashforth = tuple(
        sum(g[j - 1] * (-1) ** i * math.comb(j - 1, i) for j in range(i + 1, order + 1))
        for i in range(order)
    )
    last = g[order]
    moulton = (
        last,
        *(b + last * (-1) ** (i + 1) * math.comb(order, i + 1) for i, b in enumerate(bashforth)),
    )
    return bashforth, moulton
