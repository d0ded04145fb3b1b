"""What ``odedsl.training`` needs to train a spec: its data sources and its configuration.

``build_data(spec, split)`` reads the spec's ``data`` section into a source, for ``split`` in
``"train"``, ``"validation"`` (model selection: ``eval_every``, ``best.pt``, ``patience``) and
``"test"`` (scored once, at the end):

| data | ``"train"`` | ``"validation"`` / ``"test"`` |
|---|---|---|
| 2-D toy density (``Moons``...) | a fresh batch every step | a dict ``{"x": (n, 2)}`` |
| generated series (``Spirals2D``...) | epochs of shuffled batches | the split as a dict |
| ``Digits`` (1167 / 180 / 450 images) | epochs of shuffled batches | epochs, unshuffled |
| ``MNIST`` (train files less 1/12 / 1/12 / t10k) | epochs of shuffled batches | epochs |
| files: rows ``x`` | epochs of shuffled batches | the split's rows as a dict |
| files: ``(x, y)`` | epochs of shuffled batches | epochs, unshuffled |
| files: many series (long format) | epochs of shuffled batches | the split as a dict |
| files: one trajectory | batches of the one series | the series as a dict |
| none (density matching) | standard normal noise ε (batch, D) | 4096 fixed draws of ε per split |

Generated sets draw each split from its own random stream (``odedsl.data.rng``), so train,
validation and test never share a draw; the validation split of ``Spirals2D`` and
``Periodic1D`` is drawn as their test split (with its future). ``Digits`` carves its 180
validation images from the fixed 75 % training part, ``MNIST`` 1/12 of its training files;
their test splits stay as they were.

Files are split by the seeded permutation of the data source's ``seed`` (``odedsl.data.splits``),
by fractions (``split = (0.7, 0.15, 0.15)`` by default) of rows, or of whole series for long
format, unless the spec names a file per split (``train``, ``validation``, ``test``).

A single trajectory is split by its points: ``holdout = :last`` (the default, forecasting)
holds out the end of its time span, the first 70 % of its points are train, the next 15 %
validation, the last 15 % test; ``holdout = :random`` (interpolation) draws the points of each
split at random (seeded). Every split's batch holds the whole series' times ``ts`` (1, N), and
``mask`` (1, N, D) True only at that split's observed points. Values of later splits are never
in an earlier split's batch:

| batch | ``x`` holds the values of | ``mask`` True at |
|---|---|---|
| train | train points (0 at validation and test points) | train points |
| validation | train and validation points (train as context) | validation points |
| test | every point (train and validation as context) | test points |

Paths in ``data`` (``path``, ``train``, ``validation``, ``test``, MNIST's ``root``) are relative
to the folder of the spec file (``CheckedModel.path``; the current folder for spec text without
a file), or ``root`` when given. ``data_files(spec)`` lists each file read, with its resolved
path and SHA-256; ``check_data_files(records)`` refuses, naming the file, when one has moved or
changed since. When data are opened their shapes are checked against the spec's declared types
(a located ``SpecError`` E072 at the data line naming the file's shape); a file's own errors are
``DataError`` s naming the file, line and column, prefixed with the spec's data line.

Batches are dicts keyed as ``odedsl.data.load`` returns them (``x``, ``y``, ``ts``, ``mask``,
``events``, ``events_mask``), which is what the compiled models read; the batch size is the
spec's ``batch``. With ``crop = N`` in ``data``, the images ``x`` of a training batch are
``odedsl.data.augment.random_crop(x, rng, padding=N)``, then, with any of ``rotate``, ``zoom``,
``shift``, ``random_affine(x, rng, rotate=..., zoom=..., shift=...)``, ``rng`` being
``odedsl.training.rng.batch_rng(train seed, epoch, batch index)``; validation and test batches
are left as they are. ``train_config(spec)`` gives the :class:`~odedsl.training.TrainConfig`:
optimizer, learning-rate schedule, steps or epochs and seed (the regularizer weights live in
the compiled model's loss).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from odedsl.data import DataError, dataset, load, sample
from odedsl.data.augment import random_affine, random_crop
from odedsl.data.files import FILE_ARGUMENTS
from odedsl.data.rng import rng_for
from odedsl.errors import SpecError
from odedsl.lang import model as ir
from odedsl.lang.builtins import gives_images
from odedsl.lang.diagnostics import Diagnostic, render
from odedsl.lang.shapes import show
from odedsl.lang.source import Source, SourceReadError, read_spec_file
from odedsl.training import (
    OptimizerConfig,
    ScheduleConfig,
    StreamingBatches,
    TensorBatches,
    TrainConfig,
    numpy_sampler,
)

SPLITS = ("train", "validation", "test")
KL_EVALUATION_SAMPLES = 4096
_SERIES_KEYS = ("ts", "x", "mask", "events", "events_mask")
_FILE_SERIES_KEYS = ("ts", "x", "mask")


def data_root(spec: ir.CheckedModel) -> Path:
    """The folder that relative data paths start from: the spec file's, or the current one
    for spec text without a file."""
    if spec.path and not spec.path.startswith("<"):
        return Path(spec.path).resolve().parent
    return Path.cwd()


def build_data(
    spec: ir.CheckedModel,
    split: str = "train",
    *,
    seed: int | None = None,
    n: int | None = None,
    root: str | Path | None = None,
) -> Any:
    """The spec's data for ``split`` as a source of ``odedsl.training`` (see the module table).

    ``seed`` selects the random draw of generated data sets (default: the data set's own
    ``seed`` argument; a file's split always follows the spec's ``seed``); shuffling follows the
    spec's training seed. ``n`` overrides the number of examples or series loaded (the data
    set's ``n`` by default). ``root`` is the folder relative paths start from (default:
    :func:`data_root`).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    batch = spec.train.batch
    if spec.data is None:
        return _noise(spec, batch) if split == "train" else _held_out_noise(spec, split)
    source = spec.data
    kind = dataset(source.dataset).kind
    params = {k: v for k, v in source.args.items() if k not in ("seed", "split", "n")}
    data_seed = int(source.args.get("seed", 0)) if seed is None or kind == "file" else seed
    size = n if n is not None else source.args.get("n")
    if kind == "density2d" and split == "train":
        sampler = functools.partial(sample, source.dataset, **params)
        return StreamingBatches(numpy_sampler(sampler, key="x", dtype=_real()), batch)
    base = Path(root) if root is not None else data_root(spec)
    if kind == "file":
        params = _file_arguments(source, base)
    elif "root" in params:
        params["root"] = str(base / str(params["root"]))
    try:
        arrays = load(source.dataset, split=split, n=size, seed=data_seed, **params)
    except DataError as error:
        raise type(error)(f"{_where(spec)}: {source.dataset}(): {error}") from None
    arrays = _fit_shapes(spec, source, arrays)
    tensors = {key: _tensor(value) for key, value in arrays.items() if value.dtype.kind != "U"}
    labelled = any(v.role == "label" for v in source.variables)
    if kind == "images" or labelled:
        augment = split == "train" and source.augmented and gives_images(source)
        return TensorBatches(
            {"x": tensors["x"], "y": tensors["y"]},
            batch,
            shuffle=split == "train",
            seed=spec.train.seed,
            transform=functools.partial(_augment, source=source) if augment else None,
        )
    if kind == "file" and "ts" in tensors:
        tensors = {k: tensors[k] for k in _FILE_SERIES_KEYS}
    if split != "train":
        return tensors
    if kind == "series":
        tensors = {k: v for k, v in tensors.items() if k in _SERIES_KEYS}
    return TensorBatches(tensors, batch, seed=spec.train.seed)


def _file_arguments(source: ir.DataSource, base: Path) -> dict[str, Any]:
    """The data layer's keyword arguments of a CSV/NPZ source: paths resolved from ``base``,
    ``split`` as ``fractions``, the label's type as ``labels``."""
    params: dict[str, Any] = {}
    for name, value in source.args.items():
        if name in FILE_ARGUMENTS:
            params[name] = str(_resolve(base, str(value)))
        elif name == "split":
            params["fractions"] = value
        elif name != "seed":
            params[name] = value
    label = next((v for v in source.variables if v.role == "label"), None)
    if label is not None:
        params["labels"] = label.dtype
    return params


def _resolve(base: Path, path: str) -> Path:
    return (base / Path(path).expanduser()).resolve()


def _where(spec: ir.CheckedModel) -> str:
    loc = spec.data.loc  # type: ignore[union-attr]
    return f"{spec.path}:{loc.line}:{loc.column}"


def _fit_shapes(
    spec: ir.CheckedModel, source: ir.DataSource, arrays: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """``arrays`` checked against the declared types: a (n, H, W) file for ``Real[1, H, W]``
    gains its channel axis, a series declared with a constant length is padded to it; any
    other mismatch is a located E072."""
    arrays = dict(arrays)
    for variable in source.variables:
        if variable.role == "sample":
            arrays["x"] = _fit_sample(spec, source, variable, arrays["x"])
        elif variable.role == "series" and "mask" in arrays:
            arrays.update(_fit_series(spec, source, variable, arrays))
        elif variable.role == "series":
            _check(spec, source, variable, arrays["x"].shape[1:], arrays["x"].shape)
        elif variable.role == "label" and variable.dtype == "int" and len(arrays["y"]):
            labels = arrays["y"]
            classes = variable.classes
            if labels.min() < 0 or (classes is not None and labels.max() >= classes):
                _fail(
                    spec,
                    source,
                    f"labels of `{variable.name}` run from {labels.min()} to {labels.max()}, "
                    f"but classes are 0..{(classes or 1) - 1}",
                    None,
                )
    return arrays


def _fit_sample(spec, source, variable: ir.DataVariable, x: np.ndarray) -> np.ndarray:
    declared = tuple(variable.shape)
    found = x.shape[1:]
    if found == declared:
        return x
    if len(declared) == len(found) + 1 and declared[0] == 1 and declared[1:] == found:
        return x[:, None]
    _check(spec, source, variable, found, x.shape)
    return x


def _fit_series(spec, source, variable: ir.DataVariable, arrays: dict[str, np.ndarray]):
    x = arrays["x"]
    length, channels = variable.shape
    if x.shape[2:] != (channels,):
        _check(spec, source, variable, x.shape[1:], x.shape)
    if length is None or x.shape[1] == length:
        return {}
    single = len(x) == 1 and "lengths" not in arrays
    if x.shape[1] > length or single:
        what = "points" if single else "points in its longest series"
        _fail(
            spec,
            source,
            f"`{variable.name}` is declared Real[{length}, {channels}], but the data hold "
            f"{x.shape[1]} {what}",
            f"declare the time axis with a name that is not a constant, e.g. `Real[N, "
            f"{channels}]`, for any number of points",
        )
    extra = length - x.shape[1]
    ts = np.concatenate([arrays["ts"], np.repeat(arrays["ts"][:, -1:], extra, axis=1)], axis=1)
    return {
        "ts": ts,
        "x": np.pad(x, ((0, 0), (0, extra), (0, 0))),
        "mask": np.pad(arrays["mask"], ((0, 0), (0, extra), (0, 0))),
    }


def _check(spec, source, variable: ir.DataVariable, found: tuple, full: tuple) -> None:
    declared = tuple(variable.shape)
    if len(found) == len(declared) and all(
        d is None or d == f for d, f in zip(declared, found, strict=True)
    ):
        return
    what = f"{source.dataset}({_files(source)})" if _files(source) else source.dataset
    shown = "[" + ", ".join("N" if d is None else str(d) for d in declared) + "]"
    _fail(
        spec,
        source,
        f"{what} gives `{variable.name}` of shape {show(tuple(found))} (the data are "
        f"{' x '.join(map(str, full))}), but `{variable.name}` is declared Real{shown}",
        f"declare `{variable.name} :: {show(tuple(found))}`, or choose the columns or arrays "
        "that match the model",
    )


def _files(source: ir.DataSource) -> str:
    return ", ".join(
        f'{k} = "{source.args[k]}"' for k in (*FILE_ARGUMENTS, "root") if k in source.args
    )


def _fail(spec: ir.CheckedModel, source: ir.DataSource, message: str, help: str | None):
    loc = source.loc
    diagnostic = Diagnostic(
        "E072",
        message,
        loc.line,
        loc.column,
        loc.end_line,
        loc.end_column,
        help=help,
        path=spec.path,
    )
    raise SpecError([diagnostic], render([diagnostic], _source(spec)))


def _source(spec: ir.CheckedModel) -> Source | None:
    try:
        return read_spec_file(spec.path) if Path(spec.path).is_file() else None
    except (SourceReadError, OSError):
        return None


def data_files(spec: ir.CheckedModel, *, root: str | Path | None = None) -> list[dict[str, str]]:
    """Every file the spec's data are read from, as ``{"path": resolved path, "sha256": ...}``
    (none for generated or bundled data sets)."""
    if spec.data is None:
        return []
    base = Path(root) if root is not None else data_root(spec)
    args = spec.data.args
    paths = [_resolve(base, str(args[k])) for k in FILE_ARGUMENTS if k in args]
    if spec.data.dataset == "MNIST":
        folder = _resolve(base, str(args["root"]))
        paths = sorted(p.resolve() for p in folder.glob("*-ubyte*") if p.is_file())
    return [{"path": str(path), "sha256": _sha256(path)} for path in paths if path.is_file()]


def check_data_files(records: list[dict[str, str]]) -> None:
    """Refuse (``DataError``) when a file recorded by :func:`data_files` has moved or
    changed since."""
    for record in records:
        path = Path(record["path"])
        if not path.is_file():
            raise DataError(
                f"{path}: the data file this run was trained on is gone (moved or deleted); "
                "put it back, or train a new run on the data where they are now"
            )
        now = _sha256(path)
        if now != record["sha256"]:
            raise DataError(
                f"{path}: the data file changed since this run was trained (SHA-256 "
                f"{record['sha256'][:12]}... then, {now[:12]}... now); restore it, or train a "
                "new run"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _held_out_noise(spec: ir.CheckedModel, split: str) -> torch.Tensor:
    """``KL_EVALUATION_SAMPLES`` standard normal draws (n, *flow shape) that score a flow
    matching a target: one fixed draw per split, from independent streams, so the test figure
    is never the draw that selection (``eval_every``) saw."""
    draw = rng_for(0, split).standard_normal((KL_EVALUATION_SAMPLES, *spec.flow_shape))
    return torch.as_tensor(draw, dtype=_real())


SCHEDULE_KINDS = {"constant": "none", "cosine": "cosine", "step": "step"}
"""The training runtime's schedule (``odedsl.training.config.SCHEDULES``) of each schedule of
the language (``builtins.SCHEDULES``, and ``step`` for ``Step(at, factor)``)."""


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
    kind = SCHEDULE_KINDS[schedule.kind]
    if kind == "step":
        config = ScheduleConfig(kind, schedule.milestones, schedule.factor, unit=unit)
    else:
        config = ScheduleConfig(kind)
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
