"""Selection through the run commands: the validation split picks ``best.pt``, the test split is
scored once, after training, and ``eval.json`` says where its figures come from.

``build_data`` is wrapped by a spy that labels the held-out splits it builds, and refuses to
build ``"test"`` while training has not ended; every evaluation is recorded with the split it
scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import odedsl
from odedsl import workflow
from odedsl.cli import main
from odedsl.compiler import build_data, train_config
from odedsl.lang import check_text
from odedsl.models.flow import ContinuousFlow
from odedsl.training import RunFolder, read_checkpoint

SPECS = Path(__file__).resolve().parents[2] / "specs"
SPEC = SPECS / "cnf_moons.ode"
QUICK = ["--set", "step_size=0.5", "--set", "rtol=1e-3", "--set", "atol=1e-3", "--set", "batch=64"]


class Split(dict):
    """Held-out data that knows which split it is."""

    def __init__(self, data: dict[str, Any], split: str) -> None:
        super().__init__(data)
        self.split = split


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SimpleNamespace:
    folder = tmp_path / "moons"
    seen = SimpleNamespace(folder=folder, built=[], scored=[], script=None)

    def training_over() -> bool:
        summary = RunFolder(folder).read_summary() if folder.is_dir() else None
        return summary is not None and summary["status"] == "completed"

    def fake_build_data(spec: Any, split: str = "train", **kwargs: Any) -> Any:
        seen.built.append(split)
        if split == "validation":
            return Split(build_data(spec, split, **kwargs), "validation")
        if split == "test":
            if not training_over():
                raise AssertionError("the test split was built before training ended")
            return Split(build_data(spec, "test", **kwargs), "test")
        return build_data(spec, split, **kwargs)

    evaluate = ContinuousFlow.evaluate

    def spied_evaluate(self: ContinuousFlow, data: Any) -> dict[str, float]:
        split = getattr(data, "split", None)
        seen.scored.append((split, training_over()))
        results = evaluate(self, data)
        if seen.script is not None and split == "validation":
            results["nll"] = seen.script[len(seen.scored) - 1]
        return results

    monkeypatch.setattr(workflow, "build_data", fake_build_data)
    monkeypatch.setattr(ContinuousFlow, "evaluate", spied_evaluate)
    return seen


def train(folder: Path, *settings: str) -> int:
    sets = [item for setting in settings for item in ("--set", setting)]
    return main(["train", str(SPEC), "--steps", "8", "--out", str(folder), *QUICK, *sets])


def test_validation_selects_and_the_test_split_is_scored_once_after_training(spy) -> None:
    assert train(spy.folder, "eval_every=2") == 0
    # four validation scores during training (steps 2, 4, 6, 8), then one test score after it
    assert spy.scored == [("validation", False)] * 4 + [("test", True)]
    assert spy.built.count("test") == 1 and spy.built.count("validation") == 1
    records = RunFolder(spy.folder).read_metrics()
    scores = {r["step"]: r["validation"]["nll"] for r in records if "validation" in r}
    assert sorted(scores) == [2, 4, 6, 8]
    best_step = min(scores, key=scores.__getitem__)
    assert read_checkpoint(spy.folder / "best.pt")["step"] == best_step

    evaluation = json.loads((spy.folder / "eval.json").read_text())
    assert (evaluation["split"], evaluation["checkpoint"], evaluation["step"]) == (
        "test",
        "best",
        best_step,
    )
    assert evaluation["selected_by"] == {
        "split": "validation",
        "metric": "nll",
        "value": scores[best_step],
        "step": best_step,
    }
    assert next(iter(evaluation)) == "nll" and evaluation["nll"] == evaluation["loss"]
    # the figures are best.pt's on the test split (not the validation score it was chosen by)
    assert odedsl.evaluate(spy.folder)["nll"] == pytest.approx(evaluation["nll"], rel=1e-12)
    assert evaluation["nll"] != scores[best_step]


def test_without_eval_every_no_split_but_train_is_read_before_the_end(spy) -> None:
    assert train(spy.folder) == 0
    assert spy.scored == [("test", True)] and "validation" not in spy.built
    assert not (spy.folder / "best.pt").exists()
    assert json.loads((spy.folder / "eval.json").read_text())["checkpoint"] == "final"


def test_patience_stops_a_run_from_the_command_line(spy, capsys) -> None:
    # validation nll scripted per step: the best is step 2's; with patience 2, steps 3 and 4
    # do not improve on it and training ends after step 4 of 8, completed, then tested once
    spy.script = [3.0, 2.0, 2.5, 2.6, 1.0, 1.0, 1.0, 1.0]
    assert train(spy.folder, "eval_every=1", "patience=2") == 0
    summary = RunFolder(spy.folder).read_summary()
    assert (summary["status"], summary["step"], summary["stopped_early"]) == ("completed", 4, True)
    assert "stopped early at step 4 of 8: 2 evaluations since the best nll, 2" in (
        capsys.readouterr().out
    )
    assert read_checkpoint(spy.folder / "best.pt")["step"] == 2
    assert spy.scored == [("validation", False)] * 4 + [("test", True)]
    evaluation = json.loads((spy.folder / "eval.json").read_text())
    assert (evaluation["checkpoint"], evaluation["step"]) == ("best", 2)
    assert evaluation["selected_by"]["value"] == 2.0


def test_config_of_a_spec_selects_by_its_headline_metric() -> None:
    model = odedsl.compile(SPEC, eval_every=100, patience=4, **{"steps": 1000})
    config = train_config(model.spec, best_metric=workflow.headline(model.spec))
    assert (config.eval_every, config.patience, config.best_metric) == (100, 4, "nll")
    assert config.best_mode == "min"


@pytest.mark.parametrize(
    ("spec", "metric"),
    [
        ("cnf_moons.ode", "nll"),
        ("cnf_density.ode", "kl"),
        ("latent_spirals.ode", "rmse"),
        # events without a future to forecast: scored by the held-out negative bound
        ("poisson_events.ode", "loss"),
    ],
)
def test_headline_metric_of_each_kind(spec: str, metric: str) -> None:
    checked = check_text((SPECS / spec).read_text(encoding="utf-8"), spec)
    assert workflow.headline(checked) == metric


def test_a_missing_headline_metric_is_an_error_not_the_loss() -> None:
    spec = SimpleNamespace(kind="latent", data=SimpleNamespace(dataset="Spirals2D"))
    model = SimpleNamespace(spec=spec, evaluate=lambda data: {"loss": 41.5})
    with pytest.raises(RuntimeError, match="evaluate gave loss, not 'rmse'"):
        workflow._evaluate(model, {}, {"checkpoint": "checkpoint.pt", "step": 3})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"patience": 3}, "patience=3 has no effect: patience counts validation scores"),
        ({"eval_every": -1}, "eval_every must not be negative, got -1"),
        ({"eval_every": 2.5}, "eval_every must be an integer, got 2.5"),
        ({"eval_every": 5, "patience": -2}, "patience must not be negative, got -2"),
    ],
)
def test_selection_overrides_are_checked_like_the_spec(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        odedsl.compile(SPEC, **overrides)


def test_selection_overrides_reach_the_training_settings() -> None:
    train = odedsl.compile(SPEC, eval_every=50, patience=2).spec.train
    assert (train.eval_every, train.patience) == (50, 2)


@pytest.mark.parametrize(
    ("selected", "panels", "starred_on"), [("rmse", 2, 1), ("loss", 1, 0), (None, 1, None)]
)
def test_training_png_draws_the_validation_scores(
    selected: str | None, panels: int, starred_on: int | None, monkeypatch, tmp_path
) -> None:
    from odedsl.plots import curves

    drawn = []
    monkeypatch.setattr(curves, "save", lambda figure, path: drawn.append(figure) or path)
    records = [{"step": s, "loss": 1.0 / s, "nfe_forward": 8.0} for s in range(1, 7)]
    for record, rmse in zip(records[1::2], (0.5, 0.3, 0.4), strict=True):
        record["validation"] = {"loss": 2.0 * rmse, "rmse": rmse}
    assert curves.plot_curves(records, tmp_path, selected) == [tmp_path / "training.png"]
    (figure,) = drawn
    assert len(figure.axes) == panels

    def line(axis: Any, label: str) -> list[list[float]] | None:
        found = [each for each in axis.get_lines() if each.get_label() == label]
        return found[0].get_xydata().tolist() if found else None

    # the loss panel carries the validation loss; the rmse panel, when drawn, the rmse
    assert line(figure.axes[0], "validation") == [[2, 1.0], [4, 0.6], [6, 0.8]]
    if panels == 2:  # the constant evaluations (8 a step) are a note, not a panel
        assert line(figure.axes[1], "validation") == [[2, 0.5], [4, 0.3], [6, 0.4]]
    stars = [line(axis, "best.pt") for axis in figure.axes]
    if starred_on is None:
        assert stars == [None] * panels
    else:  # the best score is step 4's (rmse 0.3, loss 0.6)
        assert stars[starred_on] == [[4, 0.3 if selected == "rmse" else 0.6]]
        assert sum(star is not None for star in stars) == 1


def test_a_flow_matching_a_density_is_scored_on_other_noise_for_validation_than_for_test() -> None:
    # no data: each held-out split is its own fixed draw of 4096 standard normal base points
    spec = odedsl.compile(SPECS / "cnf_density.ode").spec
    validation, test = build_data(spec, "validation"), build_data(spec, "test")
    assert validation.shape == test.shape == (4096, *spec.flow_shape)
    assert not torch.equal(validation, test)
    assert torch.equal(build_data(spec, "test"), test)
    assert abs(float(test.mean())) < 0.05 and abs(float(test.std()) - 1) < 0.05


def test_eval_every_on_files_without_a_validation_file_is_refused_before_training(
    tmp_path: Path, capsys
) -> None:
    for name in ("a.csv", "c.csv"):
        (tmp_path / name).write_text("u,v\n0.1,0.2\n0.3,-0.4\n-1.0,0.5\n", encoding="utf-8")
    text = SPEC.read_text(encoding="utf-8")
    line = next(row for row in text.splitlines() if "~ Moons" in row)
    files = line[: line.index("~")] + '~ CSV(train = "a.csv", test = "c.csv")'
    spec = tmp_path / "f.ode"
    spec.write_text(text.replace(line, files), encoding="utf-8")
    argv = ["train", str(spec), "--steps", "2", "--out", str(tmp_path / "run"), *QUICK]
    assert main([*argv, "--set", "eval_every=1"]) == 1
    err = capsys.readouterr().err
    row = text.splitlines().index(line) + 1
    assert f"f.ode:{row}:9: eval_every = 1 scores the validation split, and CSV() has no " in err
    assert "validation file: add `validation = ...`" in err
    assert not (tmp_path / "run").exists()
