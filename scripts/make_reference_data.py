"""Write the small data files that reference specs read from specs/data/ (seeded, reproducible).

- ``specs/data/oscillations3.csv``: 200 irregularly sampled three-channel series in long format
  (columns ``id, t, x1, x2, x3``), each a damped oscillation
  x1 = r e^{-0.1 t} cos(ω t + φ), x2 = r e^{-0.1 t} sin(ω t + φ), x3 = c e^{-0.3 t} cos(2 t),
  with r ~ U[0.5, 1.5], ω ~ U[0.8, 1.2], φ ~ U[0, 2π), c ~ U[-1, 1], observed at 20-40 of the
  101 grid times linspace(0, 10, 101) plus N(0, 0.05²) noise; each value cell is empty (missing)
  with probability 0.1, never all three of a row.
- ``specs/data/digits8x8.npz``: scikit-learn's 1797 8 × 8 digits, ``images`` (1797, 1, 8, 8)
  float32 in [0, 1] (pixel / 16) and ``labels`` (1797,) int64, in a seeded random order.

Run: ``python scripts/make_reference_data.py`` (needs scikit-learn for the digits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "specs" / "data"
SEED = 0
SERIES = 200
GRID = np.linspace(0.0, 10.0, 101)
NOISE = 0.05
MISSING = 0.1


def oscillations(rng: np.random.Generator) -> str:
    """The long-format CSV text of the three-channel series (module doc)."""
    lines = ["id,t,x1,x2,x3"]
    for series in range(SERIES):
        r, omega = rng.uniform(0.5, 1.5), rng.uniform(0.8, 1.2)
        phi, c = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(-1.0, 1.0)
        count = int(rng.integers(20, 41))
        t = np.sort(rng.choice(GRID, size=count, replace=False))
        decay = r * np.exp(-0.1 * t)
        clean = np.stack(
            [
                decay * np.cos(omega * t + phi),
                decay * np.sin(omega * t + phi),
                c * np.exp(-0.3 * t) * np.cos(2.0 * t),
            ],
            axis=1,
        )
        values = clean + NOISE * rng.standard_normal(clean.shape)
        missing = rng.random(values.shape) < MISSING
        missing[missing.all(axis=1), rng.integers(0, 3)] = False  # keep one value in a row
        for k in range(count):
            cells = ["" if missing[k, d] else f"{values[k, d]:.5f}" for d in range(3)]
            lines.append(f"s{series:03d},{t[k]:.1f}," + ",".join(cells))
    return "\n".join(lines) + "\n"


def digits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The 8 × 8 digits with a channel axis, in a seeded random order (module doc)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = rng.permutation(len(bunch.target))
    images = (np.asarray(bunch.images, dtype=np.float32) / 16.0)[order, None]
    return {"images": images, "labels": np.asarray(bunch.target, dtype=np.int64)[order]}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "oscillations3.csv").write_text(oscillations(np.random.default_rng(SEED)))
    np.savez_compressed(OUT / "digits8x8.npz", **digits(np.random.default_rng(SEED)))
    for name in ("oscillations3.csv", "digits8x8.npz"):
        print(f"{OUT / name}: {(OUT / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
