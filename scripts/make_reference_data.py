"""Write the small data files that reference specs read from specs/data/ (seeded, reproducible).

- ``specs/data/oscillations3.csv``: 200 irregularly sampled three-channel series in long format
  (columns ``id, t, x1, x2, x3``), each a damped oscillation
  x1 = r e^{-0.1 t} cos(ω t + φ), x2 = r e^{-0.1 t} sin(ω t + φ), x3 = c e^{-0.3 t} cos(2 t),
  with r ~ U[0.5, 1.5], ω ~ U[0.8, 1.2], φ ~ U[0, 2π), c ~ U[-1, 1], observed at 20-40 of the
  101 grid times linspace(0, 10, 101) plus N(0, 0.05²) noise; each value cell is empty (missing)
  with probability 0.1, never all three of a row.
- ``specs/data/digits8x8.npz``: scikit-learn's 1797 8 × 8 digits, ``images`` (1797, 1, 8, 8)
  float32 in [0, 1] (pixel / 16) and ``labels`` (1797,) int64, in a seeded random order.
- from known systems, scored against their truth (``truth(name, ts)``):
  - ``oscillator.csv``: a damped linear oscillator ``x'' = -ω² x - 2ζω x'`` (ω = 1.2, ζ = 0.1)
    from (2, 0), both coordinates observed at 200 irregular times in [0, 10], noise N(0, 0.1²);
  - ``lotka_volterra.csv``: predator and prey, ``x' = αx - βxy``, ``y' = δxy - γy`` with
    (α, β, δ, γ) = (1.3, 0.9, 0.8, 1.8) from (0.44, 4.63), 120 irregular times in [0, 10],
    noise N(0, 0.05²);
  - ``pendulum.csv``: a damped pendulum ``θ'' = -4 sin θ - 0.2 θ'`` released from rest at
    2.0 rad, its angle observed at 150 irregular times in [0, 8], noise N(0, 0.05²);
  - ``annulus.csv``: Dupont et al. (2019)'s task in 2-D: 2000 points uniform on the disk
    |x| < 1 (label 0) and the ring 2 < |x| < 3 (label 1), half each;
  - ``friedman.csv``: Friedman's regression benchmark #1, 1000 rows, x uniform on [0, 1]^5,
    ``y = 10 sin(π x1 x2) + 20 (x3 - 0.5)² + 10 x4 + 5 x5 + N(0, 1)``.

Run: ``python scripts/make_reference_data.py`` (needs scikit-learn for the digits, scipy for
the trajectories).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

OUT = Path(__file__).resolve().parents[1] / "specs" / "data"
SEED = 0
SERIES = 200
GRID = np.linspace(0.0, 10.0, 101)
NOISE = 0.05
MISSING = 0.1
SYSTEMS_SEED = 20261207


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


LOTKA_VOLTERRA = {"alpha": 1.3, "beta": 0.9, "delta": 0.8, "gamma": 1.8}
"""The rates the UDE spec must recover (its known linear terms: alpha and gamma)."""
OSCILLATOR_NOISE = 0.1


def _oscillator(t: float, z: np.ndarray) -> list[float]:
    omega, zeta = 1.2, 0.1
    return [z[1], -(omega**2) * z[0] - 2 * zeta * omega * z[1]]


def _lotka_volterra(t: float, z: np.ndarray) -> list[float]:
    p = LOTKA_VOLTERRA
    x, y = z
    return [p["alpha"] * x - p["beta"] * x * y, p["delta"] * x * y - p["gamma"] * y]


def _pendulum(t: float, z: np.ndarray) -> list[float]:
    return [z[1], -4.0 * np.sin(z[0]) - 0.2 * z[1]]


SYSTEMS: dict[str, tuple[Callable, list[float], list[int]]] = {
    "oscillator": (_oscillator, [2.0, 0.0], [0, 1]),
    "lotka_volterra": (_lotka_volterra, [0.44249296, 4.6280594], [0, 1]),
    "pendulum": (_pendulum, [2.0, 0.0], [0]),
}
"""Each trajectory: right-hand side, initial state, and the observed coordinates."""


def truth(name: str, ts: np.ndarray) -> np.ndarray:
    """The noiseless observed coordinates of system ``name`` at times ``ts`` (N, D)."""
    rhs, y0, observed = SYSTEMS[name]
    solution = solve_ivp(rhs, (0.0, float(ts[-1])), y0, t_eval=ts, rtol=1e-11, atol=1e-11)
    return solution.y[observed].T


def _trajectory(name: str, rng: np.random.Generator, count: int, end: float, noise: float):
    ts = np.sort(rng.uniform(0.0, end, count))
    ts[0] = 0.0  # the series starts at the initial state's time
    values = truth(name, ts) + rng.normal(0.0, noise, (count, len(SYSTEMS[name][2])))
    header = ["t", *(f"x{k + 1}" for k in range(values.shape[1]))]
    return header, np.column_stack([ts, values])


def _annulus(rng: np.random.Generator, count: int):
    half = count // 2

    def ring(n: int, low: float, high: float) -> np.ndarray:
        radius = np.sqrt(rng.uniform(low**2, high**2, n))  # uniform in area
        angle = rng.uniform(0.0, 2 * np.pi, n)
        return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])

    points = np.concatenate([ring(half, 0.0, 1.0), ring(count - half, 2.0, 3.0)])
    labels = np.concatenate([np.zeros(half), np.ones(count - half)])
    order = rng.permutation(count)
    return ["x1", "x2", "y"], np.column_stack([points, labels])[order]


def _friedman(rng: np.random.Generator, count: int):
    x = rng.uniform(0.0, 1.0, (count, 5))
    y = (
        10 * np.sin(np.pi * x[:, 0] * x[:, 1])
        + 20 * (x[:, 2] - 0.5) ** 2
        + 10 * x[:, 3]
        + 5 * x[:, 4]
        + rng.normal(0.0, 1.0, count)
    )
    return [*(f"x{k + 1}" for k in range(5)), "y"], np.column_stack([x, y])


def write_systems(out: Path = OUT) -> list[Path]:
    """Write every file (each from its own seeded stream); returns their paths."""
    makers = {
        "oscillator": lambda rng: _trajectory("oscillator", rng, 200, 10.0, OSCILLATOR_NOISE),
        "lotka_volterra": lambda rng: _trajectory("lotka_volterra", rng, 120, 10.0, 0.05),
        "pendulum": lambda rng: _trajectory("pendulum", rng, 150, 8.0, 0.05),
        "annulus": lambda rng: _annulus(rng, 2000),
        "friedman": lambda rng: _friedman(rng, 1000),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (name, make) in enumerate(makers.items()):
        header, rows = make(np.random.default_rng([SYSTEMS_SEED, index]))
        path = out / f"{name}.csv"
        labels = name == "annulus"
        formats = ["%.6f"] * (rows.shape[1] - 1) + ["%d" if labels else "%.6f"]
        np.savetxt(path, rows, delimiter=",", header=",".join(header), comments="", fmt=formats)
        written.append(path)
    return written


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "oscillations3.csv").write_text(oscillations(np.random.default_rng(SEED)))
    np.savez_compressed(OUT / "digits8x8.npz", **digits(np.random.default_rng(SEED)))
    write_systems(OUT)
    for name in (
        "oscillations3.csv",
        "digits8x8.npz",
        *(f"{s}.csv" for s in SYSTEMS),
        "annulus.csv",
        "friedman.csv",
    ):
        print(f"{OUT / name}: {(OUT / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
