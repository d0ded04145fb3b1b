"""The torch distribution catalogue: the same names and parameters as the language's, and
log-densities, means and draws that agree with torch.distributions."""

from __future__ import annotations

import pytest
import torch
from torch import distributions as D

from odedsl.lang.builtins import DISTRIBUTIONS
from odedsl.models.distributions import FAMILIES, Family, family, register

# PoissonProcess observes event streams: its compensator ∫λ dt is a state of the latent ODE's
# solve, so it lives in odedsl.models.latent, not in the pointwise catalogue.
POINTWISE = {name: kind for name, kind in DISTRIBUTIONS.items() if kind.support != "events"}


def test_the_torch_catalogue_is_the_language_catalogue():
    # Same families, each with the same parameter names in the same order: generated code
    # passes the parameters positionally in the language's order.
    language = {name: tuple(arg.name for arg in kind.args) for name, kind in POINTWISE.items()}
    torch_side = {name: entry.params for name, entry in FAMILIES.items()}
    assert torch_side == language


def test_labels_are_the_class_supports():
    for name, kind in POINTWISE.items():
        assert FAMILIES[name].labels == (kind.support in ("label", "binary")), name


def test_an_unknown_family_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"no distribution 'Cauchy'.*Normal"):
        family("Cauchy")


def test_a_family_registers_once():
    with pytest.raises(ValueError, match="already registered"):
        register(Family("Normal", ("mean", "std"), None, None, None))  # type: ignore[arg-type]


@pytest.fixture
def values():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    location = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    positive = torch.rand(5, 3, generator=generator, dtype=torch.float64) + 0.2
    counts = torch.poisson(torch.full((5, 3), 2.0, dtype=torch.float64), generator=generator)
    binary = (torch.rand(5, 3, generator=generator) < 0.5).to(torch.float64)
    labels = torch.randint(0, 4, (5,), generator=generator)
    logits = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    return real, location, positive, counts, binary, labels, logits


def test_log_prob_matches_torch_distributions(values):
    real, location, positive, counts, binary, labels, logits = values
    cases = [
        ("Normal", real, (location, positive), D.Normal(location, positive)),
        ("Laplace", real, (location, positive), D.Laplace(location, positive)),
        (
            "StudentT",
            real,
            (positive * 10, location, positive),
            D.StudentT(positive * 10, location, positive),
        ),
        ("Poisson", counts, (positive,), D.Poisson(positive)),
        ("Bernoulli", binary, (real,), D.Bernoulli(logits=real)),
        ("Categorical", labels, (logits,), D.Categorical(logits=logits)),
    ]
    for name, value, params, reference in cases:
        entry = FAMILIES[name]
        torch.testing.assert_close(
            entry.log_prob(value, *params), reference.log_prob(value), rtol=0, atol=1e-12
        )
        # A Categorical's "mean" is its class probabilities (torch leaves its mean undefined).
        mean = reference.probs if name == "Categorical" else reference.mean
        torch.testing.assert_close(entry.mean(*params), mean, rtol=0, atol=1e-12)


def test_log_prob_broadcasts_scalar_parameters():
    value = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    std = torch.tensor(0.3, dtype=torch.float64)
    expected = D.Normal(torch.zeros(1, 2, dtype=torch.float64), 0.3).log_prob(value)
    mean = torch.zeros(1, 2, dtype=torch.float64)
    torch.testing.assert_close(
        FAMILIES["Normal"].log_prob(value, mean, std), expected, rtol=0, atol=1e-14
    )


def test_modes_are_the_likeliest_classes():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])
    assert FAMILIES["Categorical"].point(logits).tolist() == [1, 0]
    assert FAMILIES["Bernoulli"].point(torch.tensor([-0.2, 0.3])).tolist() == [0.0, 1.0]
    assert torch.equal(
        FAMILIES["Normal"].point(torch.tensor([1.0]), torch.tensor(2.0)), torch.tensor([1.0])
    )


@pytest.mark.parametrize(
    ("name", "params", "mean", "variance"),
    [
        ("Normal", (torch.tensor(1.5), torch.tensor(0.5)), 1.5, 0.25),
        ("Laplace", (torch.tensor(-1.0), torch.tensor(0.5)), -1.0, 2 * 0.25),
        ("Poisson", (torch.tensor(3.0),), 3.0, 3.0),
        ("Bernoulli", (torch.tensor(0.0),), 0.5, 0.25),
    ],
)
def test_draws_have_the_family_moments(name, params, mean, variance):
    # 40 000 draws: the sample mean's standard error is sqrt(variance / 40 000) ≤ 0.01; 5 of
    # them is a bound a correct sampler misses with probability below 1e-6.
    n = 40_000
    params = tuple(p.double().expand(n) for p in params)
    draws = FAMILIES[name].sample(torch.Generator().manual_seed(1), *params)
    assert draws.shape == (n,) and draws.dtype == torch.float64
    assert abs(float(draws.mean()) - mean) < 5 * (variance / n) ** 0.5
    assert abs(float(draws.var()) - variance) < 0.05 * variance + 0.01


def test_categorical_draws_follow_the_softmax():
    logits = torch.log(torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)).expand(30_000, 3)
    draws = FAMILIES["Categorical"].sample(torch.Generator().manual_seed(2), logits)
    frequencies = torch.bincount(draws, minlength=3).double() / len(draws)
    # standard errors ≤ sqrt(0.25 / 30 000) ≈ 0.003
    torch.testing.assert_close(
        frequencies, torch.tensor([0.2, 0.5, 0.3]).double(), rtol=0, atol=0.015
    )


def test_a_seeded_generator_repeats_its_draws():
    params = (torch.zeros(4), torch.ones(4))
    first = FAMILIES["Normal"].sample(torch.Generator().manual_seed(3), *params)
    again = FAMILIES["Normal"].sample(torch.Generator().manual_seed(3), *params)
    assert torch.equal(first, again)
