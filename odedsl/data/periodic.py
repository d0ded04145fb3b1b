"""Irregularly observed sinusoids with random frequency and phase.

Grid ``GRID = arange(200) · 0.05`` (0 … 9.95). A series is x(t) = sin(2π f t + φ) with
f ~ U[0.2, 0.6] cycles per unit time (1 to 3 periods in the window) and φ ~ U[0, 2π). The
observed window is the first 100 grid points, t ∈ [0, 5) (0 … 4.95); iid N(0, noise²) noise is
added and ``observed`` of the 100 points are kept per series (sorted, a different subset each).
The test future is the noiseless signal at the next 100 grid points, t = 5 … 9.95, on the same
time origin.

Returned keys: ``ts`` (n, observed), ``x`` (n, observed, 1), ``frequency`` (n,), ``phase`` (n,);
for ``split="validation"`` and ``"test"`` also ``ts_future`` (100,) and ``x_future`` (n, 100, 1).
"""

from __future__ import annotations

import numpy as np

from odedsl.data.arguments import check_int, check_real
from odedsl.data.irregular import observe
from odedsl.data.rng import rng_for

WINDOW = 100
GRID = np.arange(2 * WINDOW) * 0.05
FREQUENCY_RANGE = (0.2, 0.6)


def periodic1d(
    *, split: str, n: int, seed: int, observed: int = 30, noise: float = 0.1
) -> dict[str, np.ndarray]:
    """``n`` sinusoid series with ``observed`` irregular noisy points each (see module doc)."""
    observed = check_int("observed", observed, 1, WINDOW)
    noise = check_real("noise", noise)
    rng = rng_for(seed, split)
    frequency = rng.uniform(*FREQUENCY_RANGE, n)
    phase = rng.uniform(0.0, 2.0 * np.pi, n)
    clean = np.sin(2.0 * np.pi * frequency[:, None] * GRID + phase[:, None])[..., None]
    ts, x = observe(rng, GRID[:WINDOW], clean[:, :WINDOW], noise, observed)
    data = {"ts": ts, "x": x, "frequency": frequency, "phase": phase}
    if split != "train":
        data["ts_future"] = GRID[WINDOW:].copy()
        data["x_future"] = clean[:, WINDOW:]
    return data
