"""Irregularly sampled series in a batch: checked tensors, the union time grid, forecast RMSE.

A batch of B series holds per-series times ``(B, N)`` (or ``(N,)`` shared by all), values
``(B, N, D)`` and a mask ``(B, N)`` (True for an observed point) or ``(B, N, D)`` (True for an
observed value: a point may miss some of its channels); padding and missing values may hold any
value, NaN included, and reach the models as 0. Series with different times are solved
together on the sorted union of their times (Rubanova et al. 2019): :func:`union_grid` builds
it and :func:`gather_at` reads each series' own points back from a solution on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .inputs import as_mask, as_tensor, check_scored, check_shape


def series_times(times: Any, batch: int, like: Tensor, name: str) -> Tensor:
    """Times ``(N,)`` shared by the batch or ``(B, N)`` per series, returned as ``(B, N)``.
    Arrays are converted and checked (:func:`odedsl.models.inputs.as_tensor`); a tensor is
    only converted to ``like``'s dtype and device (its caller checks it against its mask)."""
    times = as_tensor(times, like, name, masked=isinstance(times, Tensor))
    if times.ndim == 1:
        return times.expand(batch, -1)
    if times.ndim != 2 or times.shape[0] != batch:
        raise ValueError(
            f"{name} must have shape (N,) (shared) or ({batch}, N) (per series), "
            f"got {tuple(times.shape)}"
        )
    return times


@dataclass(frozen=True)
class Observations:
    """Checked observations: ``times`` (B, N), ``values`` (B, N, D), ``mask`` (B, N) bool
    (a point with at least one observed value) and, when some points miss some of their
    channels, ``cells`` (B, N, D) bool (True for an observed value; values where it is False
    are 0)."""

    times: Tensor
    values: Tensor
    mask: Tensor
    cells: Tensor | None = None

    @property
    def cell_mask(self) -> Tensor:
        """(B, N, D): True for each observed value."""
        if self.cells is not None:
            return self.cells
        return self.mask[..., None].expand(self.values.shape)

    def masked_to(self, keep: Tensor) -> Observations:
        """The same series with only the points where ``keep`` (B, N) is True observed."""
        cells = None if self.cells is None else self.cells & keep[..., None]
        return Observations(self.times, self.values, self.mask & keep, cells)

    @classmethod
    def of(
        cls,
        times: Any,
        values: Any,
        mask: Any,
        like: Tensor,
        names: tuple[str, str, str] = ("t_obs", "x_obs", "mask"),
    ) -> Observations:
        values = as_tensor(values, like, names[1], masked=True)
        check_shape(values, ("B", "N", "D"), names[1])
        batch, points, _ = values.shape
        times = series_times(as_tensor(times, like, names[0], masked=True), batch, like, names[0])
        if times.shape[1] != points:
            raise ValueError(
                f"{names[0]} has {times.shape[1]} times per series but {names[1]} has "
                f"{points} points; they must match"
            )
        if mask is not None and torch.as_tensor(mask).ndim == 3:
            cells = as_mask(mask, tuple(values.shape), values.device, names[2])
            points_mask = cells.any(-1)
            times = check_scored(times, points_mask, names[0])
            values = check_scored(values, cells, names[1])
            values = torch.where(cells, values, torch.zeros_like(values))  # missing: read as 0
            return cls(times, values, points_mask, cells)
        mask = as_mask(mask, (batch, points), values.device, names[2])
        times = check_scored(times, mask, names[0])
        return cls(times, check_scored(values, mask, names[1]), mask)

    @property
    def batch(self) -> int:
        return self.values.shape[0]

    def reversed(self) -> Observations:
        """The series read backwards in time (for a recognition network)."""
        cells = None if self.cells is None else self.cells.flip(1)
        return Observations(self.times.flip(1), self.values.flip(1), self.mask.flip(1), cells)


@dataclass(frozen=True)
class UnionGrid:
    """``times`` (G,): strictly increasing, starting at t0; ``index[q]`` (B, n_q): where the
    q-th query's times sit in ``times`` (masked entries point at t0)."""

    times: Tensor
    index: tuple[Tensor, ...]


def union_grid(
    t0: float, queries: Sequence[tuple[Tensor, Tensor | None, str]], like: Tensor
) -> UnionGrid:
    """The sorted union of ``t0`` and every query's unmasked times.

    Each query is ``(times (B, n), mask (B, n) or None, name)``; a time before ``t0`` is an
    error naming the query. Exact duplicates (series sampled on a common grid) merge into one
    grid point, so the solve's output grid is as small as the data allow.
    """
    flats = [torch.full((1,), t0, dtype=like.dtype, device=like.device)]
    for times, mask, name in queries:
        times = times.detach()
        if mask is not None:
            times = torch.where(mask, times, torch.full_like(times, t0))
        if times.numel() and float(times.min()) < t0:
            raise ValueError(
                f"{name} holds a time {float(times.min()):.6g} before the latent state's start "
                f"time t0 = {t0:g}; times must be ≥ t0"
            )
        flats.append(times.reshape(-1))
    grid, inverse = torch.unique(torch.cat(flats), sorted=True, return_inverse=True)
    index, start = [], 1
    for times, _, _ in queries:
        index.append(inverse[start : start + times.numel()].reshape(times.shape))
        start += times.numel()
    return UnionGrid(grid, tuple(index))


def gather_at(path: Tensor, index: Tensor) -> Tensor:
    """Each series' own points of a solution on a union grid.

    ``path`` (G, K·B, C) holds K sample-major copies of the batch (row ``k·B + b``);
    ``index`` (B, n) gives the grid points of series b. Returns (K, B, n, C).
    """
    rows, channels = path.shape[1:]
    batch, points = index.shape
    samples = rows // batch
    per_row = index.repeat(samples, 1)[..., None].expand(-1, -1, channels)
    return torch.gather(path.transpose(0, 1), 1, per_row).reshape(samples, batch, points, channels)


Predictor = Callable[..., Tensor]


def forecast_rmse(predict: Predictor, data: Mapping[str, Any], like: Tensor) -> float:
    """RMSE of ``predict(ts, x, ts_future, mask=mask)`` against the noiseless ``x_future``.

    The square root of the mean squared error over series, future points and dimensions
    (each point of each series weighs the same), as in the paper's Table 2.
    """
    missing = [key for key in ("ts", "x", "ts_future", "x_future") if key not in data]
    if missing:
        raise ValueError(
            f"evaluation data needs the keys ts, x, ts_future, x_future (a test split); "
            f"missing: {', '.join(missing)}"
        )
    truth = as_tensor(data["x_future"], like, "x_future")
    prediction = predict(data["ts"], data["x"], data["ts_future"], mask=data.get("mask"))
    if prediction.shape != truth.shape:
        raise ValueError(
            f"x_future has shape {tuple(truth.shape)} but the prediction has "
            f"{tuple(prediction.shape)}"
        )
    return float((prediction - truth).pow(2).mean().sqrt())
