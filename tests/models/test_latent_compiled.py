"""A compiled latent spec respects masks: padding and batch-mates do not change a series' loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import odedsl

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
    model = compiled(encoder)
    alone, batch = padded_batch()
    noise = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(5), dtype=DTYPE)
    single = model.bound(alone, samples=2, noise=noise[:, :1])
    together = model.bound(batch, samples=2, noise=noise[:, :1].expand(2, 3, 4).clone())
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
