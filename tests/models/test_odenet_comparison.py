"""scripts/odenet_comparison.py: selection on the validation split, reported beside the end."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def comparison():
    spec = importlib.util.spec_from_file_location(
        "odenet_comparison", ROOT / "scripts" / "odenet_comparison.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_every_reaches_every_models_spec_overrides(comparison) -> None:
    args = comparison.parse(["--seeds", "3", "--eval-every", "5", "--set", "lr=0.05"])
    jobs = comparison.jobs(args)
    assert [job["model"] for job in jobs] == ["resnet", "rknet", "odenet", "reference"]
    for job in jobs:
        assert comparison.overrides_for(job)["eval_every"] == 5
        assert comparison.overrides_for(job)["lr"] == 0.05
    assert "eval_every" not in comparison.overrides_for(comparison.jobs(comparison.parse([]))[0])


def run(model: str, seed: int, error: float, final: float, epoch: int) -> dict:
    return {
        "model": model,
        "seed": seed,
        "test_error": error,
        "test_error_final": final,
        "best_epoch": epoch,
        "parameters": 10,
        "peak_memory_mib": 1.0,
        "epoch_seconds": [1.0],
        "epoch_cpu_seconds": [1.0],
        "nfe_forward": None,
        "nfe_backward": None,
    }


def test_the_table_reports_best_pt_with_its_epoch_and_the_last_checkpoint(comparison) -> None:
    results = [run("odenet", 3, 0.0133, 0.0067, 25), run("odenet", 4, 0.0089, 0.0089, 50)]
    text = comparison.markdown(comparison.summarize(results), [3, 4])
    assert "| ODE-Net | 1.33 | 0.89 | 1.11 | 10 |" in text
    assert "ODE-Net: best.pt from epoch 25 / 50; last checkpoint 0.67 / 0.89." in text
