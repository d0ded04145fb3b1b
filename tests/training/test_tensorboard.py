"""TensorBoard scalars beside metrics.jsonl: off by default, on with `--tensorboard`, the same
numbers at the same steps, a resumed run continuing them; a clear error without the package."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

from odedsl.cli import main
from odedsl.training import tensorboard
from tests.cli.test_observed_runs import SPEC as TINY


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """A tiny trajectory model (tests/cli/test_observed_runs.py), a run in seconds."""
    path = tmp_path / "tiny.ode"
    path.write_text(TINY.format(start="z0"), encoding="utf-8")
    return path


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files under ``folder``, by tag: ``(step, value)``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def test_the_scalars_of_metrics_jsonl_go_to_tensorboard(
    spec: Path, tmp_path: Path, monkeypatch
) -> None:
    pytest.importorskip("tensorboard")
    monkeypatch.setattr("odedsl.workflow._draw", lambda *args: [])  # pictures: not tested here
    run = tmp_path / "run"
    train = ["train", str(spec), "--out", str(run), "--steps", "10", "--tensorboard"]
    assert main([*train, "--set", "eval_every=10"]) == 0
    assert main(["train", "--resume", str(run), "--steps", "20"]) == 0  # keeps the setting
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    found = scalars(run / "tensorboard")
    assert [step for step, _ in found["train/loss"]] == [10, 20]  # each step once
    for record in records:
        for name in ("loss", "lr", "nfe_forward"):
            # float32 events: the logged float64 to 7 digits
            assert dict(found[f"train/{name}"])[record["step"]] == pytest.approx(
                record[name], rel=1e-6
            )
    validation = [(r["step"], r["validation"]["rmse"]) for r in records if "validation" in r]
    assert [s for s, _ in found["validation/rmse"]] == [s for s, _ in validation]


def test_off_by_default(spec: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", str(spec), "--out", str(run), "--steps", "2"]) == 0
    assert not (run / "tensorboard").exists()


def test_without_the_package_the_error_names_the_extra(spec, tmp_path, monkeypatch, capsys) -> None:
    real = builtins.__import__

    def without_tensorboard(name: str, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_tensorboard)
    run = tmp_path / "run"
    command = ["train", str(spec), "--out", str(run), "--steps", "2", "--tensorboard"]
    assert main(command) == 1
    assert "pip install 'odedsl[tensorboard]'" in capsys.readouterr().err
    assert not run.exists()  # refused before anything is written
    assert tensorboard.INSTALL.startswith("pip install 'odedsl[tensorboard]'")
