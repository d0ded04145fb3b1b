"""training.png: the training loss with validation and test points, the classification error,
the learning rate and the solver's evaluations, each panel labelled and none flat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odedsl.plots.curves import plot_curves

from .readable import assert_readable, varies

STEPS = [10, 20, 30, 40, 50, 60]
VALIDATED = [20, 40, 60]  # eval_every = 20 steps
TEST = {"test_error": 0.1, "loss": 0.3, "step": 40, "checkpoint": "best"}  # eval.json


def line(axis: Any, label: str) -> Any:
    (found,) = [each for each in axis.get_lines() if each.get_label() == label]
    return found


@pytest.fixture
def classifier() -> list[dict[str, Any]]:
    """metrics.jsonl of a classifier trained with a constant learning rate and fixed steps
    (8 evaluations forward and backward every step), validated every 20 steps."""
    records = [
        {
            "step": s,
            "loss": 1.0 / s,
            "lr": 1e-3,
            "accuracy": 0.5 + s / 200,
            "nfe_forward": 8.0,
            "nfe_backward": 8.0,
        }
        for s in STEPS
    ]
    for record in records:
        if record["step"] in VALIDATED:
            record["validation"] = {
                "loss": 2.0 / record["step"],
                "test_error": 3.0 / record["step"],
            }
    return records


def test_a_classifier_shows_validation_and_test_points_and_its_error(
    classifier, figures, tmp_path: Path
) -> None:
    assert plot_curves(classifier, tmp_path, "test_error", TEST) == [tmp_path / "training.png"]
    (figure,) = figures
    loss, error = figure.axes  # the flat learning rate and evaluations have no panel
    assert_readable(figure)
    assert loss.get_ylabel() == "loss (nats)" and loss.get_xlabel() == "training step"
    for axis in (loss, error):
        assert varies(axis)
        validation = line(axis, "validation")  # one marker per evaluation
        assert list(validation.get_xdata()) == VALIDATED and validation.get_marker() == "o"
    # the test figures of eval.json, at the step of the checkpoint scored
    assert line(loss, "test (best.pt)").get_xydata().tolist() == [[40, 0.3]]
    assert line(error, "test (best.pt)").get_xydata().tolist() == [[40, 0.1]]
    # the training error is 1 − accuracy: 1 − (0.5 + 10/200) = 0.45 at step 10
    training = line(error, "training (batches)").get_xydata()
    assert training[0].tolist() == pytest.approx([10, 0.45])
    # the best validation error, 3/60 at step 60, is the one best.pt keeps
    assert line(error, "best.pt").get_xydata().tolist() == [[60, 0.05]]
    # what does not change is said once, in the title
    title = figure._suptitle.get_text()
    assert "constant learning rate 0.001" in title
    assert "8 forward and 8 backward solver evaluations every step" in title


def test_a_schedule_and_an_adaptive_solver_get_their_panels(figures, tmp_path: Path) -> None:
    records = [
        {
            "step": s,
            "loss": 1.0 / s,
            "lr": 1e-2 * 0.5 ** (s / 10),  # a decaying schedule
            "nfe_forward": 20.0 + s,  # an adaptive solver's evaluations grow
            "nfe_backward": 20.0 + s,  # and its adjoint takes as many: drawn apart
        }
        for s in STEPS
    ]
    plot_curves(records, tmp_path, "loss")
    (figure,) = figures
    _, lr, nfe = figure.axes
    assert_readable(figure)
    assert all(varies(axis) for axis in figure.axes)
    assert lr.get_ylabel() == "learning rate"
    forward, backward = line(nfe, "forward"), line(nfe, "backward")
    assert forward.get_linestyle() != backward.get_linestyle()
    assert forward.get_marker() != backward.get_marker()
    assert figure._suptitle is None  # nothing constant to say


def test_a_flow_selected_by_its_nll_stars_the_best_validation_loss(figures, tmp_path) -> None:
    # a maximum-likelihood flow: the validation nll is its loss, so it has no panel of its own
    records = [{"step": s, "loss": 3.0 - s / 100, "nfe_forward": 32.0} for s in STEPS]
    for record, nll in zip(records[1::2], (2.9, 2.7, 2.8), strict=True):
        record["validation"] = {"nll": nll, "loss": nll}
    plot_curves(records, tmp_path, "nll", {"nll": 2.75, "loss": 2.75, "step": 40})
    (figure,) = figures
    (loss,) = figure.axes
    assert_readable(figure)
    assert line(loss, "best.pt").get_xydata().tolist() == [[40, 2.7]]  # the lowest nll
    assert line(loss, "test (final)").get_xydata().tolist() == [[40, 2.75]]
