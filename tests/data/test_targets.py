"""Density-matching targets U1–U4: formulas and log Z against independent integrations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special

from odedsl.data import DataError, log_normalizer, potential

BOX = 4.0


def _u_reference(name: str, z1: float, z2: float) -> float:
    """U(z) written directly from facts.md (no log-sum-exp), for moderate z."""
    w1 = np.sin(2 * np.pi * z1 / 4)
    if name == "U1":
        bumps = np.exp(-0.5 * ((z1 - 2) / 0.6) ** 2) + np.exp(-0.5 * ((z1 + 2) / 0.6) ** 2)
        return 0.5 * ((np.hypot(z1, z2) - 2) / 0.4) ** 2 - np.log(bumps)
    if name == "U2":
        return 0.5 * ((z2 - w1) / 0.4) ** 2
    if name == "U3":
        w2 = 3 * np.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
        return -np.log(
            np.exp(-0.5 * ((z2 - w1) / 0.35) ** 2) + np.exp(-0.5 * ((z2 - w1 + w2) / 0.35) ** 2)
        )
    w3 = 3 / (1 + np.exp(-(z1 - 1) / 0.3))
    return -np.log(
        np.exp(-0.5 * ((z2 - w1) / 0.4) ** 2) + np.exp(-0.5 * ((z2 - w1 + w3) / 0.35) ** 2)
    )


@pytest.mark.parametrize("name", ["U1", "U2", "U3", "U4"])
def test_potential_is_minus_u(name: str) -> None:
    z = np.random.default_rng(0).uniform(-3, 3, (50, 2))
    expected = [-_u_reference(name, *point) for point in z]
    np.testing.assert_allclose(potential(name, z), expected, rtol=1e-12, atol=1e-12)


def _gaussian_mass_in_box(centre: np.ndarray, std: float) -> np.ndarray:
    """∫_{−4}^{4} exp(−½((z2 − centre)/std)²) dz2, by the normal CDF."""
    return (
        std
        * np.sqrt(2 * np.pi)
        * (special.ndtr((BOX - centre) / std) - special.ndtr((-BOX - centre) / std))
    )


def _inner_mass(name: str, z1: float) -> float:
    """∫ exp(−U) dz2 over the box in closed form: U2–U4 are Gaussian(s) in z2."""
    w1 = np.sin(2 * np.pi * z1 / 4)
    if name == "U2":
        return _gaussian_mass_in_box(w1, 0.4)
    if name == "U3":
        w2 = 3 * np.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
        return _gaussian_mass_in_box(w1, 0.35) + _gaussian_mass_in_box(w1 - w2, 0.35)
    w3 = 3 / (1 + np.exp(-(z1 - 1) / 0.3))
    return _gaussian_mass_in_box(w1, 0.4) + _gaussian_mass_in_box(w1 - w3, 0.35)


@pytest.mark.parametrize("name", ["U2", "U3", "U4"])
def test_log_normalizer_matches_semi_analytic_integral(name: str) -> None:
    total, _ = integrate.quad(
        lambda z1: _inner_mass(name, z1), -BOX, BOX, limit=400, epsabs=1e-13, epsrel=1e-13
    )
    assert abs(log_normalizer(name) - np.log(total)) < 1e-10  # measured agreement ≈ 1e-15


def test_u2_log_normalizer_closed_form() -> None:
    # The z2-Gaussian (std 0.4, centre in [−1, 1]) lies ≥ 7.5 std inside the box: Z = 8·0.4·√(2π).
    assert abs(log_normalizer("U2") - np.log(8 * 0.4 * np.sqrt(2 * np.pi))) < 1e-12


def test_u1_log_normalizer_matches_nquad() -> None:
    # Adaptive quadrature on the same box, with break points at the ring and the two bumps.
    options = {"limit": 200, "epsabs": 1e-11, "epsrel": 1e-11}
    total, _ = integrate.nquad(
        lambda z2, z1: np.exp(-_u_reference("U1", z1, z2)),
        [[-BOX, BOX], [-BOX, BOX]],
        opts=[dict(options, points=[-2.4, -1.6, 0, 1.6, 2.4]), dict(options, points=[-2, 0, 2])],
    )
    assert abs(log_normalizer("U1") - np.log(total)) < 1e-10  # measured agreement 1e-16


def test_finer_grid_agrees() -> None:
    assert abs(log_normalizer("U4", panel=0.1) - log_normalizer("U4")) < 1e-10


def test_unknown_target_is_named() -> None:
    with pytest.raises(DataError, match=r"unknown target 'U5' \(did you mean"):
        potential("U5", np.zeros(2))
