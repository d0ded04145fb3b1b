"""scripts/latent_table.py: one spec serves every column of Table 2."""

from __future__ import annotations

import importlib.util
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
