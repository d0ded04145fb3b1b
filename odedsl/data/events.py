"""Series with a known latent ODE, noisy irregular observations and Poisson-process events.

Latent state z(t) ∈ R², dz/dt = A z with A = [[−α, −ω], [ω, −α]] (α = 0.1, ω = 1.5), so
z(t) = e^{−αt} R(ωt) z0 with R a rotation; z0 has radius U[0.5, 1.5] and angle U[0, 2π).
Observations: x = z + iid N(0, noise²) at ``observed`` of the 100 grid times
``GRID = linspace(0, 5, 100)`` (sorted, a different subset per series).
Events on the window [0, 5]: an inhomogeneous Poisson process with intensity
λ(t) = 2 · exp(z1(t)), drawn by Lewis–Shedler thinning against the bound 2 · exp(|z0|)
(valid because |z(t)| ≤ |z0|).

Returned keys: ``ts`` (n, observed), ``x`` (n, observed, 2), ``events`` (n, E) sorted per row
and padded with 5.0 after the last event, ``events_mask`` (n, E) bool (True for a real event),
``event_counts`` (n,) int64, ``z0`` (n, 2); E is the largest count. ``event_intensity`` and
``event_log_likelihood`` give the truth to score a trained model against.
"""

from __future__ import annotations

import numpy as np

from odedsl.data.arguments import check_int, check_real
from odedsl.data.irregular import observe
from odedsl.data.quadrature import gauss_legendre_panels
from odedsl.data.rng import rng_for

HORIZON = 5.0
GRID = np.linspace(0.0, HORIZON, 100)
DECAY = 0.1
OMEGA = 1.5
BASE_RATE = 2.0


def event_latent(z0: np.ndarray, t: np.ndarray) -> np.ndarray:
    """z(t) for initial states ``z0`` (..., 2) at times ``t`` (broadcast against ``z0[..., 0]``)."""
    z0 = np.asarray(z0, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    scale = np.exp(-DECAY * t)
    cos, sin = np.cos(OMEGA * t), np.sin(OMEGA * t)
    z1 = scale * (cos * z0[..., 0] - sin * z0[..., 1])
    z2 = scale * (sin * z0[..., 0] + cos * z0[..., 1])
    return np.stack(np.broadcast_arrays(z1, z2), axis=-1)


def event_intensity(z0: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The true intensity λ(t) = 2 · exp(z1(t)) of series with initial states ``z0``."""
    return BASE_RATE * np.exp(event_latent(z0, t)[..., 0])


def event_compensator(z0: np.ndarray) -> np.ndarray:
    """∫₀⁵ λ(t) dt per series (Gauss–Legendre, 64 panels × 8 nodes: exact to rounding)."""
    nodes, weights = gauss_legendre_panels(0.0, HORIZON, 64)
    z0 = np.asarray(z0, dtype=np.float64)
    return event_intensity(z0[..., None, :], nodes) @ weights


def event_log_likelihood(z0: np.ndarray, events: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """True Poisson-process log-likelihood Σ log λ(tᵢ) − ∫ λ dt per series (n,)."""
    z0 = np.asarray(z0, dtype=np.float64)
    log_rate = np.log(event_intensity(z0[:, None, :], events))
    return np.where(mask, log_rate, 0.0).sum(axis=1) - event_compensator(z0)


def thinned_events(
    rng: np.random.Generator, z0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lewis–Shedler thinning for every series; returns padded events, mask and counts."""
    n = len(z0)
    bound = BASE_RATE * np.exp(np.linalg.norm(z0, axis=1))
    owner = np.repeat(np.arange(n), rng.poisson(bound * HORIZON))
    times = rng.uniform(0.0, HORIZON, owner.size)
    keep = rng.uniform(0.0, 1.0, owner.size) * bound[owner] < event_intensity(z0[owner], times)
    owner, times = owner[keep], times[keep]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    counts = np.bincount(owner, minlength=n)
    slot = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    width = int(counts.max(initial=0))
    events = np.full((n, width), HORIZON)
    mask = np.zeros((n, width), dtype=bool)
    events[owner, slot] = times
    mask[owner, slot] = True
    return events, mask, counts.astype(np.int64)


def event_series(
    *, split: str, n: int, seed: int, observed: int = 30, noise: float = 0.1
) -> dict[str, np.ndarray]:
    """``n`` series of observations and events (see module doc)."""
    observed = check_int("observed", observed, 1, len(GRID))
    noise = check_real("noise", noise)
    rng = rng_for(seed, split)
    radius = rng.uniform(0.5, 1.5, n)
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    z0 = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    events, mask, counts = thinned_events(rng, z0)
    ts, x = observe(rng, GRID, event_latent(z0[:, None, :], GRID), noise, observed)
    return {
        "ts": ts,
        "x": x,
        "events": events,
        "events_mask": mask,
        "event_counts": counts,
        "z0": z0,
    }
