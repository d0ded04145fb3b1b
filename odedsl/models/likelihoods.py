"""Log-likelihoods and divergences of the latent-variable models, in closed form.

Conventions: the last axis of a latent tensor is its dimension; observation tensors are
``(..., N, D)`` with an optional mask ``(..., N)`` (True for an observed point). Every function
returns one value per leading index (per series, per posterior sample), summed over the rest.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_likelihood(
    x: Tensor, mean: Tensor, std: Tensor | float, mask: Tensor | None = None
) -> Tensor:
    """``Σ_{n observed, d} log N(x[n, d]; mean[n, d], std²)`` over the last two axes.

    ``std`` is a float or a tensor broadcasting against ``x``; masked points (``mask`` (…, N)
    False) or values (``mask`` shaped like ``x``) contribute exactly 0, whatever their values
    (padding may hold anything finite).
    """
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    log_density = -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI
    if mask is not None:
        mask = mask if mask.ndim == x.ndim else mask[..., None]
        log_density = torch.where(mask, log_density, torch.zeros_like(log_density))
    return log_density.sum((-2, -1))


def normal_log_prob(z: Tensor, mean: Tensor | float, logvar: Tensor | float) -> Tensor:
    """``log N(z; mean, diag(exp(logvar)))`` summed over the last axis."""
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    density = -0.5 * ((z - mean) ** 2 * torch.exp(-logvar) + logvar + LOG_2PI)
    return density.expand(z.shape).sum(-1)


def normal_kl(
    mean: Tensor, logvar: Tensor, prior_mean: float = 0.0, prior_std: float = 1.0
) -> Tensor:
    """``KL(N(mean, diag(exp(logvar))) ‖ N(prior_mean, prior_std² I))`` over the last axis:
    ``½ Σ (σ² + (μ − m)²) / s² − 1 − log σ² + log s²``."""
    prior_var = prior_std**2
    terms = (logvar.exp() + (mean - prior_mean) ** 2) / prior_var - 1.0 - logvar
    return 0.5 * (terms + math.log(prior_var)).sum(-1)


def poisson_process_log_likelihood(
    log_intensity: Tensor, mask: Tensor | None, compensator: Tensor
) -> Tensor:
    """``Σ_i log λ(t_i) − ∫ λ dt`` of an inhomogeneous Poisson process.

    ``log_intensity`` (..., E) holds log λ at the event times, ``mask`` (..., E) marks the real
    events among padding, ``compensator`` (...) is the integral of λ over the window.
    """
    if mask is not None:
        log_intensity = torch.where(mask, log_intensity, torch.zeros_like(log_intensity))
    return log_intensity.sum(-1) - compensator


def logmeanexp(x: Tensor, dim: int) -> Tensor:
    """``log mean exp x`` along ``dim``, computed stably."""
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])
