"""Data sources: shards partition the global batch; epochs reshuffle and augment reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from odedsl.data import sample
from odedsl.training import ConfigError, StreamingBatches, TensorBatches, numpy_sampler
from odedsl.training.rng import batch_rng


@pytest.fixture
def data() -> TensorBatches:
    return TensorBatches({"i": torch.arange(50)}, batch_size=8, seed=4)


def test_every_row_once_per_epoch_and_a_new_order_next_epoch(data):
    data.set_epoch(0)
    first = [batch["i"] for batch in data]
    assert len(first) == len(data) == 7 and len(first[-1]) == 2
    assert sorted(torch.cat(first).tolist()) == list(range(50))
    data.set_epoch(1)
    second = torch.cat([batch["i"] for batch in data])
    assert not torch.equal(torch.cat(first), second)
    data.set_epoch(0)
    assert torch.equal(torch.cat([batch["i"] for batch in data]), torch.cat(first))


@pytest.mark.parametrize("world_size", [2, 4])
def test_shards_together_are_the_global_batches(data, world_size):
    shards = [data.shard(rank, world_size) for rank in range(world_size)]
    for source in (data, *shards):
        source.set_epoch(3)
    whole = list(data)
    parts = list(zip(*shards, strict=True))
    # The last global batch (2 rows) is trimmed to a multiple of the world size.
    assert len(parts) == len(shards[0]) == (7 if world_size == 2 else 6)
    for batch, pieces in zip(whole, parts, strict=False):
        sizes = {len(piece["i"]) for piece in pieces}
        assert len(sizes) == 1  # equal shares
        assert sorted(torch.cat([p["i"] for p in pieces]).tolist()) == sorted(batch["i"].tolist())


def test_shards_need_a_divisible_batch(data):
    with pytest.raises(ConfigError, match="batch size 8 does not split evenly over 3 processes"):
        data.shard(0, 3)


def test_numpy_sampler_follows_the_torch_generator():
    source = StreamingBatches(numpy_sampler(lambda n, rng: sample("Moons", n, rng)), 64)
    first = source.batch(0, torch.Generator().manual_seed(1))["x"]
    again = source.batch(0, torch.Generator().manual_seed(1))["x"]
    other = source.batch(0, torch.Generator().manual_seed(2))["x"]
    assert first.shape == (64, 2) and first.dtype == torch.float32
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert np.isfinite(first.numpy()).all()


def test_a_transform_sees_each_global_batch_with_its_positions_generator():
    tensors = {"i": torch.arange(50), "x": torch.arange(50.0)}
    seen: list[tuple[int, np.random.Generator]] = []

    def shift(batch: dict[str, torch.Tensor], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        seen.append((len(batch["i"]), rng))
        return {**batch, "x": batch["x"] + torch.as_tensor(rng.integers(0, 100, len(batch["x"])))}

    plain = TensorBatches(tensors, batch_size=8, seed=4)
    augmented = TensorBatches(tensors, batch_size=8, seed=4, transform=shift)
    for source in (plain, augmented):
        source.set_epoch(2)
    for index, (before, after) in enumerate(zip(plain, augmented, strict=True)):
        assert torch.equal(before["i"], after["i"])  # the same rows, other keys untouched
        offsets = batch_rng(4, 2, index).integers(0, 100, len(before["x"]))
        assert torch.equal(after["x"], before["x"] + torch.as_tensor(offsets))
    assert [size for size, _ in seen] == [8] * 6 + [2]
    # Reading the epoch again (as a resumed run does) gives the same batches.
    again = list(augmented)
    augmented.set_epoch(2)
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(again, augmented, strict=True))
    augmented.set_epoch(3)
    assert not torch.equal(next(iter(augmented))["x"], again[0]["x"])


def test_shards_of_augmented_batches_together_are_the_global_batch():
    def flip(batch: dict[str, torch.Tensor], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        return {"i": batch["i"] * torch.as_tensor(rng.choice([-1, 1], len(batch["i"])))}

    data = TensorBatches({"i": torch.arange(1, 51)}, batch_size=8, seed=4, transform=flip)
    shards = [data.shard(rank, 2) for rank in range(2)]
    assert all(shard.transform is flip for shard in shards)
    for whole, *pieces in zip(data, *shards, strict=True):
        # every row keeps the sign the single-process run gives it
        assert sorted(torch.cat([p["i"] for p in pieces]).tolist()) == sorted(whole["i"].tolist())
