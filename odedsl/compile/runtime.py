"""What ``odedsl.training`` needs to train a spec: its data sources and its configuration.

``build_data(spec, split)`` reads the spec's ``data`` section into a source:

| data | ``split="train"`` | ``split="test"`` |
|---|---|---|
| 2-D toy density (``Moons``...) | streaming: a fresh batch every step | a dict ``{"x": (n, 2)}`` |
| images (``Digits``, ``MNIST``) | epochs of shuffled batches ``{"x", "y"}`` | epochs, unshuffled |
| series (``Spirals2D``...) | epochs of shuffled batches of series | the whole split as a dict |
| files (``NPZ``, ``CSV``) | epochs of shuffled batches ``{"x"}`` | the whole file as a dict |
| none (density matching) | streaming standard normal noise ε (batch, D) | a sample count |

Batches are dicts keyed as ``odedsl.data.load`` returns them (``x``, ``y``, ``ts``,
``events``, ``events_mask``), which is what the compiled models read; the batch size is the
spec's ``batch``. With ``crop = N`` in ``data``, the images ``x`` of a training batch are
``odedsl.data.augment.random_crop(x, rng, padding=N)``, then, with any of ``rotate``, ``zoom``,
``shift``, ``random_affine(x, rng, rotate=..., zoom=..., shift=...)``, ``rng`` being
``odedsl.training.rng.batch_rng(train seed, epoch, batch index)``; test batches are left as
they are. ``train_config(spec)`` gives the :class:`~odedsl.training.TrainConfig`: optimizer,
learning-rate schedule, steps or epochs and seed (the regularizer weights live in the compiled
model's loss).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from odedsl.data import dataset, load, sample
from odedsl.data.augment import random_affine, random_crop
from odedsl.lang import model as ir
from odedsl.training import (
    OptimizerConfig,
    ScheduleConfig,
    StreamingBatches,
    TensorBatches,
    TrainConfig,
    numpy_sampler,
)

SPLITS = ("train", "test")
KL_EVALUATION_SAMPLES = 4096
_SERIES_KEYS = ("ts", "x", "mask", "events", "events_mask")


def build_data(
    spec: ir.CheckedModel, split: str = "train", *, seed: int | None = None, n: int | None = None
) -> Any:
    """The spec's data for ``split`` as a source of ``odedsl.training`` (see the module table).

    ``seed`` selects the random draw of generated data sets (default: the data set's own
    ``seed`` argument); shuffling follows the spec's training seed. ``n`` overrides the number
    of examples or series loaded (the data set's ``n`` by default).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    batch = spec.train.batch
    if spec.data is None:
        return _noise(spec, batch) if split == "train" else KL_EVALUATION_SAMPLES
    source = spec.data
    params = {k: v for k, v in source.args.items() if k not in ("seed", "split", "n")}
    data_seed = int(source.args.get("seed", 0)) if seed is None else seed
    size = n if n is not None else source.args.get("n")
    kind = dataset(source.dataset).kind
    if kind == "density2d" and split == "train":
        sampler = functools.partial(sample, source.dataset, **params)
        return StreamingBatches(numpy_sampler(sampler, key="x", dtype=_real()), batch)
    arrays = load(source.dataset, split=split, n=size, seed=data_seed, **params)
    tensors = {key: _tensor(value) for key, value in arrays.items()}
    if kind == "images":
        augment = split == "train" and source.augmented
        return TensorBatches(
            {"x": tensors["x"], "y": tensors["y"]},
            batch,
            shuffle=split == "train",
            seed=spec.train.seed,
            transform=functools.partial(_augment, source=source) if augment else None,
        )
    if split == "test":
        return tensors
    if kind == "series":
        tensors = {k: v for k, v in tensors.items() if k in _SERIES_KEYS}
    return TensorBatches(tensors, batch, seed=spec.train.seed)


def _augment(
    batch: dict[str, torch.Tensor], rng: np.random.Generator, *, source: ir.DataSource
) -> dict[str, torch.Tensor]:
    """``batch`` with its images ``x`` augmented as ``source`` says (crop, then affine)."""
    images = batch["x"].numpy()
    if source.crop:
        images = random_crop(images, rng, source.crop)
    if source.affine:
        images = random_affine(
            images, rng, rotate=source.rotate, zoom=source.zoom, shift=source.shift
        )
    return {**batch, "x": torch.from_numpy(images)}


def _real() -> torch.dtype:
    return torch.get_default_dtype()


def _tensor(array: np.ndarray) -> torch.Tensor:
    tensor = torch.as_tensor(array)
    return tensor.to(_real()) if tensor.is_floating_point() else tensor


def _noise(spec: ir.CheckedModel, batch: int) -> StreamingBatches:
    """Standard normal noise for a flow matching a target: the flow pushes it from its base."""
    shape = tuple(spec.flow_shape)

    def draw(count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn((count, *shape), generator=generator, dtype=_real())

    return StreamingBatches(draw, batch)


def train_config(spec: ir.CheckedModel, best_metric: str = "loss") -> TrainConfig:
    """The training configuration of ``spec``'s ``train`` section; ``best_metric`` is the
    validation metric (lower is better) that picks ``best.pt`` and counts ``patience``."""
    train = spec.train
    if train.warmup:
        raise ValueError(
            f"warmup = {train.warmup}: the training runtime has no learning-rate warm-up; "
            "remove `warmup` from `train`"
        )
    options = {"lr": train.optimizer.lr, **train.optimizer.options}
    optimizer = OptimizerConfig(train.optimizer.name, options)
    schedule = train.schedule
    unit = "epochs" if train.epochs is not None else "steps"
    if schedule.kind == "step":
        config = ScheduleConfig("step", schedule.milestones, schedule.factor, unit=unit)
    else:
        config = ScheduleConfig("cosine" if schedule.kind == "cosine" else "none")
    return TrainConfig(
        optimizer=optimizer,
        schedule=config,
        steps=train.steps,
        epochs=train.epochs,
        seed=train.seed,
        eval_every=train.eval_every,
        patience=train.patience,
        best_metric=best_metric,
    )
