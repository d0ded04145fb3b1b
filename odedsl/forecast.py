"""Forecasts of a trained latent or trajectory model on new series: what ``odedsl predict``
does, callable from Python as :func:`forecast` and :func:`write_forecast`.

The input file is read by odedsl's own data readers, in the form the run's spec declares:

- a spec reading ``CSV(time = "t", series = "id", columns = ...)`` reads the input with the
  same ``time``, ``series`` and ``columns`` (one trajectory without ``series``);
- a spec reading ``NPZ(ts = ..., x = ...)`` reads those arrays (``ts`` (N,) with ``x`` (N, D):
  one trajectory; ``ts`` (B, N) with ``x`` (B, N, D): B series, NaN-padded);
- a spec of a built-in data set (``Spirals2D``...) reads a CSV with a time column ``t``, an
  optional series column ``series`` (or ``id``) and one column per channel, or an NPZ of
  ``ts`` and ``x``.

Each series is forecast on its own by the model's ``predict(ts_obs, x_obs, ts_new, mask)``;
a trajectory model whose start reads no data (a learned initial state) forecasts one curve,
``predict(ts_new)``, and takes no input. The spread is the observation distribution's standard
deviation where the model has one: a latent model's Gaussian noise σ, a trajectory model's
family's (``Normal``'s ``std``, ``√2·scale`` of a ``Laplace``, ``√rate`` of a ``Poisson``...).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from odedsl.data import DataError
from odedsl.data.csv_file import Series, csv_series, csv_trajectory, read_table
from odedsl.data.npz_file import npz_series
from odedsl.models.latent import LatentODE
from odedsl.models.observed import ObservedODE
from odedsl.training import RunError

DEFAULT_TIME = "t"
DEFAULT_SERIES = ("series", "id")
OUTPUTS = (".csv", ".npz")


@dataclass(frozen=True)
class Forecast:
    """``mean`` (B, M, D) at ``times`` (M,) of each of the ``series`` (B,) named by id, the
    observation's standard deviation ``std`` (B, M, D) or None, and the channels' names (D)."""

    times: np.ndarray
    series: list[str]
    mean: np.ndarray
    std: np.ndarray | None
    channels: list[str]


def forecast(run: str | Path, times: Sequence[float], input: str | Path | None = None) -> Forecast:
    """The forecasts of the trained model of ``run`` at ``times`` for each series of the file
    ``input`` (see the module docstring); ``RunError`` for a run of another kind,
    ``DataError`` for an input that does not fit."""
    from odedsl import workflow

    model = workflow.load(run)
    _check_kind(model, run)
    ts_new = _times(times, model.t0)
    if isinstance(model, ObservedODE) and not model.initial_reads:
        if input is not None:
            raise DataError(
                f"--input {input}: this model starts from a learned state, not from each "
                "series' data, so its forecast reads no input; drop --input"
            )
        return _one_curve(model, ts_new)
    if input is None:
        raise DataError(
            "this model starts from each series' observations: give them with --input FILE "
            "(a CSV or NPZ in the form of the spec's data)"
        )
    path = Path(input)
    if not path.is_file():
        raise DataError(f"--input {path}: no such file")
    try:
        series, channels = read_series(path, model.spec.data)
    except DataError as error:
        raise DataError(f"{error}; {run} forecasts {expected_input(model.spec.data)}") from None
    means, spreads = [], []
    for one in series:
        try:
            mean, std = _predict(model, one, ts_new)
        except ValueError as error:
            where = f"series {one.id!r} of {path}" if one.id else str(path)
            raise DataError(f"{where}: {error}") from None
        means.append(mean)
        spreads.append(std)
    std = None if spreads[0] is None else np.stack(spreads)
    names = channels if len(channels) == means[0].shape[-1] else _names(means[0].shape[-1])
    return Forecast(ts_new, [s.id for s in series], np.stack(means), std, names)


def _check_kind(model: Any, run: str | Path) -> None:
    """Refuse a model that forecasts no series, naming the command that fits it."""
    if isinstance(model, LatentODE):
        return
    if isinstance(model, ObservedODE):
        if model.kind == "trajectory":
            return
        raise RunError(
            f"{run}: a supervised model (classifier or regression) predicts responses from "
            "inputs, not series: use odedsl.load(RUN).predict(x) in Python, or `odedsl eval "
            "RUN` for its test scores"
        )
    raise RunError(
        f"{run}: a {model.spec.kind} model has no series to forecast; `odedsl sample RUN -n N "
        "-o FILE.npy` draws from a flow"
    )


def _times(times: Sequence[float], t0: float) -> np.ndarray:
    ts = np.asarray(times, dtype=np.float64).reshape(-1)
    if ts.size == 0:
        raise DataError("--times: give at least one time")
    if not np.isfinite(ts).all():
        raise DataError("--times: every time must be a finite number")
    if ts.min() < t0:
        raise DataError(f"--times: {ts.min():g} is before the model's start t0 = {t0:g}")
    return ts


def read_series(path: Path, source: Any) -> tuple[list[Series], list[str]]:
    """The series of the file ``path`` in the form of the spec's data ``source`` (the module
    docstring), and the names of their channels (empty when the file does not name them)."""
    args = dict(source.args) if source is not None else {}
    if path.suffix.lower() == ".npz":
        declared = source is not None and source.dataset == "NPZ" and args.get("ts")
        ts = args["ts"] if declared else "ts"
        x = (args.get("x") or args.get("key") or "x") if declared else "x"
        found = npz_series(path, ts=ts, x=x)
        return (found if isinstance(found, list) else [found]), []
    declared = source is not None and source.dataset == "CSV" and args.get("time")
    time = args["time"] if declared else DEFAULT_TIME
    columns, header = (args.get("columns"), args.get("header")) if declared else (None, None)
    table = read_table(path, header=header)
    series = args.get("series") if declared else None
    if not declared:
        series = next((name for name in DEFAULT_SERIES if name in table.columns), None)
    if series is None:
        found = [csv_trajectory(path, time=time, columns=columns, header=header)]
    else:
        found = csv_series(path, time=time, series=series, columns=columns, header=header)
    named = list(columns) if columns else [c for c in table.columns if c not in (time, series)]
    return found, named if table.header else []


def expected_input(source: Any) -> str:
    """What the input of a run whose spec reads ``source`` must hold, in words."""
    args = dict(source.args) if source is not None else {}
    if source is not None and source.dataset == "NPZ" and args.get("ts"):
        x = args.get("x") or args.get("key") or "x"
        return f"NPZ arrays {args['ts']!r} (N,) or (B, N) and {x!r} (N, D) or (B, N, D)"
    if source is not None and source.dataset == "CSV" and args.get("time"):
        columns = ", ".join(repr(c) for c in args.get("columns") or ()) or "one per channel"
        series = f", series column {args['series']!r}" if args.get("series") else ""
        return f"CSV series: time column {args['time']!r}{series}, value columns {columns}"
    return (
        f"CSV series: time column {DEFAULT_TIME!r}, optional series column "
        f"{DEFAULT_SERIES[0]!r} or {DEFAULT_SERIES[1]!r}, a column per channel (or NPZ arrays "
        "'ts' and 'x')"
    )


def _predict(model: Any, one: Series, ts_new: np.ndarray) -> tuple[np.ndarray, Any]:
    """The mean (M, D) and standard deviation (M, D) or None of one series' forecast."""
    like = torch.float64
    ts_obs, ts = torch.as_tensor(one.ts, dtype=like), torch.as_tensor(ts_new, dtype=like)
    x_obs, mask = torch.as_tensor(one.x, dtype=like), torch.as_tensor(one.mask)
    if isinstance(model, LatentODE):
        with torch.no_grad():
            mean = model.predict(ts_obs, x_obs, ts, mask=mask)
        std = model.noise_std.expand_as(mean) if model.likelihood is None else None
    else:
        observation = next(o for o in model.observations if o.series)
        shape = (len(one.ts), *observation.event_shape)
        if int(np.prod(shape)) != one.x.size:
            expected = "x" if not observation.event_shape else f"{observation.event_shape}"
            raise ValueError(
                f"{one.x.shape[1]} channel(s) per time, and the model observes {expected} "
                f"({int(np.prod(observation.event_shape))} value(s)); give that many columns"
            )
        x_obs, mask = x_obs.reshape(shape), mask.reshape(shape)
        mean = model.predict(ts_obs, x_obs, ts, mask=mask)
        std = model.predict_std(ts_obs, x_obs, ts, mask=mask)
    width = (len(ts_new), -1)
    mean = mean.cpu().numpy().reshape(width)
    return mean, None if std is None else std.cpu().numpy().reshape(width)


def _one_curve(model: ObservedODE, ts_new: np.ndarray) -> Forecast:
    ts = torch.as_tensor(ts_new, dtype=torch.float64)
    mean = model.predict(ts).cpu().numpy().reshape(len(ts_new), -1)
    std = model.predict_std(ts)
    spread = None if std is None else std.cpu().numpy().reshape(len(ts_new), -1)[None]
    return Forecast(ts_new, ["model"], mean[None], spread, _names(mean.shape[-1]))


def _names(count: int) -> list[str]:
    return [f"x{d + 1}" for d in range(count)]


def write_forecast(result: Forecast, out: str | Path) -> Path:
    """Write ``result`` to ``out``: a ``.csv`` of one row per series and time (``series``,
    ``t``, a column per channel's mean, then ``<channel>_std``), or an ``.npz`` of ``ts``
    (M,), ``mean`` (B, M, D), ``std`` (B, M, D) when there is a spread, ``series`` (B,) and
    ``channels`` (D,)."""
    path = Path(out)
    if path.suffix.lower() not in OUTPUTS:
        raise DataError(f"-o {path}: the output is a .csv or an .npz file")
    if path.suffix.lower() == ".npz":
        arrays = {"ts": result.times, "mean": result.mean, "series": np.array(result.series)}
        if result.std is not None:
            arrays["std"] = result.std
        np.savez(path, channels=np.array(result.channels), **arrays)
        return path
    header = ["series", "t", *result.channels]
    if result.std is not None:
        header += [f"{name}_std" for name in result.channels]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for b, name in enumerate(result.series):
            for m, t in enumerate(result.times):
                values = list(result.mean[b, m])
                if result.std is not None:
                    values += list(result.std[b, m])
                writer.writerow([name, repr(float(t)), *(repr(float(v)) for v in values)])
    return path
