"""The irregularly sampled spirals of the Neural ODE paper (latent ODE, Table 2), exactly.

Grid ``GRID = linspace(0, 6π, 500)``. Clockwise curve: θ = 6π + 1 − t, r = 50·b/θ, point
(r cos θ − 5, r sin θ); counter-clockwise: θ = t, r = b·θ, point (r cos θ + 5, r sin θ); b = 0.3.
Each series: start index k uniform in {100, …, 399} (validation and test splits:
{100, …, 199}), direction by a
fair coin, the curve's points k … k + 99 plus iid N(0, noise²) noise on both coordinates, then
``observed`` of those 100 points drawn without replacement and sorted (a different subset per
series).

Time origin: every series' window starts at relative time 0, so point k + j is observed at time
``GRID[j]`` (0 … ≈3.7397). The test future is the next 100 points of the noiseless curve,
k + 100 … k + 199, at relative times ``GRID[100:200]`` on the same origin.

Returned keys: ``ts`` (n, observed), ``x`` (n, observed, 2), ``direction`` (n,) int64 with
1 = counter-clockwise (centre (+5, 0)) and 0 = clockwise (centre (−5, 0)), ``start`` (n,) int64;
for ``split="validation"`` and ``"test"`` also ``ts_future`` (100,) and ``x_future`` (n, 100, 2).
"""

from __future__ import annotations

import numpy as np

from odedsl.data.arguments import check_int, check_real
from odedsl.data.irregular import observe
from odedsl.data.rng import rng_for

GRID = np.linspace(0.0, 6.0 * np.pi, 500)
WINDOW = 100
SPIRAL_B = 0.3
START_RANGE = {"train": (100, 400), "validation": (100, 200), "test": (100, 200)}
CLOCKWISE, COUNTER_CLOCKWISE = 0, 1


def spiral_curves() -> np.ndarray:
    """The two noiseless curves on ``GRID``: shape (2, 500, 2), index 0 clockwise, 1 counter."""
    theta_cw = 6.0 * np.pi + 1.0 - GRID
    r_cw = 50.0 * SPIRAL_B / theta_cw
    clockwise = np.stack([r_cw * np.cos(theta_cw) - 5.0, r_cw * np.sin(theta_cw)], axis=1)
    r_cc = SPIRAL_B * GRID
    counter = np.stack([r_cc * np.cos(GRID) + 5.0, r_cc * np.sin(GRID)], axis=1)
    return np.stack([clockwise, counter])


def spirals2d(
    *, split: str, n: int, seed: int, observed: int = 30, noise: float = 0.3
) -> dict[str, np.ndarray]:
    """``n`` spiral series with ``observed`` irregular noisy points each (see module doc)."""
    observed = check_int("observed", observed, 1, WINDOW)
    noise = check_real("noise", noise)
    rng = rng_for(seed, split)
    low, high = START_RANGE[split]
    start = rng.integers(low, high, n)
    direction = rng.integers(0, 2, n)
    curves = spiral_curves()
    window = start[:, None] + np.arange(WINDOW)
    clean = curves[direction[:, None], window]
    ts, x = observe(rng, GRID[:WINDOW], clean, noise, observed)
    data = {
        "ts": ts,
        "x": x,
        "direction": direction.astype(np.int64),
        "start": start.astype(np.int64),
    }
    if split != "train":
        data["ts_future"] = GRID[WINDOW : 2 * WINDOW].copy()
        data["x_future"] = curves[direction[:, None], window + WINDOW]
    return data
