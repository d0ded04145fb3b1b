"""A compiled latent ODE's bound against the closed form of a linear-Gaussian model.

Model: z0 ~ N(0, 1), dz/dt = a z (so z(t) = z0 e^{a t}), x(t_n) ~ N(z(t_n), σ²), with the
posterior q(z0 | x) = N(μ, s²) given by the encoder. For a posterior draw z0 = μ + s ε,

    log p(x | z0) = Σ_n −½ log(2πσ²) − (x_n − z0 c_n)² / (2σ²),   c_n = e^{a t_n},
    KL(q ‖ p)     = ½ (s² + μ² − 1 − log s²),

the ELBO is the mean over draws of log p(x | z0) minus the KL, and its expectation over ε is
Σ_n −½ log(2πσ²) − ((x_n − μ c_n)² + s² c_n²) / (2σ²) − KL.
"""

from __future__ import annotations

import math

import pytest
import torch

import odedsl
from odedsl.models.series import Observations

SPEC = """
model LinearGaussian
    data
        (ts, x) ~ Periodic1D(n = 4, observed = 6)
    end
    params
        a :: Real = -0.3
    end
    networks
        rec = GRU(1 => 6 => 2)
    end
    states
        z(t) :: Real[1]
    end
    prior
        z0 ~ Normal(0, 1)
    end
    encoder
        (μ, logσ²) = chunk(rec(reverse(x), reverse(ts)), 2)
        z0 ~ Normal(μ, exp(0.5 * logσ²))
    end
    dynamics
        z(0) = z0
        dz/dt = a * z
    end
    likelihood
        for t in ts
            x[t] ~ Normal(z(t), 0.4)
        end
    end
    solver
        method = :dopri5
        rtol = 1e-11
        atol = 1e-11
        gradient = :direct
    end
end
"""


@pytest.fixture(scope="module")
def model_and_batch():
    model = odedsl.compile(SPEC).double().eval()
    generator = torch.Generator().manual_seed(0)
    times = torch.sort(torch.rand(3, 6, generator=generator, dtype=torch.float64) * 3, 1).values
    values = torch.randn(3, 6, 1, generator=generator, dtype=torch.float64)
    return model, {"ts": times, "x": values}


def closed_form(batch, mean, logvar, z0, sigma, rate):
    """Per-draw log p(x | z0) (K, B), the KL (B,) and the expected ELBO (B,), for noise σ."""
    c = torch.exp(rate * batch["ts"])  # (B, N)
    x = batch["x"][..., 0]
    constant = -0.5 * math.log(2 * math.pi * sigma**2) * x.shape[1]
    residual = x[None] - z0[..., None] * c[None]  # (K, B, N)
    per_draw = constant - (residual**2).sum(-1) / (2 * sigma**2)
    mu, var = mean[:, 0], logvar[:, 0].exp()
    kl = 0.5 * (var + mu**2 - 1.0 - logvar[:, 0])
    expected = constant - (((x - mu[:, None] * c) ** 2 + var[:, None] * c**2).sum(-1)) / (
        2 * sigma**2
    )
    return per_draw, kl, expected - kl


def _constants(model) -> tuple[float, float]:
    """The model's σ and a: 0.4 and -0.3 as stored (float32 numbers before `.double()`, so
    off by a few 1e-8 relative, which moves a log-likelihood of O(10) by about 1e-6)."""
    sigma = float(model.noise_std)
    (rate,) = [float(p.detach()) for k, p in model.named_parameters() if k.endswith(".p_a")][:1]
    assert math.isclose(sigma, 0.4, rel_tol=1e-7) and math.isclose(rate, -0.3, rel_tol=1e-7)
    return sigma, rate


def test_each_draw_and_the_kl_equal_the_closed_form(model_and_batch) -> None:
    model, batch = model_and_batch
    noise = torch.randn(5, 3, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    bound = model.bound(batch, objective="elbo", samples=5, noise=noise, kl_weight=1.0)
    mean, logvar = model.encode(Observations(batch["ts"], batch["x"], torch.ones(3, 6).bool()))
    z0 = (mean + (0.5 * logvar).exp() * noise)[..., 0]  # (K, B)
    per_draw, kl, _ = closed_form(batch, mean, logvar, z0, *_constants(model))
    # dopri5 at 1e-11 against e^{a t}: agreement to about 1e-9 in a log-likelihood of O(10).
    torch.testing.assert_close(bound.observation_log_likelihood, per_draw, rtol=0, atol=1e-8)
    torch.testing.assert_close(bound.kl, kl, rtol=0, atol=1e-12)
    torch.testing.assert_close(bound.value, per_draw.mean(0) - kl, rtol=0, atol=1e-8)


def test_the_bound_is_an_unbiased_estimate_of_the_expected_elbo(model_and_batch) -> None:
    model, batch = model_and_batch
    k = 20_000
    noise = torch.randn(k, 3, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    bound = model.bound(batch, objective="elbo", samples=k, noise=noise, kl_weight=1.0)
    mean, logvar = model.encode(Observations(batch["ts"], batch["x"], torch.ones(3, 6).bool()))
    _, _, expected = closed_form(batch, mean, logvar, mean[..., 0][None], *_constants(model))
    # Monte Carlo error of the mean over k draws: 5 standard errors.
    spread = bound.observation_log_likelihood.std(0) / math.sqrt(k)
    assert torch.all((bound.value - expected).abs() < 5 * spread + 1e-9)
