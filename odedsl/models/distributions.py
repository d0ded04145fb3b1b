"""The torch side of the distribution catalogue: what a `~` statement computes.

One :class:`Family` per distribution of the language's catalogue
(``odedsl.lang.builtins.DISTRIBUTIONS``), under the same name and with the same parameter names
in the same order (a test keeps the two equal). Adding a distribution is one entry there and
one :func:`register` call here. ``PoissonProcess`` is not here: it is a likelihood of event
streams whose compensator ``∫λ dt`` is one more state of the solve, which
:class:`~odedsl.models.latent.LatentODE` carries.

Each family gives, for parameters that broadcast against the value:

- ``log_prob(value, *params)``: the log-density (log-mass) of each entry of ``value``,
  elementwise over the event (the model sums it); a Categorical label is one entry whose
  parameter ``logits`` has one more axis, the classes;
- ``mean(*params)``: the expected value, which models report as their prediction (for
  ``Categorical`` the class probabilities, ``softmax(logits)``; for ``Bernoulli``
  ``sigmoid(logits)``, the probability of 1);
- ``sample(generator, *params)``: one draw per entry (``generator`` may be None: the global
  stream);
- ``std(*params)``: the standard deviation of each entry, the spread forecasts report (None
  for a family of classes, whose spread is its probabilities);
- ``labels``: the values are classes, so held-out figures count mistakes of ``mode``
  (``test_error``) instead of the squared error of ``mean`` (``rmse``).

Values of ``Categorical`` are read as integers (``torch.long``), all others in the parameters'
floating dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Family:
    """One distribution: its catalogue ``name``, parameter names ``params`` (catalogue order)
    and the torch functions described in the module docstring."""

    name: str
    params: tuple[str, ...]
    log_prob: Callable[..., Tensor]
    mean: Callable[..., Tensor]
    sample: Callable[..., Tensor]
    labels: bool = False
    mode: Callable[..., Tensor] | None = None
    integer_values: bool = False
    std: Callable[..., Tensor] | None = None

    def point(self, *params: Tensor) -> Tensor:
        """A model's prediction: ``mode`` for labels (the class), ``mean`` otherwise."""
        if self.mode is not None:
            return self.mode(*params)
        return self.mean(*params)

    def __reduce__(self) -> tuple:
        # Pickled by its catalogue name (its functions include lambdas): torch.save(model).
        return family, (self.name,)


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add ``family`` to the catalogue (its name must be new)."""
    if family.name in FAMILIES:
        raise ValueError(f"the distribution {family.name} is already registered")
    FAMILIES[family.name] = family
    return family


def family(name: str) -> Family:
    """The family called ``name``, or a ValueError listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(FAMILIES))
        raise ValueError(f"no distribution {name!r} on the torch side; known: {known}") from None


def _shape(*tensors: Tensor) -> torch.Size:
    return torch.broadcast_shapes(*(t.shape for t in tensors))


def _standard(
    draw: Callable[..., Tensor], generator: torch.Generator | None, like: Tensor, shape
) -> Tensor:
    """``draw(shape)`` from ``generator`` (on its device), moved to ``like``'s device/dtype."""
    if generator is None:
        return draw(shape, dtype=like.dtype, device=like.device)
    return draw(shape, generator=generator, dtype=like.dtype, device=generator.device).to(
        like.device
    )


# -- Normal ---------------------------------------------------------------------------------------


def _normal_log_prob(value: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return -0.5 * ((value - mean) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI


def _normal_sample(generator: torch.Generator | None, mean: Tensor, std: Tensor) -> Tensor:
    noise = _standard(torch.randn, generator, mean, _shape(mean, std))
    return mean + std * noise


register(
    Family(
        "Normal",
        ("mean", "std"),
        _normal_log_prob,
        lambda mean, std: mean.expand(_shape(mean, std)),
        _normal_sample,
        std=lambda mean, std: std.expand(_shape(mean, std)),
    )
)

# -- Laplace --------------------------------------------------------------------------------------


def _laplace_log_prob(value: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    return -torch.abs(value - mean) / scale - torch.log(2.0 * scale)


def _laplace_sample(generator: torch.Generator | None, mean: Tensor, scale: Tensor) -> Tensor:
    """Inverse CDF: ``μ − b sign(u) log(1 − 2|u|)`` for u uniform on (−½, ½)."""
    u = _standard(torch.rand, generator, mean, _shape(mean, scale)) - 0.5
    tiny = torch.finfo(u.dtype).tiny
    return mean - scale * torch.sign(u) * torch.log1p(-2.0 * u.abs()).clamp_min(math.log(tiny))


register(
    Family(
        "Laplace",
        ("mean", "scale"),
        _laplace_log_prob,
        lambda mean, scale: mean.expand(_shape(mean, scale)),
        _laplace_sample,
        std=lambda mean, scale: math.sqrt(2.0) * scale.expand(_shape(mean, scale)),
    )
)

# -- StudentT -------------------------------------------------------------------------------------


def _student_t_log_prob(value: Tensor, df: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    z = (value - mean) / scale
    return (
        torch.lgamma(0.5 * (df + 1.0))
        - torch.lgamma(0.5 * df)
        - 0.5 * torch.log(math.pi * df)
        - torch.log(scale)
        - 0.5 * (df + 1.0) * torch.log1p(z * z / df)
    )


def _student_t_sample(
    generator: torch.Generator | None, df: Tensor, mean: Tensor, scale: Tensor
) -> Tensor:
    """``μ + σ Z / sqrt(V / ν)`` with Z standard normal and V ~ χ²(ν) = Gamma(ν/2, scale 2);
    torch's gamma sampler reads the global stream, so with a ``generator`` it runs on a
    stream seeded from it."""
    shape = _shape(df, mean, scale)
    z = _standard(torch.randn, generator, mean, shape)
    half = (0.5 * df).expand(shape).detach()
    if generator is None:
        chi2 = 2.0 * torch._standard_gamma(half)
    else:
        seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            chi2 = 2.0 * torch._standard_gamma(half.cpu()).to(half.device)
    return mean + scale * z * torch.rsqrt(chi2 / df)


def _student_t_std(df: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
    """``σ sqrt(ν / (ν − 2))``; infinite for ν ≤ 2."""
    df = df.expand(_shape(df, mean, scale))
    ratio = torch.where(df > 2.0, df / (df - 2.0), torch.full_like(df, math.inf))
    return scale * torch.sqrt(ratio)


register(
    Family(
        "StudentT",
        ("df", "mean", "scale"),
        _student_t_log_prob,
        lambda df, mean, scale: mean.expand(_shape(df, mean, scale)),
        _student_t_sample,
        std=_student_t_std,
    )
)

# -- Poisson --------------------------------------------------------------------------------------


def _poisson_log_prob(value: Tensor, rate: Tensor) -> Tensor:
    return torch.xlogy(value, rate) - rate - torch.lgamma(value + 1.0)


def _poisson_sample(generator: torch.Generator | None, rate: Tensor) -> Tensor:
    if generator is None:
        return torch.poisson(rate)
    counts = torch.poisson(rate.detach().to(generator.device), generator=generator)
    return counts.to(rate.device)


register(
    Family(
        "Poisson",
        ("rate",),
        _poisson_log_prob,
        lambda rate: rate,
        _poisson_sample,
        std=torch.sqrt,
    )
)

# -- Bernoulli ------------------------------------------------------------------------------------


def _bernoulli_log_prob(value: Tensor, logits: Tensor) -> Tensor:
    logits, value = torch.broadcast_tensors(logits, value)
    return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")


def _bernoulli_sample(generator: torch.Generator | None, logits: Tensor) -> Tensor:
    u = _standard(torch.rand, generator, logits, logits.shape)
    return (u < torch.sigmoid(logits)).to(logits.dtype)


register(
    Family(
        "Bernoulli",
        ("logits",),
        _bernoulli_log_prob,
        torch.sigmoid,
        _bernoulli_sample,
        labels=True,
        mode=lambda logits: (logits > 0).to(logits.dtype),
        std=lambda logits: torch.sqrt(torch.sigmoid(logits) * torch.sigmoid(-logits)),
    )
)

# -- Categorical ----------------------------------------------------------------------------------


def _categorical_log_prob(value: Tensor, logits: Tensor) -> Tensor:
    log_p = torch.log_softmax(logits, dim=-1)
    index = value.long()
    lead = torch.broadcast_shapes(index.shape, log_p.shape[:-1])
    log_p = log_p.expand(*lead, log_p.shape[-1])
    return log_p.gather(-1, index.expand(log_p.shape[:-1])[..., None]).squeeze(-1)


def _categorical_sample(generator: torch.Generator | None, logits: Tensor) -> Tensor:
    probabilities = torch.softmax(logits.detach(), dim=-1).reshape(-1, logits.shape[-1])
    if generator is not None:
        probabilities = probabilities.to(generator.device)
    draws = torch.multinomial(probabilities, 1, generator=generator)
    return draws.reshape(logits.shape[:-1]).to(logits.device)


register(
    Family(
        "Categorical",
        ("logits",),
        _categorical_log_prob,
        lambda logits: torch.softmax(logits, dim=-1),
        _categorical_sample,
        labels=True,
        mode=lambda logits: logits.argmax(-1),
        integer_values=True,
    )
)
