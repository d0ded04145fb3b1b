"""Latent ODEs for irregularly sampled series (Chen et al. 2018; Rubanova et al. 2019).

Generative model: ``z0 ~ N(m, s² I)`` (the prior), ``dz/dt = f(t, z)`` from ``t0``,
``x(t_n) ~ N(dec(z(t_n)), σ²)`` at each observed time, and optionally event times from an
inhomogeneous Poisson process with intensity ``λ(t) = exp(rate(z(t)))`` (or softplus).
Inference: a recognition network reads each series backwards in time and outputs
``(μ, log σ²)`` of ``q(z0 | x)``; ``z0 = μ + σ ε`` (reparameterised).

One solve per batch: every series and posterior sample starts from its own ``z0`` and the
state is integrated once over the sorted union of the batch's observation times, event times
and the event window (:func:`odedsl.models.series.union_grid`); each series then reads its own
points. Rows never interact, so a series' loss does not depend on its batch-mates or on
padding beyond the solver's error control: an adaptive solver's step sizes follow the error
norm of the whole batch, and a fixed-step solver without ``step_size`` steps on the union grid,
so results agree to the solver's tolerance.
The compensator ``Λ(t) = ∫_{t0}^t λ dt`` of the Poisson likelihood is one
more state of that same solve (:class:`LatentDynamics`).

Normalisation: a series' bound sums the Gaussian log-likelihood over its observed points and
dimensions (and the event log-likelihood over its events); the loss is the mean over the batch's
series of the negative bound. KL warm-up multiplies the KL term (for IWAE the log prior ratio)
by ``min(1, step / kl_warmup)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from odedsl.nn.layers import takes_time
from odedsl.training.protocol import LossOutput

from .distributions import family
from .inputs import as_mask, as_tensor, check_scored, check_shape, format_shape
from .likelihoods import (
    gaussian_log_likelihood,
    logmeanexp,
    normal_kl,
    normal_log_prob,
    poisson_process_log_likelihood,
)
from .series import Observations, forecast_rmse, gather_at, union_grid
from .settings import SolverSettings

OBJECTIVES = ("elbo", "iwae")
LINKS = ("exp", "softplus")
EVALUATION_SEED = 0
REFINE_LR = 0.05
"""Adam's step size when refining posterior means (latent units: the prior's scale is 1)."""


class LatentDynamics(nn.Module):
    """The solver's right-hand side: ``dz/dt = f(t, z)`` (or ``f(z)`` when ``f`` does not take
    time) and, with an ``intensity`` network, one more state ``Λ`` with ``dΛ/dt = λ(z(t))``.

    ``intensity(z)`` returns the rate ``r`` (shape ``(..., 1)`` or ``(...)``) and
    ``λ = exp(r)`` (``link="exp"``) or ``softplus(r)``. The state is ``[z, Λ]`` along the last
    axis when there is an intensity, else ``z``.
    """

    def __init__(
        self,
        dynamics: nn.Module,
        *,
        dynamics_takes_time: bool | None = None,
        intensity: nn.Module | None = None,
        link: str = "exp",
    ) -> None:
        super().__init__()
        if link not in LINKS:
            raise ValueError(f"intensity_link must be one of {LINKS}, got {link!r}")
        self.dynamics = dynamics
        if dynamics_takes_time is None:
            dynamics_takes_time = takes_time(dynamics)
        self.takes_time = dynamics_takes_time
        self.intensity = intensity
        self.link = link

    @property
    def has_intensity(self) -> bool:
        return self.intensity is not None

    def latent(self, state: Tensor) -> Tensor:
        """The ``z`` part of a state."""
        return state[..., :-1] if self.has_intensity else state

    def log_intensity(self, z: Tensor) -> Tensor:
        """``log λ`` at latent states ``z`` (..., L), shape (...)."""
        if self.intensity is None:
            raise ValueError("this latent ODE has no intensity network (intensity=...)")
        rate = self.intensity(z)
        if rate.ndim == z.ndim:
            if rate.shape[-1] != 1:
                raise ValueError(
                    f"the intensity network must output one rate per state, got a last axis "
                    f"of size {rate.shape[-1]}"
                )
            rate = rate.squeeze(-1)
        return rate if self.link == "exp" else torch.log(F.softplus(rate))

    def forward(self, t: Tensor, state: Tensor) -> Tensor:
        z = self.latent(state)
        dz = self.dynamics(t, z) if self.takes_time else self.dynamics(z)
        if not self.has_intensity:
            return dz
        return torch.cat([dz, self.log_intensity(z).exp()[..., None]], dim=-1)


class Bound(NamedTuple):
    """One evaluation of the objective for a batch of B series with K posterior samples.

    ``value`` (B,): the per-series bound (ELBO or IWAE) with the KL weight applied;
    ``observation_log_likelihood`` and ``event_log_likelihood`` (K, B): log p(x | z0) and the
    Poisson-process log p(events | z0) per sample (zeros without an intensity); ``kl`` (B,):
    closed-form KL(q(z0|x) ‖ p(z0)); ``log_ratio`` (K, B): log q(z0|x) − log p(z0) at the
    samples (its mean over samples is the Monte Carlo estimate of ``kl``).
    """

    value: Tensor
    observation_log_likelihood: Tensor
    event_log_likelihood: Tensor
    kl: Tensor
    log_ratio: Tensor

    @property
    def log_likelihood(self) -> Tensor:
        """log p(x, events | z0) per sample (K, B)."""
        return self.observation_log_likelihood + self.event_log_likelihood


class LatentODE(nn.Module):
    """A latent ODE with a Gaussian observation model and an optional Poisson process.

    Pieces (any ``nn.Module`` with these call forms):

    - ``encoder(values (B, N, D), times (B, N), mask (B, N)) -> (B, 2·latent_dim)``: the
      recognition network, given each series reversed in time (last observation first); e.g.
      ``layers.RNN(D, 25, 2L, time_gap=True)``, ``GRU`` or ``ODERNN``. Its output is split
      into ``(μ, log σ²)`` of q(z0 | x).
    - ``dynamics``: ``f(t, z)`` or ``f(z)``, z (..., L) → dz/dt (..., L); which form is read
      from ``dynamics_takes_time`` or else from the layer's ``takes_time`` attribute.
    - ``decoder(z (..., L)) -> (..., D)``: the mean of the observation at z, whose noise is
      ``noise``; or, with ``likelihood`` set to a family of the catalogue
      (:mod:`odedsl.models.distributions`), the tuple of that family's parameters at z (a
      learned σ, a Laplace scale, a Poisson rate...): predictions are then its ``mean``.
    - ``intensity(z) -> (..., 1)``: the Poisson rate network (``λ = link(rate)``), with
      ``event_window = (start, end)`` the window the events were recorded on.

    ``noise`` is the observation standard deviation σ (learned from that start when
    ``learn_noise``); the prior is ``N(prior_mean, prior_std² I)``; ``objective`` is
    ``"elbo"`` (closed-form KL, averaged over ``samples`` posterior draws) or ``"iwae"``
    (``samples`` importance samples, log-mean-exp of the log weights). The latent state lives
    from ``t0``: every time must be ≥ t0.

    KL warm-up: the KL weight is ``min(1, step / kl_warmup)`` (1 when ``kl_warmup`` is 0).
    ``step`` is a buffer (saved with the state dict) that each training-mode :meth:`loss` call
    advances by one; a runtime that knows the step may call :meth:`set_step` instead.

    Training to extrapolate: with ``encoder_window`` w < 1, each training series' encoder
    reads only its observations up to a random cut between the fraction w of its observed span
    and its end, while the likelihood scores all of them, so the dynamics learn to carry the
    state past what the encoder saw (:meth:`training_view`). Evaluation reads everything.

    Refined predictions: with ``refine`` = n > 0, :meth:`predict` (and so the forecast ``rmse``
    of :meth:`evaluate`) moves each series' posterior mean from the encoder's ``μ`` towards the
    maximum of ``log p(x | z0) + log p(z0)`` over its observations by n Adam steps
    (:meth:`refine_mean`), closing the amortisation gap of the encoder; ``σ`` stays the
    encoder's. The bound and the training loss read the encoder's output as it is.

    Batches are mappings with ``ts`` (B, N) or (N,), ``x`` (B, N, D), optionally ``mask``
    (B, N), or (B, N, D) when points miss some of their channels (the encoder reads a missing
    value as 0, the likelihood leaves it out), and with an intensity ``events`` (B, E) and
    ``events_mask`` (B, E) (the keys of ``odedsl.data.load``). Training solves use
    ``train_solver``; :meth:`predict` and :meth:`evaluate` use ``eval_solver`` (default: the
    same).
    """

    def __init__(
        self,
        encoder: nn.Module,
        dynamics: nn.Module,
        decoder: nn.Module,
        *,
        latent_dim: int,
        train_solver: SolverSettings,
        eval_solver: SolverSettings | None = None,
        noise: float = 0.3,
        learn_noise: bool = False,
        prior_mean: float = 0.0,
        prior_std: float = 1.0,
        objective: str = "elbo",
        samples: int = 1,
        kl_warmup: int = 0,
        encoder_window: float = 1.0,
        refine: int = 0,
        t0: float = 0.0,
        intensity: nn.Module | None = None,
        intensity_link: str = "exp",
        event_window: tuple[float, float] | None = None,
        dynamics_takes_time: bool | None = None,
        likelihood: str | None = None,
    ) -> None:
        super().__init__()
        _check_count("latent_dim", latent_dim, 1)
        _check_count("samples", samples, 1)
        _check_count("kl_warmup", kl_warmup, 0)
        _check_count("refine", refine, 0)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if not (isinstance(encoder_window, int | float) and 0 < encoder_window <= 1):
            raise ValueError(f"encoder_window must be in (0, 1], got {encoder_window!r}")
        for name, value in (("noise", noise), ("prior_std", prior_std)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self.event_window = _check_window(event_window, intensity is not None, t0)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = None if likelihood is None else family(likelihood)
        self.field = LatentDynamics(
            dynamics,
            dynamics_takes_time=dynamics_takes_time,
            intensity=intensity,
            link=intensity_link,
        )
        log_noise = torch.tensor(math.log(noise), dtype=torch.get_default_dtype())
        if learn_noise:
            self.log_noise = nn.Parameter(log_noise)
        else:
            self.register_buffer("log_noise", log_noise)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.latent_dim = latent_dim
        self.train_solver = train_solver
        self.eval_solver = eval_solver or train_solver
        self.prior_mean, self.prior_std = float(prior_mean), float(prior_std)
        self.objective, self.samples, self.kl_warmup = objective, samples, kl_warmup
        self.encoder_window = float(encoder_window)
        self.refine = refine
        self.t0 = float(t0)
        self.stats = None

    # -- settings ------------------------------------------------------------------------------

    @property
    def noise_std(self) -> Tensor:
        """The observation noise σ."""
        return self.log_noise.exp()

    @property
    def kl_weight(self) -> float:
        """The warm-up weight of the KL term at the current ``step``."""
        if not self.kl_warmup:
            return 1.0
        return min(1.0, int(self.step) / self.kl_warmup)

    def set_step(self, step: int) -> None:
        """Set the training step the KL warm-up reads."""
        _check_count("step", step, 0)
        self.step.fill_(step)

    def _like(self) -> Tensor:
        return self.log_noise

    # -- inference and generation ----------------------------------------------------------------

    def encode(self, observations: Observations) -> tuple[Tensor, Tensor]:
        """``(μ, log σ²)`` of q(z0 | x), each (B, L), reading the series backwards."""
        backwards = observations.reversed()
        out = self.encoder(backwards.values, backwards.times, backwards.mask)
        expected = (observations.batch, 2 * self.latent_dim)
        if tuple(out.shape) != expected:
            raise ValueError(
                f"the encoder must output (B, 2·latent_dim) = {expected} (μ and log σ²), "
                f"got {tuple(out.shape)}"
            )
        mean, logvar = out.chunk(2, dim=-1)
        return mean, logvar

    def training_view(self, observations: Observations) -> Observations:
        """What the encoder reads in training: each series up to a random cut drawn uniformly
        between ``encoder_window`` of its observed span and its last observation (the first
        observation is always kept). All of it when ``encoder_window`` is 1."""
        if self.encoder_window == 1.0:
            return observations
        times, mask = observations.times, observations.mask
        first = torch.where(mask, times, times.new_tensor(math.inf)).amin(1, keepdim=True)
        last = torch.where(mask, times, times.new_tensor(-math.inf)).amax(1, keepdim=True)
        low = self.encoder_window
        fraction = low + (1.0 - low) * torch.rand(first.shape, dtype=times.dtype)
        cut = first + fraction.to(times.device) * (last - first)
        return observations.masked_to(times <= cut)

    def posterior_samples(
        self,
        mean: Tensor,
        logvar: Tensor,
        samples: int,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``z0 = μ + σ ε``, shape (K, B, L); ``ε`` is ``noise`` if given, else drawn
        (from ``generator`` when given)."""
        if noise is None:
            shape = (samples, *mean.shape)
            if generator is None:
                noise = torch.randn(shape, dtype=mean.dtype, device=mean.device)
            else:
                noise = torch.randn(shape, generator=generator, dtype=mean.dtype).to(mean.device)
        elif tuple(noise.shape) != (samples, *mean.shape):
            raise ValueError(
                f"noise must have shape (samples, B, L) = {(samples, *mean.shape)}, "
                f"got {tuple(noise.shape)}"
            )
        return mean + (0.5 * logvar).exp() * noise

    def solve(self, z0: Tensor, grid: Tensor, settings: SolverSettings) -> Tensor:
        """The state (z, and Λ with an intensity) from ``z0`` (K, B, L) at the times ``grid``
        (G,) starting at t0; returns (G, K·B, C), rows sample-major."""
        state = z0.reshape(-1, z0.shape[-1])
        if self.field.has_intensity:
            state = torch.cat([state, state.new_zeros(state.shape[0], 1)], dim=-1)
        solution = settings.solve(self.field, state, grid)
        self.stats = solution.stats
        return solution.ys

    # -- the objective ---------------------------------------------------------------------------

    def bound(
        self,
        batch: Mapping[str, Any],
        *,
        objective: str | None = None,
        samples: int | None = None,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        kl_weight: float | None = None,
        solver: SolverSettings | None = None,
    ) -> Bound:
        """The per-series bound of ``batch`` (see :class:`Bound`); arguments left out take the
        model's settings (training solver, current KL weight)."""
        objective = objective or self.objective
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        samples = self.samples if samples is None else samples
        _check_count("samples", samples, 1)
        beta = self.kl_weight if kl_weight is None else kl_weight
        observations, events, events_mask = self._batch(batch)
        mean, logvar = self.encode(
            self.training_view(observations) if self.training else observations
        )
        z0 = self.posterior_samples(mean, logvar, samples, noise, generator)
        observed, timed = self._log_likelihoods(
            z0, observations, events, events_mask, solver or self.train_solver
        )
        kl = normal_kl(mean, logvar, self.prior_mean, self.prior_std)
        log_ratio = normal_log_prob(z0, mean, logvar) - normal_log_prob(
            z0, self.prior_mean, 2.0 * math.log(self.prior_std)
        )
        log_likelihood = observed + timed
        if objective == "elbo":
            value = log_likelihood.mean(0) - beta * kl
        else:
            value = logmeanexp(log_likelihood - beta * log_ratio, dim=0)
        return Bound(value, observed, timed, kl, log_ratio)

    def _log_likelihoods(
        self,
        z0: Tensor,
        observations: Observations,
        events: Tensor | None,
        events_mask: Tensor | None,
        settings: SolverSettings,
    ) -> tuple[Tensor, Tensor]:
        """log p(x | z0) and log p(events | z0) (K, B), from one solve on the union grid."""
        queries = [(observations.times, observations.mask, "batch['ts']")]
        if events is not None:
            window = torch.tensor(self.event_window, dtype=events.dtype, device=events.device)
            queries.append((events, events_mask, "batch['events']"))
            queries.append((window.expand(len(events), 2), None, "event_window"))
        grid = union_grid(self.t0, queries, self._like())
        path = self.solve(z0, grid.times, settings)
        z_obs = self.field.latent(gather_at(path, grid.index[0]))
        observed = self.observation_log_likelihood(z_obs, observations)
        if events is None:
            return observed, torch.zeros_like(observed)
        at_events = self.field.latent(gather_at(path, grid.index[1]))
        compensator = gather_at(path, grid.index[2])[..., -1]
        timed = poisson_process_log_likelihood(
            self.field.log_intensity(at_events),
            events_mask,
            compensator[..., 1] - compensator[..., 0],
        )
        return observed, timed

    def observation_log_likelihood(self, z: Tensor, observations: Observations) -> Tensor:
        """``Σ log p(x | z)`` over each series' observed points and dimensions (K, B), for
        latent states ``z`` (K, B, N, L) at the observation times; masked points contribute
        exactly 0."""
        if self.likelihood is None:
            return gaussian_log_likelihood(
                observations.values, self.decoder(z), self.noise_std, observations.cell_mask
            )
        params = self._observation_parameters(z)
        mask = observations.cell_mask
        values = torch.where(mask, observations.values, torch.zeros_like(observations.values))
        log_density = self.likelihood.log_prob(values, *params)
        log_density = torch.where(mask, log_density, torch.zeros_like(log_density))
        return log_density.sum((-2, -1))

    def observation_mean(self, z: Tensor) -> Tensor:
        """The mean observation at latent states ``z`` (..., L)."""
        if self.likelihood is None:
            return self.decoder(z)
        return self.likelihood.mean(*self._observation_parameters(z))

    def _observation_parameters(self, z: Tensor) -> tuple[Tensor, ...]:
        params = self.decoder(z)
        params = params if isinstance(params, tuple) else (params,)
        return tuple(torch.as_tensor(p, dtype=z.dtype, device=z.device) for p in params)

    def _batch(self, batch: Mapping[str, Any]) -> tuple[Observations, Tensor | None, Tensor | None]:
        if not isinstance(batch, Mapping) or "ts" not in batch or "x" not in batch:
            raise ValueError(
                "a latent ODE batch is a mapping with 'ts' (B, N) and 'x' (B, N, D), "
                f"optionally 'mask'; got {type(batch).__name__}"
                + (f" with keys {sorted(batch)}" if isinstance(batch, Mapping) else "")
            )
        like = self._like()
        observations = Observations.of(
            batch["ts"],
            batch["x"],
            batch.get("mask"),
            like,
            names=("batch['ts']", "batch['x']", "batch['mask']"),
        )
        self._check_channels(observations, "batch['x']")
        if not self.field.has_intensity:
            return observations, None, None
        if "events" not in batch:
            raise ValueError(
                "this latent ODE has a Poisson-process likelihood: the batch needs 'events' "
                "(B, E) event times and 'events_mask' (B, E)"
            )
        events = as_tensor(batch["events"], like, "batch['events']", masked=True)
        check_shape(events, (observations.batch, "E"), "batch['events']")
        shape = tuple(events.shape)
        mask = as_mask(batch.get("events_mask"), shape, events.device, "batch['events_mask']")
        return observations, check_scored(events, mask, "batch['events']"), mask

    def loss(self, batch: Mapping[str, Any]) -> LossOutput:
        """Mean over the batch's series of the negative bound (training solver, current KL
        weight); advances ``step`` in training mode."""
        bound = self.bound(batch)
        stats = self.stats
        events = {}
        if self.field.has_intensity:
            events["event_log_likelihood"] = float(bound.event_log_likelihood.mean().detach())
        elbo = bound.log_likelihood.mean(0) - bound.kl
        metrics: dict[str, Any] = {
            "elbo": float(elbo.mean().detach()),
            "log_likelihood": float(bound.observation_log_likelihood.mean().detach()),
            "kl": float(bound.kl.mean().detach()),
            **events,
            "kl_weight": self.kl_weight,
            "nfe_forward": float(stats.nfe_forward),
        }
        deferred = {"nfe_backward": lambda: float(stats.nfe_backward)}
        if self.training:
            self.step += 1
        return LossOutput(-bound.value.mean(), metrics, deferred)

    # -- prediction and evaluation ---------------------------------------------------------------

    def predict(
        self,
        t_obs: Any,
        x_obs: Any,
        t_new: Any,
        samples: int | None = None,
        mask: Any = None,
        generator: torch.Generator | None = None,
        refine: int | None = None,
    ) -> Tensor:
        """Decoded predictions at ``t_new`` given observations ``(t_obs, x_obs)``.

        A batch: ``t_obs`` (N,) shared or (B, N) per series, ``x_obs`` (B, N, D), ``mask``
        (B, N) or (B, N, D) (a point may miss some channels); ``t_new`` (M,) or (B, M), any
        times ≥ t0 (beyond the observations: extrapolation). Returns the prediction from the
        posterior mean, (B, M, D), or with ``samples`` = K posterior draws, (K, B, M, D). One
        series: ``t_obs`` (N,), ``x_obs`` (N, D) (or (N,) with one channel), ``mask`` (N,) or
        (N, D) and ``t_new`` (M,) give (M, D) (or (M,)), or (K, M, D) with samples: the batch
        of that one series, without its batch axis. The posterior mean is refined by
        ``refine`` Adam steps
        (:meth:`refine_mean`; default: the model's ``refine``, 0 reads the encoder's mean as
        it is). Uses the evaluation solver. Arrays of any float dtype are converted; NaN in
        ``x_obs`` or ``t_obs`` is refused except where ``mask`` is False.
        """
        like = self._like()
        values = as_tensor(x_obs, like, "x_obs", masked=True)
        given = tuple(values.shape)
        single, flat = values.ndim in (1, 2), values.ndim == 1
        if single:
            t_obs, values, mask, t_new = _one_series(t_obs, values, mask, t_new, like)
        observations = Observations.of(t_obs, values, mask, like)
        self._check_channels(observations, "x_obs", given if single else None)
        mean, logvar = self.encode(observations)
        steps = self.refine if refine is None else refine
        _check_count("refine", steps, 0)
        if steps:
            mean = self.refine_mean(mean, observations, steps)
        if samples is None:
            z0 = mean[None]
        else:
            _check_count("samples", samples, 1)
            z0 = self.posterior_samples(mean, logvar, samples, generator=generator)
        prediction = self.decode(z0, t_new, name="t_new")
        prediction = prediction[0] if samples is None else prediction
        if not single:
            return prediction
        prediction = prediction.select(-3, 0)  # the batch axis
        return prediction.squeeze(-1) if flat else prediction

    def _check_channels(
        self, observations: Observations, name: str, given: tuple[int, ...] | None = None
    ) -> None:
        """Refuse values whose channels are not those the decoder gives, naming ``name``;
        ``given``: the shape of a single series as it was given (for the message)."""
        expected = self._channels()
        if expected is None or observations.values.shape[-1] == expected:
            return
        batch, one = (
            f"(B, N, {expected})",
            f"(N, {expected})" + (" or (N,)" if expected == 1 else ""),
        )
        shapes = batch if given is None else f"{one} for one series ({batch} for a batch)"
        got = tuple(observations.values.shape) if given is None else given
        raise ValueError(
            f"{name} must have shape {shapes}: the model observes {expected} channel(s) per "
            f"point; got {format_shape(got)}"
        )

    def _channels(self) -> int | None:
        """The channels D of an observation (the decoder's output at one latent state), or
        None when the decoder cannot tell (then the shapes are left to the networks)."""
        if not hasattr(self, "_channel_count"):
            like = self._like()
            try:
                with torch.no_grad():
                    out = self.observation_mean(like.new_zeros(1, self.latent_dim))
            except (RuntimeError, ValueError, TypeError, IndexError):
                out = None
            ok = isinstance(out, Tensor) and out.ndim == 2 and out.shape[0] == 1
            self._channel_count = int(out.shape[1]) if ok else None
        return self._channel_count

    def refine_mean(self, mean: Tensor, observations: Observations, steps: int) -> Tensor:
        """Posterior means (B, L) moved from ``mean`` by ``steps`` Adam steps (step size
        ``REFINE_LR`` decaying linearly to 0) up ``log p(x | z0) + log p(z0)`` of each
        series' observations (the evaluation solver), towards the mode of its posterior.
        Adam scales each coordinate on its own, so a series' result does not depend on its
        batch-mates; the model's parameters and their gradients are left untouched."""
        z0 = mean.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z0], lr=REFINE_LR)
        prior_logvar = 2.0 * math.log(self.prior_std)
        with torch.enable_grad():
            for step in range(steps):
                optimizer.param_groups[0]["lr"] = REFINE_LR * (1.0 - step / steps)
                observed, _ = self._log_likelihoods(
                    z0[None], observations, None, None, self.eval_solver
                )
                log_joint = observed[0] + normal_log_prob(z0, self.prior_mean, prior_logvar)
                (z0.grad,) = torch.autograd.grad(-log_joint.sum(), z0)
                optimizer.step()
        return z0.detach()

    def decode(self, z0: Tensor, times: Any, *, name: str = "times") -> Tensor:
        """The decoded trajectories (K, B, M, D) from latent initial states ``z0`` (K, B, L)
        at ``times`` (M,) shared or (B, M) per series, each ≥ t0 (evaluation solver)."""
        batch = z0.shape[1]
        times = as_tensor(times, self._like(), name)
        if times.ndim not in (1, 2) or (times.ndim == 2 and times.shape[0] != batch):
            raise ValueError(
                f"{name} must have shape (M,) or ({batch}, M), got {tuple(times.shape)}"
            )
        grid = union_grid(self.t0, [(times.expand(batch, -1), None, name)], self._like())
        path = self.solve(z0, grid.times, self.eval_solver)
        return self.observation_mean(self.field.latent(gather_at(path, grid.index[0])))

    def evaluate(self, data: Mapping[str, Any]) -> dict[str, float]:
        """Held-out ``loss`` (the negative bound with KL weight 1, evaluation solver, posterior
        noise from a fixed seed) and ``rmse``: when ``data`` has a future (``ts_future``,
        ``x_future``), the forecast's of :meth:`predict` from the posterior mean; otherwise (a
        user's series, with no future) the reconstruction's, :meth:`reconstruction_rmse`.
        Data of events (a Poisson likelihood) and no future are scored by ``loss`` alone."""
        generator = torch.Generator().manual_seed(EVALUATION_SEED)
        with torch.no_grad():
            bound = self.bound(data, generator=generator, kl_weight=1.0, solver=self.eval_solver)
            results = {"loss": float(-bound.value.mean())}
            if "x_future" in data:
                results["rmse"] = forecast_rmse(self.predict, data, self._like())
            elif not self.field.has_intensity:
                results["rmse"] = self.reconstruction_rmse(data)
        return results

    def reconstruction_rmse(self, data: Mapping[str, Any]) -> float:
        """RMSE of the decoded path from each series' posterior mean (refined as in
        :meth:`predict`) against its own observed values, over every observed value of every
        series (missing values and padding left out): how well the model reconstructs series
        it was not trained on, from their observations."""
        observations, _, _ = self._batch(data)
        cells = observations.cell_mask
        times = observations.times
        prediction = self.predict(times, observations.values, times, mask=cells)
        error = torch.where(cells, prediction - observations.values, 0.0).pow(2)
        return float((error.sum() / cells.sum()).sqrt())


def _one_series(
    t_obs: Any, values: Tensor, mask: Any, t_new: Any, like: Tensor
) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """One series (``values`` (N, D) or (N,), times (N,), mask (N,) or (N, D), new times (M,))
    as the batch of that one series: (1, N), (1, N, D), (1, N) or (1, N, D), and (M,)."""
    points = values.shape[0]
    values = values.reshape(1, points, *(values.shape[1:] or (1,)))
    times = as_tensor(t_obs, like, "t_obs", masked=True)
    if tuple(times.shape) != (points,):
        raise ValueError(
            f"t_obs must have shape ({points},) for one series x_obs of {points} points, "
            f"got {format_shape(tuple(times.shape))} (a batch: x_obs (B, N, D))"
        )
    if mask is not None:
        cells = torch.as_tensor(mask).ndim == 2
        shape = tuple(values.shape[1:]) if cells else (points,)
        mask = as_mask(mask, shape, like.device, "mask")[None]
    new = as_tensor(t_new, like, "t_new")
    if new.ndim != 1:
        raise ValueError(
            f"t_new must have shape (M,) for one series, got {format_shape(tuple(new.shape))}"
        )
    return times[None], values, mask, new


def _check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")


def _check_window(
    window: tuple[float, float] | None, has_intensity: bool, t0: float
) -> tuple[float, float] | None:
    if not has_intensity:
        if window is not None:
            raise ValueError("event_window is only used with an intensity network (intensity=...)")
        return None
    if window is None:
        raise ValueError(
            "a Poisson-process likelihood needs the window the events were recorded on: "
            "event_window=(start, end)"
        )
    start, end = (float(bound) for bound in window)
    if not t0 <= start < end:
        raise ValueError(f"event_window must satisfy t0 = {t0:g} ≤ start < end, got {window}")
    return start, end
