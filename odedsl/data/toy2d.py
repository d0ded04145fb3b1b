"""Two-dimensional toy densities (FFJORD's set), sampled with numpy from a given generator.

Every sampler is ``sampler(n, rng, **params) -> (n, 2) float64``. Where FFJORD places points at
evenly spaced angles (circles, rings) these draw the angles uniformly, which is the continuous
density those samples approximate. Rows are shuffled, so any prefix is a fair sample.
"""

from __future__ import annotations

import numpy as np

from odedsl.data.arguments import check_int, check_real


def _balanced_labels(n: int, groups: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` labels in ``0..groups-1``, as equal in number as possible, in random order."""
    return rng.permutation(np.arange(n) % groups)


def _checked(n: int, noise: float | None = None) -> int:
    if noise is not None:
        check_real("noise", noise)
    return check_int("n", n, 0)


def moons(n: int, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    """Two moons, unscaled: outer arc (cos s, sin s), inner arc (1 − cos s, 1 − sin s − 0.5).

    s ~ U[0, π]; half the points on each arc (the outer one gets ``n // 2``); plus N(0, σ²I).
    """
    n = _checked(n, noise)
    inner = _balanced_labels(n, 2, rng).astype(bool)
    s = rng.uniform(0.0, np.pi, n)
    x = np.where(inner, 1.0 - np.cos(s), np.cos(s))
    y = np.where(inner, 0.5 - np.sin(s), np.sin(s))
    return np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))


def circles(n: int, rng: np.random.Generator, noise: float = 0.08) -> np.ndarray:
    """Circles of radii 1 and 0.5, uniform angle, plus N(0, σ²I), then scaled by 3."""
    n = _checked(n, noise)
    radius = np.where(_balanced_labels(n, 2, rng) == 0, 1.0, 0.5)
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return 3.0 * (points + noise * rng.standard_normal((n, 2)))


def rings(n: int, rng: np.random.Generator, noise: float = 0.08) -> np.ndarray:
    """Four circles of radii 3·(1, 0.75, 0.5, 0.25), uniform angle, plus N(0, σ²I) after scaling."""
    n = _checked(n, noise)
    radius = 3.0 * np.array([1.0, 0.75, 0.5, 0.25])[_balanced_labels(n, 4, rng)]
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return points + noise * rng.standard_normal((n, 2))


def eight_gaussians(n: int, rng: np.random.Generator, noise: float = 0.5) -> np.ndarray:
    """Eight Gaussians of std σ centred at radius 4 every 45°, all divided by 1.414."""
    n = _checked(n, noise)
    angle = rng.integers(0, 8, n) * (np.pi / 4.0)
    centres = 4.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return (centres + noise * rng.standard_normal((n, 2))) / 1.414


def pinwheel(n: int, rng: np.random.Generator, noise: float = 0.3) -> np.ndarray:
    """Five arms: radial std σ (``noise``), tangential std 0.1, rate 0.25, scaled by 2."""
    n = _checked(n, noise)
    arm = _balanced_labels(n, 5, rng)
    features = rng.standard_normal((n, 2)) * np.array([noise, 0.1])
    features[:, 0] += 1.0
    angle = arm * (2.0 * np.pi / 5.0) + 0.25 * np.exp(features[:, 0])
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = np.stack(
        [features[:, 0] * cos + features[:, 1] * sin, features[:, 1] * cos - features[:, 0] * sin],
        axis=1,
    )
    return 2.0 * rotated


def checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform on the 8 'black' squares (side 2) of a 4×4 board covering [-4, 4)²."""
    n = _checked(n)
    x1 = rng.uniform(-2.0, 2.0, n)
    x2 = rng.uniform(0.0, 1.0, n) - 2.0 * rng.integers(0, 2, n) + np.floor(x1) % 2
    return 2.0 * np.stack([x1, x2], axis=1)


def swiss_roll(n: int, rng: np.random.Generator, noise: float = 1.0) -> np.ndarray:
    """scikit-learn's swiss roll, columns 0 and 2: (t cos t, t sin t) + N(0, σ²I), divided by 5.

    t ~ U[1.5π, 4.5π].
    """
    n = _checked(n, noise)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(0.0, 1.0, n))
    points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    return (points + noise * rng.standard_normal((n, 2))) / 5.0


def two_spirals(n: int, rng: np.random.Generator, noise: float = 0.1) -> np.ndarray:
    """Two interleaved spirals: m = 3π √u, (−m cos m, m sin m) + U[0, 0.5)² jitter, one arm
    negated, all divided by 3, plus N(0, σ²I)."""
    n = _checked(n, noise)
    m = np.sqrt(rng.uniform(0.0, 1.0, n)) * 3.0 * np.pi
    arm = np.stack([-np.cos(m) * m, np.sin(m) * m], axis=1) + 0.5 * rng.uniform(0.0, 1.0, (n, 2))
    sign = np.where(_balanced_labels(n, 2, rng) == 0, 1.0, -1.0)
    return sign[:, None] * arm / 3.0 + noise * rng.standard_normal((n, 2))
