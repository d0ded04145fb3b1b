"""Irregular observation patterns shared by the time-series data sets."""

from __future__ import annotations

import numpy as np


def observed_indices(
    rng: np.random.Generator, series: int, points: int, observed: int
) -> np.ndarray:
    """Per series, ``observed`` of ``range(points)`` drawn without replacement, sorted.

    Returns an int64 array (series, observed); each row is a different random subset.
    """
    keys = rng.random((series, points))
    chosen = np.argpartition(keys, observed - 1, axis=1)[:, :observed]
    return np.sort(chosen, axis=1).astype(np.int64)


def gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[i, index[i]]`` for every series i; ``values`` is (series, points, ...)."""
    expand = index.reshape(index.shape + (1,) * (values.ndim - 2))
    return np.take_along_axis(values, expand, axis=1)


def observe(
    rng: np.random.Generator, times: np.ndarray, clean: np.ndarray, noise: float, observed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy irregular observations of clean series.

    ``clean`` (series, points, D) holds each series at ``times`` (points,); adds iid
    N(0, noise²) to every value, then keeps ``observed`` sorted random points per series.
    Returns ``ts`` (series, observed) and ``x`` (series, observed, D).
    """
    noisy = clean + noise * rng.standard_normal(clean.shape)
    index = observed_indices(rng, clean.shape[0], clean.shape[1], observed)
    return times[index], gather(noisy, index)
