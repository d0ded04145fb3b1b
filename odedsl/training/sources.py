"""Ready-made data sources for the training loop (see ``protocol``).

- ``StreamingBatches(sampler, batch_size)``: a fresh batch every step from
  ``sampler(n, generator)``; ``numpy_sampler`` adapts numpy samplers such as
  ``functools.partial(odedsl.data.sample, "moons")``.
- ``TensorBatches(tensors, batch_size)``: epochs over a fixed data set, reshuffled per epoch
  from ``(seed, epoch)``, batches as dicts of tensors, optionally augmented by a ``transform``
  drawing from a generator seeded by ``(seed, epoch, batch)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from odedsl.training.errors import ConfigError
from odedsl.training.rng import SHUFFLE_STREAM, batch_rng, derive_seed

Sampler = Callable[[int, torch.Generator], Any]
Batch = dict[str, Tensor]
Transform = Callable[[Batch, np.random.Generator], Batch]


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch size must be an integer ≥ 1, got {batch_size!r}")


def _share(batch_size: int, world_size: int) -> int:
    if batch_size % world_size:
        raise ConfigError(
            f"batch size {batch_size} does not split evenly over {world_size} processes; "
            f"use a multiple of {world_size}"
        )
    return batch_size // world_size


def numpy_sampler(
    sample: Callable[[int, np.random.Generator], np.ndarray],
    key: str = "x",
    dtype: torch.dtype = torch.float32,
) -> Sampler:
    """Adapts ``sample(n, numpy_rng) -> array`` into a sampler returning ``{key: tensor}``.

    The numpy generator is seeded from the torch generator, so the runtime's checkpointed
    generator state determines every batch.
    """

    def draw(n: int, generator: torch.Generator) -> dict[str, Tensor]:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        return {key: torch.as_tensor(sample(n, np.random.default_rng(seed)), dtype=dtype)}

    return draw


class StreamingBatches:
    """``batch_size`` fresh samples each step, from ``sampler(n, generator)``."""

    def __init__(self, sampler: Sampler, batch_size: int) -> None:
        _check_batch_size(batch_size)
        self.sampler = sampler
        self.batch_size = batch_size

    def batch(self, step: int, generator: torch.Generator) -> Any:
        return self.sampler(self.batch_size, generator)

    def shard(self, rank: int, world_size: int) -> StreamingBatches:
        """Each process draws ``batch_size / world_size`` samples from its own generator."""
        return StreamingBatches(self.sampler, _share(self.batch_size, world_size))


class TensorBatches:
    """Epochs over ``tensors`` (equal first dimensions) in batches of ``batch_size`` rows.

    With ``shuffle`` the order is a permutation drawn from ``(seed, epoch)``; the last batch
    may be smaller. ``shard(rank, world_size)`` gives process ``rank`` the rows ``rank::world_size``
    of every global batch, so the processes' batches together are the single-process batch
    (a last batch is trimmed to a multiple of ``world_size`` rows so every share is equal).

    A ``transform(batch, rng)`` (data augmentation) gets each global batch and a numpy
    generator from ``rng.batch_rng(seed, epoch, index of the batch in the epoch)``, so the
    augmented batches too depend only on their position: a resumed run sees the batches an
    uninterrupted one would, and the processes' shares still make the single-process batch.
    """

    def __init__(
        self,
        tensors: Mapping[str, Tensor],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        transform: Transform | None = None,
    ) -> None:
        _check_batch_size(batch_size)
        sizes = {name: len(tensor) for name, tensor in tensors.items()}
        if not sizes or len(set(sizes.values())) != 1:
            raise ConfigError(f"data tensors must share their first dimension, got sizes {sizes}")
        self.tensors = dict(tensors)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.transform = transform
        self.rows = next(iter(sizes.values()))
        self.epoch = 0
        _share(batch_size, world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _global_batches(self) -> list[Tensor]:
        if self.shuffle:
            seed = derive_seed(self.seed, self.epoch, SHUFFLE_STREAM)
            generator = torch.Generator().manual_seed(seed)
            order = torch.randperm(self.rows, generator=generator)
        else:
            order = torch.arange(self.rows)
        batches = list(order.split(self.batch_size))
        batches[-1] = batches[-1][: len(batches[-1]) - len(batches[-1]) % self.world_size]
        return [batch for batch in batches if len(batch)]

    def __len__(self) -> int:
        full, rest = divmod(self.rows, self.batch_size)
        return full + (rest >= self.world_size)

    def __iter__(self) -> Iterator[Batch]:
        for index, rows in enumerate(self._global_batches()):
            if self.transform is None:
                share = rows[self.rank :: self.world_size]
                yield {name: tensor[share] for name, tensor in self.tensors.items()}
                continue
            batch = {name: tensor[rows] for name, tensor in self.tensors.items()}
            batch = self.transform(batch, batch_rng(self.seed, self.epoch, index))
            yield {name: tensor[self.rank :: self.world_size] for name, tensor in batch.items()}

    def shard(self, rank: int, world_size: int) -> TensorBatches:
        return TensorBatches(
            self.tensors,
            self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            rank=rank,
            world_size=world_size,
            transform=self.transform,
        )
