"""Specs with `dynamics` and `likelihood` compile to the one general model (ObservedODE): its
loss equals hand-written torch in float64 for a trajectory model (learned start, MAP; and a
start read from each series), for a regression, and for the digits ODE-Net, where it also
equals the ODE-Net template that compiled classifiers before (same parameters, same batch)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from odedsl.compiler import compile
from odedsl.compiler.lower import classifier_template
from odedsl.errors import SpecError
from odedsl.models.observed import ObservedODE
from odedsl.solvers import solve

SPECS = Path(__file__).parents[2] / "specs"
LOG_2PI = math.log(2 * math.pi)
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
EXACT = {"rtol": 1e-9, "atol": 1e-9, "gradient": "direct"}

HYBRID = """\
model Hybrid
    data
        (ts, x) ~ Spirals2D(n = 20, observed = 7)
    end
    params
        a :: Real = 0.5
        σ :: Positive = 0.3
        z0 :: Real[2] = [1.0, 0.0]
    end
    networks
        g = MLP(2 => 8 => 2, act = :tanh)
    end
    states
        z(t) :: Real[2]
    end
{prior}
    dynamics
        z(0) = {start}
        dz/dt = [a * z[1] - g(z)[1], g(z)[2] - 0.8 * z[2]]
    end
    likelihood
        for t in ts
            x[t] ~ Normal(z(t), σ)
        end
    end
end
"""
PRIOR = "    prior\n        a ~ Normal(0, 1)\n    end"

REGRESSION = """\
model Regression
    data
        x :: Real[2] ~ Moons()
    end
    params
        σ :: Positive = 0.5
    end
    networks
        f = MLP(4 => 8 => 4, act = :tanh)
        head = Dense(4 => 2)
    end
    states
        h(t) :: Real[4]
        t ∈ (0.0, 1.0)
    end
    dynamics
        h(0) = vcat(x, zeros(2))
        dh/dt = f(h)
    end
    likelihood
        x ~ Normal(head(h(1.0)), σ)
    end
end
"""


def normal_log_density(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI


def mlp(net, z):
    """A two-layer tanh MLP written out from its weights."""
    first, last = net[0], net[2]
    return torch.tanh(z @ first.weight.T + first.bias) @ last.weight.T + last.bias


@pytest.fixture
def series_batch():
    generator = torch.Generator().manual_seed(0)
    ts = torch.rand(3, 5, generator=generator, dtype=torch.float64).sort(-1).values * 2
    x = torch.randn(3, 5, 2, generator=generator, dtype=torch.float64)
    mask = torch.rand(3, 5, generator=generator) < 0.8
    mask[:, 0] = True
    return {"ts": ts, "x": x, "mask": mask}


def hybrid(prior: str, start: str) -> ObservedODE:
    model = compile(HYBRID.format(prior=prior, start=start), **EXACT).double()
    assert isinstance(model, ObservedODE)
    return model


def hand_written_trajectory_loss(model, batch, starts, data_size=1, prior=False):
    """The loss written out: one solve per series from ``starts`` (B, 2), the Normal
    log-density of each observed point, the mean over series, minus log N(a; 0, 1)/N."""
    a = model.dynamics.p_a
    g = model.dynamics.net_g

    def field(t, z):
        e = mlp(g, z)
        return torch.stack([a * z[..., 0] - e[..., 0], e[..., 1] - 0.8 * z[..., 1]], -1)

    sigma = F.softplus(model.observations[0].reader.p__u3c3_)
    total = 0.0
    for b in range(len(batch["x"])):
        keep = batch["mask"][b]
        times = torch.cat([torch.zeros(1, dtype=torch.float64), batch["ts"][b][keep]])
        path = solve(field, starts[b], times, method="dopri5", rtol=1e-9, atol=1e-9).ys[1:]
        total = total + normal_log_density(batch["x"][b][keep], path, sigma).sum()
    loss = -total / len(batch["x"])
    if prior:
        loss = loss - (-0.5 * a**2 - 0.5 * LOG_2PI) / data_size
    return loss


def test_a_trajectory_model_with_a_learned_start_and_a_prior_is_hand_written_torch(
    series_batch,
):
    model = hybrid(PRIOR, "z0")
    model.set_data_size(20)
    assert model.initial_reads == () and len(model.priors) == 1
    starts = model.initial.p_z0.expand(3, 2)
    expected = hand_written_trajectory_loss(model, series_batch, starts, 20, prior=True)
    # separate solves per series against one solve on the union grid: equal to the
    # tolerance (1e-9) of the adaptive steps, which differ between the two
    assert float(model.loss(series_batch).loss) == pytest.approx(float(expected), rel=1e-7)


def test_a_trajectory_model_starting_at_each_series_is_hand_written_torch(series_batch):
    model = hybrid("", "first(x)")
    assert model.initial_reads == ("x",)
    expected = hand_written_trajectory_loss(model, series_batch, series_batch["x"][:, 0])
    assert float(model.loss(series_batch).loss) == pytest.approx(float(expected), rel=1e-7)
    prediction = model.predict(series_batch["ts"], series_batch["x"], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(prediction[:, 0], series_batch["x"][:, 0])  # z(0) = first(x)
    # one series without its batch axis (numpy too) is the batch of that one series
    one = model.predict(
        series_batch["ts"][1].numpy(), series_batch["x"][1].numpy(), torch.tensor([0.0, 1.0])
    )
    torch.testing.assert_close(one, prediction[1])


def test_the_union_grid_solve_is_the_fixed_step_solve_exactly(series_batch):
    # With fixed RK4 steps on the union grid both computations take the same steps.
    model = compile(HYBRID.format(prior="", start="first(x)"), method="rk4", step_size=0.01)
    model = model.double()
    grid = torch.unique(
        torch.cat([torch.zeros(1).double(), series_batch["ts"][series_batch["mask"]]])
    )
    a, g = model.dynamics.p_a, model.dynamics.net_g

    def field(t, z):
        e = mlp(g, z)
        return torch.stack([a * z[..., 0] - e[..., 0], e[..., 1] - 0.8 * z[..., 1]], -1)

    path = solve(field, series_batch["x"][:, 0], grid, method="rk4", options={"step_size": 0.01})
    sigma = F.softplus(model.observations[0].reader.p__u3c3_)
    total = 0.0
    for b in range(3):
        keep = series_batch["mask"][b]
        index = torch.searchsorted(grid, series_batch["ts"][b][keep])
        total = (
            total + normal_log_density(series_batch["x"][b][keep], path.ys[index, b], sigma).sum()
        )
    expected = -total / 3
    assert float(model.loss(series_batch).loss) == pytest.approx(float(expected), abs=1e-10)


def test_a_regression_is_hand_written_torch():
    model = compile(REGRESSION, **EXACT).double()
    assert model.kind == "supervised" and model.headline == "rmse"
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    f, head = model.dynamics.net_f, model.observations[0].reader.net_head
    h0 = torch.cat([x, torch.zeros(6, 2, dtype=torch.float64)], -1)
    times = torch.tensor([0.0, 1.0], dtype=torch.float64)
    h1 = solve(lambda t, h: mlp(f, h), h0, times, method="dopri5", rtol=1e-9, atol=1e-9).ys[-1]
    mean = head[0](h1)
    sigma = F.softplus(model.observations[0].reader.p__u3c3_)
    expected = -normal_log_density(x, mean, sigma).sum(-1).mean()
    assert float(model.loss({"x": x}).loss) == pytest.approx(float(expected), abs=1e-10)
    torch.testing.assert_close(model.predict(x), mean, rtol=0, atol=1e-10)


def test_the_digits_model_is_the_odenet_template():
    # Same generated functions (so the same parameters) in both, float64, one batch.
    model = compile(SPECS / "odenet_digits.ode", method="rk4", step_size=0.5).double()
    old = classifier_template(model).double()
    generator = torch.Generator().manual_seed(0)
    batch = {
        "x": torch.rand(8, 1, 8, 8, generator=generator, dtype=torch.float64),
        "y": torch.randint(0, 10, (8,), generator=generator),
    }
    assert set(map(id, old.parameters())) == set(map(id, model.parameters()))
    new_loss, old_loss = model.loss(batch), old.loss(batch)
    assert float(new_loss.loss) == pytest.approx(float(old_loss.loss), abs=1e-10)
    assert new_loss.metrics["accuracy"] == old_loss.metrics["accuracy"]
    model.eval(), old.eval()
    torch.testing.assert_close(model(batch["x"]), old(batch["x"]), rtol=0, atol=1e-10)
    torch.testing.assert_close(
        model.predict(batch["x"]), old.predict(batch["x"]), rtol=0, atol=1e-10
    )
    new_eval, old_eval = model.evaluate(batch), old.evaluate(batch)
    assert new_eval["loss"] == pytest.approx(old_eval["loss"], abs=1e-10)
    assert new_eval["test_error"] == old_eval["test_error"]


def test_the_objective_override_is_refused_where_the_spec_objective_is() -> None:
    # MAP needs a prior on a parameter: the checker refuses `objective = :map` without one
    # (E085), and the override reuses the checker's rule (kinds.objectives)
    plain = HYBRID.format(prior="", start="z0")
    written = plain.replace("\nend\n", "\n    train\n        objective = :map\n    end\nend\n")
    with pytest.raises(SpecError, match="does not fit a trajectory model"):
        compile(written)
    with pytest.raises(ValueError, match=r"objective='map' does not fit .*use one of likelihood$"):
        compile(plain, objective="map")
    with_prior = compile(HYBRID.format(prior=PRIOR, start="z0"), objective="map")
    assert with_prior.spec.train.objective == "map"
