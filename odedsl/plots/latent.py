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
    figure, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 4), squeeze=False)
    for row, axis in zip(rows, axes[0], strict=True):
        keep = slice(None) if mask is None else _numpy(mask[row]).astype(bool)
        if plane:
            for draw in draws[:, row]:
                axis.plot(draw[:, 0], draw[:, 1], color="tab:blue", alpha=0.08, lw=1)
            axis.plot(mean[row, :, 0], mean[row, :, 1], color="tab:blue", label="posterior mean")
            if "x_future" in data:
                future = _numpy(data["x_future"])[row]
                axis.plot(future[:, 0], future[:, 1], "k--", lw=1, label="true future")
            axis.scatter(*observed_x[row][keep].T, s=8, color="tab:red", label="observed")
            axis.set(aspect="equal", xlabel="x₁", ylabel="x₂")
        else:
            low, high = np.quantile(draws[:, row, :, 0], [0.05, 0.95], axis=0)
            axis.fill_between(grid, low, high, alpha=0.3, label="90% posterior band")
            axis.plot(grid, mean[row, :, 0], label="posterior mean")
            if "x_future" in data:
                future_t = _numpy(data["ts_future"])
                axis.plot(future_t, _numpy(data["x_future"])[row, :, 0], "k--", label="true")
            keep_t = observed_t[row][keep]
            axis.scatter(keep_t, observed_x[row][keep][:, 0], s=8, color="tab:red")
            axis.axvline(float(keep_t.max()), color="grey", lw=0.5)
            axis.set(xlabel="t", ylabel="x₁")
        axis.set_title(f"series {row}")
    axes[0, 0].legend(loc="best", fontsize=7)
    figure.suptitle("reconstruction and extrapolation (posterior mean and samples)")
    return save(figure, out_dir / "extrapolation.png")


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
    figure, axis = plt.subplots(figsize=(5, 5))
    for path, colour, a in zip(paths, colours, _numpy(alpha[:, 0]), strict=True):
        if path.shape[-1] == 2:
            axis.plot(path[:, 0], path[:, 1], color=colour, label=f"α = {a:.2f}")
        else:
            axis.plot(_numpy(grid), path[:, 0], color=colour, label=f"α = {a:.2f}")
    axis.legend(loc="best", fontsize=7)
    axis.set_title(f"latent interpolation from series {rows[0]} (α = 0) to {rows[1]} (α = 1)")
    return save(figure, out_dir / "interpolation.png")
