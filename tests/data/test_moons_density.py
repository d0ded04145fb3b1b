"""The exact moons density: normalisation, entropy, and agreement with samples and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from odedsl.data import load, moons_entropy, moons_log_density
from odedsl.data.moons_density import moons_grid


@pytest.mark.parametrize("noise", [0.05, 0.1])
def test_density_integrates_to_one(noise: float) -> None:
    # A grid of step σ (coarser than moons_entropy's σ/2): measured mass 1 ± 1e-9.
    grid, area = moons_grid(noise, noise)
    mass = np.exp(moons_log_density(grid, noise)).sum() * area
    assert abs(mass - 1.0) < 1e-8


@pytest.mark.parametrize(("noise", "entropy"), [(0.05, 0.29), (0.1, 1.01)])
def test_entropy_matches_the_published_value(noise: float, entropy: float) -> None:
    # facts.md rounds to two decimals, so agreement within half a unit in the last place.
    assert abs(moons_entropy(noise) - entropy) < 0.005


def test_density_matches_scipy_quad_at_points() -> None:
    noise = 0.05

    def density(point: np.ndarray) -> float:
        def integrand(s: float, arc: int) -> float:
            centre = (
                np.array([np.cos(s), np.sin(s)])
                if arc == 0
                else np.array([1 - np.cos(s), 0.5 - np.sin(s)])
            )
            return np.exp(-((point - centre) ** 2).sum() / (2 * noise**2)) / (2 * np.pi * noise**2)

        parts = [
            integrate.quad(
                integrand, 0, np.pi, args=(arc,), points=np.linspace(0, np.pi, 60)[1:-1], limit=200
            )[0]
            for arc in (0, 1)
        ]
        return 0.5 * sum(parts) / np.pi

    points = np.array([[0.0, 1.0], [1.0, -0.5], [0.5, 0.2], [1.97, 0.43], [-1.02, 0.03]])
    expected = np.log([density(p) for p in points])
    np.testing.assert_allclose(moons_log_density(points, noise), expected, atol=1e-8)


def test_mean_log_density_of_samples_is_minus_the_entropy() -> None:
    # Independent check of sampler against density: E[−log p(x)] = H for x ~ p. 20 000 samples,
    # tolerance 5 standard errors.
    x = load("Moons", n=20_000, seed=11, noise=0.1)["x"]
    nll = -moons_log_density(x, 0.1)
    assert abs(nll.mean() - moons_entropy(0.1)) < 5 * nll.std() / np.sqrt(len(nll))
