"""Composite Gauss–Legendre quadrature, shared by the exact densities and intensities."""

from __future__ import annotations

import functools

import numpy as np

NODES_PER_PANEL = 8


@functools.cache
def gauss_legendre_panels(low: float, high: float, panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of 8-point Gauss–Legendre rules on ``panels`` equal parts of [low, high].

    Exact for polynomials of degree ≤ 15 on each panel; the arrays are cached, do not modify them.
    """
    unit_nodes, unit_weights = np.polynomial.legendre.leggauss(NODES_PER_PANEL)
    edges = np.linspace(low, high, panels + 1)
    half = 0.5 * np.diff(edges)[:, None]
    nodes = (0.5 * (edges[:-1] + edges[1:])[:, None] + half * unit_nodes).ravel()
    weights = (half * unit_weights).ravel()
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights
