"""The general model (ObservedODE) on hand-built pieces: objectives against closed forms,
predictions, masks, inputs and refusals.

The linear-Gaussian model: dz/dt = a z from a learned z0, so z(t) = z0 exp(a t), observed as
x(t) ~ Normal(z(t), σ). Its log-likelihood has a closed form at the exact solution; the solver
(dopri5 at 1e-11) is exact to about 1e-10 relative, which bounds every comparison here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from odedsl.models.observed import Observation, ObservedODE, ParameterPrior
from odedsl.models.settings import SolverSettings

TIGHT = SolverSettings("dopri5", 1e-11, 1e-11, "direct")
LOG_2PI = math.log(2 * math.pi)
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
Z0, A, SIGMA = 1.5, -0.7, 0.2


class LearnedStart(nn.Module):
    """``initial(t)``: a learned start shared by every series (unbatched)."""

    def __init__(self) -> None:
        super().__init__()
        self.z0 = nn.Parameter(torch.tensor([Z0], dtype=torch.float64))

    def forward(self, t):
        return self.z0


class FirstObservation(nn.Module):
    """``initial(x)``: each series starts at its first observation (``first(x)``)."""

    def forward(self, x):
        return x[:, 0]


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(A, dtype=torch.float64))

    def forward(self, t, z):
        return self.a * z


class Noisy(nn.Module):
    """Normal(z, σ) with a fixed σ: ``(mean, std)``."""

    def forward(self, z):
        return z, SIGMA


class PriorOn(nn.Module):
    """``a ~ Normal(0, 1)``: (value, mean, std)."""

    def __init__(self, dynamics: Linear) -> None:
        super().__init__()
        self.dynamics = dynamics

    def forward(self):
        return self.dynamics.a, 0.0, 1.0


def linear_model(start: nn.Module | None = None, prior: bool = False, **kwargs) -> ObservedODE:
    dynamics = Linear()
    start = start or LearnedStart()
    reads = ("x",) if isinstance(start, FirstObservation) else ()
    priors = [ParameterPrior(PriorOn(dynamics), "Normal", "a")] if prior else []
    observation = Observation(Noisy(), "Normal", "x", (1,), times="ts")
    return ObservedODE(
        start,
        dynamics,
        [observation],
        t0=0.0,
        train_solver=TIGHT,
        initial_reads=reads,
        priors=priors,
        **kwargs,
    ).double()


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    ts = torch.tensor([[0.3, 0.9, 2.0], [0.5, 1.0, 1.5]], dtype=torch.float64)
    x = Z0 * torch.exp(A * ts)[..., None] + 0.2 * torch.randn(2, 3, 1, generator=generator)
    return {"ts": ts, "x": x.double()}


def gaussian_nll(x, mean, sigma=SIGMA):
    """−(1/B) Σ_b Σ_n log N(x_bn; mean_bn, σ²)."""
    log_density = -0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma) - 0.5 * LOG_2PI
    return float(-log_density.sum() / x.shape[0])


def test_the_loss_is_the_closed_form_gaussian_likelihood(batch):
    model = linear_model()
    exact = Z0 * torch.exp(A * batch["ts"])[..., None]
    loss = model.loss(batch)
    assert float(loss.loss) == pytest.approx(gaussian_nll(batch["x"], exact), rel=1e-9)
    assert loss.metrics["nll"] == pytest.approx(float(loss.loss), rel=1e-15)


def test_map_adds_the_prior_divided_by_the_training_size(batch):
    # −log N(a; 0, 1) / N_train on top of the likelihood, with N_train = 7.
    plain, map_ = linear_model(), linear_model(prior=True, data_size=7)
    log_prior = -0.5 * A**2 - 0.5 * LOG_2PI
    difference = float(map_.loss(batch).loss) - float(plain.loss(batch).loss)
    assert difference == pytest.approx(-log_prior / 7, abs=1e-12)
    assert map_.loss(batch).metrics["log_prior"] == pytest.approx(log_prior, abs=1e-15)


def test_the_gradient_is_the_closed_form_one(batch):
    # d/dz0 of the NLL: −(1/B) Σ (x − z0 e^{at}) e^{at} / σ².
    model = linear_model()
    model.loss(batch).loss.backward()
    growth = torch.exp(A * batch["ts"])[..., None]
    expected = -((batch["x"] - Z0 * growth) * growth).sum() / SIGMA**2 / 2
    assert float(model.initial.z0.grad) == pytest.approx(float(expected), rel=1e-8)


def test_predict_from_a_learned_start_is_the_solution():
    model = linear_model().eval()
    ts = torch.tensor([0.0, 0.5, 3.0], dtype=torch.float64)
    prediction = model.predict(ts)
    assert prediction.shape == (3, 1)
    torch.testing.assert_close(prediction[:, 0], Z0 * torch.exp(A * ts), rtol=1e-9, atol=0)
    per_series = model.predict(torch.stack([ts, ts + 1]))  # (B, M) times: (B, M, 1)
    torch.testing.assert_close(per_series[1, :, 0], Z0 * torch.exp(A * (ts + 1)), rtol=1e-9, atol=0)


def test_predict_from_each_series_starts_at_its_first_observation():
    model = linear_model(FirstObservation()).eval()
    x_obs = torch.tensor([[[2.0], [1.0]], [[-1.0], [0.0]]], dtype=torch.float64)
    ts_obs = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ts_new = torch.tensor([1.0, 2.0], dtype=torch.float64)
    prediction = model.predict(ts_obs, x_obs, ts_new)
    expected = x_obs[:, 0] * torch.exp(A * ts_new)  # (B, M) from (B, 1) × (M,)
    torch.testing.assert_close(prediction[..., 0], expected, rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match=r"predict\(ts_obs, x_obs, ts_new\)"):
        model.predict(ts_new)


def test_a_masked_point_changes_nothing(batch):
    mask = torch.tensor([[True, False, True], [True, True, True]])
    model = linear_model()
    kept = {**batch, "mask": mask}
    changed = {**batch, "mask": mask, "x": batch["x"].clone()}
    changed["x"][0, 1, 0] = float("nan")  # padding may even be NaN where masked
    first = model.loss(kept).loss
    first.backward()
    gradient = model.initial.z0.grad.clone()
    model.zero_grad()
    second = model.loss(changed).loss
    second.backward()
    assert float(first) == float(second)
    assert torch.equal(model.initial.z0.grad, gradient)
    # and it is the closed form without that point
    exact = Z0 * torch.exp(A * batch["ts"])[..., None]
    expected = (
        gaussian_nll(batch["x"], exact) - gaussian_nll(batch["x"][:1, 1:2], exact[:1, 1:2]) / 2
    )  # the point's own term enters the mean over B = 2 series with weight 1/2
    assert float(first) == pytest.approx(expected, rel=1e-9)


def test_masks_per_channel_score_each_entry_on_its_own():
    class Pair(nn.Module):
        def forward(self, z):
            return torch.cat([z, 2 * z], -1), SIGMA

    observation = Observation(Pair(), "Normal", "x", (2,), times="ts")
    model = ObservedODE(
        LearnedStart(), Linear(), [observation], t0=0.0, train_solver=TIGHT
    ).double()
    ts = torch.tensor([[0.5, 1.0]], dtype=torch.float64)
    x = torch.tensor([[[0.3, 1.0], [0.2, float("nan")]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True], [True, False]]])
    z = Z0 * torch.exp(A * ts)[..., None]
    mean = torch.cat([z, 2 * z], -1)
    scored = mask.flatten()
    expected = gaussian_nll(x.flatten()[scored][None], mean.flatten()[scored][None])
    assert float(model.loss({"ts": ts, "x": x, "mask": mask}).loss) == pytest.approx(
        expected, rel=1e-9
    )


def test_numpy_and_other_float_dtypes_are_accepted(batch):
    model = linear_model()
    reference = float(model.loss(batch).loss)
    as_numpy = {key: value.numpy() for key, value in batch.items()}
    as_float32 = {key: value.float() for key, value in batch.items()}
    assert float(model.loss(as_numpy).loss) == reference
    assert float(model.loss(as_float32).loss) == pytest.approx(reference, rel=1e-6)
    assert model.predict(np.array([0.0, 1.0])).dtype == torch.float64


@pytest.mark.parametrize(
    ("key", "where", "message"),
    [
        ("x", (0, 1, 0), r"batch\['x'\] holds NaN"),
        ("ts", (1, 2), r"batch\['ts'\] holds NaN"),
    ],
)
def test_nan_is_refused_naming_the_argument(batch, key, where, message):
    model = linear_model()
    broken = {k: v.clone() for k, v in batch.items()}
    broken[key][where] = float("nan")
    with pytest.raises(ValueError, match=message):
        model.loss(broken)
    with pytest.raises(ValueError, match="mask"):  # observed (mask True) is no better
        model.loss({**broken, "mask": torch.ones(2, 3, dtype=torch.bool)})


def test_predict_refuses_nan_times():
    with pytest.raises(ValueError, match="ts holds NaN"):
        linear_model().eval().predict(torch.tensor([0.0, float("nan")]))


def test_a_first_observation_must_be_there():
    model = linear_model(FirstObservation())
    ts = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[[float("nan")], [1.0]]], dtype=torch.float64)
    with pytest.raises(ValueError, match="first observation"):
        model.loss({"ts": ts, "x": x, "mask": torch.tensor([[False, True]])})


def test_evaluate_scores_the_masked_points_only(batch):
    model = linear_model()
    mask = torch.tensor([[True, False, True], [False, True, True]])
    results = model.evaluate({**batch, "mask": mask})
    exact = Z0 * torch.exp(A * batch["ts"])[..., None]
    squared = (batch["x"] - exact)[mask] ** 2
    assert results["rmse"] == pytest.approx(float(squared.mean().sqrt()), rel=1e-8)
    assert results["loss"] == pytest.approx(
        float(model.loss({**batch, "mask": mask}).loss), rel=1e-12
    )
    assert model.headline == "rmse" and model.kind == "trajectory"


def test_samples_scatter_around_the_mean():
    model = linear_model().eval()
    ts = torch.tensor([0.0, 1.0], dtype=torch.float64)
    draws = model.sample(4000, ts, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (4000, 2, 1)
    # standard error of the mean: 0.2 / sqrt(4000) ≈ 0.003
    torch.testing.assert_close(draws.mean(0)[:, 0], Z0 * torch.exp(A * ts), rtol=0, atol=0.015)
    assert float(draws.std(0).mean()) == pytest.approx(SIGMA, rel=0.05)


def test_step_metrics_are_numbers(batch):
    output = linear_model().loss(batch)
    assert all(isinstance(value, float) for value in output.metrics.values())
    assert output.metrics["nfe_forward"] > 0
    output.loss.backward()
    assert output.after_backward()["nfe_backward"] == 0  # direct backpropagation: no adjoint


# -- supervised models ---------------------------------------------------------------------------


class Stem(nn.Module):
    """h(0) = W x for inputs x (B, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([[0.5, -1.0], [0.3, 0.8]], dtype=torch.float64))

    def forward(self, x):
        return x @ self.weight.T


class Head(nn.Module):
    def forward(self, h):
        return h


def supervised(family: str, reader: nn.Module, event=(2,)) -> ObservedODE:
    observation = Observation(reader, family, "y", event, time=1.0)
    model = ObservedODE(
        Stem(), Linear(), [observation], t0=0.0, train_solver=TIGHT, initial_reads=("x",)
    )
    return model.double()


def test_regression_is_the_gaussian_likelihood_of_the_response():
    class Mean(nn.Module):
        def forward(self, h):
            return h, 0.5

    model = supervised("Normal", Mean())
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0], [0.5, 0.5]], dtype=torch.float64)
    y = torch.tensor([[0.1, -0.3], [1.0, 0.0], [0.0, 0.2]], dtype=torch.float64)
    mean = (x @ model.initial.weight.T) * math.exp(A)
    assert float(model.loss({"x": x, "y": y}).loss) == pytest.approx(
        gaussian_nll(y, mean, 0.5), rel=1e-9
    )
    torch.testing.assert_close(model.predict(x), mean, rtol=1e-9, atol=0)
    rmse = float(((mean - y) ** 2).mean().sqrt())
    assert model.evaluate((x, y))["rmse"] == pytest.approx(rmse, rel=1e-8)


def test_classification_gives_logits_and_the_error_rate():
    model = supervised("Categorical", Head(), event=())
    assert model.labels and model.headline == "test_error" and model.kind == "supervised"
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    logits = (x @ model.initial.weight.T) * math.exp(A)
    torch.testing.assert_close(model.predict(x), logits, rtol=1e-9, atol=0)
    y = torch.tensor([0, 0, 1])
    log_p = torch.log_softmax(logits, -1)[torch.arange(3), y]
    results = model.evaluate({"x": x, "y": y})
    assert results["loss"] == pytest.approx(float(-log_p.mean()), rel=1e-9)
    wrong = (logits.argmax(-1) != y).double().mean()
    assert results["test_error"] == pytest.approx(float(wrong))
    assert model.loss({"x": x, "y": y}).metrics["accuracy"] == pytest.approx(1 - float(wrong))


def test_supervised_inputs_with_nan_are_refused():
    model = supervised("Categorical", Head(), event=())
    with pytest.raises(ValueError, match=r"batch\['x'\] holds NaN"):
        model.loss({"x": torch.tensor([[float("nan"), 0.0]]), "y": torch.tensor([1])})
    with pytest.raises(ValueError, match="class labels"):
        model.loss({"x": torch.zeros(1, 2), "y": torch.tensor([0.5])})


def test_a_missing_key_is_named():
    with pytest.raises(ValueError, match="lacks 'y'"):
        supervised("Categorical", Head(), event=()).loss({"x": torch.zeros(1, 2)})
