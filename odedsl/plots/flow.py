"""Pictures of a 2-D normalizing flow: samples beside data, the learned density, and the
transformation from noise to data at several times (the paper's figure 6).

A discrete flow (:class:`~odedsl.models.planar.PlanarFlow`) has no inverse, so its density is
a histogram of samples, and its transformation is shown after 0, ..., K of its layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from odedsl.models.flow import ContinuousFlow
from odedsl.models.planar import PlanarFlow

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


def sample_histogram(
    flow: PlanarFlow, bounds: tuple[float, float, float, float], resolution: int = 100
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A density estimate of a flow without ``log_prob``: a histogram of 200 000 samples
    (fixed seed) on a ``resolution``² grid over ``bounds``, normalised over the whole plane;
    returns ``(x edges, y edges, density)`` with ``density[i, j]`` in row y, column x."""
    with torch.no_grad():
        points = flow.sample(200_000, generator=torch.Generator().manual_seed(1)).cpu().numpy()
    counts, x_edges, y_edges = np.histogram2d(
        points[:, 0], points[:, 1], bins=resolution, range=[bounds[:2], bounds[2:]]
    )
    area = (x_edges[1] - x_edges[0]) * (y_edges[1] - y_edges[0])
    return x_edges, y_edges, counts.T / (len(points) * area)


def _transformation(
    flow: ContinuousFlow | PlanarFlow, n: int, generator: torch.Generator
) -> list[tuple[str, np.ndarray]]:
    """Base samples (the flow's base ``N(base_mean, base_std² I)``) on their way to data: five
    (title, points) panels."""
    dtype = next(flow.parameters()).dtype
    with torch.no_grad():
        noise = torch.randn(n, 2, generator=generator, dtype=dtype)
        if isinstance(flow, PlanarFlow):
            return [
                (f"{k} of {flow.depth} layers", points.cpu().numpy())
                for k, points in flow.stages(noise, 5)
            ]
        times = torch.linspace(flow.t0, flow.t1, 5, dtype=torch.float64)
        z0 = flow.base_mean + flow.base_std * noise
        path = flow.trajectory(z0, times).cpu().numpy()
    return [(f"t = {time:.2f}", points) for time, points in zip(times.tolist(), path, strict=True)]


def _direction(flow: ContinuousFlow | PlanarFlow) -> str:
    if isinstance(flow, PlanarFlow):
        return "layer by layer"
    return f"the state z(t) from t = {flow.t0:g} to {flow.t1:g}"


def plot_flow(
    flow: ContinuousFlow | PlanarFlow, data: np.ndarray | None, out_dir: Path, n: int = 2000
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
    figure, axes = plt.subplots(
        1, len(panels), figsize=(4 * len(panels), 4), squeeze=False, layout="constrained"
    )
    for axis, (title, points) in zip(axes[0], panels, strict=True):
        axis.scatter(points[:, 0], points[:, 1], s=1, alpha=0.5)
        axis.set(title=title, xlim=bounds[:2], ylim=bounds[2:], aspect="equal")
        axis.set(xlabel="x₁", ylabel="x₂")
    written.append(save(figure, out_dir / "samples.png"))

    if isinstance(flow, PlanarFlow):
        xs, ys, density = sample_histogram(flow, bounds)
        title, label = "learned density (histogram of samples)", "density q(x), estimated"
    else:
        xs, ys, density = density_grid(flow, bounds)
        title, label = "learned density", "density q(x)"
    figure, axis = plt.subplots(figsize=(4.8, 4), layout="constrained")
    mesh = axis.pcolormesh(xs, ys, density, shading="auto", cmap="viridis")
    figure.colorbar(mesh, ax=axis, label=label)
    axis.set(title=title, aspect="equal", xlabel="x₁", ylabel="x₂")
    written.append(save(figure, out_dir / "density.png"))

    panels = _transformation(flow, n, generator)
    # one frame that holds every stage, from the base noise to the data (0.5 % tails cut)
    everywhere = np.concatenate([points for _, points in panels])
    low, high = np.percentile(everywhere, [0.5, 99.5], axis=0)
    frame = _bounds(np.stack([np.minimum(low, bounds[::2]), np.maximum(high, bounds[1::2])]), 0)
    figure, axes = plt.subplots(
        1, len(panels), figsize=(3.2 * len(panels), 3.4), layout="constrained"
    )
    for axis, (title, points) in zip(axes, panels, strict=True):
        axis.scatter(points[:, 0], points[:, 1], s=1, alpha=0.5)
        axis.set(title=title, xlim=frame[:2], ylim=frame[2:], aspect="equal")
        axis.set(xlabel="z₁", ylabel="z₂")
    figure.suptitle(f"base samples carried through the flow ({_direction(flow)})", fontsize=9)
    written.append(save(figure, out_dir / "transformation.png"))
    return written
