"""Density-matching targets U1–U4 of Rezende & Mohamed (2015): log p(z) = −U(z), unnormalised.

U2–U4 do not decay along z1, so they are normalisable only on a bounded region: every target is
taken on the box [−4, 4]² (the window of the papers' figures), and ``log_normalizer`` integrates
over that box. U1's mass outside the box changes its log Z by under 1e-8 (measured by
``scripts/data_entropy.py``). The best achievable KL(q‖p) loss of a model confined to the box is
−log Z.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from odedsl.data.arguments import check_real, suggestion
from odedsl.data.errors import DataError
from odedsl.data.quadrature import gauss_legendre_panels

BOX = 4.0


def _w1(z: np.ndarray) -> np.ndarray:
    return np.sin(2.0 * np.pi * z[..., 0] / 4.0)


def _log_two_bumps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(exp(−½a²) + exp(−½b²)), stable."""
    return np.logaddexp(-0.5 * a**2, -0.5 * b**2)


def _log_p1(z: np.ndarray) -> np.ndarray:
    radius = np.linalg.norm(z, axis=-1)
    z1 = z[..., 0]
    return -0.5 * ((radius - 2.0) / 0.4) ** 2 + _log_two_bumps((z1 - 2.0) / 0.6, (z1 + 2.0) / 0.6)


def _log_p2(z: np.ndarray) -> np.ndarray:
    return -0.5 * ((z[..., 1] - _w1(z)) / 0.4) ** 2


def _log_p3(z: np.ndarray) -> np.ndarray:
    w2 = 3.0 * np.exp(-0.5 * ((z[..., 0] - 1.0) / 0.6) ** 2)
    gap = z[..., 1] - _w1(z)
    return _log_two_bumps(gap / 0.35, (gap + w2) / 0.35)


def _log_p4(z: np.ndarray) -> np.ndarray:
    w3 = 3.0 / (1.0 + np.exp(-(z[..., 0] - 1.0) / 0.3))
    gap = z[..., 1] - _w1(z)
    return _log_two_bumps(gap / 0.4, (gap + w3) / 0.35)


POTENTIALS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "U1": _log_p1,
    "U2": _log_p2,
    "U3": _log_p3,
    "U4": _log_p4,
}


def _lookup(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name not in POTENTIALS:
        hint = suggestion(name, POTENTIALS)
        raise DataError(f"unknown target {name!r}{hint}; known: {', '.join(POTENTIALS)}")
    return POTENTIALS[name]


def potential(name: str, z: np.ndarray) -> np.ndarray:
    """Unnormalised log-density −U(z) of target ``name`` (U1–U4); ``z`` has shape (..., 2)."""
    log_p = _lookup(name)
    z = np.asarray(z, dtype=np.float64)
    if z.shape[-1:] != (2,):
        raise DataError(f"`z` must have shape (..., 2), got {z.shape}")
    return log_p(z)


@functools.cache
def log_normalizer(name: str, box: float = BOX, panel: float = 0.05) -> float:
    """log Z = log ∫_{[−box, box]²} exp(−U(z)) dz by tensor-product Gauss–Legendre quadrature.

    8 nodes on panels of width ``panel`` per axis (1280² nodes for the defaults); the narrowest
    feature of U1–U4 is ≈ 0.14 wide, and halving the panel changes log Z by less than 1e-12.
    """
    log_p = _lookup(name)
    box = check_real("box", box, positive=True)
    panel = check_real("panel", panel, positive=True)
    nodes, weights = gauss_legendre_panels(-box, box, int(np.ceil(2.0 * box / panel)))
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    values = log_p(np.stack([z1, z2], axis=-1))
    peak = values.max()
    total = weights @ np.exp(values - peak) @ weights
    return float(peak + np.log(total))
