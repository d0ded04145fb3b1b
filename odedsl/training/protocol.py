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

Deferred = Callable[[], float]
"""A figure the backward pass produces, read after it (``lambda: stats.nfe_backward``)."""


@dataclass(frozen=True)
class LossOutput:
    """A training step's scalar ``loss``, its ``metrics`` and its ``deferred`` figures.

    ``metrics`` are numbers by name (a number, a 0-dim tensor or a numpy scalar, stored as
    ``float``), known when ``loss`` is; conventional names: ``nfe_forward``, ``kl``,
    ``kinetic``... ``deferred`` holds zero-argument callables for figures that only exist once
    the backward pass has run (``{"nfe_backward": lambda: float(stats.nfe_backward)}``): the
    training loop reads them after ``backward()`` (:meth:`after_backward`), so every value it
    logs is a number. A callable in ``metrics`` is refused with a ``TypeError``.
    """

    loss: Tensor
    metrics: Mapping[str, float] = field(default_factory=dict)
    deferred: Mapping[str, Deferred] = field(default_factory=dict)

    def __post_init__(self) -> None:
        numbers = {}
        for name, value in self.metrics.items():
            if callable(value):
                raise TypeError(
                    f"LossOutput metric {name!r} is a callable: metrics are numbers; pass a "
                    f"figure read after the backward pass as deferred={{{name!r}: ...}}"
                )
            numbers[name] = _number(name, value)
        for name, value in self.deferred.items():
            if not callable(value):
                raise TypeError(
                    f"LossOutput deferred {name!r} must be a zero-argument callable, got "
                    f"{value!r:.80}; put numbers in metrics"
                )
        clash = sorted(set(numbers) & set(self.deferred))
        if clash:
            raise TypeError(f"LossOutput names {clash} both in metrics and in deferred")
        object.__setattr__(self, "metrics", numbers)
        object.__setattr__(self, "deferred", dict(self.deferred))

    def after_backward(self) -> dict[str, float]:
        """``metrics`` and every ``deferred`` figure read now, all numbers: call it after
        ``loss.backward()`` (before it, backward figures are those of no backward pass)."""
        values = dict(self.metrics)
        values.update({name: _number(name, read()) for name, read in self.deferred.items()})
        return values


def _number(name: str, value: Any) -> float:
    """``value`` as a float: a Python number, a one-element tensor or a numpy scalar."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        raise TypeError(f"LossOutput metric {name!r} must be a number, got {value!r:.80}")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"LossOutput metric {name!r} must be a number, got {type(value).__name__} {value!r:.80}"
        ) from None


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
