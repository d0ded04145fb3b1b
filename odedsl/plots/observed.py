"""Pictures of the general model (:class:`~odedsl.models.observed.ObservedODE`):

- trajectory models, ``fit.png``: for each channel, the observed points (training points and
  held-out test points marked apart) and the predicted mean on a fine time grid: one curve for a
  model whose start reads no data, one per drawn series for a model that starts at each
  series' first observation;
- regressions, ``regression.png``: predicted against true responses on the test split, with
  the diagonal;
- classifiers of 2-D inputs, ``decision.png``: the predicted class over the plane of the
  inputs, with the test points coloured by their label.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from odedsl.models.observed import ObservedODE

from .figure import pyplot, save

SERIES = 4
POINTS = 200
GRID = 200
MAX_POINTS = 2000


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _as_dict(data: Any) -> Mapping[str, Any] | None:
    """One mapping of arrays from a split: the mapping itself, or the tensors of an epoch
    source (``TensorBatches``); None when there is nothing to draw from."""
    if isinstance(data, Mapping):
        return data
    tensors = getattr(data, "tensors", None)
    return tensors if isinstance(tensors, Mapping) else None


def draw_observed(
    model: ObservedODE, train: Any, test: Any, out_dir: Path, validation: Any = None
) -> list[Path]:
    """The pictures that fit ``model`` (see the module docstring), from the train, test and
    (optionally) validation splits (mappings of arrays, or epoch sources); none for others
    (e.g. image inputs)."""
    out_dir = Path(out_dir)
    train, test = _as_dict(train), _as_dict(test)
    if test is None:
        return []
    if model.kind == "trajectory":
        return [plot_fit(model, train, test, out_dir, _as_dict(validation))]
    observation = model.observations[0]
    key = model.initial_reads[0] if model.initial_reads else None
    if key is None or key not in test:
        return []
    inputs = _numpy(test[key])[:MAX_POINTS]
    if not observation.family.labels:
        return [
            plot_regression(model, inputs, _numpy(test[observation.value])[:MAX_POINTS], out_dir)
        ]
    if inputs.ndim == 2 and inputs.shape[1] == 2:
        return [plot_decision(model, inputs, _numpy(test[observation.value])[:MAX_POINTS], out_dir)]
    return []


# -- trajectories ------------------------------------------------------------------------------


def _series(data: Mapping[str, Any] | None, times: str, value: str, rows: int) -> list:
    """``(times, values, mask)`` of the first ``rows`` series of ``data``, masked points out."""
    if data is None or times not in data or value not in data:
        return []
    ts, xs = _numpy(data[times]), _numpy(data[value])
    xs = xs.reshape(*xs.shape[:2], -1)
    ts = np.broadcast_to(ts, xs.shape[:2]) if ts.ndim == 1 else ts
    mask = _numpy(data["mask"]).astype(bool) if "mask" in data else np.ones(xs.shape, bool)
    mask = mask.reshape(*mask.shape[:2], -1) if mask.ndim > 2 else mask[..., None]
    mask = np.broadcast_to(mask, xs.shape)
    return [(ts[b], xs[b], mask[b]) for b in range(min(rows, len(xs)))]


def _same_series(split: Mapping[str, Any] | None, test: Mapping[str, Any], times: str) -> bool:
    """Whether ``split`` holds the test split's series (a split of each series' points, as
    for one trajectory) rather than other series."""
    if split is None or times not in split:
        return False
    mine, theirs = _numpy(split[times]), _numpy(test[times])
    return mine.shape == theirs.shape and bool(np.array_equal(mine, theirs, equal_nan=True))


def plot_fit(
    model: ObservedODE,
    train: Mapping[str, Any] | None,
    test: Mapping[str, Any],
    out_dir: Path,
    validation: Mapping[str, Any] | None = None,
) -> Path:
    """``fit.png``: one column per channel; a row for the shared curve of a model whose
    start reads no data (every series' points around it), else one row per test series (up to
    ``SERIES``). Points of each split are marked apart (a later split's batch may repeat
    earlier points as context: only the points its mask scores are drawn); a row of a test
    series shows the other splits' points only when they split that series' points."""
    plt = pyplot()
    observation = next(o for o in model.observations if o.series)
    times, value = observation.times, observation.value
    shared = not model.initial_reads
    if not shared:  # each row is a test series: other splits only when they split its points
        train = train if _same_series(train, test, times) else None
        validation = validation if _same_series(validation, test, times) else None
    drawn_test = _series(test, times, value, SERIES)
    drawn_train = _series(train, times, value, SERIES)
    drawn_validation = _series(validation, times, value, SERIES)
    every = [t[m.any(-1)] for t, _, m in drawn_test + drawn_train if m.any()]
    end = max(float(t.max()) for t in every) if every else model.t0 + 1.0
    grid = np.linspace(model.t0, end, POINTS)
    channels = drawn_test[0][1].shape[-1]
    if shared:
        mean = _numpy(model.predict(torch.as_tensor(grid)))
        curves = [mean.reshape(len(grid), -1)]
    else:
        data = {times: test[times], value: test[value]}
        if "mask" in test:
            data["mask"] = test["mask"]
        count = len(drawn_test)
        ts_obs, x_obs = _numpy(data[times])[:count], _numpy(data[value])[:count]
        mask = None if "mask" not in data else _numpy(data["mask"])[:count]
        mean = _numpy(model.predict(ts_obs, x_obs, torch.as_tensor(grid), mask=mask))
        curves = list(mean.reshape(count, len(grid), -1))
    figure, axes = plt.subplots(
        len(curves),
        channels,
        figsize=(4.5 * channels, 3 * len(curves)),
        squeeze=False,
        layout="constrained",
    )
    for row, curve in enumerate(curves):
        pairs = [
            ("train", drawn_train, "tab:blue", "o"),
            ("validation", drawn_validation, "tab:green", "s"),
            ("test", drawn_test, "tab:red", "x"),
        ]
        for channel in range(channels):
            axis = axes[row, channel]
            for label, drawn, colour, marker in pairs:
                series = drawn if shared else drawn[row : row + 1]
                for n, (t, x, m) in enumerate(series):
                    keep = m[:, channel]
                    axis.scatter(
                        t[keep],
                        x[keep, channel],
                        s=10,
                        color=colour,
                        marker=marker,
                        alpha=0.7,
                        label=label if n == 0 else None,
                    )
            axis.plot(grid, curve[:, channel], color="black", lw=1.2, label="predicted mean")
            label = value if channels == 1 else f"{value}[{channel + 1}]"
            axis.set(xlabel="time t" if times == "t" else f"time ({times})", ylabel=label)
            if not shared:
                axis.set_title(f"series {row}", fontsize=9)
    axes[0, 0].legend(loc="best", fontsize=7)
    figure.suptitle(f"{observation.label}: data and the fitted mean")
    return save(figure, out_dir / "fit.png")


# -- supervised --------------------------------------------------------------------------------


def plot_regression(
    model: ObservedODE, inputs: np.ndarray, truth: np.ndarray, out_dir: Path
) -> Path:
    """``regression.png``: predicted against true values, one panel per response entry."""
    plt = pyplot()
    observation = model.observations[0]
    predicted = _numpy(model.predict(inputs)).reshape(len(inputs), -1)
    truth = truth.reshape(len(truth), -1)
    outputs = min(predicted.shape[1], 4)
    figure, axes = plt.subplots(
        1, outputs, figsize=(4 * outputs, 4), squeeze=False, layout="constrained"
    )
    for k, axis in enumerate(axes[0]):
        axis.scatter(truth[:, k], predicted[:, k], s=6, alpha=0.6)
        low = float(min(truth[:, k].min(), predicted[:, k].min()))
        high = float(max(truth[:, k].max(), predicted[:, k].max()))
        axis.plot([low, high], [low, high], "k--", lw=1)
        name = observation.value if outputs == 1 else f"{observation.value}[{k + 1}]"
        axis.set(xlabel=f"true {name}", ylabel=f"predicted mean of {name}", aspect="equal")
        axis.set_title(f"response {k + 1}")
    figure.suptitle("predicted mean against the test responses")
    return save(figure, out_dir / "regression.png")


def plot_decision(
    model: ObservedODE, inputs: np.ndarray, labels: np.ndarray, out_dir: Path
) -> Path:
    """``decision.png``: the predicted class on a grid over the inputs' plane."""
    plt = pyplot()
    low, high = inputs.min(0), inputs.max(0)
    margin = 0.1 * (high - low)
    axes_values = [np.linspace(low[k] - margin[k], high[k] + margin[k], GRID) for k in (0, 1)]
    u, v = np.meshgrid(*axes_values)
    plane = np.stack([u.ravel(), v.ravel()], -1)
    observation = model.observations[0]
    logits = model.predict(plane)
    classes = _numpy(observation.family.point(logits)).reshape(u.shape)
    figure, axis = plt.subplots(figsize=(5.6, 5), layout="constrained")
    count = int(max(classes.max(), labels.max())) + 1
    levels = np.arange(count + 1) - 0.5  # one band per class
    regions = axis.contourf(u, v, classes, levels=levels, alpha=0.3, cmap="coolwarm")
    axis.scatter(
        inputs[:, 0],
        inputs[:, 1],
        c=labels.reshape(-1),
        s=6,
        cmap="coolwarm",
        vmin=0,
        vmax=count - 1,
    )
    name = model.initial_reads[0]
    axis.set(xlabel=f"{name}₁", ylabel=f"{name}₂", aspect="equal")
    axis.set_title("decision regions and test points")
    bar = figure.colorbar(regions, ax=axis, label=f"predicted class of {observation.value}")
    bar.set_ticks(range(count))
    return save(figure, out_dir / "decision.png")
