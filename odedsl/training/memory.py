"""Bounds on what a run allocates, checked before it allocates: the training batch (at most
the data's rows) against the host's free memory.

A step's memory is measured, not guessed: one loss of a second instance of the model on a few
examples, counting the tensors autograd keeps for the backward pass (parameters aside); that
grows in proportion to the batch.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from odedsl.machine import available_memory, size
from odedsl.training.errors import ConfigError

PROBE_EXAMPLES = 4
"""How many examples the probe step takes."""


def _probe_batch(data: Any, examples: int) -> tuple[Any, int]:
    """A few examples of ``data`` and how many: drawn afresh from a streaming source's
    sampler, the first rows of a tensor source; (None, 0) for any other source."""
    sampler = getattr(data, "sampler", None)
    if callable(sampler):
        return sampler(examples, torch.Generator().manual_seed(0)), examples
    tensors = getattr(data, "tensors", None)
    if isinstance(tensors, dict) and isinstance(getattr(data, "rows", None), int):
        # copies: a slice would share (and be counted as) the whole data set's storage
        batch = {name: tensor[:examples].clone() for name, tensor in tensors.items()}
        return batch, min(examples, data.rows)
    return None, 0


def bytes_per_example(probe: nn.Module, data: Any) -> float | None:
    """The memory one example adds to a training step of ``probe`` (see the module
    docstring), or None when the data cannot be probed or the probe step fails (training
    then reports it). ``probe`` must be an instance no one trains: its loss may change it."""
    batch, count = _probe_batch(data, PROBE_EXAMPLES)
    if not count:
        return None
    parameters = {p.untyped_storage().data_ptr() for p in probe.parameters()}
    kept: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.random.fork_rng(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        try:
            probe.loss(batch)
        except Exception:
            return None
    return sum(kept.values()) / count


def check_batch_memory(probe: nn.Module, data: Any, world_size: int = 1) -> None:
    """Refuse (``ConfigError``, with the figures) a training batch whose step would not fit
    in the host's free memory, measured on ``probe`` (see :func:`bytes_per_example`), with
    the batch shared by ``world_size`` processes."""
    batch, rows = getattr(data, "batch_size", None), getattr(data, "rows", None)
    if not isinstance(batch, int):
        return
    examples = min(batch, rows) if isinstance(rows, int) else batch  # an epoch's batches
    free = available_memory()
    per_example = bytes_per_example(probe, data) if free is not None else None
    if free is None or not per_example:
        return
    need = per_example * examples / world_size
    if need > free:
        fits = max(int(free * world_size // per_example), 1)
        raise ConfigError(
            f"batch = {batch}: a training step would keep about {size(need)} "
            f"({size(per_example)} an example), more than the {size(free)} of "
            f"free memory; give batch ≤ {fits}"
        )


def cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
