"""Toy densities against closed-form moments and supports of their recipes."""

from __future__ import annotations

import numpy as np
import pytest

from odedsl.data import load

N = 40_000


def _swiss_roll_second_moment(noise: float) -> float:
    # t ~ U[a, b], a = 1.5π, b = 4.5π: E t² = (b³ − a³) / (3 (b − a)); point (t cos t, t sin t)/5.
    a, b = 1.5 * np.pi, 4.5 * np.pi
    return ((b**3 - a**3) / (3 * (b - a)) + 2 * noise**2) / 25.0


# E‖x‖² for each recipe, derived by hand from its definition.
SECOND_MOMENTS = {
    # 0.5·(r² = 1) + 0.5·(r² = 0.25), noise 0.08 per axis, everything scaled by 3.
    "Circles": 9.0 * (0.5 * 1.0 + 0.5 * 0.25 + 2 * 0.08**2),
    # radii 3·(1, .75, .5, .25) equally often, noise 0.08 added after scaling.
    "Rings": 9.0 * np.mean(np.array([1.0, 0.75, 0.5, 0.25]) ** 2) + 2 * 0.08**2,
    # centres at radius 4, std 0.5 per axis, divided by 1.414.
    "EightGaussians": (16.0 + 2 * 0.25) / 1.414**2,
    # rotation keeps the norm: 4·E[(1 + 0.3 ε₁)² + (0.1 ε₂)²].
    "Pinwheel": 4.0 * (1.0 + 0.09 + 0.01),
    # uniform on 8 squares of side 2 covering [-4, 4)² symmetrically: E x1² = E x2² = 16/3.
    "Checkerboard": 2.0 * 16.0 / 3.0,
    "SwissRoll": _swiss_roll_second_moment(1.0),
}


@pytest.mark.parametrize(("name", "expected"), SECOND_MOMENTS.items())
def test_second_moment_matches_the_recipe(name: str, expected: float) -> None:
    x = load(name, n=N, seed=1)["x"]
    squared = (x**2).sum(axis=1)
    # 5 standard errors of the sample mean: fails only for a wrong recipe, not by chance.
    tolerance = 5 * squared.std() / np.sqrt(N)
    assert abs(squared.mean() - expected) < tolerance


@pytest.mark.parametrize("name", ["Circles", "Rings", "EightGaussians", "Pinwheel", "TwoSpirals"])
def test_point_symmetric_densities_have_zero_mean(name: str) -> None:
    x = load(name, n=N, seed=2)["x"]
    tolerance = 5 * x.std(axis=0) / np.sqrt(N)
    assert np.all(abs(x.mean(axis=0)) < tolerance)


def test_checkerboard_fills_only_one_colour_evenly() -> None:
    x = load("Checkerboard", n=N, seed=0)["x"]
    cells = np.floor(x / 2.0).astype(int)
    assert np.all((cells >= -2) & (cells <= 1))
    assert len(np.unique((cells[:, 0] + cells[:, 1]) % 2)) == 1
    counts = np.unique(cells, axis=0, return_counts=True)[1]
    assert len(counts) == 8
    # each of 8 squares holds N/8 = 5000 points; binomial std ≈ 66, allow 5 std.
    assert np.all(abs(counts - N / 8) < 5 * np.sqrt(N / 8))


def test_two_spirals_without_noise_lie_on_the_jittered_arms() -> None:
    # ±(−m cos m + u, m sin m + v)/3 with u, v ∈ [0, 0.5): undo the jitter bound via the radius.
    x = load("TwoSpirals", n=2000, noise=0.0)["x"] * 3.0
    radius = np.hypot(*x.T)
    assert radius.max() < 3 * np.pi + 0.5 * np.sqrt(2)


def test_moons_halves_and_noise() -> None:
    x = load("Moons", n=N, seed=5, noise=0.05)["x"]
    outer = abs(np.hypot(x[:, 0], x[:, 1]) - 1.0)
    inner = abs(np.hypot(x[:, 0] - 1.0, x[:, 1] - 0.5) - 1.0)
    on_outer = outer < inner
    assert on_outer.sum() == N // 2 or abs(on_outer.mean() - 0.5) < 0.01
    # radial residuals of points far from the crossing are N(0, σ²) to first order in σ.
    residual = np.where(on_outer, outer, inner)
    assert abs(np.sqrt(np.mean(residual**2)) - 0.05) < 0.002
