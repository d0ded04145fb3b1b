"""Closed-form log-likelihoods and divergences against torch.distributions and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from odedsl.models.likelihoods import (
    gaussian_log_likelihood,
    logmeanexp,
    normal_kl,
    normal_log_prob,
    poisson_process_log_likelihood,
)

DTYPE = torch.float64


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


def test_gaussian_log_likelihood_sums_observed_points_and_ignores_padding(rng) -> None:
    # 3 series, 5 points, 2 dims; padding holds huge values that would dominate if counted.
    x = torch.randn(3, 5, 2, generator=rng, dtype=DTYPE)
    mean = torch.randn(3, 5, 2, generator=rng, dtype=DTYPE)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 1, 0, 1]], dtype=torch.bool)
    x = torch.where(mask[..., None], x, torch.full_like(x, 1e6))
    expected = (Normal(mean, 0.3).log_prob(x) * mask[..., None]).sum((-2, -1))
    torch.testing.assert_close(gaussian_log_likelihood(x, mean, 0.3, mask), expected)


def test_gaussian_log_likelihood_broadcasts_over_posterior_samples(rng) -> None:
    x = torch.randn(4, 6, 3, generator=rng, dtype=DTYPE)
    means = torch.randn(5, 4, 6, 3, generator=rng, dtype=DTYPE)
    result = gaussian_log_likelihood(x, means, torch.tensor(0.7, dtype=DTYPE))
    assert result.shape == (5, 4)
    torch.testing.assert_close(result[2], Normal(means[2], 0.7).log_prob(x).sum((-2, -1)))


@pytest.mark.parametrize(("prior_mean", "prior_std"), [(0.0, 1.0), (0.5, 2.0)])
def test_normal_kl_matches_torch_distributions(rng, prior_mean: float, prior_std: float) -> None:
    mean = torch.randn(7, 4, generator=rng, dtype=DTYPE)
    logvar = torch.randn(7, 4, generator=rng, dtype=DTYPE)
    q = Normal(mean, (0.5 * logvar).exp())
    p = Normal(torch.full_like(mean, prior_mean), torch.full_like(mean, prior_std))
    expected = kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(normal_kl(mean, logvar, prior_mean, prior_std), expected)


def test_normal_kl_equals_the_monte_carlo_mean_of_the_log_ratio(rng) -> None:
    # KL(q‖p) = E_q[log q(z) − log p(z)]. With n = 200 000 samples the estimate's standard
    # error is std(log ratio)/√n; 5 standard errors keep a false failure below 1e-6.
    mean = torch.tensor([0.3, -1.2, 0.8], dtype=DTYPE)
    logvar = torch.tensor([-0.5, 0.4, -1.5], dtype=DTYPE)
    n = 200_000
    z = mean + (0.5 * logvar).exp() * torch.randn(n, 3, generator=rng, dtype=DTYPE)
    ratio = normal_log_prob(z, mean, logvar) - normal_log_prob(z, 0.0, 0.0)
    standard_error = float(ratio.std() / math.sqrt(n))
    assert abs(float(ratio.mean() - normal_kl(mean, logvar))) < 5 * standard_error


def test_normal_log_prob_matches_torch_distributions(rng) -> None:
    z = torch.randn(5, 3, generator=rng, dtype=DTYPE)
    mean = torch.randn(5, 3, generator=rng, dtype=DTYPE)
    logvar = torch.randn(5, 3, generator=rng, dtype=DTYPE)
    expected = Normal(mean, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(normal_log_prob(z, mean, logvar), expected)


def test_poisson_process_constant_intensity_is_count_log_rate_minus_rate_times_length() -> None:
    # λ constant on a window of length T: log-likelihood n log λ − λT for n events.
    rate, length = 2.5, 4.0
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    log_rate = torch.full((2, 4), math.log(rate), dtype=DTYPE)
    result = poisson_process_log_likelihood(log_rate, mask, torch.full((2,), rate * length))
    expected = torch.tensor([3.0, 1.0], dtype=DTYPE) * math.log(rate) - rate * length
    torch.testing.assert_close(result, expected)


def test_logmeanexp_is_stable_and_exact() -> None:
    x = torch.tensor([[1000.0, 1001.0, 999.0], [-3.0, 0.5, 2.0]], dtype=DTYPE)
    shifted = x - x.max(1, keepdim=True).values
    expected = x.max(1).values + torch.log(shifted.exp().mean(1))
    torch.testing.assert_close(logmeanexp(x, dim=1), expected)
    assert np.isfinite(logmeanexp(x, dim=1).numpy()).all()
