"""Training curves of a run: loss and solver evaluations against steps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .figure import pyplot, save


def plot_curves(records: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Write ``training.png`` (loss, and forward/backward evaluations per step) from the
    records of ``metrics.jsonl``; nothing when there are none."""
    rows = [r for r in records if "loss" in r]
    if not rows:
        return []
    plt = pyplot()
    steps = [r["step"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(steps, [r["loss"] for r in rows])
    left.set(xlabel="step", ylabel="loss", title="training loss")
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
    return [save(figure, Path(out_dir) / "training.png")]
