"""scripts/latent_table.py: one spec serves every column of Table 2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import odedsl

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location(
        "latent_table", ROOT / "scripts" / "latent_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("observed", [30, 50, 100])
def test_the_spec_is_set_to_each_column(table, observed: int) -> None:
    text = (ROOT / "specs" / "latent_spirals.ode").read_text(encoding="utf-8")
    checked = odedsl.check(table.spec_for(text, observed))
    assert checked.data.args["observed"] == observed
    assert checked.data.args["n"] == 1000 and checked.data.args["noise"] == 0.3
    # Everything but the data line is the spec's own recipe.
    assert checked.train == odedsl.check(text).train


def test_the_table_has_a_row_per_model_and_column_with_the_seed_mean(table) -> None:
    runs = [
        {"model": "latent ODE", "observed": 30, "seed": 0, "rmse": 0.1, "seconds": 10},
        {"model": "latent ODE", "observed": 30, "seed": 1, "rmse": 0.2, "seconds": 30},
        {"model": "RNN", "observed": 30, "seed": 0, "rmse": 0.5, "seconds": 5},
    ]
    rows = table.table(runs, [0, 1], [30]).splitlines()
    assert rows[2] == "| latent ODE | 30 | 0.1000 | 0.2000 | 0.1500 | 0.1642 | 20 |"
    assert rows[3] == "| RNN | 30 | 0.5000 | – | 0.5000 | 0.3937 | 5 |"


def test_a_refined_spec_also_reports_the_encoders_mean_in_a_row_of_its_own(table) -> None:
    runs = [
        {
            "model": "latent ODE",
            "observed": 50,
            "seed": 0,
            "rmse": 0.1,
            "rmse_encoder": 0.3,
            "seconds": 10,
        },
        {"model": "RNN", "observed": 50, "seed": 0, "rmse": 0.4, "seconds": 5},
    ]
    rows = table.table(runs, [0], [50]).splitlines()
    assert rows[2:] == [
        "| latent ODE | 50 | 0.1000 | 0.1000 | 0.1502 | 10 |",
        "| latent ODE, encoder's mean | 50 | 0.3000 | 0.3000 | 0.1502 | 10 |",
        "| RNN | 50 | 0.4000 | 0.4000 | 0.3202 | 5 |",
    ]


def test_eval_every_selects_on_validation_and_the_row_says_so(table, tmp_path, monkeypatch):
    calls = []

    def fake_train(path, *, out, seed, overrides):
        calls.append((Path(path).name, seed, overrides))
        evaluation = {"rmse": 0.12, "split": "test", "checkpoint": "best", "step": 6000}
        (out / "eval.json").write_text(json.dumps(evaluation), encoding="utf-8")
        (out / "summary.json").write_text(json.dumps({"seconds": 3.0}), encoding="utf-8")
        return out

    class Unrefined:
        refine = 0

    monkeypatch.setattr(table.odedsl, "train", fake_train)
    monkeypatch.setattr(table.odedsl, "load", lambda out: Unrefined())
    run = table.train_latent(table.SPIRALS, 30, 3, tmp_path / "run", eval_every=2000)
    assert calls == [("run.ode", 3, {"eval_every": 2000})]
    assert (run["rmse"], run["split"], run["checkpoint"], run["step"]) == (
        0.12,
        "test",
        "best",
        6000,
    )
    table.train_latent(table.SPIRALS, 30, 4, tmp_path / "plain")
    assert calls[-1] == ("plain.ode", 4, None)
