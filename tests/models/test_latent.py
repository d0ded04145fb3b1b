"""Latent ODE and the RNN baseline against closed forms, scipy, and invariances."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy.integrate import quad, solve_ivp
from scipy.linalg import expm
from torch import nn

from odedsl.data import load
from odedsl.models.latent import LatentODE
from odedsl.models.rnn_baseline import RNNBaseline
from odedsl.models.series import Observations
from odedsl.models.settings import SolverSettings
from odedsl.nn.layers import GRU, MLP, ODERNN, RNN

DTYPE = torch.float64
TIGHT = SolverSettings("dopri5", rtol=1e-10, atol=1e-10, gradient="direct")
L, D = 3, 2

# The event-series latent process: dz/dt = A z with a decaying rotation, λ = 2 exp(z1).
DECAY, OMEGA = 0.1, 1.5
A = np.array([[-DECAY, -OMEGA], [OMEGA, -DECAY]])


pytestmark = pytest.mark.usefixtures("one_thread")


class FixedPosterior(nn.Module):
    """An encoder stub: q(z0 | x) = N(mean, exp(logvar)) for every batch (first B rows)."""

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("out", torch.cat([mean, logvar], dim=-1))

    def forward(self, values, times, mask):
        return self.out[: values.shape[0]]


class Linear(nn.Module):
    def __init__(self, a: np.ndarray) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.as_tensor(a, dtype=DTYPE))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.a.T


class Rate(nn.Module):
    """log λ = log(base) + slope · z1, shape (..., 1)."""

    def __init__(self, base: float, slope: float) -> None:
        super().__init__()
        self.base, self.slope = base, slope

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return math.log(self.base) + self.slope * z[..., :1]


def spiral_model(seed: int = 0, **kwargs) -> LatentODE:
    torch.manual_seed(seed)
    settings = dict(latent_dim=L, train_solver=TIGHT, noise=0.3)
    settings.update(kwargs)
    model = LatentODE(
        RNN(D, 8, 2 * L, time_gap=True),
        MLP([L, 16, L], act="elu"),
        MLP([L, 16, D], act="relu"),
        **settings,
    )
    return model.double()


def event_model(mean: torch.Tensor, rate: nn.Module, window=(0.0, 5.0), **kwargs) -> LatentODE:
    logvar = torch.full_like(mean, -2.0)
    return LatentODE(
        FixedPosterior(mean, logvar),
        Linear(A),
        nn.Linear(2, 2, dtype=DTYPE),
        latent_dim=2,
        train_solver=TIGHT,
        intensity=rate,
        event_window=window,
        **kwargs,
    ).double()


def spiral_batch(n: int = 4, observed: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    data = load("Spirals2D", split="train", n=n, observed=observed, seed=seed)
    return {key: torch.as_tensor(data[key], dtype=DTYPE) for key in ("ts", "x")}


# -- Poisson process ---------------------------------------------------------------------------


def test_constant_intensity_gives_count_log_rate_minus_rate_times_window() -> None:
    # rate(z) does not depend on z (slope 0): log-likelihood = n log λ − λ (end − start) for n
    # events, on a window that starts after t0 so the compensator is Λ(end) − Λ(start).
    rate, window = 1.7, (0.5, 4.0)
    model = event_model(torch.zeros(2, 2, dtype=DTYPE), Rate(rate, 0.0), window=window)
    batch = {
        "ts": torch.tensor([[0.2, 1.0], [0.4, 3.0]], dtype=DTYPE),
        "x": torch.zeros(2, 2, 2, dtype=DTYPE),
        "events": torch.tensor([[0.7, 1.3, 2.9, 4.0], [3.3, 4.0, 4.0, 4.0]], dtype=DTYPE),
        "events_mask": torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool),
    }
    bound = model.bound(batch, noise=torch.zeros(1, 2, 2, dtype=DTYPE))
    counts = torch.tensor([3.0, 1.0], dtype=DTYPE)
    expected = counts * math.log(rate) - rate * (window[1] - window[0])
    # Λ' = λ is constant: dopri5 integrates it exactly, up to rounding.
    torch.testing.assert_close(bound.event_log_likelihood[0], expected, rtol=1e-12, atol=1e-12)


def test_intensity_state_equals_quadrature_along_the_trajectory() -> None:
    # z(t) = e^{−αt} R(ωt) z0 in closed form; λ(t) = 2 exp(z1(t)). The extra state Λ and the
    # event log-likelihood must match scipy's adaptive quadrature (error ≲ 1e-10) to the
    # solver's tolerance 1e-10 (asserted at 1e-7).
    z0 = torch.tensor([[1.2, -0.4], [-0.3, 0.9]], dtype=DTYPE)
    model = event_model(z0, Rate(2.0, 1.0))

    def intensity(t: float, start: np.ndarray) -> float:
        z = np.exp(-DECAY * t) * np.array(
            [
                np.cos(OMEGA * t) * start[0] - np.sin(OMEGA * t) * start[1],
                np.sin(OMEGA * t) * start[0] + np.cos(OMEGA * t) * start[1],
            ]
        )
        return 2.0 * np.exp(z[0])

    grid = torch.tensor([0.0, 1.5, 5.0], dtype=DTYPE)
    path = model.solve(z0[None], grid, TIGHT).detach()
    events = np.array([[0.3, 2.2, 4.1], [1.1, 1.9, 5.0]])
    mask = np.array([[True, True, True], [True, True, False]])
    with torch.no_grad():
        bound = model.bound(
            {
                "ts": torch.tensor([1.0], dtype=DTYPE),
                "x": torch.zeros(2, 1, 2, dtype=DTYPE),
                "events": torch.as_tensor(events),
                "events_mask": torch.as_tensor(mask),
            },
            noise=torch.zeros(1, 2, 2, dtype=DTYPE),
        )
    for b, start in enumerate(z0.numpy()):
        for g, t in enumerate(grid.tolist()):
            integral = quad(intensity, 0.0, t, args=(start,), epsabs=1e-13, epsrel=1e-13)[0]
            assert abs(float(path[g, b, -1]) - integral) < 1e-7
        log_rates = [math.log(intensity(t, start)) for t in events[b][mask[b]]]
        truth = sum(log_rates) - quad(intensity, 0.0, 5.0, args=(start,), epsabs=1e-13)[0]
        assert abs(float(bound.event_log_likelihood[0, b]) - truth) < 1e-7


def test_missing_events_is_a_clear_error() -> None:
    model = event_model(torch.zeros(1, 2, dtype=DTYPE), Rate(1.0, 0.0))
    with pytest.raises(ValueError, match="'events'"):
        model.bound({"ts": torch.zeros(1, 1, dtype=DTYPE), "x": torch.zeros(1, 1, 2)})


class Recorder(FixedPosterior):
    """Records what the encoder is given."""

    def forward(self, values, times, mask):
        self.seen = (values, times, mask)
        return super().forward(values, times, mask)


def test_the_encoder_reads_each_series_backwards_in_time() -> None:
    encoder = Recorder(torch.zeros(2, L, dtype=DTYPE), torch.zeros(2, L, dtype=DTYPE))
    model = LatentODE(encoder, MLP([L, L]), MLP([L, D]), latent_dim=L, train_solver=TIGHT)
    batch = spiral_batch(n=2, observed=5)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    model.double().bound({**batch, "mask": mask})
    values, times, seen_mask = encoder.seen
    torch.testing.assert_close(times, batch["ts"].flip(1))
    torch.testing.assert_close(values, batch["x"].flip(1))
    assert torch.equal(seen_mask, mask.flip(1))


@pytest.mark.parametrize("window", [0.25, 0.6])
def test_training_encoder_reads_each_series_up_to_a_cut_in_its_window(window: float) -> None:
    """In training the encoder sees a series' observations up to a cut drawn uniformly in
    [first + w·span, last]; the likelihood still scores every observation; evaluation reads
    all of it."""
    encoder = Recorder(torch.zeros(400, L, dtype=DTYPE), torch.zeros(400, L, dtype=DTYPE))
    model = LatentODE(
        encoder, MLP([L, L]), MLP([L, D]), latent_dim=L, train_solver=TIGHT, encoder_window=window
    ).double()
    torch.manual_seed(0)
    # 200 times a series (gaps ≈ 0.02 of the span): the last time read is the cut to ≈ 1 %
    times = torch.sort(torch.rand(400, 200, dtype=DTYPE) * 4, dim=1).values
    mask = torch.rand(400, 200) < 0.8
    mask[:, 0] = True  # the first time is observed: ``first`` is times[:, 0]
    batch = {"ts": times, "x": torch.randn(400, 200, D, dtype=DTYPE), "mask": mask}
    bound = model.bound(batch)
    seen = encoder.seen[2].flip(1)
    assert torch.equal(seen & ~mask, torch.zeros_like(mask))  # only observed points are read
    last_seen = torch.where(seen, times, -1.0).amax(1)
    first = times[:, 0]
    last = torch.where(mask, times, -1.0).amax(1)
    span = last - first
    # every observation before the cut is read, none after it: the cut is the last seen time
    # or later, before the next observed time; it never falls before first + w · span
    assert torch.equal(seen, mask & (times <= last_seen[:, None]))
    next_time = torch.where(mask & (times > last_seen[:, None]), times, math.inf).amin(1)
    assert bool((next_time > first + window * span - 1e-12).all())
    # uniform cuts: a quarter of the series (≈100 of 400, binomial sd ≈ 9) are cut in the
    # lowest quarter of [w, 1], and the cuts reach the end of the window
    fraction_seen = (last_seen - first) / span
    low_quarter = (fraction_seen < window + 0.25 * (1 - window)).sum()
    assert 60 < int(low_quarter) < 140
    assert float(fraction_seen.max()) > 0.98
    # the likelihood scores every observation, read or not: same value as a full read with the
    # same posterior (the stub encoder's output does not depend on what it reads)
    full = model.eval().bound(batch, noise=torch.zeros(1, 400, L, dtype=DTYPE))
    assert torch.equal(encoder.seen[2], mask.flip(1))
    torch.testing.assert_close(
        model.train().bound(batch, noise=torch.zeros(1, 400, L, dtype=DTYPE)).value, full.value
    )
    assert bound.value.shape == (400,)


@pytest.mark.parametrize("window", [0.0, 1.5, float("nan")])
def test_encoder_window_outside_zero_one_is_refused(window: float) -> None:
    with pytest.raises(ValueError, match=re.escape("encoder_window must be in (0, 1]")):
        spiral_model(encoder_window=window)


# -- invariance to padding and batch-mates -----------------------------------------------------


@pytest.mark.parametrize("encoder", [RNN, GRU, ODERNN])
def test_a_series_loss_does_not_depend_on_padding_or_batch_mates(encoder) -> None:
    # Series 0 alone (4 points) vs padded to 7 points with garbage and batched with two series
    # of other times and lengths. Same posterior noise; rows never interact, so only the
    # solver's shared step control differs: agreement to its tolerance (1e-10, asserted 1e-7).
    torch.manual_seed(0)
    model = LatentODE(
        encoder(D, 8, 2 * L, time_gap=True),
        MLP([L, 16, L], act="elu"),
        MLP([L, 16, D], act="relu"),
        latent_dim=L,
        train_solver=TIGHT,
    ).double()
    rng = torch.Generator().manual_seed(3)
    alone_t = torch.tensor([[0.1, 0.5, 1.7, 2.0]], dtype=DTYPE)
    alone_x = torch.randn(1, 4, D, generator=rng, dtype=DTYPE)
    times = torch.tensor(
        [
            [0.1, 0.5, 1.7, 2.0, 9.0, 9.0, 9.0],
            [0.0, 0.3, 0.45, 1.1, 2.5, 3.0, 3.6],
            [0.2, 0.5, 0.8, 0.0, 0.0, 0.0, 0.0],
        ],
        dtype=DTYPE,
    )
    values = torch.randn(3, 7, D, generator=rng, dtype=DTYPE) * 50
    values[0, :4] = alone_x[0]
    mask = torch.tensor([[1] * 4 + [0] * 3, [1] * 7, [1] * 3 + [0] * 4], dtype=torch.bool)
    noise = torch.randn(2, 3, L, generator=rng, dtype=DTYPE)
    alone = model.bound({"ts": alone_t, "x": alone_x}, samples=2, noise=noise[:, :1])
    batched = model.bound({"ts": times, "x": values, "mask": mask}, samples=2, noise=noise)
    torch.testing.assert_close(batched.value[:1], alone.value, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("encoder", [RNN, GRU])
def test_a_missing_value_is_left_out_of_the_likelihood_and_read_as_zero(encoder) -> None:
    # A mask of values (B, N, D): the likelihood of a point missing its second channel is the
    # first channel's alone, whatever the missing value holds; the encoder reads it as 0. The
    # same series with the point's mask True and the value 0 gives the same posterior, and its
    # likelihood differs exactly by the log density of that one value.
    torch.manual_seed(0)
    model = LatentODE(
        encoder(D, 8, 2 * L, time_gap=True),
        MLP([L, 16, L], act="elu"),
        MLP([L, 16, D], act="relu"),
        latent_dim=L,
        train_solver=TIGHT,
    ).double()
    times = torch.tensor([[0.1, 0.5, 1.7, 2.0]], dtype=DTYPE)
    values = torch.randn(1, 4, D, generator=torch.Generator().manual_seed(3), dtype=DTYPE)
    cells = torch.ones(1, 4, D, dtype=torch.bool)
    cells[0, 1, 1] = False
    garbage, zero = values.clone(), values.clone()
    garbage[0, 1, 1], zero[0, 1, 1] = 1e6, 0.0
    noise = torch.zeros(1, 1, L, dtype=DTYPE)
    missing = model.bound({"ts": times, "x": garbage, "mask": cells}, noise=noise)
    full = model.bound({"ts": times, "x": zero}, noise=noise)
    torch.testing.assert_close(missing.kl, full.kl, rtol=0, atol=0)  # the same posterior
    with torch.no_grad():
        z0, _ = model.encode(Observations.of(times, zero, None, values))
        mean = model.decode(z0[None], times)[0, 0, 1, 1]
    one = -0.5 * (mean / 0.3) ** 2 - math.log(0.3) - 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(full.log_likelihood - missing.log_likelihood, one[None, None])


def test_without_a_future_evaluate_reports_the_reconstruction_rmse_of_observed_values() -> None:
    model = spiral_model(refine=3, train_solver=RK4)
    data = load("Spirals2D", split="test", n=4, observed=10, seed=0)
    cells = np.ones(data["x"].shape, dtype=bool)
    cells[0, 2, 0] = cells[3, 5, 1] = False
    series = {"ts": data["ts"], "x": np.where(cells, data["x"], np.nan), "mask": cells}
    results = model.evaluate(series)
    with torch.no_grad():
        x = np.where(cells, data["x"], 0.0)
        prediction = model.predict(data["ts"], x, data["ts"], mask=cells).numpy()
    rmse = np.sqrt(((prediction - data["x"])[cells] ** 2).mean())
    assert set(results) == {"loss", "rmse"} and np.isfinite(results["loss"])
    assert results["rmse"] == pytest.approx(rmse, rel=1e-9)


def test_event_padding_does_not_change_a_series_loss() -> None:
    z0 = torch.tensor([[0.8, 0.1], [-0.5, 0.6]], dtype=DTYPE)
    model = event_model(z0, Rate(2.0, 1.0))
    alone = {
        "ts": torch.tensor([[0.5, 2.0]], dtype=DTYPE),
        "x": torch.ones(1, 2, 2, dtype=DTYPE),
        "events": torch.tensor([[0.7, 3.1]], dtype=DTYPE),
    }
    batched = {
        "ts": torch.tensor([[0.5, 2.0], [1.0, 4.5]], dtype=DTYPE),
        "x": torch.ones(2, 2, 2, dtype=DTYPE),
        "events": torch.tensor([[0.7, 3.1, 5.0, 5.0], [0.2, 1.4, 2.2, 4.9]], dtype=DTYPE),
        "events_mask": torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool),
    }
    noise = torch.randn(1, 2, 2, generator=torch.Generator().manual_seed(0), dtype=DTYPE)
    single = model.bound(alone, noise=noise[:, :1])
    both = model.bound(batched, noise=noise)
    torch.testing.assert_close(both.value[:1], single.value, rtol=1e-7, atol=1e-7)


# -- objectives ----------------------------------------------------------------------------------


def test_iwae_with_one_sample_is_the_single_sample_elbo() -> None:
    # K = 1: log-mean-exp of one log weight log p(x|z) + log p(z) − log q(z|x) is that weight,
    # the ELBO with the KL estimated at the same sample; exact up to rounding.
    model, batch = spiral_model(), spiral_batch()
    noise = torch.randn(1, 4, L, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    iwae = model.bound(batch, objective="iwae", samples=1, noise=noise)
    elbo = model.bound(batch, objective="elbo", samples=1, noise=noise)
    torch.testing.assert_close(iwae.value, (elbo.log_likelihood - elbo.log_ratio)[0])


def test_iwae_matches_its_log_weights_and_bounds_the_elbo_from_above() -> None:
    # One solve with 4800 posterior draws gives the log weights w = log p(x|z) − log q(z|x)
    # + log p(z). The model's IWAE with K = 8 on the first 8 draws equals logmeanexp of those
    # weights (exactly), mean(log q − log p) estimates the closed-form KL, mean(w) the ELBO, and
    # grouping the draws by 8 gives 600 IWAE_8 values whose mean lies above the ELBO. Each
    # statistical claim is asserted with a 5-standard-error margin (false failure < 1e-6); the
    # untrained posterior is poor, so the IWAE gap is many standard errors wide.
    model, batch = spiral_model(), spiral_batch(n=2)
    model.train_solver = SolverSettings("rk4", gradient="direct", options={"step_size": 0.25})
    noise = torch.randn(4800, 2, L, generator=torch.Generator().manual_seed(2), dtype=DTYPE)
    with torch.no_grad():
        many = model.bound(batch, samples=4800, noise=noise)
        iwae = model.bound(batch, objective="iwae", samples=8, noise=noise[:8])
    weights = many.log_likelihood - many.log_ratio
    torch.testing.assert_close(iwae.value, torch.logsumexp(weights[:8], 0) - math.log(8))
    ratio_error = many.log_ratio.std(0) / math.sqrt(len(weights))
    assert bool(((many.log_ratio.mean(0) - many.kl).abs() < 5 * ratio_error).all())
    error = weights.std(0) / math.sqrt(len(weights))
    assert bool(((weights.mean(0) - many.value).abs() < 5 * error).all())
    grouped = torch.logsumexp(weights.reshape(600, 8, 2), 1) - math.log(8)
    margin = 5 * grouped.std(0) / math.sqrt(len(grouped))
    assert bool((grouped.mean(0) - margin > many.value).all())


def test_kl_warmup_ramps_the_weight_and_counts_training_steps() -> None:
    model, batch = spiral_model(kl_warmup=4), spiral_batch(n=2)
    noise = torch.randn(1, 2, L, generator=torch.Generator().manual_seed(0), dtype=DTYPE)
    weights = []
    for _ in range(6):
        weights.append(model.kl_weight)
        model.loss(batch)
    assert weights == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert int(model.state_dict()["step"]) == 6
    model.set_step(2)
    bound = model.bound(batch, noise=noise)
    torch.testing.assert_close(bound.value, bound.log_likelihood[0] - 0.5 * bound.kl)
    model.eval()
    model.loss(batch)
    assert int(model.step) == 2  # evaluation-mode losses do not advance the warm-up


def test_loss_is_the_batch_mean_of_the_negative_bound() -> None:
    model, batch = spiral_model(), spiral_batch()
    torch.manual_seed(5)
    output = model.loss(batch)
    torch.manual_seed(5)
    bound = model.bound(batch)
    torch.testing.assert_close(output.loss, -bound.value.mean())
    output.loss.backward()
    assert output.metrics["nfe_forward"] > 0
    assert output.after_backward()["nfe_backward"] == 0.0  # direct gradient: no backward solve


def test_adjoint_gradients_match_direct_backpropagation() -> None:
    # The augmented state [z, Λ] through the adjoint: every parameter's gradient (dynamics,
    # decoder, learned noise) must match backpropagation through the solver, both solved to
    # 1e-10 (asserted at 1e-6 relative).
    z0 = torch.tensor([[0.8, 0.1], [-0.5, 0.6]], dtype=DTYPE)
    batch = {
        "ts": torch.tensor([[0.5, 2.0, 3.0], [1.0, 4.5, 4.6]], dtype=DTYPE),
        "x": torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(0), dtype=DTYPE),
        "events": torch.tensor([[0.7, 3.1, 5.0], [0.2, 1.4, 4.9]], dtype=DTYPE),
        "events_mask": torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool),
    }
    noise = torch.randn(2, 2, 2, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    gradients = []
    for gradient in ("direct", "adjoint"):
        torch.manual_seed(0)
        model = event_model(z0, Rate(2.0, 1.0), learn_noise=True)
        model.train_solver = TIGHT.with_(gradient=gradient)
        (-model.bound(batch, samples=2, noise=noise).value.mean()).backward()
        gradients.append({name: p.grad for name, p in model.named_parameters()})
        if gradient == "adjoint":
            assert model.stats.nfe_backward > 0
    assert set(gradients[0]) == {"log_noise", "decoder.weight", "decoder.bias", "field.dynamics.a"}
    for name, direct in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], direct, rtol=1e-6, atol=1e-9)


# -- prediction ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shared_obs", [True, False])
@pytest.mark.parametrize("shared_new", [True, False])
@pytest.mark.parametrize("samples", [None, 3])
def test_predict_shapes(shared_obs: bool, shared_new: bool, samples: int | None) -> None:
    model, batch = spiral_model(), spiral_batch(n=4, observed=5)
    t_obs = batch["ts"][0] if shared_obs else batch["ts"]
    t_new = torch.linspace(0.0, 8.0, 7, dtype=DTYPE)  # beyond the window (≈3.74): extrapolation
    if not shared_new:
        t_new = t_new.expand(4, -1) + torch.arange(4, dtype=DTYPE)[:, None] * 0.1
    prediction = model.predict(t_obs, batch["x"], t_new, samples=samples)
    expected = (4, 7, D) if samples is None else (3, 4, 7, D)
    assert prediction.shape == expected


def test_predict_from_the_posterior_mean_matches_scipy_per_series() -> None:
    # Per-series prediction times (unsorted within a row) read from one union-grid solve must
    # equal decoding scipy's DOP853 solution from each series' posterior mean μ.
    model, batch = spiral_model(), spiral_batch(n=3, observed=5)
    t_new = torch.tensor([[4.0, 0.5, 6.0], [1.0, 2.0, 3.0], [7.5, 0.25, 0.5]], dtype=DTYPE)
    with torch.no_grad():
        prediction = model.predict(batch["ts"], batch["x"], t_new)
        mean, _ = model.encode(Observations.of(batch["ts"], batch["x"], None, model.log_noise))
    f = model.field.dynamics
    for b in range(3):
        times = t_new[b].numpy()
        order = np.argsort(times)
        solution = solve_ivp(
            lambda t, z: f(torch.as_tensor(z)).detach().numpy(),
            (0.0, times.max()),
            mean[b].numpy(),
            method="DOP853",
            t_eval=times[order],
            rtol=1e-12,
            atol=1e-12,
        )
        states = torch.as_tensor(solution.y.T)[np.argsort(order)]
        torch.testing.assert_close(prediction[b], model.decoder(states).detach(), atol=1e-7, rtol=0)


def test_times_before_t0_and_bad_encoder_output_are_named_errors() -> None:
    model, batch = spiral_model(t0=0.5), spiral_batch()
    with pytest.raises(ValueError, match=r"t_new holds a time .* before .* t0"):
        model.predict(torch.tensor([0.6, 0.7], dtype=DTYPE), batch["x"][:, :2], [0.1, 1.0])
    wrong = LatentODE(
        RNN(D, 4, L), MLP([L, L]), MLP([L, D]), latent_dim=L, train_solver=TIGHT
    ).double()
    with pytest.raises(ValueError, match=r"encoder must output \(B, 2·latent_dim\)"):
        wrong.loss(spiral_batch())


@pytest.mark.parametrize("refine", [0, 5])
def test_evaluate_reports_loss_and_forecast_rmse(refine: int) -> None:
    model = spiral_model(refine=refine, train_solver=RK4)
    data = load("Spirals2D", split="test", n=5, observed=10, seed=0)
    results = model.evaluate(data)
    with torch.no_grad():
        prediction = model.predict(data["ts"], data["x"], data["ts_future"]).numpy()
    rmse = np.sqrt(((prediction - data["x_future"]) ** 2).mean())
    assert set(results) == {"loss", "rmse"}
    assert results["rmse"] == pytest.approx(rmse, rel=1e-9)
    assert model.evaluate(data)["loss"] == results["loss"]  # fixed evaluation noise


# -- refined posterior means -----------------------------------------------------------------------

RK4 = SolverSettings("rk4", gradient="direct", options={"step_size": 0.25})


def test_refined_means_reach_the_closed_form_posterior_mode() -> None:
    # Linear-Gaussian: z0 ~ N(0, I), dz/dt = A z, x(t) = C z(t) + N(0, 0.3²): the log joint
    # is quadratic in z0 with mode P⁻¹ Hᵀx / σ², H the stacked C expm(A t), P = HᵀH / σ² + I.
    # From a stub encoder's mean 1.5 away, 200 refinement steps must land on it.
    c = np.array([[1.0, 0.5], [-0.3, 2.0]])
    times = np.array([0.1, 0.4, 0.9, 1.3, 2.0, 2.2])
    truth = np.array([[0.8, -0.4], [-1.2, 0.3]])
    rng = np.random.default_rng(0)
    h = np.concatenate([c @ expm(A * t) for t in times])  # (N·D, L)
    x = np.stack([(h @ z).reshape(len(times), 2) for z in truth]) + 0.3 * rng.normal(
        size=(2, len(times), 2)
    )
    precision = h.T @ h / 0.09 + np.eye(2)
    modes = np.stack([np.linalg.solve(precision, h.T @ xb.reshape(-1) / 0.09) for xb in x])
    start = torch.as_tensor(modes + 1.5)
    model = LatentODE(
        FixedPosterior(start, torch.zeros(2, 2, dtype=DTYPE)),
        Linear(A),
        Linear(c),
        latent_dim=2,
        train_solver=TIGHT,
        noise=0.3,
    ).double()
    observations = Observations.of(torch.as_tensor(times), torch.as_tensor(x), None, start)
    with torch.no_grad():
        refined = model.refine_mean(start, observations, 200)
    # within 1 % of the posterior's standard deviations (≈ 0.08-0.09; the start is ~17 away)
    sd = np.sqrt(np.diag(np.linalg.inv(precision)))
    assert np.all(np.abs(refined.numpy() - modes) < 0.01 * sd)


def test_refinement_is_per_series_and_leaves_the_model_alone() -> None:
    # shared observation times: the solver takes the same steps for a series alone or in the
    # batch, so any difference would come from the refinement mixing series (Adam does not)
    model, batch = spiral_model(train_solver=RK4), spiral_batch(n=4, observed=6)
    batch["ts"] = batch["ts"][0]
    before = {name: value.clone() for name, value in model.state_dict().items()}
    observations = Observations.of(batch["ts"], batch["x"], None, model.log_noise)
    mean, _ = model.encode(observations)
    together = model.refine_mean(mean, observations, 20)
    for b in range(4):
        alone = Observations.of(batch["ts"], batch["x"][b : b + 1], None, mean)
        own = model.refine_mean(mean[b : b + 1], alone, 20)
        torch.testing.assert_close(own[0], together[b], rtol=0, atol=1e-12)
    assert all(p.grad is None for p in model.parameters())
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    t_new = torch.linspace(0.0, 6.0, 5, dtype=DTYPE)
    with torch.no_grad():
        refined = model.predict(batch["ts"], batch["x"], t_new, refine=20)
        torch.testing.assert_close(refined, model.decode(together[None], t_new)[0])
        plain = model.predict(batch["ts"], batch["x"], t_new)  # the model's refine: 0
        torch.testing.assert_close(plain, model.decode(mean[None], t_new)[0])
        model.refine = 20
        assert torch.equal(model.predict(batch["ts"], batch["x"], t_new), refined)
        draws = model.predict(
            batch["ts"], batch["x"], t_new, 3, generator=torch.Generator().manual_seed(1)
        )
        noise = torch.randn(
            (3, *mean.shape), generator=torch.Generator().manual_seed(1), dtype=DTYPE
        )
        _, logvar = model.encode(observations)
        expected = model.decode(together + (0.5 * logvar).exp() * noise, t_new)
    # posterior draws: the refined mean plus the encoder's σ times the noise
    torch.testing.assert_close(draws, expected)


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_a_bad_refine_is_refused_by_name(bad) -> None:
    with pytest.raises(ValueError, match="refine must be an integer ≥ 0"):
        spiral_model(refine=bad)
    batch = spiral_batch(n=2, observed=4)
    with pytest.raises(ValueError, match="refine must be an integer ≥ 0"):
        spiral_model().predict(batch["ts"], batch["x"], [4.0], refine=bad)


# -- training --------------------------------------------------------------------------------------


def test_short_training_raises_the_elbo() -> None:
    # 64 spirals, 30 observed points, 40 Adam steps (lr 0.01), fixed-step RK4 (step 0.25).
    # The bound is scored before and after with the same posterior noise and KL weight 1.
    # Measured: about −6000 → −1800 (per series, summed over 60 observed values); asserting a
    # rise of a third of the initial magnitude leaves a wide margin across seeds.
    torch.manual_seed(0)
    rk4 = SolverSettings("rk4", gradient="direct", options={"step_size": 0.25})
    model = LatentODE(
        RNN(D, 25, 8, time_gap=True),
        MLP([4, 20, 20, 4], act="elu"),
        MLP([4, 20, D], act="relu"),
        latent_dim=4,
        train_solver=rk4,
    )
    data = load("Spirals2D", split="train", n=64, observed=30, seed=0)
    batch = {key: torch.as_tensor(data[key], dtype=torch.float32) for key in ("ts", "x")}

    def elbo() -> float:
        with torch.no_grad():
            generator = torch.Generator().manual_seed(9)
            return float(model.bound(batch, generator=generator, kl_weight=1.0).value.mean())

    before = elbo()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(40):
        optimizer.zero_grad()
        model.loss(batch).loss.backward()
        optimizer.step()
    after = elbo()
    assert after > before + abs(before) / 3


# -- RNN baseline ----------------------------------------------------------------------------------


def test_rnn_baseline_forecast_shapes_padding_and_errors() -> None:
    torch.manual_seed(0)
    model = RNNBaseline(D, 8).double()
    batch = spiral_batch(n=3, observed=5)
    t_new = torch.linspace(3.8, 6.0, 4, dtype=DTYPE)
    prediction = model.predict(batch["ts"], batch["x"], t_new)
    assert prediction.shape == (3, 4, D)
    # Padding in the middle of a series is skipped: the same forecast and likelihood.
    padded_t = torch.cat(
        [batch["ts"][:, :2], torch.zeros(3, 2, dtype=DTYPE), batch["ts"][:, 2:]], 1
    )
    padded_x = torch.cat(
        [batch["x"][:, :2], torch.full((3, 2, D), 1e3, dtype=DTYPE), batch["x"][:, 2:]], 1
    )
    mask = torch.tensor([[1, 1, 0, 0, 1, 1, 1]] * 3, dtype=torch.bool)
    torch.testing.assert_close(model.predict(padded_t, padded_x, t_new, mask=mask), prediction)
    padded = {"ts": padded_t, "x": padded_x, "mask": mask}
    torch.testing.assert_close(model.log_likelihood(padded), model.log_likelihood(batch))
    with pytest.raises(ValueError, match="after each series' last observation"):
        model.predict(batch["ts"], batch["x"], torch.tensor([1.0, 5.0], dtype=DTYPE))
    with pytest.raises(ValueError, match="samples"):
        model.predict(batch["ts"], batch["x"], t_new, samples=2)


def test_rnn_baseline_learns_and_evaluates() -> None:
    # 30 Adam steps on 64 spirals: the one-step-ahead negative log-likelihood must fall
    # (measured ≈ 6200 → well under half); evaluate gives the loss and the forecast RMSE.
    torch.manual_seed(0)
    model = RNNBaseline(D, 25)
    data = load("Spirals2D", split="train", n=64, observed=30, seed=0)
    batch = {key: torch.as_tensor(data[key], dtype=torch.float32) for key in ("ts", "x")}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    first = float(model.loss(batch).loss.detach())
    for _ in range(30):
        optimizer.zero_grad()
        model.loss(batch).loss.backward()
        optimizer.step()
    assert float(model.loss(batch).loss.detach()) < first / 2
    results = model.evaluate(load("Spirals2D", split="test", n=8, observed=30, seed=0))
    assert set(results) == {"loss", "rmse"} and math.isfinite(results["rmse"])
