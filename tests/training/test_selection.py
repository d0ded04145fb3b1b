"""Model selection on validation data: ``eval_every``, ``best.pt``, ``patience``, exact resume.

The model's validation score is scripted (``SCORES``, one per evaluation, counted in a buffer
so that it is checkpointed with the weights): which checkpoint is best and when patience runs
out are then known in advance.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Mapping

import pytest
import torch

from odedsl.training import ConfigError, RunFolder, TensorBatches, read_checkpoint, train

from .test_resume import SignalAt, assert_same_state, records_without_time
from .workers import Regression, regression_config, regression_data

# Evaluation k (from 0) scores SCORES[k]: the best is evaluation 3 (2.0); with patience 3,
# evaluations 4, 5, 6 do not improve on it and training stops after evaluation 6.
SCORES = (5.0, 3.0, 4.0, 2.0, 6.0, 7.0, 8.0, 1.0, 1.0, 1.0, 1.0, 1.0)
EVERY = 3
STEPS = 36


class Scripted(Regression):
    """``workers.Regression`` whose evaluation reports the scripted ``score`` beside its real
    validation ``loss``, and keeps a copy of the weights it scored."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__()
        self.register_buffer("evaluations", torch.zeros((), dtype=torch.int64))
        self.scored: dict[int, dict[str, torch.Tensor]] = {}

    def evaluate(self, data: Mapping[str, torch.Tensor]) -> dict[str, float]:
        k = int(self.evaluations)
        self.evaluations += 1
        self.scored[k] = {name: p.detach().clone() for name, p in self.state_dict().items()}
        return {**super().evaluate(data), "score": SCORES[k]}


def validation() -> dict[str, torch.Tensor]:
    return regression_data(64).batch(0, torch.Generator().manual_seed(1))


def config(steps: int = STEPS, **kwargs):
    return regression_config(steps, eval_every=EVERY, best_metric="score", **kwargs)


def test_best_pt_is_the_checkpoint_with_the_best_validation_score(tmp_path) -> None:
    model = Scripted()
    result = train(model, regression_data(), config(), tmp_path, eval_data=validation())
    assert result.status == "completed" and not result.stopped_early
    # evaluations at steps 3, 6, ..., 36: the best score, 1.0, first at evaluation 7 (step 24)
    records = RunFolder(tmp_path).read_metrics()
    scored = [(r["step"], r["validation"]["score"]) for r in records if "validation" in r]
    assert scored == [(EVERY * (k + 1), SCORES[k]) for k in range(STEPS // EVERY)]
    assert all(set(r["validation"]) == {"loss", "score"} for r in records if "validation" in r)
    best = read_checkpoint(tmp_path / "best.pt")
    assert best["step"] == 24 and result.best == {
        "metric": "score",
        "value": 1.0,
        "step": 24,
        "since_best": 4,
    }
    assert all(torch.equal(best["model"][k], v) for k, v in model.scored[7].items())
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == STEPS


def test_patience_stops_after_that_many_evaluations_without_improvement(tmp_path) -> None:
    model = Scripted()
    result = train(model, regression_data(), config(patience=3), tmp_path, eval_data=validation())
    # best at evaluation 3 (step 12); evaluations 4, 5, 6 (steps 15, 18, 21) are worse
    assert (result.status, result.step, result.stopped_early) == ("completed", 21, True)
    assert result.message == (
        f"stopped early at step 21 of {STEPS}: 3 evaluations since the best score, 2 at "
        "step 12 (patience 3)"
    )
    assert read_checkpoint(tmp_path / "best.pt")["step"] == 12
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 21
    assert RunFolder(tmp_path).read_metrics()[-1]["step"] == 21
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stopped_early"] is True
    assert summary["best"] == {"metric": "score", "value": 2.0, "step": 12, "since_best": 3}


@pytest.mark.parametrize("stop_at", [10, 14], ids=["between-evaluations", "after-the-best"])
def test_resume_with_patience_equals_the_straight_run(stop_at: int, tmp_path) -> None:
    """SIGTERM after step 10 (evaluations 0-2 done, best 3.0 at step 6, one without
    improvement) or 14 (best 2.0 at step 12): the resumed run keeps its best score and its
    count of evaluations since, and stops early at the same step with the same best.pt."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    reference = Scripted()
    train(reference, regression_data(), config(patience=3), straight, eval_data=validation())

    first = train(
        Scripted(),
        regression_data(),
        config(patience=3),
        stopped,
        eval_data=validation(),
        progress=SignalAt(stop_at, signal.SIGTERM),
    )
    assert (first.status, first.step) == ("interrupted", stop_at)
    saved = read_checkpoint(stopped / "checkpoint.pt")["best"]
    assert saved["since_best"] == {10: 1, 14: 0}[stop_at]
    model = Scripted()
    result = train(
        model, regression_data(), config(patience=3), stopped, resume=True, eval_data=validation()
    )
    assert (result.step, result.stopped_early) == (21, True)
    assert_same_state(model, reference)
    assert records_without_time(stopped) == records_without_time(straight)
    for name in ("best.pt", "checkpoint.pt"):
        ours, theirs = read_checkpoint(stopped / name), read_checkpoint(straight / name)
        assert ours["step"] == theirs["step"] and ours["best"] == theirs["best"]
        assert all(torch.equal(ours["model"][k], v) for k, v in theirs["model"].items())

    # A run out of patience stays stopped when resumed to its length (or longer).
    again = train(
        Scripted(),
        regression_data(),
        config(2 * STEPS, patience=3),
        stopped,
        resume=True,
        eval_data=validation(),
    )
    assert (again.step, again.stopped_early) == (21, True)


def test_eval_every_counts_epochs_in_a_run_of_epochs(tmp_path) -> None:
    # 40 rows in batches of 16: 3 steps per epoch; every 2 epochs: steps 6, 12 and the end, 15
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(0))
    data = TensorBatches({"x": x, "y": torch.sin(x[:, :1] * x[:, 1:])}, batch_size=16)
    run_config = regression_config(None, epochs=5, eval_every=2, best_metric="score")
    train(Scripted(), data, run_config, tmp_path, eval_data=validation())
    records = RunFolder(tmp_path).read_metrics()
    assert [(r["step"], r["epoch"]) for r in records if "validation" in r] == [
        (6, 2),
        (12, 4),
        (15, 5),
    ]


def test_patience_needs_evaluations() -> None:
    with pytest.raises(ConfigError, match="patience = 2 counts evaluations"):
        regression_config(10, patience=2)
    with pytest.raises(ConfigError, match="patience must be an integer ≥ 0"):
        regression_config(10, eval_every=2, patience=-1)
