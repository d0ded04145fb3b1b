"""Pictures of a 2-D continuous normalizing flow: samples beside data, the learned density,
and the transformation from noise to data at several times (the paper's figure 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from odedsl.models.flow import ContinuousFlow

from .figure import PlotError, pyplot, save


def density_grid(
    flow: ContinuousFlow, bounds: tuple[float, float, float, float], resolution: int = 100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flow's density on a ``resolution``² grid over ``(xmin, xmax, ymin, ymax)``:
    returns ``(xs, ys, p)`` with ``p[i, j]`` the density at ``(xs[j], ys[i])``."""
    xmin, xmax, ymin, ymax = bounds
    xs = np.linspace(xmin, xmax, resolution)
    ys = np.linspace(ymin, ymax, resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    dtype = next(flow.parameters()).dtype
    with torch.no_grad():
        logp = flow.log_prob(torch.as_tensor(grid, dtype=dtype))
    return xs, ys, logp.exp().reshape(resolution, resolution).cpu().numpy()


def _bounds(points: np.ndarray, margin: float = 0.5) -> tuple[float, float, float, float]:
    low, high = points.min(0) - margin, points.max(0) + margin
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def plot_flow(
    flow: ContinuousFlow, data: np.ndarray | None, out_dir: Path, n: int = 2000
) -> list[Path]:
    """Write ``samples.png``, ``density.png`` and ``transformation.png`` into ``out_dir``.

    ``data`` (n, 2) is drawn beside the samples when given (maximum-likelihood flows).
    """
    if flow.event_shape != (2,):
        raise PlotError(f"flow pictures are for 2-D flows; this one has shape {flow.event_shape}")
    plt = pyplot()
    out_dir = Path(out_dir)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        samples = flow.sample(n, generator=generator).cpu().numpy()
    reference = data if data is not None else samples
    bounds = _bounds(reference)
    written = []

    panels = [("data", data), ("samples", samples)] if data is not None else [("samples", samples)]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for axis, (title, points) in zip(axes[0], panels, strict=True):
        axis.scatter(points[:, 0], points[:, 1], s=1, alpha=0.5)
        axis.set(title=title, xlim=bounds[:2], ylim=bounds[2:], aspect="equal")
    written.append(save(figure, out_dir / "samples.png"))

    xs, ys, density = density_grid(flow, bounds)
    figure, axis = plt.subplots(figsize=(4.5, 4))
    mesh = axis.pcolormesh(xs, ys, density, shading="auto", cmap="viridis")
    figure.colorbar(mesh, ax=axis)
    axis.set(title="learned density", aspect="equal")
    written.append(save(figure, out_dir / "density.png"))

    times = torch.linspace(flow.t0, flow.t1, 5, dtype=torch.float64)
    with torch.no_grad():
        z0 = torch.randn(n, 2, generator=generator, dtype=next(flow.parameters()).dtype)
        path = flow.trajectory(z0, times).cpu().numpy()
    figure, axes = plt.subplots(1, len(times), figsize=(3 * len(times), 3))
    for axis, time, points in zip(axes, times.tolist(), path, strict=True):
        axis.scatter(points[:, 0], points[:, 1], s=1, alpha=0.5)
        axis.set(title=f"t = {time:.2f}", xlim=bounds[:2], ylim=bounds[2:], aspect="equal")
    written.append(save(figure, out_dir / "transformation.png"))
    return written
