"""Training curves of a run, ``training.png``, from the records of ``metrics.jsonl`` and the
test figures of ``eval.json``.

Panels, left to right, each drawn only when it carries information:

- the loss: training (logged means), the validation loss at each evaluation (``eval_every``)
  and the test loss of the checkpoint ``eval.json`` scored;
- the headline metric (``selected``) when it is not the loss: its validation scores, the test
  score and, for classifiers, the training error ``1 − accuracy``;
- the learning rate, when it changes (a schedule);
- the solver's evaluations per step, when they change (adaptive solvers).

What does not change (a constant learning rate, fixed-step evaluations) is written once in
the figure's title instead of a flat panel. The best validation score, the step ``best.pt``
holds, is starred.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .figure import pyplot, save

LABELS = {
    "loss": "loss (nats)",
    "nll": "negative log-likelihood (nats)",
    "kl": "KL(q ‖ p) up to log Z (nats)",
    "test_error": "classification error (fraction)",
    "rmse": "RMSE (units of the data)",
}
"""The y-axis label of each metric (the training loss is a negative log-likelihood or bound,
in nats, plus any regularizers)."""
TITLES = {"test_error": "classification error", "rmse": "RMSE", "nll": "NLL", "kl": "KL"}
LOG_SPAN = 30.0
"""A positive quantity spanning more than this ratio is drawn on a log axis."""


def plot_curves(
    records: Sequence[dict[str, Any]],
    out_dir: Path,
    selected: str | None = None,
    evaluation: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write ``training.png`` (see the module docstring) from the records of
    ``metrics.jsonl``; ``selected`` is the metric that picks ``best.pt`` and ``evaluation``
    the contents of ``eval.json`` (its test figures, drawn at its ``step``). Nothing when
    there are no records."""
    rows = [r for r in records if "loss" in r]
    if not rows:
        return []
    scored = [r for r in records if isinstance(r.get("validation"), dict)]
    test = dict(evaluation or {})
    metric = _metric_panel(rows, scored, test, selected)
    constant: list[str] = []
    lr = _series(rows, "lr")
    if lr and is_flat(lr):
        constant.append(f"constant learning rate {lr[0][1]:.3g}")
    nfe = evaluations(rows)
    solver_flat = all(is_flat(points) for points in nfe.values())
    if not nfe:
        constant.append("no ODE solve")
    elif solver_flat:
        constant.append(evaluations_note(nfe))

    panels = ["loss"] + ([metric] if metric else [])
    panels += ["lr"] if lr and not is_flat(lr) else []
    panels += ["nfe"] if nfe and not solver_flat else []
    plt = pyplot()
    figure, axes = plt.subplots(
        1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False, layout="constrained"
    )
    for panel, axis in zip(panels, axes[0], strict=True):
        if panel == "loss":
            _loss(axis, rows, scored, test, starred=None if metric else selected)
        elif panel == "lr":
            axis.plot(*zip(*lr, strict=True), color="tab:purple")
            axis.set(xlabel="training step", ylabel="learning rate", title="learning rate")
            _log_if_wide(axis, [v for _, v in lr])
        elif panel == "nfe":
            draw_evaluations(axis, nfe)
        else:
            _metric(axis, panel, rows, scored, test, starred=selected == panel)
    if constant:
        figure.suptitle("; ".join(constant), fontsize=9)
    return [save(figure, Path(out_dir) / "training.png")]


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of the records holding a number under ``key``."""
    return [
        (r["step"], float(r[key]))
        for r in rows
        if isinstance(r.get(key), int | float) and not isinstance(r.get(key), bool)
    ]


def is_flat(points: Sequence[tuple[int, float]]) -> bool:
    """Whether the values of ``(step, value)`` points do not change (to rounding)."""
    values = [v for _, v in points]
    return max(values) - min(values) <= 1e-9 * max(1.0, abs(values[0]))


def _log_if_wide(axis: Any, values: Sequence[float]) -> None:
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > LOG_SPAN:
        axis.set_yscale("log")


def _metric_panel(
    rows: Sequence[Mapping[str, Any]],
    scored: Sequence[Mapping[str, Any]],
    test: Mapping[str, Any],
    selected: str | None,
) -> str | None:
    """``selected`` when it is not the loss and something scores it: the validation records
    (unless they equal the loss there), the test figures, or (a classifier's error) the
    training accuracy."""
    if not selected or selected == "loss":
        return None
    validated = [r for r in scored if selected in r["validation"]]
    if validated and any(
        r["validation"][selected] != r["validation"].get("loss") for r in validated
    ):
        return selected
    if selected == "test_error" and _series(rows, "accuracy"):
        return selected
    return selected if selected in test and test.get(selected) != test.get("loss") else None


def _loss(
    axis: Any,
    rows: Sequence[Mapping[str, Any]],
    scored: Sequence[Mapping[str, Any]],
    test: Mapping[str, Any],
    starred: str | None,
) -> None:
    """The training loss, with validation and test losses when there are some; with
    ``starred`` (the selection metric, when it has no panel of its own), the validation loss
    of the best score is starred."""
    points = _series(rows, "loss")
    axis.plot(*zip(*points, strict=True), color="tab:blue", label="training")
    values = [v for _, v in points]
    values += _validation(axis, scored, "loss", starred)
    values += _test(axis, test, "loss")
    axis.set(xlabel="training step", ylabel=LABELS["loss"], title="loss")
    _log_if_wide(axis, values)
    axis.legend(fontsize=8)


def _metric(
    axis: Any,
    metric: str,
    rows: Sequence[Mapping[str, Any]],
    scored: Sequence[Mapping[str, Any]],
    test: Mapping[str, Any],
    starred: bool,
) -> None:
    """The headline ``metric``: training error (classifiers), validation and test scores."""
    values: list[float] = []
    if metric == "test_error":
        accuracy = _series(rows, "accuracy")
        if accuracy:
            steps, error = zip(*((s, 1.0 - a) for s, a in accuracy), strict=True)
            axis.plot(steps, error, color="tab:blue", label="training (batches)")
            values += error
    values += _validation(axis, scored, metric, metric if starred else None)
    values += _test(axis, test, metric)
    title = TITLES.get(metric, metric)
    axis.set(xlabel="training step", ylabel=LABELS.get(metric, metric), title=title)
    _log_if_wide(axis, values)
    axis.legend(fontsize=8)


def _validation(
    axis: Any, scored: Sequence[Mapping[str, Any]], key: str, starred: str | None
) -> list[float]:
    """The validation ``key`` against steps (a marker per evaluation); with ``starred``, the
    point of the best (lowest, first) score of that metric, the step ``best.pt`` holds, is
    marked. Returns the values drawn."""
    points = [(r["step"], r["validation"][key]) for r in scored if key in r["validation"]]
    if not points:
        return []
    steps, values = zip(*points, strict=True)
    axis.plot(steps, values, "o-", color="tab:orange", markersize=4, label="validation")
    if starred is not None:
        finite = [
            r
            for r in scored
            if starred in r["validation"] and math.isfinite(r["validation"][starred])
        ]
        if finite:
            best = min(finite, key=lambda r: r["validation"][starred])
            marker = [best["step"]], [best["validation"].get(key, math.nan)]
            axis.plot(*marker, "*", color="tab:orange", markersize=13, label="best.pt")
    return list(values)


def _test(axis: Any, test: Mapping[str, Any], key: str) -> list[float]:
    """The test figure ``key`` of ``eval.json`` at the step of the checkpoint it scored."""
    value, step = test.get(key), test.get("step")
    if not isinstance(value, int | float) or not isinstance(step, int):
        return []
    checkpoint = {"best": "best.pt"}.get(test.get("checkpoint"), "final")
    axis.plot([step], [value], "D", color="tab:red", markersize=7, label=f"test ({checkpoint})")
    return [float(value)]


def evaluations(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """``nfe_forward`` and ``nfe_backward`` against steps, of the records that hold them."""
    found = {key: _series(rows, key) for key in ("nfe_forward", "nfe_backward")}
    return {key: points for key, points in found.items() if points}


def evaluations_note(nfe: Mapping[str, Sequence[tuple[int, float]]]) -> str:
    """``8 forward and 8 backward solver evaluations every step``: constant evaluations."""
    counts = " and ".join(f"{points[0][1]:.3g} {key[4:]}" for key, points in nfe.items())
    return f"{counts} solver evaluations every step"


def draw_evaluations(axis: Any, nfe: Mapping[str, Sequence[tuple[int, float]]]) -> None:
    """Forward (solid, circles) and backward (dashed, squares) evaluations per step: distinct
    styles, since an adjoint pass often takes as many as the forward one."""
    styles = {"nfe_forward": ("-", "o", "tab:blue"), "nfe_backward": ("--", "s", "tab:green")}
    for key, points in nfe.items():
        line, marker, colour = styles[key]
        steps, values = zip(*points, strict=True)
        axis.plot(
            steps,
            values,
            linestyle=line,
            marker=marker,
            markevery=max(1, len(steps) // 12),
            markersize=4,
            color=colour,
            label=key[4:],
        )
    axis.set(
        xlabel="training step", ylabel="solver evaluations per step", title="solver evaluations"
    )
    axis.legend(fontsize=8)
