"""The user-file data sets ``CSV`` and ``NPZ``: which form a call reads, and its splits.

Forms, by the arguments given:

| form | CSV | NPZ | keys |
|---|---|---|---|
| rows ``x`` | ``path`` (``columns``) | ``path``, ``x`` (or ``key``) | ``x`` (n, ...) |
| labelled ``(x, y)`` | ``label = "col"`` | ``y = "array"`` | ``x``, ``y`` (n,) |
| one trajectory | ``time = "col"`` | ``ts = "array"``, 1-D | ``ts``, ``x``, ``mask`` (1, N, D) |
| many series | ``time``, ``series = "id"`` | ``ts``, 2-D | ``ts``, ``x``, ``mask`` (B, L, D) |

Splits (``odedsl.data.splits``): either one file ``path`` split by ``fractions`` (default
0.7 / 0.15 / 0.15) with the seeded permutation of ``seed``, of rows or of whole series; a
single trajectory by its points (``holdout``: ``"last"`` or ``"random"``); or explicit files
``train``, ``validation`` (optional) and ``test``, each read whole as its split. Many series
are padded to the longest series of the split: a padded point repeats the series' last time
and has mask False, as has a missing value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from odedsl.data.csv_file import Series, csv_rows, csv_series, csv_trajectory
from odedsl.data.errors import DataError
from odedsl.data.npz_file import npz_rows, npz_series
from odedsl.data.splits import (
    check_fractions,
    split_index,
    trajectory_parts,
    trajectory_view,
)

Arrays = dict[str, np.ndarray]
FILE_ARGUMENTS = ("path", "train", "validation", "test")


def pad_series(series: list[Series]) -> Arrays:
    """Series of different lengths as padded arrays (module doc), with ``time_mask`` (B, L)
    True at real points, ``lengths`` (B,) and ``series_ids`` (B,)."""
    if not series:
        raise DataError("no series to pad")
    length = max(len(s.ts) for s in series)
    dim = series[0].x.shape[1]
    ts = np.zeros((len(series), length))
    x = np.zeros((len(series), length, dim))
    mask = np.zeros((len(series), length, dim), dtype=bool)
    time_mask = np.zeros((len(series), length), dtype=bool)
    for b, s in enumerate(series):
        k = len(s.ts)
        ts[b, :k], ts[b, k:] = s.ts, s.ts[-1]
        x[b, :k], mask[b, :k], time_mask[b, :k] = s.x, s.mask, True
    return {
        "ts": ts,
        "x": x,
        "mask": mask,
        "time_mask": time_mask,
        "lengths": time_mask.sum(axis=1).astype(np.int64),
        "series_ids": np.array([s.id for s in series], dtype=str),
    }


def file_for(split: str, kwargs: dict[str, Any], name: str) -> tuple[Path, bool]:
    """The file that holds ``split`` and whether it is an explicit file of that split."""
    explicit = {k: kwargs.get(k) for k in ("train", "validation", "test") if kwargs.get(k)}
    if explicit and kwargs.get("path"):
        raise DataError(
            f"{name}() takes either `path` (one file, split by `split`) or `train`, "
            "`validation`, `test` (a file per split), not both"
        )
    if not explicit:
        if not kwargs.get("path"):
            raise DataError(f'{name}() needs `path`: write {name}(path = "file")')
        return Path(kwargs["path"]), False
    for needed in ("train", "test"):
        if needed not in explicit:
            raise DataError(
                f"{name}() with a file per split needs `{needed}` as well (and optionally "
                "`validation`)"
            )
    if split not in explicit:
        raise DataError(
            f"{name}() has no validation file: add `validation = ...`, or split one file "
            "with `path` and `split`"
        )
    return Path(explicit[split]), True


def files_of(kwargs: dict[str, Any]) -> list[Path]:
    """Every file a CSV/NPZ call names, in the order path, train, validation, test."""
    return [Path(kwargs[k]) for k in FILE_ARGUMENTS if kwargs.get(k)]


def _rows(data: Arrays, split: str, explicit: bool, fractions, seed: int, what: str) -> Arrays:
    if explicit:
        return data
    index = split_index(len(data["x"]), fractions, seed, split, what)
    return {key: value[index] for key, value in data.items()}


def _trajectory(one: Series, split: str, explicit: bool, fractions, holdout, seed) -> Arrays:
    if explicit:
        return {"ts": one.ts[None], "x": one.x[None], "mask": one.mask[None]}
    parts = trajectory_parts(len(one.ts), fractions, holdout, seed)
    return trajectory_view(one.ts, one.x, one.mask, parts, split)


def _many(series: list[Series], split: str, explicit: bool, fractions, seed: int) -> Arrays:
    if not explicit:
        index = split_index(len(series), fractions, seed, split, "series")
        series = [series[i] for i in index]
    padded = pad_series(series)
    return {k: padded[k] for k in ("ts", "x", "mask", "lengths", "series_ids")}


def _first(data: Arrays, n: int | None) -> Arrays:
    return data if n is None else {key: value[:n] for key, value in data.items()}


def csv_source(
    *,
    split: str,
    n: int | None,
    seed: int,
    columns: tuple[str, ...] | None = None,
    header: bool | None = None,
    label: str | None = None,
    time: str | None = None,
    series: str | None = None,
    fractions: tuple[float, float, float] | None = None,
    holdout: str = "last",
    labels: str | None = None,
    **files: Any,
) -> Arrays:
    """The ``split`` of a CSV call (module doc)."""
    path, explicit = file_for(split, files, "CSV")
    fractions = check_fractions(fractions)
    columns = list(columns) if columns is not None else None
    if label is not None and time is not None:
        raise DataError("CSV() takes `label` (examples with labels) or `time` (series), not both")
    if series is not None and time is None:
        raise DataError('CSV(series = ...) needs `time = "column"` as well')
    if time is None:
        data = csv_rows(path, columns=columns, label=label, header=header, labels=labels)
        return _first(_rows(data, split, explicit, fractions, seed, "rows"), n)
    if series is None:
        one = csv_trajectory(path, time=time, columns=columns, header=header)
        return _trajectory(one, split, explicit, fractions, holdout, seed)
    many = csv_series(path, time=time, series=series, columns=columns, header=header)
    return _first(_many(many, split, explicit, fractions, seed), n)


def npz_source(
    *,
    split: str,
    n: int | None,
    seed: int,
    key: str | None = None,
    x: str | None = None,
    y: str | None = None,
    ts: str | None = None,
    fractions: tuple[float, float, float] | None = None,
    holdout: str = "last",
    labels: str | None = None,
    **files: Any,
) -> Arrays:
    """The ``split`` of an NPZ call (module doc)."""
    path, explicit = file_for(split, files, "NPZ")
    fractions = check_fractions(fractions)
    if key is not None and x is not None:
        raise DataError("NPZ() takes `key` or `x` (the same thing: the array of x), not both")
    x = x or key or "x"
    if y is not None and ts is not None:
        raise DataError("NPZ() takes `y` (labels) or `ts` (times of series), not both")
    if ts is None:
        data = npz_rows(path, x=x, y=y, labels=labels)
        return _first(_rows(data, split, explicit, fractions, seed, "rows"), n)
    found = npz_series(path, ts=ts, x=x)
    if isinstance(found, Series):
        return _trajectory(found, split, explicit, fractions, holdout, seed)
    return _first(_many(found, split, explicit, fractions, seed), n)
