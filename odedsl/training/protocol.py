"""What the training runtime needs from a model and a data source (structural protocols).

A compiled model (or any ``nn.Module``) is trainable when it has ``loss(batch) -> LossOutput``;
it may also have ``evaluate(data) -> dict[str, float]`` for held-out metrics. Data comes either
streaming (a fresh batch every step, drawn from a generator the runtime owns and checkpoints) or
in epochs (a finite, re-iterable source reshuffled by ``set_epoch``). Both can ``shard`` into the
part one process of a data-parallel run sees. ``odedsl.training.sources`` has ready-made sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

MetricValue = float | Callable[[], float]


@dataclass(frozen=True)
class LossOutput:
    """A training step's scalar ``loss`` and its ``metrics`` (floats, by name).

    Conventional names: ``nfe_forward``, ``nfe_backward`` (solver evaluations), ``kl``,
    ``kinetic``... A metric may be a zero-argument callable: it is read after the backward pass,
    for figures the backward pass produces (``lambda: solution.stats.nfe_backward``).
    """

    loss: Tensor
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)


@runtime_checkable
class TrainableModel(Protocol):
    """An ``nn.Module`` whose ``loss(batch)`` is the objective to minimise.

    For data-parallel training the loss must be a mean over the batch's samples, so averaging
    the processes' gradients gives the gradient of the global batch's mean.
    """

    def loss(self, batch: Any) -> LossOutput: ...


@runtime_checkable
class EvaluableModel(Protocol):
    """A model with held-out metrics; ``evaluate`` should include ``"loss"`` (the default metric
    that picks ``best.pt``). It runs in eval mode, with the training random streams untouched."""

    def evaluate(self, data: Any) -> dict[str, float]: ...


@runtime_checkable
class StreamingData(Protocol):
    """Fresh batches every step: ``batch(step, generator)`` must draw all its randomness from
    ``generator`` (whose state the runtime checkpoints), so runs resume exactly."""

    def batch(self, step: int, generator: torch.Generator) -> Any: ...

    def shard(self, rank: int, world_size: int) -> StreamingData:
        """The source one of ``world_size`` processes uses (its share of the global batch)."""
        ...


@runtime_checkable
class EpochData(Protocol):
    """A finite source of ``len(self)`` batches per epoch, its order fixed by ``set_epoch``."""

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...

    def shard(self, rank: int, world_size: int) -> EpochData:
        """The source one of ``world_size`` processes uses: every process must see the same
        number of batches, and the processes' batches together make the global batch."""
        ...


DataSource = StreamingData | EpochData


class ProgressReporter(Protocol):
    """Receives the loop's progress (``odedsl.training.progress.ProgressBar`` is one)."""

    def start(self, total: int, initial: int) -> None:
        """Training runs from step ``initial`` to ``total``."""
        ...

    def update(self, step: int, values: Mapping[str, float]) -> None:
        """Step ``step`` finished with these values (``loss``, ``nfe_forward``, ...)."""
        ...

    def note(self, text: str) -> None:
        """A message of its own line (evaluations, interruptions)."""
        ...

    def close(self) -> None: ...
