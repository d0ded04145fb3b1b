"""A run on a user's file: the data are found from the spec's folder whatever the current
folder, recorded with their hashes, and a run whose file changed or moved refuses to evaluate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import odedsl
from odedsl.data import load
from odedsl.training import RunError

SPEC = Path(__file__).resolve().parents[2] / "specs" / "cnf_moons.ode"
QUICK = {"step_size": 0.5, "rtol": 1e-3, "atol": 1e-3, "batch": 64}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    project = tmp_path_factory.mktemp("project")
    text = SPEC.read_text(encoding="utf-8").replace(
        "x :: Real[D] ~ Moons(noise = 0.05)", 'x :: Real[D] ~ CSV(path = "data/points.csv")'
    )
    (project / "flow.ode").write_text(text, encoding="utf-8")
    (project / "data").mkdir()
    points = load("Moons", n=200, seed=5)["x"]
    lines = ["u,v"] + [f"{a:.6f},{b:.6f}" for a, b in points]
    (project / "data" / "points.csv").write_text("\n".join(lines) + "\n")
    folder = project / "runs" / "flow"
    odedsl.train(project / "flow.ode", steps=3, out=folder, overrides=QUICK)
    return project, folder


def test_the_run_records_its_data_files(run: tuple[Path, Path]) -> None:
    project, folder = run
    record = json.loads((folder / "data.json").read_text())
    assert record["root"] == str(project.resolve())
    [entry] = record["files"]
    assert entry["path"] == str((project / "data" / "points.csv").resolve())
    assert len(entry["sha256"]) == 64


def test_eval_from_another_folder_gives_the_same_figures(
    run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, folder = run
    monkeypatch.chdir(project)
    here = odedsl.evaluate(folder)
    monkeypatch.chdir(tmp_path)  # no data/points.csv here
    there = odedsl.evaluate(folder)
    assert here["nll"] == there["nll"]


def test_a_changed_or_moved_file_is_refused(run: tuple[Path, Path]) -> None:
    project, folder = run
    data = project / "data" / "points.csv"
    original = data.read_bytes()
    try:
        data.write_bytes(original.replace(b"0", b"1", 1))
        with pytest.raises(RunError, match=r"points\.csv: the data file changed since"):
            odedsl.evaluate(folder)
        data.write_bytes(original)
        shutil.move(data, project / "moved.csv")
        with pytest.raises(
            RunError, match=r"points\.csv: the data file this run was trained on is gone"
        ):
            odedsl.evaluate(folder)
    finally:
        if (project / "moved.csv").exists():
            shutil.move(project / "moved.csv", data)
        data.write_bytes(original)
    assert np.isfinite(odedsl.evaluate(folder)["nll"])
