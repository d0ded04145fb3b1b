"""Pictures of a latent ODE: observed points, reconstruction and extrapolation with posterior
bands, and a latent interpolation between two series (the paper's figure of a clockwise and a
counter-clockwise spiral)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from odedsl.models.latent import LatentODE
from odedsl.models.series import Observations

from .figure import pyplot, save

SERIES = 4
SAMPLES = 30
STEPS = 7
POINTS = 200
DIRECTION = "direction"  # Spirals2D: 0 clockwise, 1 counter-clockwise
MAX_CHANNELS = 4  # series of more channels than this are drawn by their first alone


def _numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _horizon(data: Mapping[str, Any]) -> float:
    """The end of the pictures' time axis: the scored future's end, else twice the last time."""
    if "ts_future" in data:
        return float(_numpy(data["ts_future"]).max())
    return 2.0 * float(_numpy(data["ts"]).max())


def _series(data: Mapping[str, Any], rows: list[int]) -> tuple[torch.Tensor, ...]:
    ts = torch.as_tensor(data["ts"])
    ts = ts[rows] if ts.ndim == 2 else ts.expand(len(rows), -1)
    mask = data.get("mask")
    return ts, torch.as_tensor(data["x"])[rows], None if mask is None else mask[rows]


def plot_latent(model: LatentODE, data: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write ``extrapolation.png`` and ``interpolation.png`` into ``out_dir`` for the series
    of ``data`` (keys ``ts``, ``x``, optionally ``mask``, ``ts_future``/``x_future`` drawn as
    the truth and ``direction`` choosing the two interpolated series)."""
    out_dir = Path(out_dir)
    return [_extrapolation(model, data, out_dir), _interpolation(model, data, out_dir)]


def _extrapolation(model: LatentODE, data: Mapping[str, Any], out_dir: Path) -> Path:
    """Observed points, the posterior-mean path, and the band of ``SAMPLES`` posterior draws
    (2-D series in the plane, others against time), for the first ``SERIES`` series."""
    plt = pyplot()
    rows = list(range(min(SERIES, len(data["x"]))))
    ts, x, mask = _series(data, rows)
    like = model.log_noise
    grid = torch.linspace(model.t0, _horizon(data), POINTS, dtype=like.dtype)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        mean = model.predict(ts.to(like), x.to(like), grid, mask=mask)
        draws = model.predict(ts.to(like), x.to(like), grid, SAMPLES, mask, generator)
    mean, draws, grid = _numpy(mean), _numpy(draws), _numpy(grid)
    observed_t, observed_x = _numpy(ts), _numpy(x)
    plane = observed_x.shape[-1] == 2
    figure, axes = plt.subplots(
        1, len(rows), figsize=(4.2 * len(rows), 4.2), squeeze=False, layout="constrained"
    )
    for row, axis in zip(rows, axes[0], strict=True):
        keep = _observed(mask, row, observed_x.shape[1:])
        if plane:
            keep = keep.all(-1)  # points with both coordinates
            for draw in draws[:, row]:
                axis.plot(draw[:, 0], draw[:, 1], color="tab:blue", alpha=0.08, lw=1)
            axis.plot(mean[row, :, 0], mean[row, :, 1], color="tab:blue", label="posterior mean")
            if "x_future" in data:
                future = _numpy(data["x_future"])[row]
                axis.plot(future[:, 0], future[:, 1], "k--", lw=1, label="true future")
            axis.scatter(*observed_x[row][keep].T, s=8, color="tab:red", label="observed")
            axis.set(aspect="equal", xlabel="x₁", ylabel="x₂")
        else:
            channels = observed_x.shape[-1] if observed_x.shape[-1] <= MAX_CHANNELS else 1
            for d in range(channels):
                colour, name = f"C{d}", f"x{d + 1}"
                low, high = np.quantile(draws[:, row, :, d], [0.05, 0.95], axis=0)
                band = "90% posterior band" if d == 0 else None
                axis.fill_between(grid, low, high, color=colour, alpha=0.2, label=band)
                axis.plot(grid, mean[row, :, d], color=colour, label=f"{name}: posterior mean")
                if "x_future" in data:
                    future_t = _numpy(data["ts_future"])
                    future = _numpy(data["x_future"])[row, :, d]
                    axis.plot(future_t, future, "k--", label="true" if d == 0 else None)
                seen = keep[:, d]
                axis.scatter(observed_t[row][seen], observed_x[row][seen][:, d], s=8, color=colour)
            last = float(observed_t[row][keep.any(-1)].max())
            axis.axvline(last, color="grey", lw=0.5)
            axis.set(xlabel="time t", ylabel="value of x" if channels > 1 else "x₁")
        axis.set_title(f"series {row}")
    axes[0, 0].legend(loc="best", fontsize=7)
    figure.suptitle("reconstruction and extrapolation (posterior mean and samples)")
    return save(figure, out_dir / "extrapolation.png")


def _observed(mask: Any, row: int, shape: tuple[int, ...]) -> np.ndarray:
    """Which values of series ``row`` are observed, (N, D): all without a mask, the points'
    mask (B, N) spread over the channels, or a mask of values (B, N, D) as it is."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    keep = _numpy(mask[row]).astype(bool)
    return keep if keep.ndim == 2 else np.broadcast_to(keep[:, None], shape)


def _pair(data: Mapping[str, Any]) -> list[int]:
    """A clockwise and a counter-clockwise series when ``data`` names directions, else the
    first two series."""
    if DIRECTION in data:
        direction = _numpy(data[DIRECTION])
        first = [int(np.flatnonzero(direction == d)[0]) for d in (0, 1) if (direction == d).any()]
        if len(first) == 2:
            return first
    return [0, 1]


def _interpolation(model: LatentODE, data: Mapping[str, Any], out_dir: Path) -> Path:
    """Decoded paths from ``z0 = (1 − α) μ_a + α μ_b`` for ``STEPS`` values of α in [0, 1],
    with ``μ`` the posterior means of two series (the paper's latent interpolation)."""
    plt = pyplot()
    rows = _pair(data)
    ts, x, mask = _series(data, rows)
    like = model.log_noise
    grid = torch.linspace(model.t0, _horizon(data), POINTS, dtype=like.dtype)
    alpha = torch.linspace(0.0, 1.0, STEPS, dtype=like.dtype)[:, None]
    with torch.no_grad():
        mean, _ = model.encode(Observations.of(ts, x, mask, like))
        z0 = (1 - alpha) * mean[0] + alpha * mean[1]
        paths = _numpy(model.decode(z0[None], grid)[0])
    colours = plt.get_cmap("coolwarm")(np.linspace(0, 1, STEPS))
    figure, axis = plt.subplots(figsize=(5.5, 5), layout="constrained")
    plane = paths.shape[-1] == 2
    for path, colour, a in zip(paths, colours, _numpy(alpha[:, 0]), strict=True):
        if plane:
            axis.plot(path[:, 0], path[:, 1], color=colour, label=f"α = {a:.2f}")
        else:
            axis.plot(_numpy(grid), path[:, 0], color=colour, label=f"α = {a:.2f}")
    axis.set(xlabel="x₁" if plane else "time t", ylabel="x₂" if plane else "x₁")
    axis.legend(loc="best", fontsize=7)
    axis.set_title(f"latent interpolation from series {rows[0]} (α = 0) to {rows[1]} (α = 1)")
    return save(figure, out_dir / "interpolation.png")
