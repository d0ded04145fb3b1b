"""Error control of a trained ODE-Net (the Neural ODE paper's figure 3).

:func:`error_control` solves the ODE block of a batch of images at a range of tolerances and
records, per tolerance, the forward and backward (adjoint) evaluations, the seconds each pass
took and the numerical error of the final state against a float64 solve at a much tighter
tolerance. :func:`plot_error_control` draws these numbers with the evaluations over training
read from ``metrics.jsonl``: error against evaluations (each point labelled with its
tolerance), forward time against forward evaluations, backward against forward evaluations,
and evaluations per step over training.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from odedsl.models.observed import ObservedODE
from odedsl.models.settings import SolverSettings

from .curves import draw_evaluations, evaluations, evaluations_note, is_flat
from .figure import hide_overlapping, pyplot, save

TOLERANCES = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5)
SAME_POINT = 0.05
"""Tolerances whose solves took the same evaluations and errors this close (relative) share a
label in the error panel: their points lie on top of each other."""
REFERENCE_TOLERANCE = 1e-7
"""rtol = atol of the float64 reference solve the numerical errors are measured against: its
own error is about 20 times smaller than the error at the tightest default tolerance (on a
trained digits ODE-Net: 8e-6 against a solve at 1e-8, where 1e-5 gives 2e-4), and tighter
references cost hundreds of evaluations more (the ReLU dynamics are not smooth)."""


def error_control(
    model: ObservedODE,
    x: Tensor,
    y: Tensor,
    *,
    tolerances: Sequence[float] = TOLERANCES,
    method: str = "dopri5",
) -> list[dict[str, float]]:
    """One record per tolerance (rtol = atol): ``tolerance``, ``nfe_forward``,
    ``nfe_backward`` (of the adjoint pass for the cross-entropy of labels ``y``),
    ``forward_seconds``, ``backward_seconds`` and ``error``, the relative root-mean-square
    difference of the final state from a float64 solve at ``REFERENCE_TOLERANCE``.
    ``method`` must be adaptive. The model's parameters keep no gradients."""
    if not tolerances:
        raise ValueError("tolerances must name at least one tolerance")
    x, y = model.split_batch((x, y))
    reference = _reference_state(model, x, method)
    records = []
    for tolerance in tolerances:
        settings = SolverSettings(method, rtol=tolerance, atol=tolerance, gradient="adjoint")
        records.append(_measure(model, x, y, settings, reference))
    model.zero_grad(set_to_none=True)
    return records


def _reference_state(model: ObservedODE, x: Tensor, method: str) -> Tensor:
    """The final state in float64 (the model is converted and back: float32 → float64 →
    float32 is exact, so its parameters come back unchanged)."""
    dtype = next(model.parameters()).dtype
    settings = SolverSettings(method, REFERENCE_TOLERANCE, REFERENCE_TOLERANCE, "direct")
    model.to(torch.float64)
    try:
        with torch.no_grad():
            final, _ = model.solve_block(model.initial(x.double()), settings)
    finally:
        model.to(dtype)
    return _flat_state(final)


def _flat_state(final: Tensor | tuple[Tensor, ...]) -> Tensor:
    """The final state of the block as one (batch, features) tensor: the states of a model
    with several (a tuple) side by side."""
    states = final if isinstance(final, tuple) else (final,)
    return torch.cat([s.reshape(len(s), -1) for s in states], dim=1)


def _measure(
    model: ObservedODE, x: Tensor, y: Tensor, settings: SolverSettings, reference: Tensor
) -> dict[str, float]:
    h0 = model.initial(x)
    start = time.perf_counter()
    final, stats = model.solve_block(h0, settings)
    forward_seconds = time.perf_counter() - start
    states = final if isinstance(final, tuple) else (final,)
    (logits,) = model.observations[0].parameters_at(states, [], states[0])
    loss = torch.nn.functional.cross_entropy(logits, y.long())
    start = time.perf_counter()
    loss.backward()
    backward_seconds = time.perf_counter() - start
    difference = _flat_state(final).detach().double() - reference
    error = difference.norm() / reference.norm()
    return {
        "tolerance": settings.rtol,
        "nfe_forward": float(stats.nfe_forward),
        "nfe_backward": float(stats.nfe_backward),
        "forward_seconds": forward_seconds,
        "backward_seconds": backward_seconds,
        "error": float(error),
    }


def plot_error_control(
    records: Sequence[Mapping[str, float]],
    training: Sequence[Mapping[str, Any]],
    out_dir: Path,
) -> list[Path]:
    """Write ``error_control.png`` and its numbers, ``error_control.json``, from the records of
    :func:`error_control` and ``training``, the rows of ``metrics.jsonl``: error against
    forward evaluations (each point labelled with its tolerances; labels that would overlap
    are left out), forward time and backward evaluations against forward evaluations, and the
    evaluations per step over training when they changed (fixed steps: in the title)."""
    plt = pyplot()
    out_dir = Path(out_dir)
    over_training = evaluations(training)
    flat = bool(over_training) and all(is_flat(points) for points in over_training.values())
    panels = 3 if flat or not over_training else 4
    figure, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 4), layout="constrained")
    nfe = [r["nfe_forward"] for r in records]

    axis = axes[0]
    axis.plot(nfe, [r["error"] for r in records], "o-")
    labels = _tolerance_labels(axis, records)
    axis.set(xlabel="forward evaluations", ylabel="relative error of the final state")
    axis.set(yscale="log", title="error (labels: rtol = atol)")

    axis = axes[1]
    axis.plot(nfe, [r["forward_seconds"] for r in records], "o")
    axis.set(xlabel="forward evaluations", ylabel="forward pass (seconds)", title="forward time")

    axis = axes[2]
    backward = [r["nfe_backward"] for r in records]
    axis.plot(nfe, backward, "s", color="tab:green", label="adjoint backward pass")
    line = [0.0, max(nfe + backward)]
    axis.plot(line, line, ":", color="gray", label="backward = forward")
    axis.set(xlabel="forward evaluations", ylabel="backward evaluations")
    axis.set_title("backward against forward")
    axis.legend(fontsize=8)

    if flat:
        figure.suptitle(f"training: {evaluations_note(over_training)}", fontsize=9)
    elif over_training:
        draw_evaluations(axes[3], over_training)
    hide_overlapping(figure, labels)

    numbers = out_dir / "error_control.json"
    numbers.write_text(json.dumps(list(records), indent=2), encoding="utf-8")
    return [save(figure, out_dir / "error_control.png"), numbers]


def _tolerance_labels(axis: Any, records: Sequence[Mapping[str, float]]) -> list[Any]:
    """One label per distinct point of the error panel: tolerances that gave the same
    evaluations and an error within ``SAME_POINT`` (relative) share it (``1e-01, 3e-02``)."""
    groups: list[tuple[tuple[float, float], list[float]]] = []
    for record in records:
        point = (record["nfe_forward"], record["error"])
        same = [
            tolerances
            for (nfe, error), tolerances in groups
            if nfe == point[0] and abs(error - point[1]) <= SAME_POINT * max(error, point[1])
        ]
        if same:
            same[0].append(record["tolerance"])
        else:
            groups.append((point, [record["tolerance"]]))
    return [
        axis.annotate(
            ", ".join(f"{t:.0e}" for t in tolerances),
            point,
            textcoords="offset points",
            xytext=(5, 3),
            fontsize=7,
        )
        for point, tolerances in groups
    ]


def draw_odenet(
    model: ObservedODE,
    test: Any,
    training: Sequence[Mapping[str, Any]],
    out_dir: Path,
    *,
    examples: int = 64,
) -> list[Path]:
    """The error-control pictures of a trained ODE-Net from the first ``examples`` test images
    (a mapping or a source of batches holding ``x`` and ``y``)."""
    batch = test if isinstance(test, Mapping) else next(iter(test))
    x, y = model.split_batch(batch)
    records = error_control(model, x[:examples], y[:examples])
    return plot_error_control(records, training, out_dir)
