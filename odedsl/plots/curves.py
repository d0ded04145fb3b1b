"""Training curves of a run: loss and solver evaluations against steps, and the validation
scores when the run was evaluated on its validation split (``eval_every``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .figure import pyplot, save


def plot_curves(
    records: Sequence[dict[str, Any]], out_dir: Path, selected: str | None = None
) -> list[Path]:
    """Write ``training.png`` from the records of ``metrics.jsonl``: the training loss with
    the validation loss beside it, forward/backward evaluations per step and, when the
    validation scores hold ``selected`` (the metric that picks ``best.pt``) apart from the
    loss, a panel of it; the best validation score is starred. Nothing when there are no
    records."""
    rows = [r for r in records if "loss" in r]
    if not rows:
        return []
    scored = [r for r in records if isinstance(r.get("validation"), dict)]
    metric = _own_panel(scored, selected)
    plt = pyplot()
    figure, axes = plt.subplots(1, 3 if metric else 2, figsize=(13.5 if metric else 9, 3.5))
    left, right = axes[0], axes[1]
    steps = [r["step"] for r in rows]
    left.plot(steps, [r["loss"] for r in rows], label="training")
    left.set(xlabel="step", ylabel="loss", title="loss")
    if any("loss" in r["validation"] for r in scored):
        _validation(left, scored, "loss", starred=selected if metric is None else None)
        left.legend()
    drawn = False
    for key in ("nfe_forward", "nfe_backward"):
        values = [r.get(key) for r in rows]
        if any(v is not None for v in values):
            right.plot(steps, values, label=key)
            drawn = True
    right.set(xlabel="step", ylabel="evaluations", title="solver evaluations per step")
    if drawn:
        right.legend()
    else:  # a model without a solver (a discrete flow)
        right.text(0.5, 0.5, "no ODE solve", ha="center", va="center", transform=right.transAxes)
    if metric:
        _validation(axes[2], scored, metric, starred=metric)
        axes[2].set(xlabel="step", ylabel=metric, title=f"validation {metric}")
        axes[2].legend()
    return [save(figure, Path(out_dir) / "training.png")]


def _own_panel(scored: Sequence[dict[str, Any]], selected: str | None) -> str | None:
    """``selected`` when the validation scores hold it and it is not the loss again."""
    if not selected or selected == "loss" or not scored:
        return None
    if not all(selected in r["validation"] for r in scored):
        return None
    same = all(r["validation"][selected] == r["validation"].get("loss") for r in scored)
    return None if same else selected


def _validation(axis: Any, scored: Sequence[dict[str, Any]], key: str, starred: str | None) -> None:
    """The validation ``key`` against steps; with ``starred``, the best (lowest, first) score
    of that metric, the step ``best.pt`` holds, is marked."""
    points = [(r["step"], r["validation"][key]) for r in scored if key in r["validation"]]
    steps, values = zip(*points, strict=True)
    axis.plot(steps, values, "o-", markersize=3, label="validation")
    if starred is None:
        return
    finite = [
        r for r in scored if starred in r["validation"] and math.isfinite(r["validation"][starred])
    ]
    if finite:
        best = min(finite, key=lambda r: r["validation"][starred])
        marker = [best["step"]], [best["validation"].get(key, math.nan)]
        axis.plot(*marker, "*", markersize=12, label="best.pt")
