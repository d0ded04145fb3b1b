"""``LossOutput``: metrics are numbers for every caller; backward figures are read after it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from odedsl.training import LossOutput, train

from .workers import regression_config, regression_data, regression_model


@pytest.mark.parametrize(
    "value", [2, 2.0, np.float32(2.0), torch.tensor(2.0), torch.tensor([2.0])], ids=repr
)
def test_metrics_are_stored_as_floats(value) -> None:
    output = LossOutput(torch.tensor(1.0), {"kl": value})
    assert type(output.metrics["kl"]) is float and output.metrics["kl"] == 2.0


@pytest.mark.parametrize(
    ("metrics", "deferred", "message"),
    [
        ({"nfe_backward": lambda: 3.0}, {}, "metric 'nfe_backward' is a callable"),
        ({"kl": "high"}, {}, "metric 'kl' must be a number"),
        ({"kl": torch.ones(2)}, {}, "metric 'kl' must be a number"),
        ({"kl": True}, {}, "metric 'kl' must be a number"),
        ({}, {"nfe_backward": 3.0}, "deferred 'nfe_backward' must be a zero-argument callable"),
        ({"n": 1.0}, {"n": lambda: 1.0}, "both in metrics and in deferred"),
    ],
)
def test_refused_metrics_name_the_metric(metrics, deferred, message) -> None:
    with pytest.raises(TypeError, match=message):
        LossOutput(torch.tensor(1.0), metrics, deferred)


def test_deferred_figures_are_read_when_asked_after_backward() -> None:
    # The counter stands for a solver's backward evaluations: 0 before backward, 7 after.
    counter = {"nfe_backward": 0}
    weight = torch.tensor(2.0, requires_grad=True)
    output = LossOutput(
        weight**2, {"nfe_forward": 5}, {"nfe_backward": lambda: counter["nfe_backward"]}
    )
    assert "nfe_backward" not in output.metrics
    output.loss.backward()
    counter["nfe_backward"] = 7
    assert output.after_backward() == {"nfe_forward": 5.0, "nfe_backward": 7.0}


def test_the_loop_logs_deferred_figures_as_numbers(tmp_path) -> None:
    # workers.Regression reports nfe_forward 2 and, deferred, nfe_backward 3 every step.
    run = tmp_path / "run"
    train(regression_model(), regression_data(), regression_config(10), run)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["nfe_forward"], r["nfe_backward"]) for r in records] == [(2.0, 3.0)] * 2
