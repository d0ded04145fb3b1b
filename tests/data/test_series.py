"""Spirals2D, Periodic1D: the recipes against curves written independently from facts.md."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from odedsl.data import load

ORIG_TS = np.linspace(0, 6 * np.pi, 500)


def _spiral_point(direction: np.ndarray, absolute_t: np.ndarray) -> np.ndarray:
    """The paper's curves: clockwise θ = 6π + 1 − t, r = 50·0.3/θ, centre (−5, 0);
    counter-clockwise θ = t, r = 0.3·θ, centre (5, 0)."""
    theta = np.where(direction == 1, absolute_t, 6 * np.pi + 1 - absolute_t)
    radius = np.where(direction == 1, 0.3 * theta, 15.0 / theta)
    shift = np.where(direction == 1, 5.0, -5.0)
    return np.stack([radius * np.cos(theta) + shift, radius * np.sin(theta)], axis=-1)


@pytest.fixture(scope="module")
def spirals_test() -> dict[str, np.ndarray]:
    return load("Spirals2D", split="test", n=1000, observed=30, seed=0)


def _relative_index(ts: np.ndarray) -> np.ndarray:
    index = np.rint(ts / ORIG_TS[1]).astype(int)
    np.testing.assert_allclose(ORIG_TS[index], ts, rtol=0, atol=1e-12)
    return index


def test_spiral_observations_lie_on_the_curve_up_to_the_noise() -> None:
    data = load("Spirals2D", n=1000, observed=30, seed=0)
    index = _relative_index(data["ts"])
    absolute = ORIG_TS[data["start"][:, None] + index]
    residual = data["x"] - _spiral_point(data["direction"][:, None], absolute)
    # 60 000 residuals of N(0, 0.3²): std of the std estimate ≈ 0.3/√120000 ≈ 0.0009.
    assert abs(residual.std() - 0.3) < 0.005
    assert abs(residual.mean()) < 0.005
    assert stats.kstest(residual.ravel() / 0.3, "norm").pvalue > 1e-3


def test_spiral_index_ranges_and_fair_coin() -> None:
    train = load("Spirals2D", n=3000, seed=1)
    test = load("Spirals2D", split="test", n=3000, seed=1)
    assert train["start"].min() == 100 and train["start"].max() == 399
    assert test["start"].min() == 100 and test["start"].max() == 199
    assert stats.binomtest(int(train["direction"].sum()), 3000).pvalue > 1e-3
    # uniform starts: a χ² test over the 300 values would need many more series; test the mean.
    assert abs(train["start"].mean() - 249.5) < 5 * 86.6 / np.sqrt(3000)


def test_spiral_observation_times_are_sorted_distinct_subsets(spirals_test) -> None:
    index = _relative_index(spirals_test["ts"])
    assert index.shape == (1000, 30)
    assert np.all(np.diff(index, axis=1) > 0)
    assert index.min() >= 0 and index.max() <= 99
    assert len({tuple(row) for row in index}) == 1000  # different per series
    # each of the 100 positions is kept with probability 0.3
    assert abs(np.bincount(index.ravel(), minlength=100) / 1000 - 0.3).max() < 0.07


def test_spiral_future_is_the_noiseless_continuation(spirals_test) -> None:
    np.testing.assert_array_equal(spirals_test["ts_future"], ORIG_TS[100:200])
    absolute = ORIG_TS[spirals_test["start"][:, None] + np.arange(100, 200)]
    expected = _spiral_point(spirals_test["direction"][:, None], absolute)
    np.testing.assert_allclose(spirals_test["x_future"], expected, rtol=0, atol=1e-12)
    # radius formula: clockwise points are 15/θ from (−5, 0)
    clockwise = spirals_test["direction"] == 0
    theta = 6 * np.pi + 1 - absolute[clockwise]
    radius = np.hypot(
        spirals_test["x_future"][clockwise, :, 0] + 5, spirals_test["x_future"][clockwise, :, 1]
    )
    np.testing.assert_allclose(radius * theta, 15.0, rtol=1e-12)


def test_spiral_all_points_observed() -> None:
    data = load("Spirals2D", n=5, observed=100)
    np.testing.assert_array_equal(data["ts"], np.broadcast_to(ORIG_TS[:100], (5, 100)))


def test_periodic_series_follow_their_sinusoid() -> None:
    data = load("Periodic1D", split="test", n=400, seed=2, noise=0.1)
    f, phase = data["frequency"][:, None], data["phase"][:, None]
    assert data["ts"].max() < 5.0 and data["ts"].min() >= 0.0
    assert np.all(np.diff(data["ts"], axis=1) > 0)
    residual = data["x"][..., 0] - np.sin(2 * np.pi * f * data["ts"] + phase)
    assert abs(residual.std() - 0.1) < 0.003  # 12 000 residuals: std error ≈ 0.0007
    np.testing.assert_allclose(data["ts_future"], 5.0 + 0.05 * np.arange(100), atol=1e-12)
    expected = np.sin(2 * np.pi * f * data["ts_future"] + phase)
    np.testing.assert_allclose(data["x_future"][..., 0], expected, atol=1e-12)
    assert data["frequency"].min() >= 0.2 and data["frequency"].max() <= 0.6
