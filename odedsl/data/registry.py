"""The data-set registry: ``DATASETS``, ``load`` and ``sample`` (the runtime's entry points)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from odedsl.data import toy2d
from odedsl.data.arguments import check_int, check_split, suggestion
from odedsl.data.digits import digits
from odedsl.data.errors import DataError
from odedsl.data.events import event_series
from odedsl.data.files import csv_source, npz_source
from odedsl.data.mnist import mnist
from odedsl.data.periodic import periodic1d
from odedsl.data.rng import rng_for
from odedsl.data.spirals import spirals2d

REQUIRED = object()
"""Marks a keyword argument without a default (a file path or folder)."""

TOY_DEFAULT_N = 10_000
COMMON = ("split", "n", "seed")

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class DatasetSpec:
    """One named data set: its keyword arguments, what it returns and how to build it.

    ``build(split=, n=, seed=, **params)`` returns the arrays; ``sampler(n, rng, **params)`` is
    set for the 2-D toy densities, which the runtime streams a fresh batch from every step.
    ``default_n`` is used when ``load`` gets ``n=None`` (None: everything available).
    """

    name: str
    kind: Literal["density2d", "series", "images", "file"]
    params: Mapping[str, Any]
    keys: str
    build: Callable[..., Arrays]
    default_n: int | None = None
    sampler: Callable[..., np.ndarray] | None = None

    @property
    def arguments(self) -> tuple[str, ...]:
        """Every keyword argument the data set accepts: its own, then split, n and seed."""
        return (*self.params, *COMMON)

    def resolve(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The data set's keyword arguments: defaults filled in, unknown or missing ones refused."""
        for name in kwargs:
            if name not in self.params:
                hint = suggestion(name, self.arguments)
                valid = ", ".join(self.arguments)
                raise DataError(
                    f"{self.name}() has no argument `{name}`{hint}; valid arguments: {valid}"
                )
        resolved = {**self.params, **kwargs}
        for name, value in resolved.items():
            if value is REQUIRED:
                raise DataError(f"{self.name}() needs `{name}`: write {self.name}({name} = ...)")
        return resolved


def _density(name: str, sampler: Callable[..., np.ndarray], **params: Any) -> DatasetSpec:
    def build(*, split: str, n: int, seed: int, **kwargs: Any) -> Arrays:
        return {"x": sampler(n, rng_for(seed, split), **kwargs)}

    return DatasetSpec(
        name=name,
        kind="density2d",
        params=params,
        keys="x: (n, 2) float64",
        build=build,
        default_n=TOY_DEFAULT_N,
        sampler=sampler,
    )


def _unseeded(loader: Callable[..., Arrays]) -> Callable[..., Arrays]:
    """Adapt a loader whose result does not depend on the seed (a fixed split)."""

    def build(*, split: str, n: int | None, seed: int, **kwargs: Any) -> Arrays:
        return loader(split=split, n=n, **kwargs)

    return build


_FILE_PARAMS = {
    "path": None,
    "train": None,
    "validation": None,
    "test": None,
    "fractions": None,
    "holdout": "last",
    "labels": None,
}
_FILE_KEYS = (
    "x: (n, ...) float64, with `label`/`y` also y: (n,); series (`time`/`ts`): ts (B, N), "
    "x (B, N, D), mask (B, N, D) bool (see odedsl.data.files)"
)
_SERIES_KEYS = (
    "ts: (n, observed); x: (n, observed, D); validation and test splits add ts_future, x_future"
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        _density("Moons", toy2d.moons, noise=0.05),
        _density("Circles", toy2d.circles, noise=0.08),
        _density("EightGaussians", toy2d.eight_gaussians, noise=0.5),
        _density("Pinwheel", toy2d.pinwheel, noise=0.3),
        _density("Checkerboard", toy2d.checkerboard),
        _density("Rings", toy2d.rings, noise=0.08),
        _density("SwissRoll", toy2d.swiss_roll, noise=1.0),
        _density("TwoSpirals", toy2d.two_spirals, noise=0.1),
        DatasetSpec(
            "Spirals2D",
            "series",
            {"observed": 30, "noise": 0.3},
            f"{_SERIES_KEYS} (D = 2, future (100,), (n, 100, 2)); direction, start: (n,) int64",
            spirals2d,
            default_n=1000,
        ),
        DatasetSpec(
            "Periodic1D",
            "series",
            {"observed": 30, "noise": 0.1},
            f"{_SERIES_KEYS} (D = 1, future (100,), (n, 100, 1)); frequency, phase: (n,)",
            periodic1d,
            default_n=1000,
        ),
        DatasetSpec(
            "EventSeries",
            "series",
            {"observed": 30, "noise": 0.1},
            "ts: (n, observed); x: (n, observed, 2); events, events_mask: (n, E); "
            "event_counts: (n,) int64; z0: (n, 2)",
            event_series,
            default_n=500,
        ),
        DatasetSpec(
            "Digits",
            "images",
            {},
            "x: (n, 1, 8, 8) float64 in [0, 1]; y: (n,) int64 (1347 train, 450 test)",
            _unseeded(digits),
        ),
        DatasetSpec(
            "MNIST",
            "images",
            {"root": REQUIRED},
            "x: (n, 1, 28, 28) float64 in [0, 1]; y: (n,) int64",
            _unseeded(mnist),
        ),
        DatasetSpec(
            "NPZ",
            "file",
            {**_FILE_PARAMS, "key": None, "x": None, "y": None, "ts": None},
            _FILE_KEYS,
            npz_source,
        ),
        DatasetSpec(
            "CSV",
            "file",
            {
                **_FILE_PARAMS,
                "columns": None,
                "header": None,
                "label": None,
                "time": None,
                "series": None,
            },
            _FILE_KEYS,
            csv_source,
        ),
    ]
}


def dataset(name: str) -> DatasetSpec:
    """The registry entry ``name``, or a DataError suggesting the closest name."""
    if name not in DATASETS:
        hint = suggestion(name, DATASETS)
        raise DataError(f"unknown data set {name!r}{hint}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def load(
    name: str, *, split: str = "train", n: int | None = None, seed: int = 0, **kwargs: Any
) -> Arrays:
    """Data set ``name``'s ``split`` as a dict of numpy arrays (see ``DATASETS[name].keys``).

    ``n`` is the number of examples/series (None: the data set's default, or all of a fixed
    set); ``seed`` ≥ 0 selects the random draw (train and test use independent streams, see
    ``odedsl.data.rng``). Other keyword arguments are the data set's own (``noise``,
    ``observed``, ``root``, ``path``, ``key``); unknown ones raise a DataError (a ValueError).
    """
    spec = dataset(name)
    params = spec.resolve(kwargs)
    split = check_split(split)
    seed = check_int("seed", seed, 0)
    n = spec.default_n if n is None else check_int("n", n, 1)
    data = spec.build(split=split, n=n, seed=seed, **params)
    available = len(data["x"])
    if n is not None and available < n:
        raise DataError(f"{name}: asked for n = {n}, but the {split} split has only {available}")
    return data


def sample(name: str, n: int, rng: np.random.Generator, **kwargs: Any) -> np.ndarray:
    """A fresh (n, 2) batch of 2-D toy density ``name`` from ``rng`` (e.g. ``rng_for(seed,
    "batches")``), for streaming a new batch every training step."""
    spec = dataset(name)
    if spec.sampler is None:
        streamable = ", ".join(k for k, s in DATASETS.items() if s.sampler is not None)
        raise DataError(f"{name} is not a 2-D toy density to stream from; these are: {streamable}")
    return spec.sampler(n, rng, **spec.resolve(kwargs))
