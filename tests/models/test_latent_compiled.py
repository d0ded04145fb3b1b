"""A compiled latent spec respects masks: padding and batch-mates do not change a series' loss;
its `kl_warmup` ramps the KL weight of the loss and resumes with the run."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

import odedsl
from odedsl.compiler import build_data, train_config
from odedsl.data import load
from odedsl.models.series import Observations
from odedsl.training import RunFolder, train

SPEC = Path(__file__).resolve().parents[2] / "specs" / "latent_spirals.ode"
DTYPE = torch.float64
# dopri5 at 1e-10: rows never interact, only the shared step control differs between the
# batches, so a series' bound agrees to about the tolerance (asserted at 1e-7).
TIGHT = {"method": ":dopri5", "rtol": 1e-10, "atol": 1e-10, "gradient": ":direct"}


pytestmark = pytest.mark.usefixtures("one_thread")


def compiled(encoder: str):
    text = SPEC.read_text(encoding="utf-8")
    line = next(row for row in text.splitlines() if row.strip().startswith("rec "))
    text = text.replace(line, f"        rec = {encoder}(2 => 8 => 2 * L)")
    return odedsl.compile(text, **TIGHT).double()


def padded_batch() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Series 0 alone (4 points), and the same series padded in the middle and at the end
    with garbage, batched with two series of other times and lengths."""
    rng = torch.Generator().manual_seed(3)
    alone_x = torch.randn(1, 4, 2, generator=rng, dtype=DTYPE)
    alone = {"ts": torch.tensor([[0.1, 0.5, 1.7, 2.0]], dtype=DTYPE), "x": alone_x}
    times = torch.tensor(
        [
            [0.1, 0.5, 0.9, 1.7, 2.0, 9.0, 9.0],
            [0.0, 0.3, 0.45, 1.1, 2.5, 3.0, 3.6],
            [0.2, 0.5, 0.8, 0.0, 0.0, 0.0, 0.0],
        ],
        dtype=DTYPE,
    )
    values = torch.randn(3, 7, 2, generator=rng, dtype=DTYPE) * 50
    values[0, [0, 1, 3, 4]] = alone_x[0]
    mask = torch.tensor([[1, 1, 0, 1, 1, 0, 0], [1] * 7, [1] * 3 + [0] * 4], dtype=torch.bool)
    return alone, {"ts": times, "x": values, "mask": mask}


@pytest.mark.parametrize("encoder", ["RNN", "GRU", "ODERNN"])
def test_compiled_encoder_skips_padding_and_ignores_batch_mates(encoder: str) -> None:
    # evaluation mode: training draws each series' encoder cut (`encoder_window`) from a random
    # stream that batch-mates shift
    model = compiled(encoder).eval()
    alone, batch = padded_batch()
    size = model.spec.states[0].shape[0]  # L
    noise = torch.randn(2, 3, size, generator=torch.Generator().manual_seed(5), dtype=DTYPE)
    single = model.bound(alone, samples=2, noise=noise[:, :1])
    together = model.bound(batch, samples=2, noise=noise[:, :1].expand(2, 3, size).clone())
    torch.testing.assert_close(together.value[:1], single.value, rtol=1e-7, atol=1e-7)
    # The same padding read as data (no mask) changes the series' posterior: the check bites.
    mean_alone, _ = model.encode(model._batch(alone)[0])
    mean_unmasked, _ = model.encode(model._batch({"ts": batch["ts"], "x": batch["x"]})[0])
    assert (mean_unmasked[0] - mean_alone[0]).abs().max() > 1e-3


def test_an_encoder_that_mixes_padded_steps_is_refused() -> None:
    text = SPEC.read_text(encoding="utf-8").replace(
        "chunk(rec(reverse(x), reverse(ts)), 2)", "chunk(rec(reverse(x), reverse(ts)) + sum(ts), 2)"
    )
    model = odedsl.compile(text, **TIGHT).double()
    _, batch = padded_batch()
    with pytest.raises(ValueError, match="outside a sequence network"):
        model.loss(batch)


def warming_up(kl_warmup: int, **overrides):
    """The reference latent spec with `kl_warmup` in `train`, a constant learning rate (so a
    short run stops where a long one passes) and 24 series, compiled in float64."""
    text = SPEC.read_text(encoding="utf-8")
    text = text.replace("schedule = :cosine", f"kl_warmup = {kl_warmup}")
    text = text.replace("Spirals2D(n = 1000", "Spirals2D(n = 24")
    return odedsl.compile(text, **overrides).double()


def test_the_loss_at_step_s_weights_the_kl_term_by_min_1_s_over_warmup() -> None:
    model = warming_up(4)
    assert model.kl_warmup == 4 and model.spec.train.kl_warmup == 4
    data = load("Spirals2D", split="train", n=3, observed=6, seed=1)
    batch = {key: torch.as_tensor(data[key], dtype=DTYPE) for key in ("ts", "x")}
    model.train()
    checked = 0
    for step in range(7):  # each training-mode loss is one step of the warm-up
        torch.manual_seed(step)
        output = model.loss(batch)
        if step not in (1, 6):
            continue
        torch.manual_seed(step)  # the same posterior draw; the weight leaves the pieces alone
        pieces = model.bound(batch, kl_weight=0.0)
        reconstruction, kl = pieces.observation_log_likelihood.mean(0), pieces.kl
        weight = min(1.0, step / 4)
        assert output.metrics["kl_weight"] == weight
        torch.testing.assert_close(output.loss, -(reconstruction - weight * kl).mean())
        checked += 1
        assert float(kl.mean().detach()) > 1e-3  # the weight matters: the check bites
    assert checked == 2 and int(model.step) == 7


def test_a_resumed_run_continues_the_kl_warmup_where_it_stopped(tmp_path: Path) -> None:
    # with random encoder cuts (``encoder_window``): they too continue their stream
    def trained(folder: Path, steps: int, resume: bool = False):
        model = warming_up(8, batch=8, steps=6, encoder_window=0.5)
        config = dataclasses.replace(train_config(model.spec), log_every=1)
        train(
            model, build_data(model.spec, "train"), config.with_length(steps), folder, resume=resume
        )
        weights = [record["kl_weight"] for record in RunFolder(folder).read_metrics()]
        return model, weights

    straight, straight_weights = trained(tmp_path / "straight", 6)
    assert straight_weights == [step / 8 for step in range(6)]
    stopped, _ = trained(tmp_path / "resumed", 3)
    assert (int(stopped.step), stopped.kl_weight) == (3, 3 / 8)
    resumed, weights = trained(tmp_path / "resumed", 6, resume=True)
    assert weights == straight_weights  # step 3 logs 3/8 after the resume, not 0
    assert int(resumed.step) == int(straight.step) == 6
    assert resumed.kl_weight == straight.kl_weight == 6 / 8
    for name, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0, msg=name)


def spirals_with(noise: str, params: str = "") -> str:
    text = SPEC.read_text(encoding="utf-8").replace("Normal(dec(z(t)), 0.3)", noise)
    return text.replace("    networks\n", params + "    networks\n", 1)


def test_a_learned_observation_noise_is_read_through_the_decoder() -> None:
    # σ :: Positive = 0.3 (learned) against the reference spec's constant σ set to the same
    # value: the same networks (drawn from the same seed), the same bound to rounding (σ is a
    # softplus here, exp of its log there), and σ gets a gradient.
    params = "    params\n        σ :: Positive = 0.3\n    end\n"
    learned = odedsl.compile(spirals_with("Normal(dec(z(t)), σ)", params), **TIGHT).double()
    learned.eval()  # (training mode cuts each series at random for the encoder)
    fixed = odedsl.compile(SPEC.read_text(encoding="utf-8"), **TIGHT).double().eval()
    assert learned.likelihood.name == "Normal" and fixed.likelihood is None
    (sigma,) = [p for name, p in learned.named_parameters() if name.endswith("p__u3c3_")]
    with torch.no_grad():  # the constant σ at the learned one (its float32 init is 0.3 ± 1e-8)
        fixed.log_noise.fill_(float(torch.log(torch.nn.functional.softplus(sigma))))
    _, batch = padded_batch()
    noise = torch.randn(1, len(batch["x"]), 6, generator=torch.Generator().manual_seed(0))
    values = [
        model.bound(batch, noise=noise.double(), kl_weight=1.0).value for model in (learned, fixed)
    ]
    torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=1e-12)
    (-values[0].mean()).backward()
    assert sigma.grad is not None and float(sigma.grad.abs()) > 0


def test_a_latent_ode_observes_through_any_family_of_the_catalogue() -> None:
    # Laplace(dec(z(t)), 0.3): the generated decoder gives (mean, scale); predictions are
    # the mean, the bound's likelihood is Laplace's.
    model = odedsl.compile(spirals_with("Laplace(dec(z(t)), 0.3)"), **TIGHT).double()
    _, batch = padded_batch()
    z = torch.randn(1, len(batch["x"]), batch["x"].shape[1], 6, dtype=torch.float64)
    mean = model.decoder.net_dec(z)
    observations = Observations.of(batch["ts"], batch["x"], batch.get("mask"), z)
    expected = -(batch["x"] - mean).abs() / 0.3 - math.log(0.6)
    expected = torch.where(observations.mask[..., None], expected, torch.zeros_like(expected))
    got = model.observation_log_likelihood(z, observations)
    torch.testing.assert_close(got, expected.sum((-2, -1)), rtol=0, atol=1e-10)
    torch.testing.assert_close(model.observation_mean(z), mean)
