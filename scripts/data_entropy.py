"""Reference numbers of the data layer: the entropy of the moons and of the circles (the
lowest NLL a model can reach), and log Z of the targets U1–U4.

Run: python scripts/data_entropy.py
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import integrate, special

from odedsl.data import POTENTIALS, log_normalizer, moons_entropy, moons_log_density
from odedsl.data.moons_density import moons_grid


def moons_report() -> None:
    for noise in (0.05, 0.1):
        grid, area = moons_grid(noise, noise)
        log_p = moons_log_density(grid, noise)
        coarse = -(np.exp(log_p) * log_p).sum() * area
        print(
            f"moons σ={noise}: entropy {moons_entropy(noise):.6f} nats (grid step σ/2); "
            f"step σ gives {coarse:.6f}, mass {np.exp(log_p).sum() * area:.9f}"
        )


def circles_log_density(radius: np.ndarray, noise: float = 0.08) -> np.ndarray:
    """log p of the circles before their scaling by 3, at distance ``radius`` from the origin.

    Half the mass on each circle r ∈ {1, 0.5}, uniform angle, plus N(0, σ²I): averaging the
    Gaussian over the angle gives ``exp(−(ρ² + r²)/2σ²) I0(ρr/σ²) / 2πσ²`` (written with the
    scaled Bessel function ``i0e`` to stay finite)."""
    rho = np.asarray(radius, dtype=np.float64)
    terms = [
        np.log(0.5 / (2 * np.pi * noise**2))
        - (rho - r) ** 2 / (2 * noise**2)
        + np.log(special.i0e(rho * r / noise**2))
        for r in (1.0, 0.5)
    ]
    return np.logaddexp(*terms)


def circles_report(noise: float = 0.08, scale: float = 3.0) -> None:
    """The radial integrals ∫ 2πρ p dρ (the mass) and −∫ 2πρ p log p dρ, then the entropy of
    the data scaled by 3: H + 2 log 3."""

    def radial(f) -> float:
        def integrand(rho: float) -> float:
            log_p = circles_log_density(rho, noise)
            return float(2 * np.pi * rho * f(log_p))

        value, _ = integrate.quad(integrand, 0, 2, points=[0.5, 1.0], limit=200, epsabs=1e-12)
        return value

    mass = radial(np.exp)
    entropy = radial(lambda log_p: -np.exp(log_p) * log_p) + 2 * np.log(scale)
    print(f"circles σ={noise}: entropy {entropy:.6f} nats (radial quadrature), mass {mass:.12f}")


def targets_report() -> None:
    for name in POTENTIALS:
        fine = log_normalizer(name, panel=0.025)
        print(
            f"{name}: log Z on [-4, 4]² = {log_normalizer(name):.12f} "
            f"(half-width panels: {fine:.12f})"
        )
    wide = log_normalizer("U1", box=8.0)
    print(f"U1: log Z on [-8, 8]² = {wide:.12f} (box truncation {wide - log_normalizer('U1'):.2e})")


if __name__ == "__main__":
    print("command:", " ".join(["python", *sys.argv]))
    moons_report()
    circles_report()
    targets_report()
